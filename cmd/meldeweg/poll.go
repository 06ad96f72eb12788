package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"meldeweg.dev/meldeweg/emaw/msg"
	"meldeweg.dev/meldeweg/transport/baapi"
	"meldeweg.dev/meldeweg/transport/client"
	"meldeweg.dev/meldeweg/transport/register"
)

func pollCommand() *command {
	return &command{
		name:    "poll",
		summary: "download and record what the BA made available (replies, inbound eM@w messages)",
		usage:   `poll [--channel emaw|xsozial|all] [CONNECTION OPTIONS]`,
		help: `Collects what the BA offers and records it in the register:

  eM@w     lists the mailbox; downloads every file (length and SHA-256
           checked); an OK/NOK acknowledgement moves its sent message to
           acknowledged or rejected; an inbound message (e.g. an Anmeldung)
           is validated against the eM@w bundle in force and recorded as
           received. Each file is then removed from the mailbox. A reply
           offered twice is recorded once.
  XSozial  fetches the feedback for every delivery in state sent and moves
           it to acknowledged (accepted) or rejected.

Downloaded files are kept in REGISTER.inbox/ under their SHA-256.

POSITIONAL ARGUMENTS
  none

EXIT CODES
  0  everything offered was recorded; no rejection, no invalid file
  1  at least one NOK/rejected reply or invalid inbound message (recorded)
  2  usage, configuration, certificate, register or transport error

EXAMPLES
  meldeweg poll --pki demo/pki --url https://127.0.0.1:8443
  meldeweg --config meldeweg.json poll --channel emaw`,
		setFlags: func(fs *flag.FlagSet) {
			fs.String("channel", "all", "`CHANNEL` to poll: emaw, xsozial or all")
			addConnectionFlags(fs)
			fs.Duration("timeout", 5*time.Minute, "give up after `DURATION`")
		},
		run: runPoll,
	}
}

// pollStats counts what a poll did.
type pollStats struct {
	acked, rejected, received, invalid, duplicates int
}

func runPoll(e *env, fs *flag.FlagSet, args []string) int {
	if len(args) != 0 {
		return e.usageErrorf("poll takes no positional arguments")
	}
	which := fs.Lookup("channel").Value.String()
	var chans []baapi.Channel
	switch which {
	case "all":
		chans = baapi.Channels()
	default:
		ch, err := baapi.ParseChannel(which)
		if err != nil {
			return e.usageErrorf("--channel: %v", err)
		}
		chans = []baapi.Channel{ch}
	}
	ctx, cancel := context.WithTimeout(context.Background(), fs.Lookup("timeout").Value.(flag.Getter).Get().(time.Duration))
	defer cancel()
	var st pollStats
	for _, ch := range chans {
		conn, err := connect(e, fs, ch, 0)
		if err != nil {
			return e.failf(exitError, "%v", err)
		}
		inbox := fs.Lookup("register").Value.String() + ".inbox"
		if err := os.MkdirAll(inbox, 0o700); err != nil {
			conn.close()
			return e.failf(exitError, "%v", err)
		}
		if ch == baapi.ChannelEmaw {
			err = pollEmaw(ctx, e, conn, inbox, &st)
		} else {
			err = pollXSozial(ctx, e, conn, inbox, &st)
		}
		conn.close()
		if err != nil {
			return e.failf(exitError, "%s: %v", ch, err)
		}
	}
	fmt.Fprintf(e.stdout, "acknowledged %d, rejected %d, received %d (%d invalid), duplicates skipped %d\n",
		st.acked, st.rejected, st.received, st.invalid, st.duplicates)
	if st.rejected > 0 || st.invalid > 0 {
		return exitFindings
	}
	return exitOK
}

func pollEmaw(ctx context.Context, e *env, conn *connection, inbox string, st *pollStats) error {
	mb := client.EmawMailbox{C: conn.client}
	l, err := mb.List(ctx)
	if err != nil {
		return err
	}
	for _, f := range l.Files {
		dst := filepath.Join(inbox, f.SHA256)
		got, err := mb.Download(ctx, f, dst)
		if err != nil {
			return err
		}
		ref := register.PayloadRef{SHA256: got.SHA256, Size: got.Size}
		switch f.Kind {
		case baapi.KindReply:
			if err := recordReply(ctx, e, conn, register.ChannelEmaw, register.MessageID(f.Ref), got.Outcome, ref, st); err != nil {
				return err
			}
		case baapi.KindMessage:
			if err := recordInbound(ctx, e, conn, f, dst, ref, st); err != nil {
				return err
			}
		}
		if err := mb.Remove(ctx, f.ID); err != nil {
			return err
		}
	}
	return nil
}

