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
	"meldeweg.dev/meldeweg/flow/exchange"
	"meldeweg.dev/meldeweg/flow/monthly"
	"meldeweg.dev/meldeweg/flow/outbox"
	"meldeweg.dev/meldeweg/transport/baapi"
	"meldeweg.dev/meldeweg/transport/client"
	"meldeweg.dev/meldeweg/transport/register"
	"meldeweg.dev/meldeweg/xsozial/feedback"
)

// pollOptions are the flags of "poll".
type pollOptions struct {
	channel  string
	endpoint endpointOptions
	timeout  time.Duration
}

func pollCommand() *command {
	o := &pollOptions{}
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
           checked). An OK/NOK acknowledgement settles its upload: one
           feedback entry per event, then acknowledged when every event is
           OK, else rejected. Every event the BA did not take is reported
           with upload and event ID, the code and what to do: rejected as
           faulty (1xxx), provider not assigned (2001) or participant
           unknown (2002) need a person and a new event; a BA-internal
           error (9xxx) is re-delivered at once, unchanged, as a new upload
           linked to the original (message ID ORIGINAL.r1, then .r2, ...).
           An inbound message (e.g. an Anmeldung) is validated against the
           eM@w bundle in force and recorded as received; it stays sealed
           to this instance in the payload store. Each file is then removed
           from the mailbox. Finally the eM@w deadlines that follow from the
           register are printed (as "meldeweg emaw due --register").

An answer offered twice is recorded once.

POSITIONAL ARGUMENTS
  none

EXIT CODES
  0  everything offered was recorded; nothing rejected, nothing invalid
     (events re-delivered after a BA-internal error do not count as rejected)
  1  at least one rejection or invalid inbound message (recorded)
  2  usage, configuration, certificate, register or transport error, or an
     answer that does not open (not recorded as a verdict)

