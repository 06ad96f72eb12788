package outbox

import (
	"context"
	"errors"
	"fmt"
	"io"

	"meldeweg.dev/meldeweg/transport/register"
)

// ErrNoPlain: the message was submitted without KeepPlain, so only its
// sealed form (encrypted to the BA) exists.
var ErrNoPlain = errors.New("no plain payload kept")

// Plain returns the plain payload kept for message id (SubmitParams.
// KeepPlain): the payload of its "built" entry. A message without one
// gives an error wrapping ErrNoPlain.
func (o *Outbox) Plain(ctx context.Context, id register.MessageID) (register.PayloadRef, error) {
	for e, err := range register.All(ctx, o.Store, id) {
		if err != nil {
			return register.PayloadRef{}, err
		}
		if e.MessageID() == id && e.Event() == register.EventBuilt && !e.Payload().IsZero() {
			return e.Payload(), nil
		}
	}
	return register.PayloadRef{}, fmt.Errorf("message %s: %w", id, ErrNoPlain)
}

// ReadPlain reads the plain payload kept for message id whole, at most
// limit bytes (a larger one is an error, not a truncation).
func (o *Outbox) ReadPlain(ctx context.Context, id register.MessageID, limit int64) ([]byte, error) {
	ref, err := o.Plain(ctx, id)
	if err != nil {
		return nil, err
	}
	if ref.Size > limit {
		return nil, fmt.Errorf("message %s: plain payload of %d bytes exceeds the limit of %d", id, ref.Size, limit)
	}
	rc, err := o.Payloads.Open(ctx, ref.SHA256)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(io.LimitReader(rc, limit+1))
}