// recordReply moves a sent message to acknowledged or rejected. A reply
// for a message that is no longer sent (a duplicate acknowledgement, or
// one for a message this register does not hold) is skipped.
func recordReply(ctx context.Context, e *env, conn *connection, ch register.Channel, id register.MessageID, outcome baapi.Outcome, ref register.PayloadRef, st *pollStats) error {
	m, err := conn.store.Message(ctx, id)
	if errors.Is(err, register.ErrNotFound) || err == nil && m.State != register.MessageSent {
		st.duplicates++
		return nil
	}
	if err != nil {
		return err
	}
	var t register.Transition
	switch outcome {
	case baapi.OutcomeOK:
		t = register.MarkAcknowledged(id, ref, conn.actor)
	case baapi.OutcomeNOK:
		t = register.MarkRejected(id, "the BA answered NOK", ref, conn.actor)
	default:
		return fmt.Errorf("reply for %s carries no outcome (%q); left unrecorded", id, outcome)
	}
	if ch == register.ChannelXSozial {
		if _, err := conn.store.Append(ctx, register.AppendParams{Direction: register.DirectionIn, Channel: ch, Event: register.EventFeedback,
			Actor: conn.actor, Endpoint: m.Endpoint, MessageID: id, Correlation: m.Correlation, Payload: ref, Detail: "feedback " + string(outcome)}); err != nil {
			return err
		}
	}
	nm, err := conn.store.Transition(ctx, t)
	if errors.Is(err, register.ErrStateConflict) { // another poller was faster
		st.duplicates++
		return nil
	}
	if err != nil {
		return err
	}
	if nm.State == register.MessageRejected {
		st.rejected++
		fmt.Fprintf(e.stderr, "%s: message %s rejected by the BA\n", e.name, id)
	} else {
		st.acked++
	}
	return nil
}

// recordInbound validates an inbound eM@w document and records it as
// received, once per content.
func recordInbound(ctx context.Context, e *env, conn *connection, f baapi.FileInfo, path string, ref register.PayloadRef, st *pollStats) error {
	id := register.MessageID("in-" + f.SHA256[:32])
	entries, err := conn.store.List(ctx, register.ListParams{MessageID: id, Limit: 10})
	if err != nil {
		return err
	}
	for _, en := range entries {
		if en.Event() == register.EventReceived {
			st.duplicates++
			return nil
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	verdict := "valid"
	reg, err := e.registry()
	if err != nil {
		return err
	}
	if root, b, verr := msg.NewCodec(reg).ValidateDocument(ctx, data, "file "+string(f.ID)); verr != nil {
		// The codec redacts personal values from its problems; the file
		// name from the BA is not repeated (it may carry identifiers).
		verdict = "invalid"
		st.invalid++
		fmt.Fprintf(e.stderr, "%s: inbound file %s (SHA-256 %s) is invalid: %v\n", e.name, f.ID, f.SHA256[:16], verr)
	} else {
		verdict = "valid " + root + " (" + b.ID() + ")"
	}
	st.received++
	_, err = conn.store.Append(ctx, register.AppendParams{Direction: register.DirectionIn, Channel: register.ChannelEmaw,
		Event: register.EventReceived, Actor: conn.actor, Endpoint: conn.url, MessageID: id, Payload: ref,
		Detail: "received file " + string(f.ID) + ": " + verdict})
	return err
}

func pollXSozial(ctx context.Context, e *env, conn *connection, inbox string, st *pollStats) error {
	portal := client.XSozialPortal{C: conn.client}
	msgs, err := conn.store.Messages(ctx, register.MessagesParams{State: register.MessageSent})
	if err != nil {
		return err
	}
	for _, m := range msgs {
		if m.Channel != register.ChannelXSozial {
			continue
		}
		data, f, err := portal.Feedback(ctx, baapi.MessageID(m.ID))
		if errors.Is(err, client.ErrNotReady) {
			continue
		}
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		if err := os.WriteFile(filepath.Join(inbox, hex.EncodeToString(sum[:])), data, 0o600); err != nil {
			return err
		}
		ref := register.PayloadRef{SHA256: f.SHA256, Size: f.Size}
		if err := recordReply(ctx, e, conn, register.ChannelXSozial, m.ID, f.Outcome, ref, st); err != nil {
			return err
		}
	}
	return nil
}
