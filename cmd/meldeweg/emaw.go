package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"meldeweg.dev/meldeweg/transport/atomicfile"

	"meldeweg.dev/meldeweg/emaw/due"
	"meldeweg.dev/meldeweg/emaw/msg"
	"meldeweg.dev/meldeweg/emaw/rules"
)

func emawCommand() *command {
	return &command{
		name:    "emaw",
		summary: "build, read, check, pack and unpack eM@w messages; acknowledgements and deadlines",
		usage: `emaw new TYPE --in EVENT.json --out FILE [--attach PDF] [--state STATE.json]
emaw show FILE [--format text|json] [--personal]
emaw pack --out UPLOAD.zip EVENT.xml...
emaw unpack UPLOAD.zip --out DIR
emaw ack FILE... [--state STATE.json]
emaw due --date YYYY-MM-DD (--in STATE.json | --register LOCATION --pki DIR)`,
		help: `eM@w, the exchange of participant and measure events between measure
providers and the BA. Every message, in or out, is validated against the
schema bundle in force for its date (Kopf/Erstellt) before anything else
happens to it; the embedded bundles emaw@2.15 and emaw@2.18 are models built
from public facts, not the BA's schemas.`,
		sub: []*command{emawNewCommand(), emawShowCommand(), emawPackCommand(), emawUnpackCommand(), emawAckCommand(), emawDueCommand()},
	}
}

// emawCodec returns a codec over the registry.
func emawCodec(e *env) (*msg.Codec, error) {
	reg, err := e.registry()
	if err != nil {
		return nil, err
	}
	return msg.NewCodec(reg), nil
}

// maxMessageBytes bounds an eM@w message or acknowledgement read whole.
const maxMessageBytes = 64 << 20

// readInput reads at most limit bytes of a file, or of standard input for
// "-"; a larger input is an error, not a truncation.
func readInput(e *env, name string, limit int64) ([]byte, error) {
	var r io.Reader = e.stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	} else {
		name = "<stdin>"
	}
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s: larger than %d MiB; refused", name, limit>>20)
	}
	return data, nil
}

// decodeJSONFile decodes data strictly into v; errors name the file and
// the line and column.
func decodeJSONFile(name string, data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if dec.More() {
			return fmt.Errorf("%s: more than one JSON value", name)
		}
		return nil
	}
	off := dec.InputOffset()
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		off = se.Offset
	case errors.As(err, &te):
		off = te.Offset
		if te.Field != "" {
			err = fmt.Errorf("field %s: expected %s, got JSON %s", te.Field, te.Type, te.Value)
		}
	}
	line, col := lineCol(data, off)
	return fmt.Errorf("%s:%d:%d: %v", name, line, col, err)
}

func lineCol(data []byte, off int64) (int, int) {
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	before := data[:off]
	line := bytes.Count(before, []byte("\n")) + 1
	col := int(off) - bytes.LastIndexByte(before, '\n')
	return line, col
}

// loadState reads a STATE.json file.
func loadState(name string) (due.State, error) {
	var s due.State
	data, err := os.ReadFile(name)
	if err != nil {
		return s, err
	}
	if err := decodeJSONFile(name, data, &s); err != nil {
		return s, err
	}
	if err := s.Validate(); err != nil {
		return s, fmt.Errorf("%s: %w", name, err)
	}
	return s, nil
}

// sentFromState returns the sent-events store of a state file, or an
// empty one when name is "".
func sentFromState(name string) (*rules.MemorySent, error) {
	if name == "" {
		return &rules.MemorySent{}, nil
	}
	s, err := loadState(name)
	if err != nil {
		return nil, err
	}
	st, err := s.SentEvents()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return st, nil
}

// writeNewFile writes data to a new file at path, 0600 (eM@w messages and
// their PDFs hold personal data); an existing file is never replaced.
func writeNewFile(path string, data []byte) error {
	return atomicfile.WriteNew(path, 0o600, func(w io.Writer) error { _, err := w.Write(data); return err })
}

// printFindings writes rule findings, one per line.
func printFindings(w io.Writer, name string, fs []rules.Finding) {
	for _, f := range fs {
		fmt.Fprintf(w, "%s: %s\n", name, f)
	}
}

// describeEmawError turns codec errors into operator text.
func describeEmawError(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return fmt.Sprintf("%s: cannot %s: %v", pe.Path, pe.Op, pe.Err)
	}
	return strings.TrimSpace(err.Error())
}

// emawTypeList lists the message types for help texts.
func emawTypeList() string {
	var in, out []string
	for _, i := range msg.Catalogue() {
		name := string(i.Type)
		if i.Attachment {
			name += " (PDF)"
		}
		if i.Allows(msg.BAanTraeger) {
			in = append(in, name)
		}
		if i.Allows(msg.TraegeranBA) {
			out = append(out, name)
		}
	}
	return "  BA → provider: " + wrapList(in) + "\n  provider → BA: " + wrapList(out)
}

func wrapList(items []string) string {
	var b strings.Builder
	col := 17
	for i, s := range items {
		if i > 0 {
			b.WriteString(", ")
			col += 2
		}
		if col+len(s) > 78 {
			b.WriteString("\n                 ")
			col = 17
		}
		b.WriteString(s)
		col += len(s)
	}
	return b.String()
}
