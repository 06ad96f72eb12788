package msg

import (
	"bytes"
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"
)

// hostileSize is the size of the hostile inputs: large enough that
// reading them whole, or a parser stack per element, would show.
const hostileSize = 48 << 20

// allocated returns the bytes f allocates. Not parallel: other goroutines'
// allocations would count too.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// nestedAfter is prefix followed by "<a>" repeated to about n bytes.
func nestedAfter(prefix string, n int) []byte {
	return append([]byte(prefix), bytes.Repeat([]byte("<a>"), (n-len(prefix))/3)...)
}

func TestSniff(t *testing.T) {
	tests := []struct {
		name, data string
		want       string // "" for no error
	}{
		{"xml", `<?xml version="1.0"?><Nachricht/>`, ""},
		{"bom and white space", "\xef\xbb\xbf \n\t<Nachricht/>", ""},
		{"empty", "", "found an empty input"},
		{"white space only", " \n ", "found only white space"},
		{"text", "Kundennummer 123A456789, Mustermann", "found text that is not XML at byte 0"},
		{"text after white space", "\n\n  hello", "at byte 4"},
		{"zip", "PK\x03\x04\x14\x00", "found a ZIP archive at byte 0"},
		{"pdf", "%PDF-1.7", "found a PDF document"},
		{"cms", "\x30\x80\x06\x09", "DER/BER SEQUENCE"},
		{"json", `{"Kopf": {}}`, "found JSON"},
		{"utf-16", "\xff\xfe<\x00", "UTF-16"},
		{"binary", "\x00\x01\x02", "binary data (byte 0x00)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Sniff([]byte(tt.data))
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Sniff = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, ErrNotXML) || !errors.Is(err, ErrNotMessage) {
				t.Fatalf("Sniff = %v, want ErrNotXML", err)
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.want) || !strings.Contains(msg, "expected an XML document") {
				t.Errorf("message %q: want %q and what was expected", msg, tt.want)
			}
			if strings.Contains(msg, "Mustermann") || strings.Contains(msg, "123A456789") {
				t.Errorf("message %q quotes the input", msg)
			}
		})
	}
}

// TestUnmarshalRefusesHostileInput feeds Unmarshal and ValidateDocument
// (which acknowledgements go through) 48 MB inputs: text that is not XML,
// and elements nested millions deep, before and after a readable Kopf.
// Each is refused with a clear error, reading no more than the start.
func TestUnmarshalRefusesHostileInput(t *testing.T) {
	c := testCodec(t)
	ctx := context.Background()
	good, _, err := c.Marshal(ctx, Example(TypeEintritt))
	if err != nil {
		t.Fatal(err)
	}
	// The document cut after its Kopf, where the message element begins.
	i := bytes.Index(good, []byte("</Kopf>"))
	afterKopf := string(good[:i+len("</Kopf>")]) + "<Eintritt>"
	tests := []struct {
		name     string
		data     []byte
		wantIs   error
		wantMsg  []string
		maxAlloc uint64
	}{
		{"48 MB of text", bytes.Repeat([]byte("not XML at all, just a log line\n"), hostileSize/32), ErrNotXML,
			[]string{"in.xml: not an eM@w document: not XML: found text that is not XML at byte 0"}, 64 << 10},
		{"text after a comment", append([]byte("<!-- x -->"), bytes.Repeat([]byte("text "), hostileSize/5)...), ErrNotMessage,
			[]string{"text outside the root element at line 1, column 11"}, 1 << 20},
		{"nesting inside the root", nestedAfter(`<Nachricht xmlns="`+Namespace+`">`, hostileSize), ErrTooDeep,
			[]string{"elements nested too deep: more than 32 levels (the limit) at line 1, column"}, 1 << 20},
		// After a readable Kopf the validator (libxml2) takes over; its own
		// depth limit ends the parse.
		{"nesting after the Kopf", nestedAfter(afterKopf, hostileSize), ErrInvalid,
			[]string{"in.xml is not valid", "depth"}, 8 << 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, call := range []struct {
				name string
				f    func() error
			}{
				{"Unmarshal", func() error { _, _, err := c.Unmarshal(ctx, tt.data, "in.xml"); return err }},
				{"ValidateDocument", func() error { _, _, err := c.ValidateDocument(ctx, tt.data, "in.xml"); return err }},
			} {
				var err error
				n := allocated(func() { err = call.f() })
				if !errors.Is(err, tt.wantIs) {
					t.Fatalf("%s: err = %v, want %v", call.name, err, tt.wantIs)
				}
				for _, s := range tt.wantMsg {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("%s: error %q does not contain %q", call.name, err, s)
					}
				}
				if n > tt.maxAlloc {
					t.Errorf("%s: refusing %d bytes allocated %d bytes, want at most %d", call.name, len(tt.data), n, tt.maxAlloc)
				}
				t.Logf("%s: %d bytes refused, %d bytes allocated: %v", call.name, len(tt.data), n, err)
			}
		})
	}
}

// BenchmarkUnmarshalNotXML measures refusing 48 MB of text: B/op stays
// that of reading the first bytes, whatever the input's size.
func BenchmarkUnmarshalNotXML(b *testing.B) {
	c := testCodec(b)
	data := bytes.Repeat([]byte("not XML at all, just a log line\n"), hostileSize/32)
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, _, err := c.Unmarshal(context.Background(), data, "in.txt"); !errors.Is(err, ErrNotXML) {
			b.Fatal(err)
		}
	}
}
