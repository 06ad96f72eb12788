package outbox

import (
	"context"
	"errors"
	"time"

	"meldeweg.dev/meldeweg/transport/baapi"
	"meldeweg.dev/meldeweg/transport/client"
	"meldeweg.dev/meldeweg/transport/register"
)

// PayloadSource opens the payload an outbox message names.
type PayloadSource interface {
	// Body returns the payload with ref as an upload body, or an error
	// (wrapping register.ErrNotFound or os.ErrNotExist when the source
	// does not hold it).
	Body(ctx context.Context, ref register.PayloadRef) (*client.Body, error)
}

// Sender drains the outbox: it claims due messages, uploads each with its
// stable message ID and records the outcome as a guarded transition.
//
// A message is marked sent only after a receipt that confirms its ID, size
// and SHA-256. A process killed mid-upload leaves its message in sending;
// after Lease another Claim takes it again as a new attempt with the same
// ID, and the receiver drops whatever part of the earlier attempt arrived.
// Nothing is therefore lost, and nothing is accepted twice.
type Sender struct {
	Store    register.Store // required
	Client   *client.Client // required
	Payloads PayloadSource  // required
	// Worker names this sender in claims (host-pid or similar). Required.
	Worker string
	// Lease: a message in sending longer than this is reclaimed. Must
	// exceed the longest upload. Defaults to 2 minutes.
	Lease time.Duration
	// Actor is recorded with transitions. Defaults to System("send").
	Actor register.Actor
	// Backoff sets NextAttemptAt after a failed attempt (the client has
	// already retried within the attempt). Defaults to
	// client.BackoffPolicy{Min: 5s, Max: 10m}.
	Backoff client.RetryPolicy
	// Now is the clock for NextAttemptAt. Defaults to time.Now.
	Now func() time.Time
	// Channel, if set, restricts the sender to that channel's messages:
	// a Sender is bound to one endpoint (URL and client certificate).
	Channel register.Channel
}

// SendResult is what happened to one claimed message.
type SendResult struct {
	Message register.Message // after the transition
	Receipt baapi.Receipt    // when sent
	Err     error            // the upload's error, if it failed
}

func (s *Sender) defaults() (time.Duration, register.Actor, client.RetryPolicy, func() time.Time) {
	lease, actor, backoff, now := s.Lease, s.Actor, s.Backoff, s.Now
	if lease <= 0 {
		lease = 2 * time.Minute
	}
	if actor.IsZero() {
		actor = register.System("send")
	}
	if backoff == nil {
		backoff = client.BackoffPolicy{Min: 5 * time.Second, Max: 10 * time.Minute}
	}
	if now == nil {
		now = time.Now
	}
	return lease, actor, backoff, now
}

// SendDue claims up to limit due messages and sends them one after the
// other. It returns what happened to each; err is set only when the store
// failed (then the results so far are returned too). A cancelled ctx stops
// between messages and leaves the current one in sending for its lease.
func (s *Sender) SendDue(ctx context.Context, limit int) ([]SendResult, error) {
	return s.sendClaimed(ctx, register.ClaimParams{Limit: limit})
}

// Send claims message id, if it is claimable (queued, retry-wait and due,
// or sending past its lease), and sends it. It returns nil results when
// the message is not claimable now (another worker holds it, or its retry
// time has not come), like SendDue otherwise.
func (s *Sender) Send(ctx context.Context, id register.MessageID) ([]SendResult, error) {
	return s.sendClaimed(ctx, register.ClaimParams{Limit: 1, ID: id})
}

// SendClaimed sends m, which the caller claimed for this sender (it is in
// sending, e.g. from an Enqueue with ClaimBy), and records the outcome as
// the other methods do.
func (s *Sender) SendClaimed(ctx context.Context, m register.Message) (SendResult, error) {
	return s.send(ctx, m)
}

func (s *Sender) sendClaimed(ctx context.Context, p register.ClaimParams) ([]SendResult, error) {
	lease, _, _, _ := s.defaults()
	p.Worker, p.Lease, p.Channel = s.Worker, lease, s.Channel
	msgs, err := s.Store.Claim(ctx, p)
	if err != nil {
		return nil, err
	}
	var out []SendResult
	for _, m := range msgs {
		r, err := s.send(ctx, m)
		if err != nil {
			return out, err
		}
		out = append(out, r)
	}
	return out, nil
}

// send uploads one claimed message and records the outcome.
func (s *Sender) send(ctx context.Context, m register.Message) (SendResult, error) {
	_, actor, backoff, now := s.defaults()
	ch := baapi.Channel(m.Channel)
	// Every outbound payload is a CMS message (see the baapi envelope
	// convention): an XSozial dataset or an eM@w ZIP, signed and encrypted.
	ctype := client.ContentTypeSealed
	body, err := s.Payloads.Body(ctx, m.Payload)
	var rec baapi.Receipt
	if err == nil {
		rec, err = s.Client.Upload(ctx, ch, baapi.MessageID(m.ID), ctype, body)
	}
	if err != nil && ctx.Err() != nil {
		return SendResult{Message: m, Err: err}, ctx.Err() // leave it in sending; the lease brings it back
	}
	if err == nil {
		// The receipt and "sent" commit together.
		receipt := register.AppendParams{
			Direction: register.DirectionIn, Channel: m.Channel, Event: register.EventReceipt, Actor: actor,
			Endpoint: m.Endpoint, MessageID: m.ID, Correlation: m.Correlation, Attempt: m.Attempt,
			Payload: m.Payload, Detail: "receipt " + string(rec.Status) + " at " + rec.ReceivedAt.UTC().Format(time.RFC3339),
		}
		nm, terr := s.Store.Transition(ctx, register.MarkSent(m.ID, m.Attempt, actor).With(receipt))
		return SendResult{Message: nm, Receipt: rec}, terr
	}
	reason := oneLine(err.Error())
	var t register.Transition
	var se *client.StatusError
	if errors.As(err, &se) && se.StatusCode >= 400 && se.StatusCode < 500 && se.StatusCode != 408 && se.StatusCode != 425 && se.StatusCode != 429 {
		// The BA refused this upload as such; resending it cannot help.
		t = register.MarkDead(m.ID, reason, actor)
	} else {
		t = register.MarkRetry(m.ID, m.Attempt, now().Add(backoff.NextRetry(m.Attempt-1, nil)), reason, actor)
	}
	nm, terr := s.Store.Transition(ctx, t)
	return SendResult{Message: nm, Err: err}, terr
}
