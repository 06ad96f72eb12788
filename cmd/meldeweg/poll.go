package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"meldeweg.dev/meldeweg/emaw/ack"
	"meldeweg.dev/meldeweg/emaw/msg"
	"meldeweg.dev/meldeweg/transport/baapi"
	"meldeweg.dev/meldeweg/transport/client"
	"meldeweg.dev/meldeweg/transport/delivery"
	"meldeweg.dev/meldeweg/transport/register"
	"meldeweg.dev/meldeweg/xsozial/feedback"
	"meldeweg.dev/meldeweg/xsozial/monthly"
)

func pollCommand() *command {
	return &command{
		name:    "poll",
		summary: "collect and record what the BA made available (feedback, acknowledgements, inbound eM@w messages)",
		usage:   `poll [--channel emaw|xsozial|all] [ENDPOINT OPTIONS]`,
		help: `Collects what the BA offers, opens it (decrypts it and verifies the BA's
signature and chain), keeps it sealed in the payload store and records it:

  XSozial  fetches the feedback (Rückmeldung) for every delivery in state
           sent; "angenommen" moves it to acknowledged, "abgelehnt" to
           rejected, with the rule codes in the register.
  eM@w     lists the mailbox and downloads every file (length and SHA-256
           checked). An OK/NOK acknowledgement settles its upload: every
           event acknowledged moves it to acknowledged, any NOK to rejected;
           each event's answer is recorded. An inbound message (e.g. an
           Anmeldung) is validated against the eM@w bundle in force and
           recorded as received. Each file is then removed from the mailbox.

An answer offered twice is recorded once.

POSITIONAL ARGUMENTS
  none

EXIT CODES
  0  everything offered was recorded; nothing rejected, nothing invalid
  1  at least one rejection or invalid inbound message (recorded)
  2  usage, configuration, certificate, register or transport error, or an
     answer that does not open (not recorded as a verdict)

EXAMPLES
  meldeweg poll --pki demo/pki --url https://127.0.0.1:8443
  meldeweg --config meldeweg.json poll --channel emaw`,
		setFlags: func(fs *flag.FlagSet) {
			fs.String("channel", "all", "`CHANNEL` to poll: emaw, xsozial or all")
			addEndpointFlags(fs)
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
	var chans []baapi.Channel
	switch which := fs.Lookup("channel").Value.String(); which {
	case "all":
		chans = baapi.Channels()
	default:
		ch, err := baapi.ParseChannel(which)
		if err != nil {
			return e.usageErrorf("--channel: %v", err)
		}
		chans = []baapi.Channel{ch}
	}
	ctx, cancel := context.WithTimeout(context.Background(), durationFlag(fs, "timeout"))
	defer cancel()
	ob, err := e.outbox(fs)
	if err != nil {
		return e.failf(exitError, "%v", err)
	}
	defer ob.Store.Close()
	var st pollStats
	for _, ch := range chans {
		ep, err := e.endpoint(fs, ch, 0)
		if err != nil {
			return e.failf(exitError, "%v", err)
		}
		if ch == baapi.ChannelEmaw {
			err = pollEmaw(ctx, e, ob, ep, &st)
		} else {
			err = pollXSozial(ctx, e, ob, ep, &st)
		}
		ep.Client.Close()
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

// pollXSozial fetches the feedback of every XSozial delivery in state sent.
func pollXSozial(ctx context.Context, e *env, ob *delivery.Outbox, ep *delivery.Endpoint, st *pollStats) error {
	msgs, err := ob.Store.Messages(ctx, register.MessagesParams{State: register.MessageSent})
	if err != nil {
		return err
	}
	for _, m := range msgs {
		if m.Channel != register.ChannelXSozial {
			continue
		}
		r, err := ob.FetchReply(ctx, ep, m.ID)
		if errors.Is(err, delivery.ErrNotReady) {
			continue
		}
		if err != nil {
			return err
		}
		fb, err := feedback.Parse(strings.NewReader(string(r.Plain)))
		if err != nil {
			return fmt.Errorf("feedback for %s: %w", m.ID, err)
		}
		nm, settled, err := ob.Settle(ctx, m.ID, r, monthly.Verdict(fb))
		if err != nil {
			return err
		}
		countSettled(e, st, nm, settled)
	}
	return nil
}

func countSettled(e *env, st *pollStats, m register.Message, settled bool) {
	switch {
	case !settled:
		st.duplicates++
	case m.State == register.MessageRejected:
		st.rejected++
		fmt.Fprintf(e.stderr, "%s: message %s rejected by the BA: %s\n", e.name, m.ID, m.LastError)
	default:
		st.acked++
	}
}

// pollEmaw collects the eM@w mailbox: acknowledgements and inbound
// messages.
func pollEmaw(ctx context.Context, e *env, ob *delivery.Outbox, ep *delivery.Endpoint, st *pollStats) error {
	mb := client.EmawMailbox{C: ep.Client}
	l, err := mb.List(ctx)
	if err != nil {
		return err
	}
	reg, err := e.registry()
	if err != nil {
		return err
	}
	codec := msg.NewCodec(reg)
	tmp, err := os.MkdirTemp("", "meldeweg-poll-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	for _, f := range l.Files {
		dst := filepath.Join(tmp, f.SHA256)
		if _, err := mb.Download(ctx, f, dst); err != nil {
			return err
		}
		sealed, err := os.ReadFile(dst)
		if err != nil {
			return err
		}
		r, err := ob.Open(ctx, ep, sealed)
		if err != nil {
			return fmt.Errorf("mailbox file %s: %w", f.ID, err)
		}
		switch f.Kind {
		case baapi.KindReply:
			err = recordAck(ctx, e, ob, codec, register.MessageID(f.Ref), r, st)
		case baapi.KindMessage:
			err = recordInbound(ctx, e, ob, ep, codec, f, r, st)
		default:
			err = fmt.Errorf("mailbox file %s has unknown kind %q", f.ID, f.Kind)
		}
		if err != nil {
			return err
		}
		if err := mb.Remove(ctx, f.ID); err != nil {
			return err
		}
	}
	return nil
}

// recordAck settles an upload by its acknowledgement file and records the
// answer to each event.
func recordAck(ctx context.Context, e *env, ob *delivery.Outbox, codec *msg.Codec, upload register.MessageID, r *delivery.Reply, st *pollStats) error {
	q, _, err := ack.Unmarshal(ctx, codec, r.Plain, "acknowledgement for "+string(upload))
	if err != nil {
		return fmt.Errorf("acknowledgement for %s: %w", upload, err)
	}
	m, err := ob.Store.Message(ctx, upload)
	if errors.Is(err, register.ErrNotFound) || err == nil && m.State != register.MessageSent {
		st.duplicates++
		return nil
	}
	if err != nil {
		return err
	}
	counts := map[ack.Outcome]int{}
	for _, res := range q.Ergebnis {
		o := res.Outcome()
		counts[o]++
		var codes []string
		for _, f := range res.Fehler {
			codes = append(codes, f.Code)
		}
		detail := fmt.Sprintf("event %s: %s %s", res.NachrichtID, res.Status, o)
		if len(codes) > 0 {
			detail += " (" + strings.Join(codes, ", ") + ")"
		}
		if _, err := ob.Store.Append(ctx, register.AppendParams{Direction: register.DirectionIn, Channel: register.ChannelEmaw,
			Event: register.EventFeedback, Actor: ob.Actor, Endpoint: m.Endpoint, MessageID: upload, Correlation: m.Correlation,
			Payload: r.Sealed, Detail: detail}); err != nil {
			return err
		}
	}
	accepted := len(q.Ergebnis) > 0 && counts[ack.OutcomeAcknowledged] == len(q.Ergebnis)
	var parts []string
	for _, o := range ack.Outcomes() {
		if counts[o] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[o], o))
		}
	}
	nm, settled, err := ob.Settle(ctx, upload, r, delivery.Verdict{Accepted: accepted, Summary: "Quittung: " + strings.Join(parts, ", ")})
	if err != nil {
		return err
	}
	countSettled(e, st, nm, settled)
	if counts[ack.OutcomeBAError] > 0 {
		fmt.Fprintf(e.stderr, "%s: upload %s: %d event(s) failed inside the BA; deliver them again\n", e.name, upload, counts[ack.OutcomeBAError])
	}
	return nil
}

// recordInbound validates an inbound eM@w message and records it as
// received, once per content.
func recordInbound(ctx context.Context, e *env, ob *delivery.Outbox, ep *delivery.Endpoint, codec *msg.Codec, f baapi.FileInfo, r *delivery.Reply, st *pollStats) error {
	id := register.MessageID("in-" + r.Sealed.SHA256.String()[:32])
	entries, err := ob.Store.List(ctx, register.ListParams{MessageID: id, Limit: 10})
	if err != nil {
		return err
	}
	for _, en := range entries {
		if en.Event() == register.EventReceived {
			st.duplicates++
			return nil
		}
	}
	verdict := "valid"
	if root, b, verr := codec.ValidateDocument(ctx, r.Plain, "file "+string(f.ID)); verr != nil {
		// The codec redacts personal values from its problems; the file
		// name from the BA is not repeated (it may carry identifiers).
		verdict = "invalid"
		st.invalid++
		fmt.Fprintf(e.stderr, "%s: inbound file %s (SHA-256 %s) is invalid: %v\n", e.name, f.ID, f.SHA256[:16], verr)
	} else {
		verdict = "valid " + root + " (" + b.ID() + ")"
	}
	st.received++
	_, err = ob.Store.Append(ctx, register.AppendParams{Direction: register.DirectionIn, Channel: register.ChannelEmaw,
		Event: register.EventReceived, Actor: ob.Actor, Endpoint: ep.URL, MessageID: id, Payload: r.Sealed,
		Detail: "received file " + string(f.ID) + ": " + verdict})
	return err
}
