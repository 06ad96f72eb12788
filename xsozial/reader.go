package xsozial

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"unicode/utf8"
)

// Reader reads a dataset as a stream of records, in constant memory.
//
// It is a hand-written scanner for the model's fixed layout rather than
// encoding/xml: the check must keep up with libxml2's validator running
// beside it (goal: ≥ 0.8× xmllint --stream --schema, with XSD validation,
// i.e. roughly 60–75 MB/s here). BenchmarkReaderVsEncodingXML measured
// encoding/xml's Token loop at 34 MB/s, before building any record, and
// this Reader at 350 MB/s with the records built. Everything it does not know it skips and
// counts in Skipped; well-formedness is judged by the XSD stage, which
// reads the same bytes.
type Reader struct {
	r    io.Reader
	buf  []byte
	pos  int
	end  int
	eof  bool
	line int // line at buf[pos]
	rerr error

	started, done bool
	inBG          bool
	pending       *token

	// Skipped counts elements the Reader did not expect and skipped;
	// SkippedLine is the line of the first.
	Skipped, SkippedLine int

	tok   token
	spare token
	val   []byte
}

type tokKind uint8

const (
	tokStart tokKind = iota + 1
	tokEnd
	tokText
	tokEOF
)

type token struct {
	kind      tokKind
	name      []byte // local name; valid until the next call
	text      []byte
	selfClose bool
	line      int
}

// SyntaxError is a dataset the Reader cannot follow: not XML, or not the
// model's root element.
type SyntaxError struct {
	Line int
	Msg  string
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Msg) }

// ErrRefused is wrapped by the SyntaxError for a DOCTYPE declaration.
var ErrRefused = errors.New("DOCTYPE declarations are refused")

// NewReader returns a Reader of r.
func NewReader(r io.Reader) *Reader {
	return &Reader{r: r, buf: make([]byte, 1<<20), line: 1}
}

// Event says what [Reader.Next] found.
type Event uint8

const (
	// EventRecord: rec holds a record (header, BG block start, module
	// record or module-1 record).
	EventRecord Event = iota + 1
	// EventEndBG: the current BG block ended.
	EventEndBG
)

// Next reads the next record into rec. For the start of a BG block it
// returns a KindBG record whose F[BGNummer] is the BG-Nummer ("" when the
// block does not start with one). It returns io.EOF after the root
// element's end, a *SyntaxError when the input cannot be followed, and the
// read error when reading fails.
func (rd *Reader) Next(rec *Record) (Event, error) {
	if rd.done {
		return 0, io.EOF
	}
	if !rd.started {
		t, err := rd.nextStart()
		if err != nil {
			return 0, err
		}
		if string(t.name) != "xsozial" {
			return 0, &SyntaxError{t.line, fmt.Sprintf("root element <%s>: expected <xsozial>", t.name)}
		}
		if t.selfClose {
			rd.done = true
			return 0, io.EOF
		}
		rd.started = true
	}
	for {
		t, err := rd.next()
		if err != nil {
			return 0, err
		}
		switch t.kind {
		case tokEOF:
			return 0, &SyntaxError{rd.line, "unexpected end of input: elements are still open"}
		case tokText:
			continue
		case tokEnd:
			if rd.inBG {
				rd.inBG = false
				return EventEndBG, nil
			}
			rd.done = true
			return 0, io.EOF
		}
		name := string(t.name) // the compiler does not allocate for the switch
		line := t.line
		if rd.inBG {
			k := recordKind(t.name)
			if k == 0 {
				if err := rd.skip(t); err != nil {
					return 0, err
				}
				continue
			}
			rec.Reset(k)
			rec.Line = line
			return EventRecord, rd.readRecord(rec, t.selfClose)
		}
		switch name {
		case "kopf", "finanzen":
			k := KindKopf
			if name == "finanzen" {
				k = KindFinanzen
			}
			rec.Reset(k)
			rec.Line = line
			return EventRecord, rd.readRecord(rec, t.selfClose)
		case "bg":
			rec.Reset(KindBG)
			rec.Line = line
			if t.selfClose {
				rd.pending = &token{kind: tokEnd, line: line}
				rd.inBG = true
				return EventRecord, nil
			}
			rd.inBG = true
			// The BG-Nummer is the block's first child.
			for {
				n, err := rd.next()
				if err != nil {
					return 0, err
				}
				if n.kind == tokText {
					continue
				}
				if n.kind == tokStart && string(n.name) == "bgnummer" {
					fl := n.line
					v, err := rd.leafText(n)
					if err != nil {
						return 0, err
					}
					rec.F[BGNummer] = v
					rec.FL[BGNummer] = int32(fl)
				} else {
					cp := *n
					cp.name = append([]byte(nil), n.name...)
					rd.pending = &cp
				}
				return EventRecord, nil
			}
		default:
			if err := rd.skip(t); err != nil {
				return 0, err
			}
		}
	}
}

