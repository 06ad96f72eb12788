package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"meldeweg.dev/meldeweg/emaw/msg"
	"meldeweg.dev/meldeweg/emaw/rules"
)

// emawNewOptions are the flags of "emaw new".
type emawNewOptions struct {
	in     string
	out    string
	attach string
	state  string
}

func emawNewCommand() *command {
	o := &emawNewOptions{}
	return &command{
		name:    "new",
		summary: "build one eM@w message from JSON, validate it and check the rules",
		usage:   "emaw new TYPE --in EVENT.json --out FILE [--attach PDF] [--state STATE.json]",
		help: `Reads the event as JSON (field names are the XML element names, see
testdata/emaw/events/ for one example per type), builds the XML for the
schema bundle in force on Kopf/Erstellt, validates it, and checks the
business rules (Maßnahmenummer, Verfahrenszweig, Kundennummer and cosachid,
dates in the measure period, attendance entries, Austritt's Grund and
Verbleib). With --state, the correction rules too: a sent event never
changes, a Korrektur references an earlier sent event, an event is corrected
once. FILE is written only when everything passes, and never overwritten.
Types with a PDF need --attach; the PDF is copied next to FILE under the
name in Anhang/Dateiname, where "emaw pack" looks for it.

FILE and the PDF hold personal data (Kundennummer, cosachid): they are
written 0600. A directory of FILE that does not exist is created 0700,
and the command says so on standard error.

TYPES
` + emawTypeList() + `

POSITIONAL ARGUMENTS
  TYPE   the message type, e.g. Eintritt, AnwesenheitMonat, AGH-Monatsabrechnung

EXIT CODES
  0  the message is valid and abides by the rules; FILE written
  1  the message is invalid or breaks a rule (each finding is printed); nothing written
  2  usage error, unreadable JSON, or FILE cannot be written

EXAMPLES
  meldeweg emaw new Eintritt --in testdata/emaw/events/out/Eintritt.json --out out/EX-Eintritt.xml
  meldeweg emaw new Beurteilung --in luv.json --attach luv.pdf --out out/EV-17.xml
  meldeweg emaw new Korrektur --in korr.json --state state.json --out out/EV-18.xml`,
		setFlags: func(fs *flag.FlagSet) {
			fs.StringVar(&o.in, "in", "", "the event as JSON `FILE` (\"-\" for standard input)")
			fs.StringVar(&o.out, "out", "", "write the XML to `FILE`")
			fs.StringVar(&o.attach, "attach", "", "the `PDF` for Beurteilung and AGH-Monatsabrechnung")
			fs.StringVar(&o.state, "state", "", "a `STATE.json` with the sent events, for the correction rules")
		},
		run: func(e *env, args []string) int { return runEmawNew(e, o, args) },
	}
}

func runEmawNew(e *env, o *emawNewOptions, args []string) int {
	in, out := o.in, o.out
	attach, state := o.attach, o.state
	switch {
	case len(args) != 1:
		return e.usageErrorf("expected one TYPE")
	case in == "" || out == "":
		return e.usageErrorf("--in and --out are required")
	}
	m, err := msg.New(msg.Type(args[0]))
	if err != nil {
		return e.usageErrorf("%v", err)
	}
	info, _ := msg.Lookup(m.Type())
	switch {
	case info.Attachment && attach == "":
		return e.usageErrorf("%s carries a PDF: give it with --attach", m.Type())
	case !info.Attachment && attach != "":
		return e.usageErrorf("%s carries no attachment; leave out --attach", m.Type())
	}
	data, err := readInput(e, in, maxMessageBytes)
	if err != nil {
		return e.failf(exitError, "%s", describeEmawError(err))
	}
	if err := decodeJSONFile(in, data, m); err != nil {
		return e.failf(exitError, "%v", err)
	}
	var pdf []byte
	if attach != "" {
		if pdf, err = os.ReadFile(attach); err != nil {
			return e.failf(exitError, "%s", describeEmawError(err))
		}
		a := m.(msg.WithAttachment).Attachment()
		if a.Dateiname == "" {
			*a = msg.AnhangFor(filepath.Base(attach), pdf)
		}
	}
	c, err := emawCodec(e)
	if err != nil {
		return e.failf(exitError, "%v", err)
	}
	ctx := context.Background()
	xml, b, err := c.Marshal(ctx, m)
	var inv *msg.InvalidError
	switch {
	case errors.As(err, &inv):
		return e.failf(exitFindings, "%v", inv)
	case err != nil:
		return e.failf(exitError, "%v", err)
	}
	findings := rules.Check(m, rules.Options{Attachment: pdf})
	if state != "" {
		sent, err := sentFromState(state)
		if err != nil {
			return e.failf(exitError, "%v", err)
		}
		more, err := rules.CheckSent(ctx, sent, m, xml)
		if err != nil {
			return e.failf(exitError, "%v", err)
		}
		findings = append(findings, more...)
	}
	if len(findings) > 0 {
		printFindings(e.stderr, e.name, findings)
		return e.failf(exitFindings, "%s %s breaks %d business %s; %s not written", m.Type(), m.Header().NachrichtID, len(findings), plural(len(findings), "rule", "rules"), out)
	}
	if err := privateParent(e, out); err != nil {
		return e.failf(exitError, "%s", describeEmawError(err))
	}
	if pdf != nil {
		a := m.(msg.WithAttachment).Attachment()
		dst := filepath.Join(filepath.Dir(out), a.Dateiname)
		if old, err := os.ReadFile(dst); err == nil {
			if !bytes.Equal(old, pdf) {
				return e.failf(exitError, "%s exists with other content; the attachment would not match", dst)
			}
		} else if err := writeNewFile(dst, pdf); err != nil {
			return e.failf(exitError, "%s", describeEmawError(err))
		}
	}
	if err := writeNewFile(out, xml); err != nil {
		return e.failf(exitError, "%s", describeEmawError(err))
	}
	fmt.Fprintf(e.stdout, "%s: %s %s, valid against %s, rules passed\n", out, m.Type(), m.Header().NachrichtID, b.ID())
	return exitOK
}

// privateParent creates the directory of the file path, 0700, when it
// does not exist, and says so on stderr. An existing directory is left as
// it is.
func privateParent(e *env, path string) error {
	dir := filepath.Dir(path)
	if st, err := os.Stat(dir); err == nil {
		if !st.IsDir() {
			return fmt.Errorf("%s is not a directory", dir)
		}
		return nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "%s: created directory %s (0700)\n", e.name, dir)
	return nil
}
