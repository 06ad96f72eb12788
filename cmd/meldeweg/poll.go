package main

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"time"

	"meldeweg.dev/meldeweg/emaw/ack"
	"meldeweg.dev/meldeweg/emaw/msg"
	"meldeweg.dev/meldeweg/flow/exchange"
	"meldeweg.dev/meldeweg/flow/monthly"
	"meldeweg.dev/meldeweg/flow/outbox"
	"meldeweg.dev/meldeweg/transport/baapi"
	"meldeweg.dev/meldeweg/transport/register"
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
           eM@w bundle in force and recorded as received, with its message
           type, Maßnahmeschlüssel and the participant's pseudonym (never
           the Kundennummer); it stays sealed to this instance in the
           payload store. Each file is then removed
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
			var got []monthly.Collected
			got, err = monthly.PollFeedback(ctx, ob, ep)
			for _, c := range got {
				countSettled(e, &st, c.Message, c.Settled)
			}
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

// pollEmaw collects the eM@w mailbox (flow/exchange), reports what it
// recorded, and prints the eM@w deadlines that follow from the register.
func pollEmaw(ctx context.Context, e *env, ob *outbox.Outbox, ep *outbox.Endpoint, st *pollStats) error {
	reg, err := e.registry()
	if err != nil {
		return err
	}
	codec := msg.NewCodec(reg)
	rep, err := exchange.Poll(ctx, exchange.PollParams{Outbox: ob, Endpoint: ep, Codec: codec})
	for _, a := range rep.Acks {
		reportAck(e, a, st)
	}
	for _, in := range rep.Inbound {
		reportInbound(e, in, st)
	}
	for _, r := range rep.Resends {
		st.redelivered++
		fmt.Fprintf(e.stderr, "%s: upload %s: event(s) %s re-delivered as upload %s (%s)\n", e.name, r.Original, strings.Join(r.Events, ", "), r.ID, r.Message.State)
		if r.Message.State == register.MessageDead || r.Message.State == register.MessageRejected {
			st.rejected++
		}
	}
	if err != nil {
		return err
	}
	return printEmawDue(ctx, e, ob, ep, codec)
}

// reportAck tells the operator about every event of an acknowledgement
// that the BA did not take: message ID, event ID, outcome with its codes,
// and what to do.
func reportAck(e *env, res exchange.AckResult, st *pollStats) {
	if !res.Settled {
		st.duplicates++
		return
	}
	for _, a := range res.Answers {
		switch a.Outcome {
		case ack.OutcomeAcknowledged:
		case ack.OutcomeBAError:
			fmt.Fprintf(e.stderr, "%s: upload %s event %s failed inside the BA (%s): it is re-delivered unchanged as a new upload\n",
				e.name, res.Upload, a.EventID, strings.Join(a.Codes, ", "))
		default:
			fmt.Fprintf(e.stderr, "%s: upload %s event %s: %s (%s): %s\n", e.name, res.Upload, a.EventID, describeOutcome(a.Outcome),
				strings.Join(a.Codes, ", "), a.Outcome.Action())
		}
	}
	switch {
	case res.Message.State == register.MessageAcknowledged:
		st.acked++
	case res.OnlyBAErrors():
		st.baErrors++
	default:
		st.rejected++
	}
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

// reportInbound counts an inbound file and names an invalid one.
func reportInbound(e *env, in exchange.InboundFile, st *pollStats) {
	if in.Duplicate {
		st.duplicates++
		return
	}
	st.received++
	if in.Invalid != nil {
		// The codec redacts personal values from its problems; the file
		// name from the BA is not repeated (it may carry identifiers).
		st.invalid++
		fmt.Fprintf(e.stderr, "%s: inbound file %s (SHA-256 %s) is invalid: %v\n", e.name, in.File, in.SHA256[:min(16, len(in.SHA256))], in.Invalid)
	}
}
