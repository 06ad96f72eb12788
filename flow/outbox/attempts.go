package outbox

import (
	"context"
	"fmt"
	"sync"
	"time"

	"meldeweg.dev/meldeweg/transport/client"
	"meldeweg.dev/meldeweg/transport/register"
)

// attemptLog records the HTTP attempts of one claimed upload as "attempt"
// entries: an attempt the client retries is appended as it ends, so the
// register shows it even if the process dies during the next one; the
// last attempt is kept for the transition it leads to, which appends it
// in the same transaction.
type attemptLog struct {
	o *Outbox
	m register.Message

	mu      sync.Mutex
	pending []register.AppendParams // not yet in the register
}

// observe is the client's attempt observer (client.WithAttemptObserver).
func (l *attemptLog) observe(ctx context.Context) func(client.AttemptResult) {
	return func(r client.AttemptResult) {
		detail := fmt.Sprintf("HTTP attempt %d: %s", r.N, r.Outcome())
		if r.Retry {
			detail += "; retrying"
		}
		e := register.AppendParams{
			Direction: register.DirectionOut, Channel: l.m.Channel, Event: register.EventAttempt, Actor: l.o.actor(),
			Endpoint: l.m.Endpoint, MessageID: l.m.ID, Related: l.m.ResendOf, Correlation: l.m.Correlation,
			Attempt: l.m.Attempt, Payload: l.m.Payload, Detail: oneLine(detail),
		}
		l.mu.Lock()
		defer l.mu.Unlock()
		l.pending = append(l.pending, e)
		if !r.Retry {
			return
		}
		// A failure to record it here is not the upload's failure: the
		// entry stays pending and goes with the transition.
		if err := l.appendPending(ctx); err != nil {
			l.o.logger().Warn("recording an HTTP attempt failed; it is recorded with the outcome instead", "message", l.m.ID, "error", err)
		}
	}
}

// appendPending appends the pending entries one by one; l.mu is held.
func (l *attemptLog) appendPending(ctx context.Context) error {
	for len(l.pending) > 0 {
		if _, err := l.o.Store.Append(ctx, l.pending[0]); err != nil {
			return err
		}
		l.pending = l.pending[1:]
	}
	return nil
}

// take returns the entries not yet recorded, for a transition's With.
func (l *attemptLog) take() []register.AppendParams {
	l.mu.Lock()
	defer l.mu.Unlock()
	p := l.pending
	l.pending = nil
	return p
}

// flush records the pending entries when no transition follows (ctx
// ended): on a context of their own, so that a cancelled run still leaves
// the trace of what it did.
func (l *attemptLog) flush(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.appendPending(ctx)
}
