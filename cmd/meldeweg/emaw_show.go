package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"meldeweg.dev/meldeweg/emaw/ack"
	"meldeweg.dev/meldeweg/emaw/msg"
	"meldeweg.dev/meldeweg/transport/register"
)

// emawShowOptions are the flags of "emaw show".
type emawShowOptions struct {
	format   string
	personal bool
	accessOptions
}

func emawShowCommand() *command {
	o := &emawShowOptions{}
	return &command{
		name:    "show",
		summary: "print an eM@w message or acknowledgement readably (or as JSON)",
		usage:   "emaw show FILE [--format text|json] [--personal --purpose TEXT [--register LOCATION]]",
		help: `Validates FILE against the schema bundle in force for its date, then prints
it: a message of either direction field by field (codes with their meaning),
or an acknowledgement (Quittung) with the outcome of every answer. Names,
birth dates, Kundennummer and cosachid print as [redacted] unless
--personal is given. --personal needs --purpose TEXT and a register: the
file is read in the transaction that appends an "accessed" entry (who, the
file's SHA-256, the purpose; never the data) — see "register list
--accessed". The JSON of a message has the shape "emaw new" reads.

POSITIONAL ARGUMENTS
  FILE   an eM@w XML file; "-" reads standard input

EXIT CODES
  0  valid and printed
  1  not an eM@w document (input that does not begin like XML is refused
     after its first bytes), or invalid against the bundle in force
     (problems printed)
  2  usage error or FILE cannot be read

EXAMPLES
  meldeweg emaw show testdata/emaw/messages/in/AnmeldungBAE.xml
  meldeweg emaw show --format json out/EV-17.xml
  meldeweg emaw show --personal --purpose "Rückfrage Agentur, Ticket 4711" in/AnmeldungBAE.xml
  meldeweg emaw show testdata/emaw/acks/quittung.xml`,
		setFlags: func(fs *flag.FlagSet) {
			fs.StringVar(&o.format, "format", "text", "output `FORMAT`: text or json")
			fs.BoolVar(&o.personal, "personal", false, "show names, birth dates, Kundennummer and cosachid (needs --purpose; the read is logged)")
			o.accessOptions.bind(fs)
		},
		settingsFlags: o.settingsFlags,
		run:           func(e *env, args []string) int { return runEmawShow(e, o, args) },
	}
}

func runEmawShow(e *env, o *emawShowOptions, args []string) int {
	format := o.format
	personal := o.personal
	switch {
	case len(args) != 1:
		return e.usageErrorf("expected one FILE")
	case format != "text" && format != "json":
		return e.usageErrorf("--format %q: expected text or json", format)
	}
	var data []byte
	var err error
	if personal {
		if m := o.needPurpose("--personal"); m != "" {
			return e.usageErrorf("%s", m)
		}
		p := &register.AccessParams{View: "emaw show --personal", Purpose: o.purpose, Channel: register.ChannelEmaw}
		err = e.logRead(p, func(io.Reader) error {
			var rerr error
			data, rerr = readXMLInput(e, args[0], maxMessageBytes)
			p.Payload = register.PayloadRef{SHA256: sha256.Sum256(data), Size: int64(len(data))}
			return rerr
		})
	} else {
		data, err = readXMLInput(e, args[0], maxMessageBytes)
	}
	if errors.Is(err, msg.ErrNotMessage) {
		return e.failf(exitFindings, "%v", err)
	}
	if err != nil {
		return e.failf(exitError, "%s", describeEmawError(err))
	}
	c, err := emawCodec(e)
	if err != nil {
		return e.failf(exitError, "%v", err)
	}
	ctx := context.Background()
	m, b, err := c.Unmarshal(ctx, data, args[0])
	if errors.Is(err, msg.ErrNotMessage) {
		if q, qb, qerr := ack.Unmarshal(ctx, c, data, args[0]); qerr == nil {
			printQuittung(e.stdout, q, qb.Version, format)
			return exitOK
		}
	}
	if err != nil {
		return e.failf(exitFindings, "%v", err)
	}
	po := msg.PrintOptions{Version: b.Version, Personal: personal}
	if format == "json" {
		err = msg.PrintJSON(e.stdout, m, po)
	} else {
		err = msg.Print(e.stdout, m, po)
	}
	if err != nil {
		return e.failf(exitError, "%v", err)
	}
	return exitOK
}

// readXMLInput reads an eM@w document like readInput, after judging its
// first bytes: what is not XML is refused at once, naming the file, what
// was found and what was expected (msg.Sniff), before the rest is read. A
// file is read into a buffer of its size, not grown by doubling.
func readXMLInput(e *env, name string, limit int64) ([]byte, error) {
	var r io.Reader = e.stdin
	size := int64(0)
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
			size = fi.Size()
		}
		r = f
	} else {
		name = "<stdin>"
	}
	br := bufio.NewReaderSize(r, msg.SniffLen)
	head, err := br.Peek(msg.SniffLen)
	if err != nil && err != io.EOF {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if err := msg.Sniff(head); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if size > limit {
		return nil, fmt.Errorf("%s: larger than %d MiB; refused", name, limit>>20)
	}
	var buf bytes.Buffer
	buf.Grow(int(size) + bytes.MinRead) // room for the read that sees EOF
	if _, err := buf.ReadFrom(io.LimitReader(br, limit+1)); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if int64(buf.Len()) > limit {
		return nil, fmt.Errorf("%s: larger than %d MiB; refused", name, limit>>20)
	}
	return buf.Bytes(), nil
}

type jsonAnswer struct {
	NachrichtID string       `json:"nachricht_id"`
	Status      ack.Status   `json:"status"`
	Outcome     ack.Outcome  `json:"outcome"`
	Action      string       `json:"action"`
	Fehler      []ack.Fehler `json:"fehler,omitempty"`
}

func printQuittung(w io.Writer, q *ack.Quittung, version, format string) {
	if format == "json" {
		var as []jsonAnswer
		for _, r := range q.Ergebnis {
			as = append(as, jsonAnswer{r.NachrichtID, r.Status, r.Outcome(), r.Outcome().Action(), r.Fehler})
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		enc.Encode(map[string]any{"type": "Quittung", "version": version, "quittung_id": q.QuittungID,
			"erstellt": q.Erstellt, "absender": q.Absender, "empfaenger": q.Empfaenger, "datei": q.Datei, "ergebnis": as})
		return
	}
	fmt.Fprintf(w, "eM@w Quittung (BA → provider), version %s\n", version)
	fmt.Fprintf(w, "  QuittungID: %s\n  Erstellt: %s\n  Absender: %s\n  Empfaenger: %s\n", q.QuittungID, q.Erstellt.Format("2006-01-02T15:04:05Z07:00"), q.Absender, q.Empfaenger)
	if q.Datei != "" {
		fmt.Fprintf(w, "  Datei: %s\n", q.Datei)
	}
	for _, r := range q.Ergebnis {
		fmt.Fprintf(w, "  %s: %s → %s (%s)\n", r.NachrichtID, r.Status, r.Outcome(), r.Outcome().Action())
		for _, f := range r.Fehler {
			fmt.Fprintf(w, "    Fehler %s: %s\n", f.Code, f.Text)
		}
	}
}
