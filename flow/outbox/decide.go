package outbox

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"meldeweg.dev/meldeweg/transport/client"
	"meldeweg.dev/meldeweg/transport/register"
	"meldeweg.dev/meldeweg/transport/register/payload"
)

// verdict is what a failed attempt means for its message.
type verdict string

const (
	// retryLater: the network or the BA's answer failed (connection,
	// timeout, 408, 425, 429, 5xx, a corrupt receipt) or the payload could
	// not be read for a passing reason. Retry-wait with backoff; the
	// register makes it dead once the message's attempts are used up.
	retryLater verdict = "retry"
	// giveUp: sending again cannot help (the BA refused the upload as
	// such, a TLS trust or certificate failure, a payload that is not
	// kept). Dead at once.
	giveUp verdict = "dead"
	// conflict: the BA holds another body under this message ID (409).
	// Dead at once; a resend needs a new message ID.
	conflict verdict = "conflict"
	// corruptStop: the kept payload fails authentication. Dead at once,
	// never sent.
	corruptStop verdict = "corrupt"
	// leave: ctx ended, or the payload key at hand is not the one the
	// payload was sealed with (a configuration error, not the message's
	// fault). Nothing is recorded; the message stays in sending and its
	// lease brings it back once the configuration names the right key.
	leave verdict = "leave"
)

// decide says what err, the failure of an upload attempt, means. It is
// the one place that does (the package doc has the table).
func decide(ctx context.Context, err error) verdict {
	var se *client.StatusError
	switch {
	case ctx.Err() != nil:
		return leave
	case errors.Is(err, payload.ErrWrongKey) || errors.Is(err, payload.ErrNoKey):
		return leave
	case errors.Is(err, payload.ErrCorrupt):
		return corruptStop
	case errors.Is(err, register.ErrNotFound):
		return giveUp // the payload is not kept (deleted under retention)
	case errors.Is(err, client.ErrRejectedTLS):
		return giveUp
	case errors.As(err, &se) && se.StatusCode == http.StatusConflict:
		return conflict
	case errors.As(err, &se) && se.StatusCode >= 400 && se.StatusCode < 500 &&
		se.StatusCode != http.StatusRequestTimeout && se.StatusCode != http.StatusTooEarly && se.StatusCode != http.StatusTooManyRequests:
		return giveUp
	}
	return retryLater
}

// transition builds the register transition for verdict v on message m
// (attempt m.Attempt failed with err), or false for leave.
func (o *Outbox) transition(m register.Message, v verdict, err error) (register.Transition, bool) {
	actor := o.actor()
	switch v {
	case leave:
		return register.Transition{}, false
	case corruptStop:
		return register.MarkDead(m.ID, oneLine(fmt.Sprintf("corrupt payload: the kept payload SHA-256 %s fails authentication, so it was not sent and will not be retried (%v)",
			m.Payload.SHA256, err)), actor), true
	case conflict:
		return register.MarkDead(m.ID, oneLine(fmt.Sprintf("conflict: the BA holds a different body under message ID %s, not retried; send it again under a new ID (%v)", m.ID, err)), actor), true
	case giveUp:
		return register.MarkDead(m.ID, oneLine("not retried: "+err.Error()), actor), true
	}
	at := o.now().Add(o.backoff().NextRetry(m.Attempt-1, nil))
	return register.MarkRetry(m.ID, m.Attempt, at, oneLine(err.Error()), actor), true
}
