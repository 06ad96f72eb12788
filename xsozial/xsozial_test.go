package xsozial

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func sampleRecords() []Record {
	var k Record
	k.Reset(KindKopf)
	copy(k.F[:], []string{"12345", "2026-10", "2026-10-31", "2026-11-02T08:00:00Z", "meldeweg", "v1 <&>", "1", "T", "4.3.0"})
	var m Record
	m.Reset(KindBGMonat)
	copy(m.F[:], []string{"AZ-1", "2026-07-01", "2026-12-31", "", "62.5", "640.00", "2026-10", "1432.17"})
	var p Record
	p.Reset(KindPerson)
	copy(p.F[:], []string{"123A000001", "2026-10", "1984-03-09", "2", "0", "", "1", "J", "0.00", "2"})
	var f Record
	f.Reset(KindFinanzen)
	copy(f.F[:], []string{"2026-10", "1.00", "2.00", "3.00", "4.00"})
	return []Record{k, m, p, f}
}

func writeSample(t *testing.T, version string) []byte {
	t.Helper()
	rs := sampleRecords()
	var buf bytes.Buffer
	w := NewWriter(&buf, version)
	if err := w.Kopf(&rs[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := w.BeginBG("12345BG0000001"); err != nil {
		t.Fatal(err)
	}
	for _, r := range rs[1:3] {
		if _, err := w.Record(&r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.EndBG(); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Record(&rs[3]); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestRoundTrip writes records and reads them back, also one byte at a
// time, so buffer refills land inside every construct.
func TestRoundTrip(t *testing.T) {
	data := writeSample(t, "4.3.0")
	want := sampleRecords()
	for _, tc := range []struct {
		name string
		r    io.Reader
	}{
		{"whole", bytes.NewReader(data)},
		{"one byte at a time", iotest.OneByteReader(bytes.NewReader(data))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rd := NewReader(tc.r)
			rd.buf = make([]byte, 64) // force refills
			var got []Record
			var rec Record
			for {
				ev, err := rd.Next(&rec)
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				if ev == EventRecord && rec.Kind != KindBG {
					r := rec
					r.FL = [MaxFields]int32{}
					r.Line = 0
					got = append(got, r)
				}
				if ev == EventRecord && rec.Kind == KindBG && rec.F[0] != "12345BG0000001" {
					t.Errorf("bg = %q", rec.F[0])
				}
			}
			if len(got) != len(want) {
				t.Fatalf("got %d records, want %d", len(got), len(want))
			}
			for i := range want {
				if got[i] != want[i] {
					t.Errorf("record %d: got %+v, want %+v", i, got[i], want[i])
				}
			}
		})
	}
}

func TestWriterRefusesFieldOfLaterVersion(t *testing.T) {
	rs := sampleRecords()
	var buf bytes.Buffer
	w := NewWriter(&buf, "4.2.0")
	w.Kopf(&rs[0])
	w.BeginBG("12345BG0000001")
	_, err := w.Record(&rs[2])
	if err == nil || !strings.Contains(err.Error(), "3.10") {
		t.Fatalf("got %v, want an error naming Merkmal 3.10", err)
	}
}

func TestReaderLinesAndSkips(t *testing.T) {
	doc := `<?xml version="1.0"?>
<!-- c -->
<x:xsozial xmlns:x="urn:meldeweg:modell:xsozial-ba-sgb2">
<x:kopf><x:traegernummer> 12345 </x:traegernummer><x:extra a=">">y</x:extra></x:kopf>
<x:bg>
<x:bgnummer>12345BG0000001</x:bgnummer>
<x:person>
<x:kundennummer><![CDATA[123A]]>000001</x:kundennummer>
<x:einkommen>1&#48;.00</x:einkommen>
</x:person>
</x:bg>
<x:bg/>
</x:xsozial>`
	rd := NewReader(strings.NewReader(doc))
	var rec Record
	var kinds []string
	for {
		ev, err := rd.Next(&rec)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if ev == EventEndBG {
			kinds = append(kinds, "/bg")
			continue
		}
		kinds = append(kinds, rec.Kind.String())
		switch rec.Kind {
		case KindKopf:
			if rec.F[KTraeger] != "12345" || rec.FL[KTraeger] != 4 {
				t.Errorf("kopf: %q at %d", rec.F[KTraeger], rec.FL[KTraeger])
			}
		case KindPerson:
			if rec.F[PKundennummer] != "123A000001" || rec.F[PEinkommen] != "10.00" || rec.Line != 7 || rec.FL[PEinkommen] != 9 {
				t.Errorf("person: %+v", rec)
			}
		}
	}
	if got, want := strings.Join(kinds, ","), "kopf,bg,person,/bg,bg,/bg"; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	if rd.Skipped != 1 || rd.SkippedLine != 4 {
		t.Errorf("skipped %d at %d, want 1 at 4", rd.Skipped, rd.SkippedLine)
	}
}

func TestReaderRefusesDoctype(t *testing.T) {
	rd := NewReader(strings.NewReader(`<!DOCTYPE x [<!ENTITY a "b">]><xsozial/>`))
	var rec Record
	_, err := rd.Next(&rec)
	var se *SyntaxError
	if !errors.As(err, &se) || !strings.Contains(se.Msg, "DOCTYPE") {
		t.Fatalf("got %v, want a SyntaxError about DOCTYPE", err)
	}
}

func TestElemMerkmal(t *testing.T) {
	for _, tc := range []struct{ path, module, merkmal string }{
		{"/xsozial/bg/person/monat", "3", "3.2"},
		{"/xsozial/bg/bgnummer", "2", "2.1"},
		{"/xsozial/kopf/stichtag", "K", "K.3"},
		{"/xsozial/finanzen/monat", "1", "1.1"},
		{"/xsozial/bg/but", "18", ""},
		{"/foo", "", ""},
	} {
		m, mm := ElemMerkmal(tc.path)
		if m != tc.module || mm != tc.merkmal {
			t.Errorf("ElemMerkmal(%q) = %q, %q; want %q, %q", tc.path, m, mm, tc.module, tc.merkmal)
		}
	}
}

func TestCompareVersions(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"4.2.0", "4.3.0", -1}, {"4.10.0", "4.9.9", 1}, {"4.3.0", "4.3.0", 0}, {"4.3", "4.3.0", 0}, {"5", "4.99", 1},
	} {
		if got := CompareVersions(tc.a, tc.b); got != tc.want {
			t.Errorf("CompareVersions(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}
