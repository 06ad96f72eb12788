package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"

	"meldeweg.dev/meldeweg/transport/register"
	"meldeweg.dev/meldeweg/xsozial/feedback"
)

// xsozialFeedbackOptions are the flags of "xsozial feedback".
type xsozialFeedbackOptions struct {
	dataset string
	source  string
	format  string
	accessOptions
}

func xsozialFeedbackCommand() *command {
	o := &xsozialFeedbackOptions{}
	return &command{
		name:    "feedback",
		summary: "show the BA's feedback to a delivery and map its findings to source lines",
		usage:   "xsozial feedback FILE [--dataset SENT.xml --source DIR --purpose TEXT [--register LOCATION]] [--format text|json]",
		help: `Reads a feedback file (Rückmeldung; Meldeweg's model format: accepted or
rejected, findings with rule codes, lines and record keys) and shows it.

With --dataset (the file that was delivered) and --source (the source
directory it was built from), each finding is mapped to the source record
(file and line) that produced it: the dataset is rebuilt from the source
with the options in its header and must hash to the delivered file (and to
the SHA-256 the feedback names); if the source has changed since, the
command says so and maps nothing. Mapping shows source records, which are
personal data: it needs --purpose TEXT and a register, and the source is
read in the transaction that appends an "accessed" entry (who, the Träger
and month, the purpose; never the data) — see "register list --accessed".

POSITIONAL ARGUMENTS
  FILE   the feedback file

EXIT CODES
  0  the delivery was accepted
  1  the delivery was rejected
  2  usage error, an unreadable or malformed feedback file, or a source that
     no longer builds the delivered dataset

EXAMPLES
  meldeweg xsozial feedback rueckmeldung.xml
  meldeweg xsozial feedback rueckmeldung.xml --dataset XSOZIAL_12345_2026-10_P.xml --source src --purpose "Fehlerklärung Lieferung 2026-10"`,
		setFlags: func(fs *flag.FlagSet) {
			fs.StringVar(&o.dataset, "dataset", "", "the delivered dataset `FILE` (with --source)")
			fs.StringVar(&o.source, "source", "", "the source `DIR` the dataset was built from (with --dataset)")
			fs.StringVar(&o.format, "format", "text", "output `FORMAT`: text or json")
			o.accessOptions.bind(fs)
		},
		settingsFlags: o.settingsFlags,
		run:           func(e *env, args []string) int { return runXsozialFeedback(e, o, args) },
	}
}

func runXsozialFeedback(e *env, o *xsozialFeedbackOptions, args []string) int {
	dataset, src, format := o.dataset, o.source, o.format
	switch {
	case len(args) != 1:
		return e.usageErrorf("expected exactly one feedback FILE")
	case (dataset == "") != (src == ""):
		return e.usageErrorf("--dataset and --source go together")
	case format != "text" && format != "json":
		return e.usageErrorf("--format %q: expected text or json", format)
	case dataset != "" && o.needPurpose("--source") != "":
		return e.usageErrorf("%s", o.needPurpose("mapping findings to --source"))
	}
	f, err := os.Open(args[0])
	if err != nil {
		return e.failf(exitError, "%v", err)
	}
	fb, err := feedback.Parse(f)
	f.Close()
	if err != nil {
		return e.failf(exitError, "%s: %v", args[0], err)
	}
	mapped := make([]feedback.Mapped, len(fb.Findings))
	for i, fd := range fb.Findings {
		mapped[i].Finding = fd
	}
	if dataset != "" {
		p := &register.AccessParams{View: "xsozial feedback --source", Purpose: o.purpose, Channel: register.ChannelXSozial}
		if k, kerr := register.XSozialKey(fb.Traeger, fb.Month); kerr == nil {
			p.Correlation = k
		}
		err = e.logRead(p, func(io.Reader) error {
			var merr error
			mapped, merr = feedback.MapToSource(context.Background(), fb, dataset, src)
			return merr
		})
		if err != nil {
			return e.failf(exitError, "%v", err)
		}
	}
	if format == "json" {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		enc.Encode(struct {
			*feedback.Feedback
			Findings []feedback.Mapped `json:"findings"`
		}{fb, mapped})
	} else {
		fmt.Fprintf(e.stdout, "Rückmeldung for %s (Träger %s, Berichtsmonat %s), received %s: %s\n", orDashXS(fb.File), fb.Traeger, fb.Month, orDashXS(fb.Received), fb.Result)
		for _, m := range mapped {
			line := fmt.Sprintf("  %s %s", m.Rule, m.Severity)
			if m.Module != "" {
				line += " Modul " + m.Module
			}
			if m.Merkmal != "" {
				line += " Merkmal " + m.Merkmal
			}
			if m.Line > 0 {
				line += fmt.Sprintf(" line %d", m.Line)
			}
			if m.BG != "" {
				line += " BG " + m.BG
			}
			if m.Kundennummer != "" {
				line += " Kundennummer " + m.Kundennummer
			}
			line += ": " + m.Text
			if m.Source != nil {
				line += "\n      source: " + m.Source.String()
			}
			fmt.Fprintln(e.stdout, line)
		}
	}
	if fb.Result == feedback.Rejected {
		return exitFindings
	}
	return exitOK
}

func orDashXS(s string) string {
	if s == "" {
		return "–"
	}
	return s
}
