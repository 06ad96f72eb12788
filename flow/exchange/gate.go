package exchange

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"meldeweg.dev/meldeweg/emaw/msg"
	"meldeweg.dev/meldeweg/emaw/pack"
	"meldeweg.dev/meldeweg/emaw/rules"
)

// UploadError refuses an eM@w upload before it is sent: the archive is
// not a safe nested ZIP, or an event is invalid or breaks a business
// rule. Findings name the archive entry or the event (NachrichtID), the
// field and the rule; personal values are left out (as emaw/rules and the
// codec redact them).
type UploadError struct {
	Name     string
	Findings []string
}

func (e *UploadError) Error() string {
	return fmt.Sprintf("%s: refused: %s", e.Name, strings.Join(e.Findings, "; "))
}

// CheckUpload checks an eM@w upload archive the way "emaw unpack" and
// "emaw pack" do, before anything is sent: the whole archive, nested
// event archives included, must be safe (pack.Open with its default
// limits: no traversal, links, bombs, duplicate names, a manifest that
// matches if there is one); every event's XML must validate against the
// bundle in force for it and carry the event's NachrichtID; and every
// message must pass the business rules (emaw/rules), its PDF included.
// Findings give an *UploadError; any other error means the check could
// not run.
func CheckUpload(ctx context.Context, codec *msg.Codec, data []byte, name string) error {
	up, err := pack.Open(data, name, pack.Limits{})
	var ue *pack.UnsafeError
	if errors.As(err, &ue) {
		return &UploadError{Name: name, Findings: []string{ue.Error()}}
	}
	if err != nil {
		return err
	}
	if len(up.Events) == 0 {
		return &UploadError{Name: name, Findings: []string{"the archive holds no event"}}
	}
	var findings []string
	for _, ev := range up.Events {
		where := name + "!" + ev.ID + ".zip!" + ev.ID + ".xml"
		m, _, err := codec.Unmarshal(ctx, ev.XML(), where)
		if err != nil {
			findings = append(findings, strings.TrimSpace(err.Error()))
			continue
		}
		if m.Header().NachrichtID != ev.ID {
			findings = append(findings, fmt.Sprintf("%s: the XML's NachrichtID is %s", where, m.Header().NachrichtID))
			continue
		}
		var pdf []byte
		if a, ok := m.(msg.WithAttachment); ok {
			p, found := ev.Part(a.Attachment().Dateiname)
			if !found {
				findings = append(findings, fmt.Sprintf("%s: the attachment %s named in Anhang/Dateiname is not in the event's archive", where, a.Attachment().Dateiname))
				continue
			}
			pdf = p
		}
		for _, f := range rules.Check(m, rules.Options{Attachment: pdf}) {
			findings = append(findings, f.String())
		}
	}
	if len(findings) > 0 {
		return &UploadError{Name: name, Findings: findings}
	}
	return nil
}
