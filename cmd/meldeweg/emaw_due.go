package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"text/tabwriter"
	"time"

	"meldeweg.dev/meldeweg/emaw"
	"meldeweg.dev/meldeweg/emaw/due"
)

func emawDueCommand() *command {
	return &command{
		name:    "due",
		summary: "list the eM@w reports due on a day, from measures, participants and sent events",
		usage:   "emaw due --in STATE.json [--date YYYY-MM-DD] [--format text|json]",
		help: `Lists what is owed on the day: monthly attendance (AnwesenheitMonat) by the
9th of the following month and at once when a participation ends; weekly
absences (WochenFehlzeit) by Sunday for measures marked WochenFehlzeiten;
the AGH bill (AGH-Monatsabrechnung) by the 15th of the following month for
Verfahrenszweig 06. Reports listed in Gesendet count as delivered.
Participants are named by their Ref (the provider's reference), never by
personal data.

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
  2  usage error, or STATE.json cannot be read or is inconsistent

EXAMPLES
  meldeweg emaw due --date 2026-03-05 --in testdata/emaw/state.json
  meldeweg emaw due --in state.json --format json`,
		setFlags: func(fs *flag.FlagSet) {
			fs.String("in", "", "the `STATE.json` file")
			fs.String("date", "", "the day to list for, `YYYY-MM-DD` (default: today)")
			fs.String("format", "text", "output `FORMAT`: text or json")
		},
		run: runEmawDue,
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

func runEmawDue(e *env, fs *flag.FlagSet, args []string) int {
	in, date, format := fs.Lookup("in").Value.String(), fs.Lookup("date").Value.String(), fs.Lookup("format").Value.String()
	switch {
	case len(args) > 0:
		return e.usageErrorf("unexpected argument %q", args[0])
	case in == "":
		return e.usageErrorf("--in is required")
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
	s, err := loadState(in)
	if err != nil {
		return e.failf(exitError, "%s", describeEmawError(err))
	}
	items, err := due.List(s, day)
	if err != nil {
		return e.failf(exitError, "%s: %v", in, err)
	}
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
	} else {
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
	}
	if overdue > 0 {
		return exitFindings
	}
	return exitOK
}
