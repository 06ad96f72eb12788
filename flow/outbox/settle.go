package outbox

import (
	"context"
	"errors"

	"meldeweg.dev/meldeweg/transport/register"
)

// Verdict is what an answer says about a message.
type Verdict struct {
	// Accepted: the BA took the message (acknowledged).
	Accepted bool
	// Summary is recorded with the entries, e.g. "angenommen, 3 Hinweise"
	// or "abgelehnt: R13_0030, R3_0010". No personal data.
	Summary string
	// Details, if set, are recorded as one "feedback" entry each (eM@w:
	// one per event answered) instead of one entry with Summary.
	Details []string
}

// Settle records the answer to message id: "feedback" entries naming the
// answer (the first keeps it), then acknowledged or rejected, in one
// transaction. An answer for a message
// that is no longer sent (it was settled before, by this or another
// process) changes nothing and returns the message as it is, with settled
// false.
func (o *Outbox) Settle(ctx context.Context, id register.MessageID, r *Reply, v Verdict) (m register.Message, settled bool, err error) {
	m, err = o.Store.Message(ctx, id)
	if err != nil {
		return m, false, err
	}
	if m.State != register.MessageSent {
		return m, false, nil
	}
	details := v.Details
	if len(details) == 0 {
		details = []string{v.Summary}
	}
	var feedback []register.AppendParams
	for i, d := range details {
		f := register.AppendParams{Direction: register.DirectionIn, Channel: m.Channel, Event: register.EventFeedback,
			Actor: o.actor(), Endpoint: m.Endpoint, MessageID: id, Correlation: m.Correlation, Payload: r.Sealed, Detail: oneLine(d)}
		if i == 0 {
			f = r.Entry(f)
		}
		feedback = append(feedback, f)
	}
	t := register.MarkAcknowledged(id, r.Sealed, o.actor())
	if !v.Accepted {
		t = register.MarkRejected(id, oneLine(v.Summary), r.Sealed, o.actor())
	}
	// The feedback and the state change commit together: a crash cannot
	// record one without the other, and a message settled meanwhile by
	// another process gets no second feedback.
	t = t.With(feedback...)
	nm, err := o.Store.Transition(ctx, t)
	if errors.Is(err, register.ErrStateConflict) {
		nm, err = o.Store.Message(ctx, id)
		return nm, false, err
	}
	return nm, err == nil, err
}
