package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"text/tabwriter"
	"time"

	"meldeweg.dev/meldeweg/cmd/meldeweg/internal/settings"
	"meldeweg.dev/meldeweg/emaw"
	"meldeweg.dev/meldeweg/emaw/due"
	"meldeweg.dev/meldeweg/emaw/msg"
	"meldeweg.dev/meldeweg/flow/exchange"
	"meldeweg.dev/meldeweg/flow/outbox"
	"meldeweg.dev/meldeweg/transport/baapi"
)

// emawDueOptions are the flags of "emaw due".
type emawDueOptions struct {
	in, payloads, pki, date, format string
	register                        optionalValue
}

// settingsFlags are the flags that override configuration fields.
func (o *emawDueOptions) settingsFlags() []settings.Flag {
	return append(settings.TestPKIFlags("--pki", o.pki),
		settings.Flag{Name: "--register", Field: "register", Value: o.register.value},
		settings.Flag{Name: "--payloads", Field: "payloads", Value: o.payloads})
}

func emawDueCommand() *command {
	o := &emawDueOptions{}
	return &command{
		name:    "due",
		summary: "list the eM@w reports due on a day, from measures, participants and sent events",
		usage: `emaw due --in STATE.json [--date YYYY-MM-DD] [--format text|json]
emaw due --register [LOCATION] [--pki DIR] [--payloads DIR] [--date YYYY-MM-DD] [--format text|json]`,
		help: `Lists what is owed on the day: monthly attendance (AnwesenheitMonat) by the
9th of the following month and at once when a participation ends; weekly
absences (WochenFehlzeit) by Sunday for measures marked WochenFehlzeiten;
the AGH bill (AGH-Monatsabrechnung) by the 15th of the following month for
Verfahrenszweig 06. Reports listed in Gesendet count as delivered.
Participants are named by their Ref (the provider's reference), never by
personal data.

The state comes from STATE.json (--in), or from what the register and its
payload store hold (--register): measures and participants from the inbound
Anmeldungen and the events sent, the events sent from every upload kept
with its plain copy ("meldeweg send --channel emaw" keeps one) that was not
dead and that the BA did not answer NOK. Inbound messages stay sealed to
this instance and are opened with the eM@w encryption identity (--pki, or
endpoints.emaw in the configuration). Participants are named by a
pseudonym and the measure ("ps1-1a2b3c4d5e6f/12321126-01"), under the
instance key in PAYLOADS/pseudonym.key (created at first use; back it up
with the register). A measure needs weekly absences (WochenFehlzeit) when
one was ever sent for it; the register cannot know it otherwise.

STATE.json:
  {"Massnahmen": [{"Nummer": "123/21/1/26", "Verfahrenszweig": "01",
                   "Beginn": "2026-01-05", "Ende": "2026-12-18", "WochenFehlzeiten": true}],
   "Teilnehmer": [{"Ref": "TN-A", "Massnahme": "123/21/1/26", "Verfahrenszweig": "01",
                   "Eintritt": "2026-02-02", "Austritt": "2026-03-04"}],
   "Gesendet":   [{"ID": "EV-1", "Type": "AnwesenheitMonat", "Massnahme": "123/21/1/26",
                   "Verfahrenszweig": "01", "Teilnehmer": "TN-A", "Monat": "2026-02",
                   "SentAt": "2026-03-05T10:00:00+01:00"}]}

EXIT CODES
  0  nothing is overdue (items due later may be listed)
  1  at least one report is overdue
  2  usage error, STATE.json or the register cannot be read, or the state is
     inconsistent

EXAMPLES
  meldeweg emaw due --date 2026-03-05 --in testdata/emaw/state.json
  meldeweg emaw due --in state.json --format json
  meldeweg emaw due --register demo/register.db --pki demo/pki --date 2026-04-10`,
		setFlags: func(fs *flag.FlagSet) {
			fs.StringVar(&o.in, "in", "", "the `STATE.json` file")
			fs.Var(&o.register, "register", "read the state from the register at `LOCATION` (alone: $MELDEWEG_REGISTER, else configuration \"register\", else meldeweg-register.db)")
			fs.StringVar(&o.payloads, "payloads", "", payloadsUsage)
			fs.StringVar(&o.pki, "pki", "", "test PKI `DIR`: opens inbound messages with its emaw-encrypt identity (overrides endpoints.emaw)")
			fs.StringVar(&o.date, "date", "", "the day to list for, `YYYY-MM-DD` (default: today)")
			fs.StringVar(&o.format, "format", "text", "output `FORMAT`: text or json")
		},
		settingsFlags: o.settingsFlags,
		run:           func(e *env, args []string) int { return runEmawDue(e, o, args) },
	}
}

type jsonDueItem struct {
	Type       string     `json:"type"`
	Massnahme  string     `json:"massnahme"`
	Teilnehmer string     `json:"teilnehmer,omitempty"`
	Period     string     `json:"period"`
	Deadline   emaw.Date  `json:"deadline"`
	Status     due.Status `json:"status"`
	Reason     string     `json:"reason"`
}

