package feedback

import (
	"bytes"
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"
)

const head = `<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<rueckmeldung xmlns="` + Namespace + `"><traegernummer>12345</traegernummer><berichtsmonat>2026-10</berichtsmonat>`

// repeatReader yields prefix and then s over and over, n bytes in all,
// without holding them.
func repeatReader(prefix, s string, n int) io.Reader {
	return io.MultiReader(strings.NewReader(prefix), io.LimitReader(&cycle{s: s}, int64(n-len(prefix))))
}

type cycle struct {
	s   string
	off int
}

func (c *cycle) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		k := copy(p[n:], c.s[c.off:])
		n += k
		c.off = (c.off + k) % len(c.s)
	}
	return n, nil
}

// TestParseRefusesHostileInput: the BA's feedback is untrusted input.
// Nesting deeper than the model, anywhere, is refused at the first element
// that does not belong, with its line and column, after reading only that
// far, as are a DOCTYPE (entity expansion, external entities) and an
// oversized value. Before, Parse read up to 256 MB whole and built a tree
// of every element.
func TestParseRefusesHostileInput(t *testing.T) {
	const size = 48 << 20
	tests := []struct {
		name string
		in   func() io.Reader
		want string
	}{
		{"nesting in a field", func() io.Reader { return repeatReader(head+"<datei>", "<datei>", size) },
			"element <datei> inside <datei> at line 2, column 153: the model nests no deeper"},
		{"nesting in a finding", func() io.Reader {
			return repeatReader(head+"<befund><text>", "<a>", size)
		}, "element <a> inside <text> at line 2"},
		{"nesting of the root", func() io.Reader { return repeatReader("", "<rueckmeldung>", size) }, "expected the root element"},
		{"unknown element in a finding", func() io.Reader { return strings.NewReader(head + "<befund><x/></befund></rueckmeldung>") },
			"befund 1: unknown element <x> at line 2, column 154"},
		{"doctype", func() io.Reader {
			return strings.NewReader(`<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>` + head + "<datei>&x;</datei></rueckmeldung>")
		}, "DOCTYPE declarations are refused"},
		{"undeclared entity", func() io.Reader { return strings.NewReader(head + "<datei>&x;</datei></rueckmeldung>") }, "invalid character entity &x;"},
		{"oversized value", func() io.Reader { return repeatReader(head+"<datei>", "x", size) }, "more than 64 KiB of text without markup"},
		{"not XML", func() io.Reader { return repeatReader("", "plain text\n", size) }, "more than 64 KiB of text without markup"},
		{"long value among markup", func() io.Reader { return repeatReader(head+"<datei>", strings.Repeat("x", 1000)+"<![CDATA[]]>", size) }, "the text of <datei> exceeds 64 KiB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err = Parse(tt.in())
			runtime.ReadMemStats(&after)
			if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want ErrFormat with %q", err, tt.want)
			}
			if n := after.TotalAlloc - before.TotalAlloc; n > 1<<20 {
				t.Errorf("refusing it allocated %d bytes, want at most 1 MiB", n)
			}
		})
	}
}

// TestParseRefusesOversizedFile: a file beyond the limit is refused, not
// cut and then misread.
func TestParseRefusesOversizedFile(t *testing.T) {
	finding := "<befund><regel>R1</regel><schwere>Hinweis</schwere><text>" + strings.Repeat("t", 4000) + "</text></befund>"
	_, err := parse(repeatReader(head, finding, 1<<20+len(finding)), 1<<20)
	if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "larger than 1024 KiB") {
		t.Fatalf("err = %v, want ErrFormat: larger than 1024 KiB", err)
	}
}

// TestParseStreams reads a large valid file with memory for its findings,
// not for its bytes.
func TestParseStreams(t *testing.T) {
	var b bytes.Buffer
	b.WriteString(head + "<ergebnis>abgelehnt</ergebnis>")
	for i := 0; i < 2000; i++ {
		b.WriteString("<befund><stufe>PTX</stufe><regel>R3_0020</regel><schwere>Fehler</schwere><zeile>12</zeile><text>" + strings.Repeat("x", 2000) + "</text></befund>\n")
	}
	b.WriteString("</rueckmeldung>")
	fb, err := Parse(&b)
	if err != nil {
		t.Fatal(err)
	}
	if len(fb.Findings) != 2000 || fb.Findings[1999].Line != 12 || len(fb.Findings[0].Text) != 2000 {
		t.Fatalf("read %d findings", len(fb.Findings))
	}
}

// FuzzParse feeds Parse arbitrary bytes, seeded with a real feedback file
// and hostile shapes: no panic; a refusal wraps ErrFormat; what is accepted
// has a verdict and findings with a rule and a severity.
func FuzzParse(f *testing.F) {
	var b bytes.Buffer
	fb := &Feedback{Traeger: "12345", Month: "2026-10", File: "X.xml", Result: Rejected,
		Findings: []Finding{{Stage: "PTX", Rule: "R3_0020", Severity: "Fehler", Line: 7, Text: "t"}}}
	if err := Write(&b, fb); err != nil {
		f.Fatal(err)
	}
	f.Add(b.Bytes())
	f.Add([]byte(head + "<datei><datei><datei>"))
	f.Add([]byte(head + "<befund><text><a><a>"))
	f.Add([]byte(`<!DOCTYPE r [<!ENTITY x "y">]>` + head + "<datei>&x;</datei></rueckmeldung>"))
	f.Fuzz(func(t *testing.T, data []byte) {
		fb, err := Parse(bytes.NewReader(data))
		if err != nil {
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("error %v does not wrap ErrFormat", err)
			}
			return
		}
		if fb.Result != Accepted && fb.Result != Rejected {
			t.Fatalf("accepted result %q", fb.Result)
		}
		for _, f := range fb.Findings {
			if f.Rule == "" || (f.Severity != "Fehler" && f.Severity != "Hinweis") {
				t.Fatalf("accepted finding %+v", f)
			}
		}
	})
}

// TestParseReadErrorIsNotAVerdict: a failing reader is an I/O error, not
// a malformed file.
func TestParseReadErrorIsNotAVerdict(t *testing.T) {
	boom := errors.New("disk on fire")
	_, err := Parse(io.MultiReader(strings.NewReader(head), iotest.ErrReader(boom)))
	if !errors.Is(err, boom) || errors.Is(err, ErrFormat) {
		t.Fatalf("err = %v, want the read error and not ErrFormat", err)
	}
}
