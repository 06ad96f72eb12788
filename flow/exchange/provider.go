package exchange

import (
	"context"
	"fmt"
	"slices"

	"meldeweg.dev/meldeweg/emaw"
	"meldeweg.dev/meldeweg/emaw/msg"
	"meldeweg.dev/meldeweg/emaw/pack"
)

// CheckProvider refuses an upload that holds an event for a measure the
// tenant does not run: each event's Maßnahmenummer (compared in its
// 8-digit form) must be one of massnahmen, the tenant's configured
// measures. It is how a provider site's data stays with its tenant: an
// upload of another site is refused before it is sealed. Run it after
// CheckUpload passed; findings give an *UploadError naming the event and
// the measure (a Maßnahmenummer is no personal data).
func CheckProvider(ctx context.Context, codec *msg.Codec, data []byte, name string, massnahmen []string) error {
	own := make([]string, len(massnahmen))
	for i, m := range massnahmen {
		own[i] = emaw.Massnahmenummer(m).Compact()
	}
	up, err := pack.Open(data, name, pack.Limits{})
	if err != nil {
		return err
	}
	var findings []string
	for _, ev := range up.Events {
		m, _, err := codec.Unmarshal(ctx, ev.XML(), name+"!"+ev.ID+".zip!"+ev.ID+".xml")
		if err != nil {
			return err
		}
		n := m.Header().Massnahme.Nummer.Compact()
		if !slices.Contains(own, n) {
			findings = append(findings, fmt.Sprintf("event %s: Maßnahme %s is not one of this tenant's (massnahmen: %v)", ev.ID, n, own))
		}
	}
	if len(findings) > 0 {
		return &UploadError{Name: name, Findings: findings}
	}
	return nil
}
