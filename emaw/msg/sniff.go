package msg

import (
	"bytes"
	"fmt"
)

// This file holds the cheap checks that come before any XML is parsed:
// Sniff, on the first bytes of an input, and the nesting limit peek keeps.

// SniffLen is how many leading bytes Sniff wants to see; fewer are fine
// when the input is shorter.
const SniffLen = 512

// MaxDepth is the deepest element nesting read in an eM@w document. The
// schemas nest four levels (Nachricht, the message element, a group such
// as Teilnehmer, its fields); 32 leaves room for any later version while
// keeping the parser's stack small whatever the input.
const MaxDepth = 32

// ErrTooDeep refines ErrNotMessage (errors.Is matches both): the elements
// nest deeper than MaxDepth.
var ErrTooDeep = fmt.Errorf("%w: elements nested too deep", ErrNotMessage)

// ErrNotXML refines ErrNotMessage (errors.Is matches both): the input does
// not begin like an XML document.
var ErrNotXML = fmt.Errorf("%w: not XML", ErrNotMessage)

var utf8BOM = []byte{0xef, 0xbb, 0xbf}

// Sniff judges the start of an input (its first SniffLen bytes, or all of
// a shorter one) before any of it is parsed: an eM@w document is UTF-8 XML
// whose first character, after an optional byte order mark and white
// space, is '<'. Anything else is refused with ErrNotXML, saying what kind
// of data was found at which byte; the data itself is never quoted, as it
// may hold personal values. A nil error means only that the input may be
// XML.
func Sniff(head []byte) error {
	off := 0
	if bytes.HasPrefix(head, utf8BOM) {
		off = len(utf8BOM)
	}
	for off < len(head) && isXMLSpace(head[off]) {
		off++
	}
	if off < len(head) && head[off] == '<' {
		return nil
	}
	found := describe(head, off)
	return fmt.Errorf("%w: found %s; expected an XML document (an eM@w Nachricht or Quittung) beginning with '<'", ErrNotXML, found)
}

// describe names the kind of data at head[off:] without quoting it.
func describe(head []byte, off int) string {
	rest := head[off:]
	at := fmt.Sprintf(" at byte %d", off)
	switch {
	case len(head) == 0:
		return "an empty input"
	case len(rest) == 0:
		return "only white space"
	case bytes.HasPrefix(head, []byte{0xfe, 0xff}), bytes.HasPrefix(head, []byte{0xff, 0xfe}):
		return "UTF-16 text (eM@w documents are UTF-8)"
	case bytes.HasPrefix(rest, []byte("PK\x03\x04")):
		return "a ZIP archive" + at + ` (an upload? try "meldeweg emaw unpack")`
	case bytes.HasPrefix(rest, []byte("%PDF")):
		return "a PDF document" + at
	case bytes.HasPrefix(rest, []byte{0x1f, 0x8b}):
		return "gzip data" + at
	case rest[0] == 0x30:
		return "binary data starting with a DER/BER SEQUENCE" + at + ` (a CMS message? try "meldeweg open")`
	case rest[0] == '{' || rest[0] == '[':
		return "JSON" + at
	case isText(rest):
		return "text that is not XML" + at
	}
	return fmt.Sprintf("binary data (byte 0x%02x)%s", rest[0], at)
}

func isXMLSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// isText tells whether b looks like text: no control characters other
// than white space.
func isText(b []byte) bool {
	for _, c := range b {
		if c < 0x20 && !isXMLSpace(c) || c == 0x7f {
			return false
		}
	}
	return true
}
