package client

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"meldeweg.dev/meldeweg/transport/baapi"
	"meldeweg.dev/meldeweg/transport/register"
)

// PayloadSource opens the payload an outbox message names.
type PayloadSource interface {
	// Body returns the payload with ref as an upload body, or an error
	// wrapping os.ErrNotExist.
	Body(ctx context.Context, ref register.PayloadRef) (*Body, error)
}

// SpoolDir is a PayloadSource over plain files named by their SHA-256 in
// hex. It is the interim payload store of "meldeweg send": the register's
// sealed payload store (encrypted at rest) replaces it once it exists.
// Payloads in it are as sensitive as the files they were copied from.
type SpoolDir string

// Put copies the file at path into the spool (write, fsync, rename, fsync
// the directory) and returns its reference. An existing copy with the same
// hash is kept.
func (d SpoolDir) Put(path string) (register.PayloadRef, error) {
	if err := os.MkdirAll(string(d), 0o700); err != nil {
		return register.PayloadRef{}, err
	}
	src, err := os.Open(path)
	if err != nil {
		return register.PayloadRef{}, err
	}
	defer src.Close()
	tmp, err := os.CreateTemp(string(d), ".put-*")
	if err != nil {
		return register.PayloadRef{}, err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), src)
	if err != nil {
		return register.PayloadRef{}, fmt.Errorf("copying %s into the spool: %w", path, err)
	}
	var ref register.PayloadRef
	h.Sum(ref.SHA256[:0])
	ref.Size = n
	if err := tmp.Sync(); err != nil {
		return ref, err
	}
	if err := tmp.Close(); err != nil {
		return ref, err
	}
	if err := os.Rename(tmp.Name(), d.path(ref)); err != nil {
		return ref, err
	}
	dir, err := os.Open(string(d))
	if err != nil {
		return ref, err
	}
	defer dir.Close()
	return ref, dir.Sync()
}

func (d SpoolDir) path(ref register.PayloadRef) string {
	return filepath.Join(string(d), ref.SHA256.String())
}

// Body implements PayloadSource; the file must still hash to ref.
func (d SpoolDir) Body(_ context.Context, ref register.PayloadRef) (*Body, error) {
	b, err := FileBody(d.path(ref))
	if err != nil {
		return nil, err
	}
	if b.size != ref.Size || b.sum != ref.SHA256 {
		return nil, fmt.Errorf("spool file %s: %w: content no longer matches its name", ref.SHA256, ErrCorruptPayload)
	}
	return b, nil
}

// ErrCorruptPayload: a stored payload no longer hashes to its address.
var ErrCorruptPayload = errors.New("stored payload is damaged")

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
	Client   *Client        // required
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
	// BackoffPolicy{Min: 5s, Max: 10m}.
	Backoff RetryPolicy
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

func (s *Sender) defaults() (time.Duration, register.Actor, RetryPolicy, func() time.Time) {
	lease, actor, backoff, now := s.Lease, s.Actor, s.Backoff, s.Now
	if lease <= 0 {
		lease = 2 * time.Minute
	}
	if actor.IsZero() {
		actor = register.System("send")
	}
	if backoff == nil {
		backoff = BackoffPolicy{Min: 5 * time.Second, Max: 10 * time.Minute}
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
	lease, _, _, _ := s.defaults()
	msgs, err := s.Store.Claim(ctx, register.ClaimParams{Worker: s.Worker, Limit: limit, Lease: lease, Channel: s.Channel})
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
	ctype := ContentTypeSealed
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
	var se *StatusError
	if errors.As(err, &se) && se.StatusCode >= 400 && se.StatusCode < 500 && se.StatusCode != 408 && se.StatusCode != 425 && se.StatusCode != 429 {
		// The BA refused this upload as such; resending it cannot help.
		t = register.MarkDead(m.ID, reason, actor)
	} else {
		t = register.MarkRetry(m.ID, m.Attempt, now().Add(backoff.NextRetry(m.Attempt-1, nil)), reason, actor)
	}
	nm, terr := s.Store.Transition(ctx, t)
	return SendResult{Message: nm, Err: err}, terr
}

// oneLine makes an error fit a register Detail: one printable line of at
// most 512 runes.
func oneLine(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	if r := []rune(s); len(r) > 500 {
		s = string(r[:500]) + "…"
	}
	return s
}
