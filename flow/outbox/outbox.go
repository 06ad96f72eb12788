// Package outbox moves messages between this instance and the BA. It is
// where the other transport packages meet:
//
//	Submit   seal the plain payload for the BA (transport/cms) and queue
//	         it in the outbox (transport/register) with a "sealed" entry
//	         that keeps the sealed form, encrypted at rest
//	         (register/payload), in the same transaction;
//	Deliver  drive the queued message over mutual TLS (transport/client)
//	         until the BA's receipt confirms it, or it is rejected or dead;
//	Reply    fetch the BA's answer to a message and open it (decrypt,
//	         verify the BA's signature and chain);
//	Settle   record what the answer means, acknowledged or rejected,
//	         keeping the answer with its "feedback" entry.
//
// The package is channel-neutral. What a payload is (an XSozial dataset,
// an eM@w ZIP) and what a reply means (a Rückmeldung, an OK/NOK file) is
// for the xsozial and emaw packages to say; they call this one. Every
// step leaves its entry in the register, so a delivery can be followed —
// and resumed after a crash — from the register alone.
//
// The envelope convention (transport/baapi): uploads are signed with the
// sender's signing certificate and encrypted to the BA's encryption
// certificate; replies and inbound files are signed by the BA and
// encrypted to the receiver's encryption certificate.
package outbox

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"meldeweg.dev/meldeweg/transport/baapi"
	"meldeweg.dev/meldeweg/transport/client"
	"meldeweg.dev/meldeweg/transport/cms"
	"meldeweg.dev/meldeweg/transport/pki"
	"meldeweg.dev/meldeweg/transport/register"
	"meldeweg.dev/meldeweg/transport/register/payload"
)

// Endpoint is a BA endpoint for one channel, with this instance's
// identities for it.
type Endpoint struct {
	Channel baapi.Channel
	// URL is recorded in the register with every message.
	URL string
	// Client talks to the endpoint over mutual TLS.
	Client *client.Client
	// Signer signs what this instance uploads.
	Signer cms.Signer
	// BA is the BA's encryption certificate; uploads are sealed to it.
	BA *x509.Certificate
	// Reply opens what the BA seals to this instance.
	Reply *pki.Identity
	// Trust anchors the BA's signatures on replies.
	Trust *x509.CertPool
	// Profile is the algorithm profile uploads are sealed with. Defaults
	// to cms.ProfileCompat. (Replies are accepted in either profile.)
	Profile cms.Profile
}

// Outbox is the register with its payload store (which keeps payloads in
// the same register), as one party (operator or system) and one worker
// use it.
type Outbox struct {
	Store    register.Store
	Payloads *payload.Store
	Actor    register.Actor
	// Worker names this process in claims ("host-pid").
	Worker string
	// Lease: a message left in sending longer than this by a dead process
	// is taken over. Defaults to 2 minutes.
	Lease time.Duration
	// Attempt, if set, is told about every failed upload attempt.
	Attempt func(SendResult)
	// MaxAnswerBytes bounds an answer of the BA opened into memory (Open,
	// Reopen). The sealed answer is bounded by the client's
	// MaxReplyBytes, but its content is compressed inside the signature
	// and can inflate a thousandfold before the signature is checked.
	// Defaults to 256 MiB.
	MaxAnswerBytes int64
}

func (o *Outbox) maxAnswer() int64 {
	if o.MaxAnswerBytes <= 0 {
		return 256 << 20
	}
	return o.MaxAnswerBytes
}

// ErrAnswerTooLarge: an answer of the BA opens to more than
// Outbox.MaxAnswerBytes.
var ErrAnswerTooLarge = errors.New("answer too large to open in memory")

// boundedBuffer is a bytes.Buffer that refuses to grow past max.
type boundedBuffer struct {
	bytes.Buffer
	max int64
}

func (b *boundedBuffer) Write(p []byte) (int, error) {
	if int64(b.Len())+int64(len(p)) > b.max {
		return 0, fmt.Errorf("%w: more than %d bytes (Outbox.MaxAnswerBytes)", ErrAnswerTooLarge, b.max)
	}
	return b.Buffer.Write(p)
}

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
		r, err := o.sender(ep).SendClaimed(ctx, m)
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
		plain, err := o.Payloads.Seal(ctx, in)
		if err != nil {
			return register.Message{}, false, fmt.Errorf("keeping the plain payload: %w", err)
		}
		defer plain.Close()
		if _, err := in.Seek(0, io.SeekStart); err != nil {
			return register.Message{}, false, err
		}
		before = append(before, plain.Entry(register.AppendParams{Direction: register.DirectionOut, Channel: ch, Event: register.EventBuilt,
			Actor: o.Actor, MessageID: p.ID, Related: p.ResendOf, Correlation: p.Correlation,
			Detail: oneLine("kept for reading: " + p.Detail)}))
	}
	pr, pw := io.Pipe()
	sealErr := make(chan error, 1)
	go func() {
		err := cms.Seal(ctx, pw, in, cms.SealOptions{Signer: ep.Signer, Recipients: []*x509.Certificate{ep.BA}, Profile: ep.profile()})
		pw.CloseWithError(err)
		sealErr <- err
	}()
	sealed, err := o.Payloads.Seal(ctx, pr)
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
		Actor: o.Actor, Endpoint: ep.URL, MessageID: p.ID, Related: p.ResendOf, Correlation: p.Correlation,
		Detail: "sealed for " + ep.BA.Subject.CommonName + " (" + string(ep.profile()) + ")"}))
	// One transaction, one fsync: the payloads, "built", "sealed" and
	// "queued" are kept together or not at all.
	m, err := o.Store.Enqueue(ctx, register.EnqueueParams{ID: p.ID, Channel: ch, Endpoint: ep.URL, Correlation: p.Correlation,
		Payload: sealed.Ref, ResendOf: p.ResendOf, Actor: o.Actor, Detail: p.Detail, Before: before, ClaimBy: claimBy})
	if errors.Is(err, register.ErrDuplicateMessage) {
		// Another process queued it between our look-up and now.
		m, err = o.Store.Message(ctx, p.ID)
		return m, false, err
	}
	return m, err == nil, err
}

