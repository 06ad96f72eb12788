package xsozial

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Writer writes a dataset as a stream: Kopf, then per BG BeginBG, Record…,
// EndBG, then Finanzen records, then Close. Memory stays flat: nothing is
// kept but a write buffer.
//
// Written with plain buffered writes rather than encoding/xml or etree: the
// layout is fixed and the values are checked beforehand, and libraries.md
// measured plain buffered writes at 180–209 MB/s against ~70 MB/s for an
// etree element per record; the build goal is ≥ 60 MB/s including the
// source parsing.
//
// The Writer does not check values; xsozial/source does. It writes each
// element on its own line, so [Writer.Line] numbers name single Merkmale.
type Writer struct {
	w       *bufio.Writer
	version string
	line    int // line the next write starts on
	inBG    bool
	state   int // 0 nothing, 1 kopf written, 2 finanzen begun, 3 closed
	err     error
}

// NewWriter returns a Writer for schema version (it decides which fields
// may be written).
func NewWriter(w io.Writer, version string) *Writer {
	return &Writer{w: bufio.NewWriterSize(w, 256<<10), version: version, line: 1}
}

// ErrOrder is returned when the Writer's methods are called out of order.
var ErrOrder = errors.New("xsozial writer: calls out of order")

// Kopf writes the XML declaration, the root and the header.
func (w *Writer) Kopf(k *Record) error {
	if w.state != 0 || k.Kind != KindKopf {
		return ErrOrder
	}
	w.raw("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<xsozial xmlns=\"" + Namespace + "\">\n")
	w.line += 2
	w.state = 1
	_, err := w.record("  ", k)
	return err
}

// BeginBG opens the block of one BG and writes its BG-Nummer. It returns
// the line of the <bg> tag.
func (w *Writer) BeginBG(bgnummer string) (int, error) {
	if w.state != 1 || w.inBG {
		return 0, ErrOrder
	}
	l := w.line
	w.raw("  <bg>\n    <bgnummer>")
	w.text(bgnummer)
	w.raw("</bgnummer>\n")
	w.line += 2
	w.inBG = true
	return l, w.err
}

// EndBG closes the BG block.
func (w *Writer) EndBG() error {
	if !w.inBG {
		return ErrOrder
	}
	w.raw("  </bg>\n")
	w.line++
	w.inBG = false
	return w.err
}

// Record writes a record: inside a BG block for modules 2–18, after the
// BG blocks for module 1 (KindFinanzen). It returns the line of its start
// tag.
func (w *Writer) Record(r *Record) (int, error) {
	switch {
	case r.Kind == KindFinanzen:
		if w.inBG || w.state < 1 || w.state > 2 {
			return 0, ErrOrder
		}
		w.state = 2
		return w.record("  ", r)
	case r.Kind > KindBG && r.Kind < KindFinanzen:
		if !w.inBG {
			return 0, ErrOrder
		}
		return w.record("    ", r)
	}
	return 0, ErrOrder
}

func (w *Writer) record(indent string, r *Record) (int, error) {
	info := r.Kind.Info()
	start := w.line
	w.raw(indent)
	w.raw("<")
	w.raw(info.Elem)
	w.raw(">\n")
	for i, f := range info.Fields {
		v := r.F[i]
		if v == "" {
			continue
		}
		if f.Since != "" && CompareVersions(w.version, f.Since) < 0 {
			return 0, fmt.Errorf("%s: Merkmal %s (%s) exists only from schema version %s; this file is version %s", info.Elem, f.Merkmal, f.Elem, f.Since, w.version)
		}
		w.raw(indent)
		w.raw("  <")
		w.raw(f.Elem)
		w.raw(">")
		w.text(v)
		w.raw("</")
		w.raw(f.Elem)
		w.raw(">\n")
	}
	w.raw(indent)
	w.raw("</")
	w.raw(info.Elem)
	w.raw(">\n")
	// Values never contain a newline (text is escaped), so each field is one line.
	w.line += 2 + countSet(r, info)
	return start, w.err
}

func countSet(r *Record, info *KindInfo) int {
	n := 0
	for i := range info.Fields {
		if r.F[i] != "" {
			n++
		}
	}
	return n
}

// Close ends the document and flushes it. It does not close the
// underlying writer.
func (w *Writer) Close() error {
	if w.inBG || w.state == 0 || w.state == 3 {
		return ErrOrder
	}
	w.raw("</xsozial>\n")
	w.line++
	w.state = 3
	if w.err != nil {
		return w.err
	}
	return w.w.Flush()
}

func (w *Writer) raw(s string) {
	if w.err == nil {
		_, w.err = w.w.WriteString(s)
	}
}

// text writes s escaped as XML character data; newlines and tabs become
// character references so a value stays on one line.
func (w *Writer) text(s string) {
	if !strings.ContainsAny(s, "&<>\r\n\t") {
		w.raw(s)
		return
	}
	var b strings.Builder
	for _, c := range s {
		switch c {
		case '&':
			b.WriteString("&amp;")
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '\r':
			b.WriteString("&#13;")
		case '\n':
			b.WriteString("&#10;")
		case '\t':
			b.WriteString("&#9;")
		default:
			b.WriteRune(c)
		}
	}
	w.raw(b.String())
}