func runEmawDue(e *env, o *emawDueOptions, args []string) int {
	in, date, format := o.in, o.date, o.format
	regFlag := &o.register
	if regFlag.set && !regFlag.hasValue && len(args) == 1 {
		// "--register LOCATION": the flag takes no value of its own when
		// written apart, so the location arrives as the argument.
		regFlag.value, regFlag.hasValue, args = args[0], true, nil
	}
	switch {
	case len(args) > 0:
		return e.usageErrorf("unexpected argument %q", args[0])
	case in == "" && !regFlag.set:
		return e.usageErrorf("give --in STATE.json or --register")
	case in != "" && regFlag.set:
		return e.usageErrorf("give --in or --register, not both")
	case format != "text" && format != "json":
		return e.usageErrorf("--format %q: expected text or json", format)
	}
	day := emaw.DateOf(time.Now())
	if date != "" {
		d, err := emaw.ParseDate(date)
		if err != nil {
			return e.usageErrorf("--date: %v", err)
		}
		day = d
	}
	var s due.State
	source := in
	if in != "" {
		var err error
		if s, err = loadState(in); err != nil {
			return e.failf(exitError, "%s", describeEmawError(err))
		}
	} else {
		rep, where, err := stateFromRegister(e, o)
		if err != nil {
			return e.failf(exitError, "%v", err)
		}
		for _, sk := range rep.Skipped {
			fmt.Fprintf(e.stderr, "%s: %s: left out: %s\n", e.name, where, sk)
		}
		s, source = rep.State, where
	}
	items, err := due.List(s, day)
	if err != nil {
		return e.failf(exitError, "%s: %v", source, err)
	}
	overdue := printDue(e, items, day, format)
	if overdue > 0 {
		return exitFindings
	}
	return exitOK
}

// printDue writes the items as text or JSON and returns how many are
// overdue.
func printDue(e *env, items []due.Item, day emaw.Date, format string) int {
	overdue := 0
	for _, it := range items {
		if it.Status == due.StatusOverdue {
			overdue++
		}
	}
	if format == "json" {
		out := []jsonDueItem{}
		for _, it := range items {
			out = append(out, jsonDueItem{string(it.Type), it.Massnahme.String(), it.Teilnehmer, it.Period, it.Deadline, it.Status, it.Reason})
		}
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		enc.Encode(out)
		return overdue
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DEADLINE\tSTATUS\tTYPE\tMASSNAHME\tTEILNEHMER\tPERIOD\tWHY")
	for _, it := range items {
		ref := it.Teilnehmer
		if ref == "" {
			ref = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", it.Deadline, it.Status, it.Type, it.Massnahme, ref, it.Period, it.Reason)
	}
	tw.Flush()
	fmt.Fprintf(e.stdout, "%d due on %s, %d overdue\n", len(items), day, overdue)
	return overdue
}

// optionalValue is a flag that may stand alone ("--register") or carry a
// value ("--register=LOC"; "--register LOC" is handled by the command).
type optionalValue struct {
	set, hasValue bool
	value         string
}

func (v *optionalValue) String() string {
	if v == nil {
		return ""
	}
	return v.value
}

func (v *optionalValue) Set(s string) error {
	v.set = true
	if s != "true" {
		v.value, v.hasValue = s, true
	}
	return nil
}

// IsBoolFlag lets the flag stand without a value.
func (v *optionalValue) IsBoolFlag() bool { return true }

// stateFromRegister opens the existing register (resolved like --register
// everywhere) with its payload store and reads the due state.
func stateFromRegister(e *env, o *emawDueOptions) (*exchange.StateReport, string, error) {
	s, err := e.settings()
	if err != nil {
		return nil, "", err
	}
	ctx := context.Background()
	ob, err := openOutbox(ctx, s, true)
	if err != nil {
		return nil, "", err
	}
	defer ob.Store.Close()
	ep, err := buildEndpoint(s, baapi.ChannelEmaw, useReading, 0)
	if err != nil {
		return nil, "", err
	}
	reg, err := e.registry()
	if err != nil {
		return nil, "", err
	}
	rep, err := emawState(ctx, ob, ep, msg.NewCodec(reg))
	return rep, s.Register.String(), err
}

// emawState reads the due state from the outbox's register, with the
// pseudonym key next to its payloads.
func emawState(ctx context.Context, ob *outbox.Outbox, ep *outbox.Endpoint, codec *msg.Codec) (*exchange.StateReport, error) {
	pz, err := exchange.Pseudonyms(ob)
	if err != nil {
		return nil, err
	}
	return exchange.State(ctx, ob, ep, codec, pz)
}

// printEmawDue prints, after a poll, what is due today according to the
// register.
func printEmawDue(ctx context.Context, e *env, ob *outbox.Outbox, ep *outbox.Endpoint, codec *msg.Codec) error {
	rep, err := emawState(ctx, ob, ep, codec)
	if err != nil {
		return fmt.Errorf("eM@w deadlines: %w", err)
	}
	day := emaw.DateOf(time.Now())
	items, err := due.List(rep.State, day)
	if err != nil {
		return fmt.Errorf("eM@w deadlines: %w", err)
	}
	fmt.Fprintf(e.stdout, "eM@w deadlines from the register (%d uploads, %d inbound messages):\n", rep.Uploads, rep.Inbound)
	printDue(e, items, day, "text")
	return nil
}