func (ep *Endpoint) profile() cms.Profile {
	if ep.Profile == "" {
		return cms.ProfileCompat
	}
	return ep.Profile
}

// ErrNotDelivered: Deliver gave up (ctx ended) with the message still in
// the outbox; a later run continues it.
var ErrNotDelivered = errors.New("not delivered yet")

// Deliver sends message id until it is sent, acknowledged, rejected or
// dead (while it waits for id's retry time, or for another worker that
// holds id, it sends other due messages of the endpoint's channel), and returns
// it in that state. A rejected or dead message is returned without error;
// the caller reads its State and LastError. When ctx ends first, the error
// wraps ErrNotDelivered and the message stays in the outbox.
func (o *Outbox) Deliver(ctx context.Context, ep *Endpoint, id register.MessageID) (register.Message, error) {
	sender := o.sender(ep)
	idle := 5 * time.Millisecond
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
		results, err := sender.Send(ctx, id)
		if err == nil && len(results) == 0 {
			results, err = sender.SendDue(ctx, 1)
		}
		if err != nil {
			if ctx.Err() != nil {
				return m, fmt.Errorf("message %s: %w (%s)", id, ErrNotDelivered, m.State)
			}
			return m, err
		}
		for _, r := range results {
			if r.Err != nil && o.Attempt != nil {
				o.Attempt(r)
			}
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
			wait = min(wait, time.Until(m.NextAttemptAt))
		case register.MessageSending:
			wait = min(wait, idle, time.Until(m.ClaimedAt.Add(o.lease())))
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

func (o *Outbox) sender(ep *Endpoint) *Sender {
	return &Sender{Store: o.Store, Client: ep.Client, Payloads: sealedPayloads{o.Payloads}, Actor: o.Actor,
		Worker: o.Worker, Lease: o.lease(), Channel: register.Channel(ep.Channel)}
}

func (o *Outbox) lease() time.Duration {
	if o.Lease <= 0 {
		return 2 * time.Minute
	}
	return o.Lease
}

// sealedPayloads serves the kept (already CMS-sealed) payloads as upload
// bodies, decrypted from rest anew for every attempt.
type sealedPayloads struct{ s *payload.Store }

// Body opens the payload at once, so a payload that is not kept is an
// error before anything is sent; the first attempt reads that reader, every
// later one opens the payload again.
func (p sealedPayloads) Body(ctx context.Context, ref register.PayloadRef) (*client.Body, error) {
	first, err := p.s.Open(ctx, ref.SHA256)
	if err != nil {
		return nil, err
	}
	var mu sync.Mutex
	return client.ReaderBody(ref.Size, ref.SHA256, func() (io.Reader, error) {
		mu.Lock()
		r := first
		first = nil
		mu.Unlock()
		if r != nil {
			return r, nil
		}
		return p.s.Open(ctx, ref.SHA256)
	}), nil
}

// Reply is an opened answer of the BA.
type Reply struct {
	// Plain is the opened content (a feedback or acknowledgement file).
	Plain []byte
	// Signer is the BA's verified signature.
	Signer cms.SignerInfo
	// Sealed names the answer as received: the payload of the entry that
	// records it.
	Sealed register.PayloadRef
	// kept is the answer sealed for rest, to be kept with that entry.
	kept *payload.Sealed
}

// Entry returns ap naming the answer as received and, for an answer just
// fetched, carrying it sealed for rest, so that appending ap keeps the
// answer in the same transaction (Settle does this for its "feedback"
// entries; an inbound message's "received" entry does it too).
func (r *Reply) Entry(ap register.AppendParams) register.AppendParams {
	if r.kept != nil {
		return r.kept.Entry(ap)
	}
	ap.Payload = r.Sealed
	return ap
}

// ErrNotReady: the BA has no answer yet.
var ErrNotReady = client.ErrNotReady

// FetchReply asks once for the BA's answer to message id and opens it.
// The error wraps ErrNotReady while there is none. An answer that does not
// open (wrong recipient, bad signature, untrusted signer) is an error that
// says why and names its SHA-256; nothing is recorded, and the BA still
// offers it.
func (o *Outbox) FetchReply(ctx context.Context, ep *Endpoint, id register.MessageID) (*Reply, error) {
	data, _, err := ep.Client.Reply(ctx, ep.Channel, baapi.MessageID(id))
	if err != nil {
		return nil, err
	}
	return o.Open(ctx, ep, data)
}

// Open opens a sealed file from the BA and seals it for rest, ready to be
// kept with the entry that records it (Reply.Entry).
func (o *Outbox) Open(ctx context.Context, ep *Endpoint, sealed []byte) (*Reply, error) {
	kept, err := o.Payloads.Seal(ctx, bytes.NewReader(sealed))
	if err != nil {
		return nil, fmt.Errorf("sealing the BA's answer for rest: %w", err)
	}
	ref := kept.Ref
	key, err := decrypter(ep.Reply)
	if err != nil {
		return &Reply{Sealed: ref}, err
	}
	plain := boundedBuffer{max: o.maxAnswer()}
	// Replies are opened with the compat floor whatever the upload profile:
	// the BA seals its answers with compat (transport/baapi, "Envelope"),
	// and compat still refuses SHA-1, MD5, DES, 3DES and RC2.
	si, err := cms.Open(ctx, &plain, bytes.NewReader(sealed), cms.OpenOptions{Key: key, Cert: ep.Reply.Cert, Trust: ep.Trust, Profile: cms.ProfileCompat})
	if err != nil {
		return &Reply{Sealed: ref}, fmt.Errorf("the BA's answer (SHA-256 %s) does not open: %w", ref.SHA256, err)
	}
	return &Reply{Plain: plain.Bytes(), Signer: si, Sealed: ref, kept: kept}, nil
}

// Reopen opens a kept sealed file from the BA (an answer or an inbound
// message, named by a "feedback" or "received" entry's payload) with the
// endpoint's identity, as Open did when it came in. Only ep.Reply,
// ep.Trust and ep.Profile are used. A payload that is not kept gives an
// error wrapping register.ErrNotFound.
func (o *Outbox) Reopen(ctx context.Context, ep *Endpoint, ref register.PayloadRef) (*Reply, error) {
	key, err := decrypter(ep.Reply)
	if err != nil {
		return nil, err
	}
	rc, err := o.Payloads.Open(ctx, ref.SHA256)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	plain := boundedBuffer{max: o.maxAnswer()}
	si, err := cms.Open(ctx, &plain, rc, cms.OpenOptions{Key: key, Cert: ep.Reply.Cert, Trust: ep.Trust, Profile: ep.profile()})
	if err != nil {
		return nil, fmt.Errorf("stored answer %s does not open: %w", ref.SHA256, err)
	}
	return &Reply{Plain: plain.Bytes(), Signer: si, Sealed: ref}, nil
}

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

// decrypter returns the identity's key as a crypto.Decrypter (RSA keys
// are; the BA encrypts to RSA keys).
func decrypter(id *pki.Identity) (crypto.Decrypter, error) {
	if id == nil {
		return nil, errors.New("no identity to open the BA's answers with (the encryption certificate and key)")
	}
	d, ok := id.Key.(crypto.Decrypter)
	if !ok {
		return nil, fmt.Errorf("the key of %s (%T) cannot decrypt; the BA encrypts to RSA keys", id.Cert.Subject.CommonName, id.Key)
	}
	return d, nil
}

// AwaitReply polls FetchReply every interval until the answer is there or
// ctx ends.
func (o *Outbox) AwaitReply(ctx context.Context, ep *Endpoint, id register.MessageID, interval time.Duration) (*Reply, error) {
	for {
		r, err := o.FetchReply(ctx, ep, id)
		if !errors.Is(err, ErrNotReady) {
			return r, err
		}
		t := time.NewTimer(interval)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("no answer from the BA to %s yet: %w", id, ctx.Err())
		case <-t.C:
		}
	}
}

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
			Actor: o.Actor, Endpoint: m.Endpoint, MessageID: id, Correlation: m.Correlation, Payload: r.Sealed, Detail: oneLine(d)}
		if i == 0 {
			f = r.Entry(f)
		}
		feedback = append(feedback, f)
	}
	t := register.MarkAcknowledged(id, r.Sealed, o.Actor)
	if !v.Accepted {
		t = register.MarkRejected(id, oneLine(v.Summary), r.Sealed, o.Actor)
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

// oneLine keeps a detail to one printable line of at most 500 runes.
func oneLine(s string) string {
	r := []rune(s)
	for i, c := range r {
		if c < 0x20 || c == 0x7f {
			r[i] = ' '
		}
	}
	if len(r) > 500 {
		r = append(r[:497], '.', '.', '.')
	}
	return string(r)
}
