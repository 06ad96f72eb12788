package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"meldeweg.dev/meldeweg/transport/atomicfile"

	"meldeweg.dev/meldeweg/emaw/msg"
	"meldeweg.dev/meldeweg/emaw/pack"
	"meldeweg.dev/meldeweg/emaw/rules"
)

// emawPackOptions are the flags of "emaw pack".
type emawPackOptions struct {
	out string
}

func emawPackCommand() *command {
	o := &emawPackOptions{}
	return &command{
		name:    "pack",
		summary: "pack eM@w events into the nested upload ZIP (deterministic, with manifest)",
		usage:   "emaw pack --out UPLOAD.zip EVENT.xml...",
		help: `Validates every EVENT against the bundle in force and checks the business
rules, PDF attachments included (found next to the XML under their
Anhang/Dateiname), then writes one upload archive: manifest.json with the
SHA-256 of every part, and one archive per event holding its XML, unchanged,
and its PDFs. The same events give the same bytes. Nothing is written when
any event fails.

POSITIONAL ARGUMENTS
  EVENT.xml   an eM@w message, as written by "emaw new"

EXIT CODES
  0  every event passed; UPLOAD.zip written
  1  an event is invalid or breaks a rule; nothing written
  2  usage error, a file cannot be read, or UPLOAD.zip cannot be written

EXAMPLES
  meldeweg emaw pack --out upload.zip out/EV-17.xml out/EV-18.xml
  meldeweg emaw pack --out upload.zip out/*.xml`,
		setFlags: func(fs *flag.FlagSet) {
			fs.StringVar(&o.out, "out", "", "write the upload archive to `FILE`")
		},
		run: func(e *env, args []string) int { return runEmawPack(e, o, args) },
	}
}

func runEmawPack(e *env, o *emawPackOptions, args []string) int {
	out := o.out
	switch {
	case out == "":
		return e.usageErrorf("--out is required")
	case len(args) == 0:
		return e.usageErrorf("no EVENT.xml to pack")
	}
	c, err := emawCodec(e)
	if err != nil {
		return e.failf(exitError, "%v", err)
	}
	ctx := context.Background()
	var events []pack.Event
	failed := false
	for _, name := range args {
		data, err := readInput(e, name, maxMessageBytes)
		if err != nil {
			return e.failf(exitError, "%s", describeEmawError(err))
		}
		m, _, err := c.Unmarshal(ctx, data, name)
		if err != nil {
			fmt.Fprintf(e.stderr, "%s: %v\n", e.name, err)
			failed = true
			continue
		}
		ev := pack.Event{ID: m.Header().NachrichtID, Parts: []pack.Part{{Name: m.Header().NachrichtID + ".xml", Data: data}}}
		var pdf []byte
		if a, ok := m.(msg.WithAttachment); ok {
			p := filepath.Join(filepath.Dir(name), filepath.Base(a.Attachment().Dateiname))
			if pdf, err = os.ReadFile(p); err != nil {
				return e.failf(exitError, "%s: attachment: %s", name, describeEmawError(err))
			}
			ev.Parts = append(ev.Parts, pack.Part{Name: a.Attachment().Dateiname, Data: pdf})
		}
		if fs := rules.Check(m, rules.Options{Attachment: pdf}); len(fs) > 0 {
			printFindings(e.stderr, e.name, fs)
			failed = true
			continue
		}
		events = append(events, ev)
	}
	if failed {
		return e.failf(exitFindings, "%s not written", out)
	}
	var buf bytes.Buffer
	man, err := pack.Write(&buf, events)
	if errors.Is(err, pack.ErrBadEvent) {
		return e.failf(exitFindings, "%v; %s not written", err, out)
	}
	if err != nil {
		return e.failf(exitError, "%v", err)
	}
	if err := atomicfile.WriteNew(out, 0o600, func(w io.Writer) error { _, err := w.Write(buf.Bytes()); return err }); err != nil { // the events hold personal data
		return e.failf(exitError, "%s", describeEmawError(err))
	}
	fmt.Fprintf(e.stdout, "%s: %d %s, %d bytes, sha256 %s\n", out, len(man.Events), plural(len(man.Events), "event", "events"), buf.Len(), sha256Hex(buf.Bytes()))
	for _, me := range man.Events {
		fmt.Fprintf(e.stdout, "  %s: %d %s\n", me.Archive, len(me.Parts), plural(len(me.Parts), "part", "parts"))
	}
	return exitOK
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