func recordKind(name []byte) Kind {
	switch string(name) {
	case "bgmonat":
		return KindBGMonat
	case "person":
		return KindPerson
	case "anspruch":
		return KindAnspruch
	case "massnahme":
		return KindMassnahme
	case "arbeitsuche":
		return KindArbeitsuche
	case "widerspruch":
		return KindWiderspruch
	case "but":
		return KindBuT
	}
	return 0
}

// readRecord reads the fields of rec up to the record's end tag.
func (rd *Reader) readRecord(rec *Record, selfClose bool) error {
	if selfClose {
		return nil
	}
	fields := rec.Kind.Info().Fields
	for {
		t, err := rd.next()
		if err != nil {
			return err
		}
		switch t.kind {
		case tokEOF:
			return &SyntaxError{rd.line, "unexpected end of input inside <" + rec.Kind.String() + ">"}
		case tokText:
			continue
		case tokEnd:
			return nil
		}
		idx := -1
		for i := range fields {
			if fields[i].Elem == string(t.name) {
				idx = i
				break
			}
		}
		if idx < 0 {
			if err := rd.skip(t); err != nil {
				return err
			}
			continue
		}
		fl := t.line
		v, err := rd.leafText(t)
		if err != nil {
			return err
		}
		rec.F[idx] = v
		rec.FL[idx] = int32(fl)
	}
}

// leafText reads the text of a leaf element whose start tag was t, trimmed
// of surrounding whitespace (the XSD types collapse it).
func (rd *Reader) leafText(t *token) (string, error) {
	if t.selfClose {
		return "", nil
	}
	rd.val = rd.val[:0]
	for {
		n, err := rd.next()
		if err != nil {
			return "", err
		}
		switch n.kind {
		case tokText:
			rd.val = append(rd.val, n.text...)
		case tokEnd:
			return string(bytes.TrimSpace(rd.val)), nil
		case tokStart:
			if err := rd.skip(n); err != nil {
				return "", err
			}
		case tokEOF:
			return "", &SyntaxError{rd.line, "unexpected end of input inside an element"}
		}
	}
}

// skip skips the element whose start tag was t, counting it.
func (rd *Reader) skip(t *token) error {
	if rd.Skipped == 0 {
		rd.SkippedLine = t.line
	}
	rd.Skipped++
	if t.selfClose {
		return nil
	}
	depth := 1
	for depth > 0 {
		n, err := rd.next()
		if err != nil {
			return err
		}
		switch n.kind {
		case tokStart:
			if !n.selfClose {
				depth++
			}
		case tokEnd:
			depth--
		case tokEOF:
			return &SyntaxError{rd.line, "unexpected end of input inside a skipped element"}
		}
	}
	return nil
}

func (rd *Reader) nextStart() (*token, error) {
	for {
		t, err := rd.next()
		if err != nil {
			return nil, err
		}
		switch t.kind {
		case tokStart:
			return t, nil
		case tokEOF:
			return nil, &SyntaxError{rd.line, "no root element"}
		case tokEnd:
			return nil, &SyntaxError{t.line, "end tag before the root element"}
		}
	}
}

// Line returns the current line.
func (rd *Reader) Line() int { return rd.line }

// fill reads more input, keeping buf[pos:end]. It returns false when no
// more can be read (end of input or a full buffer).
func (rd *Reader) fill() bool {
	if rd.eof {
		return false
	}
	if rd.pos > 0 {
		copy(rd.buf, rd.buf[rd.pos:rd.end])
		rd.end -= rd.pos
		rd.pos = 0
	}
	if rd.end == len(rd.buf) {
		return false
	}
	for {
		n, err := rd.r.Read(rd.buf[rd.end:])
		rd.end += n
		if err != nil {
			rd.eof = true
			if !errors.Is(err, io.EOF) {
				rd.rerr = err
			}
			return n > 0
		}
		if n > 0 {
			return true
		}
	}
}

// find returns the index in buf of sep at or after pos+from, reading more
// as needed; -1 when the input ends first.
func (rd *Reader) find(from int, sep []byte) (int, error) {
	for {
		if i := bytes.Index(rd.buf[rd.pos+from:rd.end], sep); i >= 0 {
			return rd.pos + from + i, nil
		}
		if !rd.fill() {
			if rd.rerr != nil {
				return -1, rd.rerr
			}
			if rd.end-rd.pos == len(rd.buf) {
				return -1, &SyntaxError{rd.line, "a single markup construct is longer than 1 MiB"}
			}
			return -1, nil
		}
	}
}

func (rd *Reader) advance(to int) {
	rd.line += bytes.Count(rd.buf[rd.pos:to], nl)
	rd.pos = to
}

var nl = []byte{'\n'}

