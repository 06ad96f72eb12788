package outbox

import (
	"bytes"
	"context"
	"crypto"
	"errors"
	"fmt"
	"io"
	"time"

	"meldeweg.dev/meldeweg/transport/baapi"
	"meldeweg.dev/meldeweg/transport/client"
	"meldeweg.dev/meldeweg/transport/cms"
	"meldeweg.dev/meldeweg/transport/pki"
	"meldeweg.dev/meldeweg/transport/register"
	"meldeweg.dev/meldeweg/transport/register/payload"
)

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

// AnswerProfile is the algorithm floor answers and inbound files of the
// BA are opened with, whatever profile the endpoint seals uploads in: the
// BA seals them in profile compat (transport/baapi, "Envelope"), and
// compat still refuses SHA-1, MD5, DES, 3DES and RC2. Open and Reopen
// both follow it, so what came in opens again later.
const AnswerProfile = cms.ProfileCompat

// Open opens a sealed file from the BA and seals it for rest, ready to be
// kept with the entry that records it (Reply.Entry). ep.Reply and ep.Trust
// are used; the algorithm floor is AnswerProfile.
func (o *Outbox) Open(ctx context.Context, ep *Endpoint, sealed []byte) (*Reply, error) {
	kept, err := o.Payloads.SealClass(ctx, register.ClassOf(register.Channel(ep.Channel), register.DirectionIn), bytes.NewReader(sealed))
	if err != nil {
		return nil, fmt.Errorf("sealing the BA's answer for rest: %w", err)
	}
	ref := kept.Ref
	plain, si, err := o.openAnswer(ctx, ep, bytes.NewReader(sealed))
	if err != nil {
		return &Reply{Sealed: ref}, fmt.Errorf("the BA's answer (SHA-256 %s) does not open: %w", ref.SHA256, err)
	}
	return &Reply{Plain: plain, Signer: si, Sealed: ref, kept: kept}, nil
}

// Reopen opens a kept sealed file from the BA (an answer or an inbound
// message, named by a "feedback" or "received" entry's payload) by the
// same rule as Open when it came in. Only ep.Reply and ep.Trust are used.
// A payload that is not kept gives an error wrapping register.ErrNotFound.
func (o *Outbox) Reopen(ctx context.Context, ep *Endpoint, ref register.PayloadRef) (*Reply, error) {
	if _, err := decrypter(ep.Reply); err != nil {
		return nil, err
	}
	rc, err := o.Payloads.Open(ctx, ref.SHA256)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	plain, si, err := o.openAnswer(ctx, ep, rc)
	if err != nil {
		return nil, fmt.Errorf("stored answer %s does not open: %w", ref.SHA256, err)
	}
	return &Reply{Plain: plain, Signer: si, Sealed: ref}, nil
}

// openAnswer is the one rule for opening what the BA sealed to this
// instance: ep's encryption identity, ep's trust anchors, the
// AnswerProfile floor, at most MaxAnswerBytes of content.
func (o *Outbox) openAnswer(ctx context.Context, ep *Endpoint, sealed io.Reader) ([]byte, cms.SignerInfo, error) {
	key, err := decrypter(ep.Reply)
	if err != nil {
		return nil, cms.SignerInfo{}, err
	}
	plain := boundedBuffer{max: o.maxAnswer()}
	si, err := cms.Open(ctx, &plain, sealed, cms.OpenOptions{Key: key, Cert: ep.Reply.Cert, Trust: ep.Trust, Profile: AnswerProfile})
	if err != nil {
		return nil, si, err
	}
	return plain.Bytes(), si, nil
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
