package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"

	"meldeweg.dev/meldeweg/emaw/ack"
)

// emawAckOptions are the flags of "emaw ack".
type emawAckOptions struct {
	state  string
	format string
}

func emawAckCommand() *command {
	o := &emawAckOptions{}
	return &command{
		name:    "ack",
		summary: "read OK/NOK acknowledgements and say what each means for the sent events",
		usage:   "emaw ack FILE... [--state STATE.json] [--format text|json]",
		help: `Validates and reads each acknowledgement (Quittung), classifies every answer
(acknowledged; rejected: a person must build a new event; ba-error:
re-deliver; provider-not-assigned; participant-unknown) and, with --state,
links it to the sent event it answers. Answers for events that were never
sent are flagged "unmatched".

POSITIONAL ARGUMENTS
  FILE   a Quittung XML file

EXIT CODES
  0  every answer is OK and (with --state) matches a sent event
  1  some answer is NOK or unmatched, or a FILE is not a valid Quittung
  2  usage error, or a FILE or STATE.json cannot be read

EXAMPLES
  meldeweg emaw ack testdata/emaw/acks/quittung.xml
  meldeweg emaw ack --state state.json --format json in/Q-*.xml`,
		setFlags: func(fs *flag.FlagSet) {
			fs.StringVar(&o.state, "state", "", "a `STATE.json` whose Gesendet lists the sent events")
			fs.StringVar(&o.format, "format", "text", "output `FORMAT`: text or json")
		},
		run: func(e *env, args []string) int { return runEmawAck(e, o, args) },
	}
}

type jsonAckAnswer struct {
	File        string       `json:"file"`
	QuittungID  string       `json:"quittung_id"`
	NachrichtID string       `json:"nachricht_id"`
	Status      ack.Status   `json:"status"`
	Outcome     ack.Outcome  `json:"outcome"`
	Action      string       `json:"action"`
	Type        string       `json:"type,omitempty"`
	Unmatched   bool         `json:"unmatched,omitempty"`
	Fehler      []ack.Fehler `json:"fehler,omitempty"`
}

func runEmawAck(e *env, o *emawAckOptions, args []string) int {
	state, format := o.state, o.format
	switch {
	case len(args) == 0:
		return e.usageErrorf("no FILE")
	case format != "text" && format != "json":
		return e.usageErrorf("--format %q: expected text or json", format)
	}
	c, err := emawCodec(e)
	if err != nil {
		return e.failf(exitError, "%v", err)
	}
	sent, err := sentFromState(state)
	if err != nil {
		return e.failf(exitError, "%v", err)
	}
	ctx := context.Background()
	code := exitOK
	var all []ack.Answer
	enc := json.NewEncoder(e.stdout)
	enc.SetEscapeHTML(false)
	for _, name := range args {
		data, err := readInput(e, name, maxMessageBytes)
		if err != nil {
			return e.failf(exitError, "%s", describeEmawError(err))
		}
		q, _, err := ack.Unmarshal(ctx, c, data, name)
		if err != nil {
			fmt.Fprintf(e.stderr, "%s: %v\n", e.name, err)
			code = exitFindings
			continue
		}
		as, err := ack.Link(ctx, sent, q)
		if err != nil {
			return e.failf(exitError, "%v", err)
		}
		for _, a := range as {
			unmatched := a.Unmatched && state != ""
			if a.Outcome != ack.OutcomeAcknowledged || unmatched {
				code = exitFindings
			}
			if format == "json" {
				enc.Encode(jsonAckAnswer{File: name, QuittungID: q.QuittungID, NachrichtID: a.Ergebnis.NachrichtID, Status: a.Ergebnis.Status,
					Outcome: a.Outcome, Action: a.Outcome.Action(), Type: string(a.Event.Type), Unmatched: unmatched, Fehler: a.Ergebnis.Fehler})
				continue
			}
			what := a.Ergebnis.NachrichtID
			if a.Event.Type != "" {
				what += " (" + string(a.Event.Type) + ")"
			}
			line := fmt.Sprintf("%s: %s: %s %s: %s", name, what, a.Ergebnis.Status, a.Outcome, a.Outcome.Action())
			if unmatched {
				line += "; UNMATCHED: no event was sent under this ID"
			}
			fmt.Fprintln(e.stdout, line)
			for _, f := range a.Ergebnis.Fehler {
				fmt.Fprintf(e.stdout, "    Fehler %s: %s\n", f.Code, f.Text)
			}
		}
		all = append(all, as...)
	}
	if format == "text" && len(all) > 0 {
		s := ack.Summary(all)
		if state == "" {
			s = ack.Summary(stripUnmatched(all)) + " (not linked to sent events: no --state)"
		}
		fmt.Fprintf(e.stdout, "summary: %s\n", s)
	}
	return code
}

func stripUnmatched(as []ack.Answer) []ack.Answer {
	out := make([]ack.Answer, len(as))
	for i, a := range as {
		a.Unmatched = false
		out[i] = a
	}
	return out
}