// next returns the next token.
func (rd *Reader) next() (*token, error) {
	if rd.pending != nil {
		rd.spare = *rd.pending
		rd.pending = nil
		return &rd.spare, nil
	}
	t := &rd.tok
	for {
		if rd.pos >= rd.end && !rd.fill() {
			if rd.rerr != nil {
				return nil, rd.rerr
			}
			t.kind = tokEOF
			return t, nil
		}
		t.line = rd.line
		if rd.buf[rd.pos] != '<' {
			i, err := rd.find(0, []byte{'<'})
			if err != nil {
				return nil, err
			}
			if i < 0 {
				i = rd.end
			}
			raw := rd.buf[rd.pos:i]
			t.kind = tokText
			if bytes.IndexByte(raw, '&') >= 0 {
				txt, err := unescape(raw)
				if err != nil {
					return nil, &SyntaxError{rd.line, err.Error()}
				}
				t.text = txt
			} else {
				t.text = raw
			}
			rd.advance(i)
			return t, nil
		}
		if rd.end-rd.pos < 2 && !rd.fill() {
			return nil, &SyntaxError{rd.line, "unexpected end of input after '<'"}
		}
		switch rd.buf[rd.pos+1] {
		case '?':
			i, err := rd.find(2, []byte("?>"))
			if err != nil {
				return nil, err
			}
			if i < 0 {
				return nil, &SyntaxError{rd.line, "unterminated processing instruction"}
			}
			rd.advance(i + 2)
			continue
		case '!':
			for rd.end-rd.pos < 9 && rd.fill() {
			}
			rest := rd.buf[rd.pos:rd.end]
			switch {
			case bytes.HasPrefix(rest, []byte("<!--")):
				i, err := rd.find(4, []byte("-->"))
				if err != nil {
					return nil, err
				}
				if i < 0 {
					return nil, &SyntaxError{rd.line, "unterminated comment"}
				}
				rd.advance(i + 3)
				continue
			case bytes.HasPrefix(rest, []byte("<![CDATA[")):
				i, err := rd.find(9, []byte("]]>"))
				if err != nil {
					return nil, err
				}
				if i < 0 {
					return nil, &SyntaxError{rd.line, "unterminated CDATA section"}
				}
				t.kind = tokText
				t.text = rd.buf[rd.pos+9 : i]
				rd.advance(i + 3)
				return t, nil
			case bytes.HasPrefix(rest, []byte("<!DOCTYPE")):
				return nil, &SyntaxError{rd.line, ErrRefused.Error()}
			}
			return nil, &SyntaxError{rd.line, "unexpected markup after '<!'"}
		case '/':
			i, err := rd.find(2, []byte{'>'})
			if err != nil {
				return nil, err
			}
			if i < 0 {
				return nil, &SyntaxError{rd.line, "unterminated end tag"}
			}
			t.kind = tokEnd
			t.name = localName(bytes.TrimSpace(rd.buf[rd.pos+2 : i]))
			t.selfClose = false
			rd.advance(i + 1)
			return t, nil
		}
		// A start tag; '>' inside quoted attribute values does not end it.
		j := rd.pos + 1
		var quote byte
		for {
			if j >= rd.end {
				off := j - rd.pos
				if !rd.fill() {
					if rd.rerr != nil {
						return nil, rd.rerr
					}
					return nil, &SyntaxError{rd.line, "unterminated start tag"}
				}
				j = rd.pos + off
				continue
			}
			c := rd.buf[j]
			if quote != 0 {
				if c == quote {
					quote = 0
				}
			} else if c == '"' || c == '\'' {
				quote = c
			} else if c == '>' {
				break
			}
			j++
		}
		tag := rd.buf[rd.pos+1 : j]
		t.kind = tokStart
		t.selfClose = len(tag) > 0 && tag[len(tag)-1] == '/'
		n := 0
		for n < len(tag) && tag[n] != ' ' && tag[n] != '\t' && tag[n] != '\n' && tag[n] != '\r' && tag[n] != '/' {
			n++
		}
		t.name = localName(tag[:n])
		rd.advance(j + 1)
		return t, nil
	}
}

func localName(b []byte) []byte {
	if i := bytes.IndexByte(b, ':'); i >= 0 {
		return b[i+1:]
	}
	return b
}

// unescape resolves the predefined entities and character references.
func unescape(b []byte) ([]byte, error) {
	out := make([]byte, 0, len(b))
	for len(b) > 0 {
		i := bytes.IndexByte(b, '&')
		if i < 0 {
			out = append(out, b...)
			break
		}
		out = append(out, b[:i]...)
		b = b[i:]
		j := bytes.IndexByte(b, ';')
		if j < 0 {
			return nil, errors.New("unterminated entity reference")
		}
		ent := string(b[1:j])
		switch ent {
		case "amp":
			out = append(out, '&')
		case "lt":
			out = append(out, '<')
		case "gt":
			out = append(out, '>')
		case "quot":
			out = append(out, '"')
		case "apos":
			out = append(out, '\'')
		default:
			if len(ent) < 2 || ent[0] != '#' {
				return nil, fmt.Errorf("undeclared entity &%s;", ent)
			}
			var n uint64
			var err error
			if ent[1] == 'x' {
				n, err = strconv.ParseUint(ent[2:], 16, 32)
			} else {
				n, err = strconv.ParseUint(ent[1:], 10, 32)
			}
			if err != nil || !utf8.ValidRune(rune(n)) {
				return nil, fmt.Errorf("bad character reference &%s;", ent)
			}
			out = utf8.AppendRune(out, rune(n))
		}
		b = b[j+1:]
	}
	return out, nil
}