EXAMPLES
  meldeweg poll --pki demo/pki --url https://127.0.0.1:8443
  meldeweg --config meldeweg.json poll --channel emaw`,
		setFlags: func(fs *flag.FlagSet) {
			fs.StringVar(&o.channel, "channel", "all", "`CHANNEL` to poll: emaw, xsozial or all")
			o.endpoint.bind(fs)
			fs.DurationVar(&o.timeout, "timeout", 5*time.Minute, "give up after `DURATION`")
		},
		settingsFlags: o.endpoint.settingsFlags,
		run:           func(e *env, args []string) int { return runPoll(e, o, args) },
	}
}

// pollStats counts what a poll did.
type pollStats struct {
	acked, rejected, received, invalid, duplicates int
	// baErrors counts uploads whose only NOKs were BA-internal errors,
	// redelivered the re-deliveries sent.
	baErrors, redelivered int
}

func runPoll(e *env, o *pollOptions, args []string) int {
	if len(args) != 0 {
		return e.usageErrorf("poll takes no positional arguments")
	}
	var chans []baapi.Channel
	if o.timeout <= 0 {
		return e.usageErrorf("--timeout must be a positive duration")
	}
	switch which := o.channel; which {
	case "all":
		chans = baapi.Channels()
	default:
		ch, err := baapi.ParseChannel(which)
		if err != nil {
			return e.usageErrorf("--channel: %v", err)
		}
		chans = []baapi.Channel{ch}
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()
	ob, err := e.outbox()
	if err != nil {
		return e.failf(exitError, "%v", err)
	}
	defer ob.Store.Close()
	var st pollStats
	for _, ch := range chans {
		ep, err := e.endpoint(ch, 0)
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
	fmt.Fprintf(e.stdout, "acknowledged %d, rejected %d, received %d (%d invalid), duplicates skipped %d, BA errors %d (re-delivered %d)\n",
		st.acked, st.rejected, st.received, st.invalid, st.duplicates, st.baErrors, st.redelivered)
	if st.rejected > 0 || st.invalid > 0 {
		return exitFindings
	}
	return exitOK
}

// pollXSozial fetches the feedback of every XSozial delivery in state sent.
func pollXSozial(ctx context.Context, e *env, ob *outbox.Outbox, ep *outbox.Endpoint, st *pollStats) error {
	msgs, err := ob.Store.Messages(ctx, register.MessagesParams{State: register.MessageSent})
	if err != nil {
		return err
	}
	for _, m := range msgs {
		if m.Channel != register.ChannelXSozial {
			continue
		}
		r, err := ob.FetchReply(ctx, ep, m.ID)
		if errors.Is(err, outbox.ErrNotReady) {
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

// pollEmaw collects the eM@w mailbox (acknowledgements and inbound
// messages), re-delivers events that met a BA-internal error, and prints
// the eM@w deadlines that follow from the register.
func pollEmaw(ctx context.Context, e *env, ob *outbox.Outbox, ep *outbox.Endpoint, st *pollStats) error {
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
		os.Remove(dst)
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
	if err := redeliverEmaw(ctx, e, ob, ep, codec, st); err != nil {
		return err
	}
	return printEmawDue(ctx, e, ob, ep, codec)
}

// recordAck settles an upload by its acknowledgement and tells the
// operator about every event the BA did not take: message ID, event ID,
// outcome with its codes, and what to do.
func recordAck(ctx context.Context, e *env, ob *outbox.Outbox, codec *msg.Codec, upload register.MessageID, r *outbox.Reply, st *pollStats) error {
	res, err := exchange.RecordAck(ctx, ob, codec, upload, r)
	if err != nil {
		return err
	}
	if !res.Settled {
		st.duplicates++
		return nil
	}
	onlyBAErrors := true
	for _, a := range res.Answers {
		switch a.Outcome {
		case ack.OutcomeAcknowledged:
			continue
		case ack.OutcomeBAError:
			fmt.Fprintf(e.stderr, "%s: upload %s event %s failed inside the BA (%s): it is re-delivered unchanged as a new upload\n",
				e.name, upload, a.EventID, strings.Join(a.Codes, ", "))
			continue
		}
		onlyBAErrors = false
		fmt.Fprintf(e.stderr, "%s: upload %s event %s: %s (%s): %s\n", e.name, upload, a.EventID, describeOutcome(a.Outcome),
			strings.Join(a.Codes, ", "), a.Outcome.Action())
	}
	switch {
	case res.Message.State == register.MessageAcknowledged:
		st.acked++
	case onlyBAErrors:
		st.baErrors++
	default:
		st.rejected++
	}
	return nil
}

// describeOutcome names an outcome for the operator.
func describeOutcome(o ack.Outcome) string {
	switch o {
	case ack.OutcomeRejected:
		return "rejected as faulty"
	case ack.OutcomeNotAssigned:
		return "provider not assigned to the measure"
	case ack.OutcomeParticipantUnknown:
		return "participant unknown to the BA"
	}
	return string(o)
}

// recordInbound validates an inbound eM@w message and records it as
// received, once per content.
func recordInbound(ctx context.Context, e *env, ob *outbox.Outbox, ep *outbox.Endpoint, codec *msg.Codec, f baapi.FileInfo, r *outbox.Reply, st *pollStats) error {
	res, err := exchange.RecordInbound(ctx, ob, ep, codec, f.ID, r)
	if err != nil {
		return err
	}
	if res.Duplicate {
		st.duplicates++
		return nil
	}
	st.received++
	if res.Invalid != nil {
		// The codec redacts personal values from its problems; the file
		// name from the BA is not repeated (it may carry identifiers).
		st.invalid++
		fmt.Fprintf(e.stderr, "%s: inbound file %s (SHA-256 %s) is invalid: %v\n", e.name, f.ID, f.SHA256[:16], res.Invalid)
	}
	return nil
}

// redeliverEmaw queues the events that met a BA-internal error as new
// uploads linked to the originals, and delivers every such upload that is
// not sent yet (also one queued by an earlier, interrupted poll).
func redeliverEmaw(ctx context.Context, e *env, ob *outbox.Outbox, ep *outbox.Endpoint, codec *msg.Codec, st *pollStats) error {
	resends, rerr := exchange.Redeliver(ctx, ob, ep, codec)
	for _, r := range resends {
		switch r.Message.State {
		case register.MessageQueued, register.MessageRetryWait, register.MessageSending:
		default:
			continue // delivered before
		}
		m, err := ob.Deliver(ctx, ep, r.ID)
		if err != nil {
			return fmt.Errorf("re-delivery %s of %s: %w", r.ID, r.Original, err)
		}
		st.redelivered++
		fmt.Fprintf(e.stderr, "%s: upload %s: event(s) %s re-delivered as upload %s (%s)\n", e.name, r.Original, strings.Join(r.Events, ", "), r.ID, m.State)
		if m.State == register.MessageDead || m.State == register.MessageRejected {
			st.rejected++
		}
	}
	if rerr != nil {
		return fmt.Errorf("%w; send those events again by hand", rerr)
	}
	return nil
}
