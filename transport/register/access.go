package register

import (
	"context"
	"fmt"
	"io"
	"strings"
)

// AccessParams describes one read of personal data: who was shown what,
// and why. It never holds the data itself.
type AccessParams struct {
	// Actor is who was shown the data: User(name) for a person the
	// console authenticated, else Operator(login) for the operating
	// system's user who ran the command. Required; System actors are
	// refused, since a component shows nothing to anyone.
	Actor Actor
	// View names what was shown, a short name without personal data,
	// e.g. "emaw show --personal". Required.
	View string
	// Purpose is why, as the person gave it (--purpose). Required; one
	// line. It is recorded as given: it must not hold personal data.
	Purpose string
	// Channel, MessageID, Correlation and Payload name what was read, as
	// far as known (Payload: the SHA-256 and size of the file or payload
	// read). Optional.
	Channel     Channel
	MessageID   MessageID
	Correlation CorrelationKey
	Payload     PayloadRef
	// ReadKept: hand the kept bytes of Payload to the read function of
	// Store.Access (an error wrapping ErrNotFound if the store holds
	// none).
	ReadKept bool
}

// accessDetail separates view and purpose in an accessed entry's Detail.
const accessDetail = "; purpose: "

// Accessed returns the "accessed" entry for p; invalid params give a
// *FieldError.
func Accessed(p AccessParams) (AppendParams, error) {
	switch {
	case p.Actor.Kind() != ActorUser && p.Actor.Kind() != ActorOperator:
		return AppendParams{}, &FieldError{Field: "Actor", Expected: "User(name) or Operator(login): the person shown the data"}
	case strings.TrimSpace(p.View) == "" || strings.Contains(p.View, ";"):
		return AppendParams{}, &FieldError{Field: "View", Expected: "a short name of what was shown, without ';'"}
	case strings.TrimSpace(p.Purpose) == "":
		return AppendParams{}, &FieldError{Field: "Purpose", Expected: "why the data is shown (--purpose TEXT)"}
	}
	ap := AppendParams{Event: EventAccessed, Actor: p.Actor, Channel: p.Channel, MessageID: p.MessageID,
		Correlation: p.Correlation, Payload: p.Payload, Detail: p.View + accessDetail + p.Purpose}
	if !validDetail(ap.Detail) {
		return AppendParams{}, &FieldError{Field: "Purpose", Expected: fmt.Sprintf("one line of printable characters, at most %d with the view's name", 512-len(p.View)-len(accessDetail))}
	}
	return ap, ap.validate()
}

// AccessOf reads back the view and purpose of an accessed entry; ok is
// false for any other entry.
func AccessOf(e Entry) (view, purpose string, ok bool) {
	if e.p.Event != EventAccessed {
		return "", "", false
	}
	view, purpose, _ = strings.Cut(e.p.Detail, accessDetail)
	return view, purpose, true
}

// Access implements Store: the read and its entry in one transaction.
func (s *dbStore) Access(ctx context.Context, p *AccessParams, read func(kept io.Reader) error) (Entry, error) {
	if _, err := Accessed(*p); err != nil {
		return Entry{}, err
	}
	var e Entry
	err := s.d.Write(ctx, func(x Executor) error {
		var kept io.Reader
		if p.ReadKept {
			kp, err := x.PayloadGet(ctx, &PayloadGetParams{SHA256: p.Payload.SHA256})
			if err != nil {
				return fmt.Errorf("payload %s: %w", p.Payload.SHA256, err)
			}
			r := readKept(ctx, x, kp)
			defer r.Close()
			kept = r
		}
		if err := read(kept); err != nil {
			return err
		}
		ap, err := Accessed(*p)
		if err != nil {
			return err
		}
		es, err := s.appendChain(ctx, x, s.now(), []AppendParams{ap})
		if err == nil {
			e = es[0]
		}
		return err
	})
	return e, err
}
