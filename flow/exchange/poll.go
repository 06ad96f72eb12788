package exchange

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"meldeweg.dev/meldeweg/emaw/ack"
	"meldeweg.dev/meldeweg/emaw/msg"
	"meldeweg.dev/meldeweg/flow/outbox"
	"meldeweg.dev/meldeweg/transport/baapi"
	"meldeweg.dev/meldeweg/transport/client"
	"meldeweg.dev/meldeweg/transport/register"
)

// PollParams describe one collection of the eM@w mailbox.
type PollParams struct {
	// Outbox and Endpoint (with its client) are required.
	Outbox   *outbox.Outbox
	Endpoint *outbox.Endpoint
	// Codec validates and reads messages and acknowledgements. Required.
	Codec *msg.Codec
	// Pseudonyms names participants of inbound messages in the register.
	// Defaults to the instance key next to the payloads (Pseudonyms).
	Pseudonyms *register.Pseudonymizer
	// TempDir receives each downloaded file (sealed to this instance) for
	// the moment it is opened. Defaults to a fresh directory (0700) under
	// os.TempDir, removed at the end.
	TempDir string
}

// PollReport is what a poll collected, in the order it happened. It holds
// no personal data: uploads by message ID, events by NachrichtID, files by
// the BA's file ID and SHA-256, participants by pseudonym.
type PollReport struct {
	// Acks are the acknowledgements collected, one per file; Settled is
	// false for one offered again.
	Acks []AckResult
	// Inbound are the inbound messages collected, one per file.
	Inbound []InboundFile
	// Resends are the re-deliveries sent in this poll (also those queued
	// by an earlier, interrupted poll), each in its state after sending.
	Resends []Resend
}

// InboundFile is one inbound message collected from the mailbox.
type InboundFile struct {
	InboundResult
	// SHA256 is the file's checksum from the listing (hex).
	SHA256 string
}

// Pseudonyms loads the instance's participant pseudonym key, kept next to
// the payload keys (created at first use; back it up with the register).
func Pseudonyms(ob *outbox.Outbox) (*register.Pseudonymizer, error) {
	ps, err := register.LoadPseudonymizer(filepath.Join(ob.Payloads.Dir(), "pseudonym.key"))
	if err != nil {
		return nil, fmt.Errorf("pseudonym key: %w", err)
	}
	return ps, nil
}

// Poll collects the eM@w mailbox: it lists what the BA offers, downloads
// every file (length and SHA-256 checked by the client), opens it
// (decrypts it, verifies the BA's signature and chain), records it and
// then removes it from the mailbox:
//
//   - an OK/NOK acknowledgement settles its upload (RecordAck);
//   - an inbound message is validated and recorded as received
//     (RecordInbound), kept sealed to this instance.
//
// Then it re-delivers the events that met a BA-internal error (Redeliver)
// and sends every such re-delivery still in the outbox.
//
// A file is removed from the mailbox only after it is recorded, so a poll
// that stops (error, crash) leaves it offered, and the next poll records
// it once (an answer offered twice is recorded once). A file that does not
// open is an error naming its file ID; nothing is recorded for it and it
// stays in the mailbox. On error the report holds what was done before.
func Poll(ctx context.Context, p PollParams) (PollReport, error) {
	var rep PollReport
	if p.Outbox == nil || p.Endpoint == nil || p.Endpoint.Client == nil || p.Codec == nil {
		return rep, errors.New("exchange.PollParams: Outbox, Endpoint with its Client, and Codec are required")
	}
	ps := p.Pseudonyms
	if ps == nil {
		var err error
		if ps, err = Pseudonyms(p.Outbox); err != nil {
			return rep, err
		}
	}
	tmp := p.TempDir
	if tmp == "" {
		d, err := os.MkdirTemp("", "meldeweg-poll-")
		if err != nil {
			return rep, err
		}
		defer os.RemoveAll(d)
		tmp = d
	}
	mb := client.EmawMailbox{C: p.Endpoint.Client}
	l, err := mb.List(ctx)
	if err != nil {
		return rep, err
	}
	for _, f := range l.Files {
		if err := p.collect(ctx, mb, f, tmp, ps, &rep); err != nil {
			return rep, err
		}
	}
	resends, rerr := Redeliver(ctx, p.Outbox, p.Endpoint, p.Codec)
	for _, r := range resends {
		switch r.Message.State {
		case register.MessageQueued, register.MessageRetryWait, register.MessageSending:
		default:
			continue // delivered before
		}
		m, err := p.Outbox.Deliver(ctx, p.Endpoint, r.ID)
		if err != nil {
			return rep, fmt.Errorf("re-delivery %s of %s: %w", r.ID, r.Original, err)
		}
		r.Message = m
		rep.Resends = append(rep.Resends, r)
	}
	if rerr != nil {
		return rep, fmt.Errorf("%w; send those events again by hand", rerr)
	}
	return rep, nil
}

// collect downloads, opens, records and removes one mailbox file.
func (p *PollParams) collect(ctx context.Context, mb client.EmawMailbox, f baapi.FileInfo, tmp string, ps *register.Pseudonymizer, rep *PollReport) error {
	dst := filepath.Join(tmp, "download")
	if _, err := mb.Download(ctx, f, dst); err != nil {
		return err
	}
	sealed, err := os.ReadFile(dst)
	os.Remove(dst)
	if err != nil {
		return err
	}
	r, err := p.Outbox.Open(ctx, p.Endpoint, sealed)
	if err != nil {
		return fmt.Errorf("mailbox file %s: %w", f.ID, err)
	}
	switch f.Kind {
	case baapi.KindReply:
		res, err := RecordAck(ctx, p.Outbox, p.Codec, register.MessageID(f.Ref), r)
		if err != nil {
			return err
		}
		rep.Acks = append(rep.Acks, res)
	case baapi.KindMessage:
		res, err := RecordInbound(ctx, p.Outbox, p.Endpoint, p.Codec, ps, f.ID, r)
		if err != nil {
			return err
		}
		rep.Inbound = append(rep.Inbound, InboundFile{InboundResult: res, SHA256: f.SHA256})
	default:
		return fmt.Errorf("mailbox file %s has unknown kind %q", f.ID, f.Kind)
	}
	return mb.Remove(ctx, f.ID)
}

// OnlyBAErrors reports whether every event the BA did not take met a
// BA-internal error (9xxx), which Poll re-delivers: the upload is
// rejected in the register, but nothing is left for a person to do.
func (a AckResult) OnlyBAErrors() bool {
	any := false
	for _, e := range a.Answers {
		switch e.Outcome {
		case ack.OutcomeAcknowledged:
		case ack.OutcomeBAError:
			any = true
		default:
			return false
		}
	}
	return any
}
