package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"text/tabwriter"

	"meldeweg.dev/meldeweg/transport/register"
)

func registerShowCommand() *command {
	o := &registerOptions{}
	return &command{
		name:    "show",
		summary: "show one register entry, or one message with all its entries",
		usage:   `register show SEQ|MESSAGE-ID [--register LOCATION]`,
		help: `With a sequence number, prints every field of that entry, hashes included.
With a message ID, prints the message's outbox state (attempts, next
attempt, last error) and then its entries, including those of resends and
corrections linked to it.

POSITIONAL ARGUMENTS
  SEQ          an entry's sequence number, as "register list" shows it
  MESSAGE-ID   a message's stable ID

EXIT CODES
  0  found and shown
  2  usage error, no such entry or message, or the register cannot be read

EXAMPLES
  meldeweg register show 17
  meldeweg register show emaw-0001`,
		setFlags:      o.bind,
		settingsFlags: o.settingsFlags,
		run:           func(e *env, args []string) int { return runRegisterShow(e, o, args) },
	}
}

func runRegisterShow(e *env, o *registerOptions, args []string) int {
	if len(args) != 1 {
		return e.usageErrorf("expected one SEQ or MESSAGE-ID")
	}
	s, _, err := openExistingRegister(e)
	if err != nil {
		return e.failf(exitError, "%v", err)
	}
	defer s.Close()
	ctx := context.Background()
	if seq, err := strconv.ParseInt(args[0], 10, 64); err == nil {
		en, err := s.Get(ctx, seq)
		if errors.Is(err, register.ErrNotFound) {
			return e.failf(exitError, "no register entry %d", seq)
		}
		if err != nil {
			return e.failf(exitError, "reading the register: %v", err)
		}
		printEntry(e, en)
		return exitOK
	}
	id := register.MessageID(args[0])
	if !id.Valid() {
		return e.usageErrorf("%q is neither a sequence number nor a message ID", args[0])
	}
	m, err := s.Message(ctx, id)
	switch {
	case errors.Is(err, register.ErrNotFound):
		// Inbound messages have entries but no outbox row.
	case err != nil:
		return e.failf(exitError, "reading the outbox: %v", err)
	default:
		printMessage(e, m)
	}
	n := 0
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	for en, err := range register.All(ctx, s, id) {
		if err != nil {
			tw.Flush()
			return e.failf(exitError, "reading the register: %v", err)
		}
		if n == 0 {
			fmt.Fprintln(tw, "SEQ\tTIME\tEVENT\tMESSAGE\tATTEMPT\tACTOR\tDETAIL")
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%s\t%s\n", en.Seq(), en.Time().Format(register.TimeFormat), en.Event(),
			en.MessageID(), en.Attempt(), en.Actor(), en.Detail())
		n++
	}
	tw.Flush()
	if n == 0 && errors.Is(err, register.ErrNotFound) {
		return e.failf(exitError, "no message %s in the register", id)
	}
	return exitOK
}

func printEntry(e *env, en register.Entry) {
	r := en.Record()
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	row := func(k, v string) { fmt.Fprintf(tw, "%s\t%s\n", k, v) }
	row("seq", strconv.FormatInt(r.Seq, 10))
	row("time", r.Time.Format(register.TimeFormat))
	row("event", r.Event)
	row("direction", r.Direction)
	row("channel", r.Channel)
	row("actor", r.Actor)
	row("endpoint", dash(r.Endpoint))
	row("message", dash(r.MessageID))
	row("related", dash(r.Related))
	row("correlation", dash(r.Correlation))
	row("attempt", strconv.Itoa(r.Attempt))
	if r.PayloadSHA256.IsZero() {
		row("payload", "-")
	} else {
		kept := ""
		if r.PayloadKept {
			kept = ", kept with this entry"
		}
		row("payload", fmt.Sprintf("sha256:%s (%d bytes%s)", r.PayloadSHA256, r.PayloadSize, kept))
	}
	row("detail", dash(r.Detail))
	row("tenant", dash(r.Tenant))
	row("prev hash", r.PrevHash.String())
	row("hash", r.Hash.String())
	tw.Flush()
}

func printMessage(e *env, m register.Message) {
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	row := func(k, v string) { fmt.Fprintf(tw, "%s\t%s\n", k, v) }
	row("message", string(m.ID))
	row("state", string(m.State))
	row("channel", string(m.Channel))
	row("endpoint", dash(m.Endpoint))
	row("correlation", dash(m.Correlation.String()))
	row("payload", fmt.Sprintf("sha256:%s (%d bytes)", m.Payload.SHA256, m.Payload.Size))
	row("resend of", dash(string(m.ResendOf)))
	row("attempts", fmt.Sprintf("%d of %d", m.Attempt, m.MaxAttempts))
	if m.State == register.MessageRetryWait {
		row("next attempt", m.NextAttemptAt.Format(register.TimeFormat))
	}
	if m.ClaimedBy != "" {
		row("claimed by", m.ClaimedBy+" at "+m.ClaimedAt.Format(register.TimeFormat))
	}
	row("last error", dash(m.LastError))
	row("created", m.CreatedAt.Format(register.TimeFormat))
	row("updated", m.UpdatedAt.Format(register.TimeFormat))
	tw.Flush()
	fmt.Fprintln(e.stdout)
}
