package outbox

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"meldeweg.dev/meldeweg/transport/cms"
	"meldeweg.dev/meldeweg/transport/register"
)

// SubmitParams describes a payload to deliver.
type SubmitParams struct {
	// ID is the stable message ID. If a message with this ID is already in
	// the outbox, Submit returns it as it is: the caller continues it.
	ID          register.MessageID
	Correlation register.CorrelationKey
	// ResendOf links a correction or resend to the earlier message.
	ResendOf register.MessageID
	// Plain is the path of the payload before sealing.
	Plain string
	// Data, if not nil, is the payload itself, for a caller that built it
	// in memory (an eM@w upload of a few kilobytes); Plain then only
	// names it in errors.
	Data []byte
	// Detail is recorded with the entries (no personal data).
	Detail string
	// KeepPlain also keeps the plain payload, encrypted at rest, with a
	// "built" entry (before the "sealed" one), so that what was sent can
	// be read again later
	// (Outbox.Plain): eM@w events for deadlines and re-delivery. The
	// default keeps only the sealed form, which nobody here can open
	// again (it is encrypted to the BA).
	KeepPlain bool
}

// Submit seals the file p.Plain for the BA and queues the message; its
// "built" (KeepPlain), "sealed" and "queued" entries and the payloads they
// keep commit in one transaction. It returns the message and whether
// Submit created it (false: it was queued before, e.g. by a run that
// crashed, and is returned unchanged).
func (o *Outbox) Submit(ctx context.Context, ep *Endpoint, p SubmitParams) (register.Message, bool, error) {
	return o.submit(ctx, ep, p, "")
}

// Send submits p and delivers it (Submit, then Deliver), with one commit
// fewer: a message it creates is queued and claimed for this worker in
// the same transaction, and uploaded at once. If the process dies before
// the upload, the next run takes the message over after the lease, as
// after a death during the upload. A message that was in the outbox
// already is continued, as Deliver does. created says whether Send queued
// it.
func (o *Outbox) Send(ctx context.Context, ep *Endpoint, p SubmitParams) (m register.Message, created bool, err error) {
	m, created, err = o.submit(ctx, ep, p, o.Worker)
	if err != nil {
		return m, created, err
	}
	if created {
		r, err := o.send(ctx, ep, m)
		if err != nil {
			if ctx.Err() != nil {
				return m, created, fmt.Errorf("message %s: %w (%s)", m.ID, ErrNotDelivered, m.State)
			}
			return m, created, err
		}
		if r.Err == nil {
			return r.Message, created, nil // sent, receipt recorded
		}
		if o.Attempt != nil {
			o.Attempt(r)
		}
	}
	m, err = o.Deliver(ctx, ep, m.ID)
	return m, created, err
}

func (o *Outbox) submit(ctx context.Context, ep *Endpoint, p SubmitParams, claimBy string) (register.Message, bool, error) {
	if m, err := o.Store.Message(ctx, p.ID); err == nil {
		return m, false, nil
	} else if !errors.Is(err, register.ErrNotFound) {
		return register.Message{}, false, err
	}
	var in io.ReadSeeker
	if p.Data != nil {
		in = bytes.NewReader(p.Data)
	} else {
		f, err := os.Open(p.Plain)
		if err != nil {
			return register.Message{}, false, err
		}
		defer f.Close()
		in = f
	}
	ch := register.Channel(ep.Channel)
	var before []register.AppendParams
	if p.KeepPlain {
		plain, err := o.Payloads.SealClass(ctx, register.ClassOf(ch, register.DirectionOut), in)
		if err != nil {
			return register.Message{}, false, fmt.Errorf("keeping the plain payload: %w", err)
		}
		defer plain.Close()
		if _, err := in.Seek(0, io.SeekStart); err != nil {
			return register.Message{}, false, err
		}
		before = append(before, plain.Entry(register.AppendParams{Direction: register.DirectionOut, Channel: ch, Event: register.EventBuilt,
			Actor: o.actor(), MessageID: p.ID, Related: p.ResendOf, Correlation: p.Correlation,
			Detail: oneLine("kept for reading: " + p.Detail)}))
	}
	pr, pw := io.Pipe()
	sealErr := make(chan error, 1)
	go func() {
		err := cms.Seal(ctx, pw, in, cms.SealOptions{Signer: ep.Signer, Recipients: []*x509.Certificate{ep.BA}, Profile: ep.profile()})
		pw.CloseWithError(err)
		sealErr <- err
	}()
	sealed, err := o.Payloads.SealClass(ctx, register.ClassOf(ch, register.DirectionOut), pr)
	pr.CloseWithError(err) // unblock the sealer if Seal stopped early
	if serr := <-sealErr; serr != nil {
		if sealed != nil {
			sealed.Close()
		}
		return register.Message{}, false, fmt.Errorf("sealing %s for the BA: %w", filepath.Base(p.Plain), serr)
	}
	if err != nil {
		return register.Message{}, false, fmt.Errorf("keeping the sealed payload: %w", err)
	}
	defer sealed.Close()
	before = append(before, sealed.Entry(register.AppendParams{Direction: register.DirectionOut, Channel: ch, Event: register.EventSealed,
		Actor: o.actor(), Endpoint: ep.URL, MessageID: p.ID, Related: p.ResendOf, Correlation: p.Correlation,
		Detail: "sealed for " + ep.BA.Subject.CommonName + " (" + string(ep.profile()) + ")"}))
	// One transaction, one fsync: the payloads, "built", "sealed" and
	// "queued" are kept together or not at all.
	m, err := o.Store.Enqueue(ctx, register.EnqueueParams{ID: p.ID, Channel: ch, Endpoint: ep.URL, Correlation: p.Correlation,
		Payload: sealed.Ref, ResendOf: p.ResendOf, Actor: o.actor(), Detail: p.Detail, Before: before, ClaimBy: claimBy})
	if errors.Is(err, register.ErrDuplicateMessage) {
		// Another process queued it between our look-up and now.
		m, err = o.Store.Message(ctx, p.ID)
		return m, false, err
	}
	return m, err == nil, err
}
