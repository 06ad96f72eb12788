package outbox

import (
	"context"
	"errors"
	"fmt"
	"time"

	"meldeweg.dev/meldeweg/transport/baapi"
	"meldeweg.dev/meldeweg/transport/client"
	"meldeweg.dev/meldeweg/transport/register"
)

// SendResult is what happened to one claimed message.
type SendResult struct {
	Message register.Message // after the transition
	Receipt baapi.Receipt    // when sent
	Err     error            // the upload's error, if it failed
}

// ErrNotDelivered: Deliver gave up (ctx ended) with the message still in
// the outbox; a later run continues it.
var ErrNotDelivered = errors.New("not delivered yet")

// Deliver sends message id until it is sent, acknowledged, rejected or
// dead (while it waits for id's retry time, or for another worker that
// holds id, it sends other due messages of the endpoint's channel), and
// returns it in that state. A rejected or dead message is returned
// without error; the caller reads its State and LastError. When ctx ends
// first, the error wraps ErrNotDelivered and the message stays in the
// outbox.
//
// While it waits it says on Logger what for and until when, once per
// wait. A message held by a worker of this host whose process no longer
// runs is reclaimed at once (see the package doc, "Leases and dead
// workers").
func (o *Outbox) Deliver(ctx context.Context, ep *Endpoint, id register.MessageID) (register.Message, error) {
	idle := 5 * time.Millisecond
	var told string // the wait last announced
	for {
		m, err := o.Store.Message(ctx, id)
		if err != nil {
			return m, err
		}
		switch m.State {
		case register.MessageSent, register.MessageAcknowledged, register.MessageRejected, register.MessageDead:
			return m, nil
		}
		// Its own message first: a worker that took another's would leave
		// its own to wait for that other worker.
		results, err := o.claimAndSend(ctx, ep, register.ClaimParams{Limit: 1, ID: id})
		if err == nil && len(results) == 0 {
			results, err = o.claimAndSend(ctx, ep, register.ClaimParams{Limit: 1})
		}
		if err != nil {
			if ctx.Err() != nil {
				return m, fmt.Errorf("message %s: %w (%s)", id, ErrNotDelivered, m.State)
			}
			return m, err
		}
		if len(results) > 0 {
			continue
		}
		// Nothing due: wait for our retry time, for another worker that
		// claimed the message to finish it, or for the lease of a dead
		// process, in steps so that the deadline is noticed. A message in
		// sending usually belongs to a live worker of this process (the
		// claim takes any due message of the channel), which finishes
		// within milliseconds: look again soon, backing off to a second.
		wait := time.Second
		switch m.State {
		case register.MessageRetryWait:
			wait = min(wait, m.NextAttemptAt.Sub(o.now()))
			told = o.announce(told, "retry "+m.NextAttemptAt.String(),
				fmt.Sprintf("message %s: attempt %d failed (%s); waiting until %s to try again", m.ID, m.Attempt, m.LastError, m.NextAttemptAt.UTC().Format(time.RFC3339)),
				"message", m.ID, "until", m.NextAttemptAt)
		case register.MessageSending:
			if m.ClaimedBy != o.Worker {
				reclaimed, err := o.reclaimIfGone(ctx, m)
				if err != nil {
					return m, err
				}
				if reclaimed {
					continue
				}
				until := m.ClaimedAt.Add(o.lease())
				told = o.announce(told, fmt.Sprintf("lease %s %d", m.ClaimedBy, m.Attempt),
					fmt.Sprintf("message %s is held by worker %s (attempt %d, claimed %s); waiting until %s for it to finish or for its lease to expire",
						m.ID, m.ClaimedBy, m.Attempt, m.ClaimedAt.UTC().Format(time.RFC3339), until.UTC().Format(time.RFC3339)),
					"message", m.ID, "holder", m.ClaimedBy, "until", until)
			}
			wait = min(wait, idle, m.ClaimedAt.Add(o.lease()).Sub(o.now()))
			idle = min(2*idle, time.Second)
		}
		t := time.NewTimer(max(wait, 5*time.Millisecond))
		select {
		case <-ctx.Done():
			t.Stop()
			return m, fmt.Errorf("message %s: %w (%s)", id, ErrNotDelivered, m.State)
		case <-t.C:
		}
	}
}

// announce logs msg once for the wait named key: told is the key of the
// wait announced last, and the returned key replaces it.
func (o *Outbox) announce(told, key, msg string, args ...any) string {
	if key != told {
		o.logger().Info(msg, args...)
	}
	return key
}

// claimAndSend claims what p selects on ep's channel for this worker and
// sends it, one message after the other. err is set only when the store
// failed (then the results so far are returned too). A cancelled ctx
// stops between messages and leaves the current one in sending for its
// lease.
func (o *Outbox) claimAndSend(ctx context.Context, ep *Endpoint, p register.ClaimParams) ([]SendResult, error) {
	p.Worker, p.Lease, p.Channel = o.Worker, o.lease(), register.Channel(ep.Channel)
	msgs, err := o.Store.Claim(ctx, p)
	if err != nil {
		return nil, err
	}
	var out []SendResult
	for _, m := range msgs {
		r, err := o.send(ctx, ep, m)
		if err != nil {
			return out, err
		}
		if r.Err != nil && o.Attempt != nil {
			o.Attempt(r)
		}
		out = append(out, r)
	}
	return out, nil
}

// send uploads m, which this worker claimed (it is in sending), and
// records the outcome: every HTTP attempt as an "attempt" entry, then
// sent (with the receipt) or what decide makes of the failure, as one
// guarded transition. A transition that finds the message moved on by
// someone else (ErrStateConflict) changes nothing and is no error of
// this run: the message is returned as it now is.
func (o *Outbox) send(ctx context.Context, ep *Endpoint, m register.Message) (SendResult, error) {
	attempts := &attemptLog{o: o, m: m}
	// Every outbound payload is a CMS message (see the baapi envelope
	// convention): an XSozial dataset or an eM@w ZIP, signed and
	// encrypted.
	body, err := sealedPayloads{o.Payloads}.body(ctx, m.Payload)
	var rec baapi.Receipt
	if err == nil {
		uctx := client.WithAttemptObserver(ctx, attempts.observe(ctx))
		rec, err = ep.Client.Upload(uctx, ep.Channel, baapi.MessageID(m.ID), client.ContentTypeSealed, body)
	}
	var t register.Transition
	if err == nil {
		// The last attempt, the receipt and "sent" commit together.
		receipt := register.AppendParams{
			Direction: register.DirectionIn, Channel: m.Channel, Event: register.EventReceipt, Actor: o.actor(),
			Endpoint: m.Endpoint, MessageID: m.ID, Correlation: m.Correlation, Attempt: m.Attempt,
			Payload: m.Payload, Detail: "receipt " + string(rec.Status) + " at " + rec.ReceivedAt.UTC().Format(time.RFC3339),
		}
		t = register.MarkSent(m.ID, m.Attempt, o.actor()).With(append(attempts.take(), receipt)...)
	} else {
		var ok bool
		if t, ok = o.transition(m, decide(ctx, err), err); !ok {
			attempts.flush(ctx)
			return SendResult{Message: m, Err: err}, ctx.Err() // left in sending; the lease brings it back
		}
		t = t.With(attempts.take()...)
	}
	nm, terr := o.Store.Transition(ctx, t)
	if errors.Is(terr, register.ErrStateConflict) {
		nm, terr = o.Store.Message(ctx, m.ID)
	}
	return SendResult{Message: nm, Receipt: rec, Err: err}, terr
}
