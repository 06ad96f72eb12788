package feedback

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"meldeweg.dev/meldeweg/schemas"
	"meldeweg.dev/meldeweg/xsozial"
	"meldeweg.dev/meldeweg/xsozial/check"
	"meldeweg.dev/meldeweg/xsozial/source"
	"meldeweg.dev/meldeweg/xsozial/synth"
)

func setup(t *testing.T) (src, dataset string, rep *check.Report) {
	t.Helper()
	reg, err := schemas.Load(schemas.Options{})
	if err != nil {
		t.Fatal(err)
	}
	m, _ := schemas.ParseMonth("2026-10")
	b, _ := reg.Select(xsozial.Standard, m)
	dir := t.TempDir()
	src = filepath.Join(dir, "src")
	if _, err := synth.WriteSource(src, synth.Options{BGs: 50, Seed: 3, Traeger: "12345", Month: m, Version: b.Version, Faults: true}); err != nil {
		t.Fatal(err)
	}
	dataset = filepath.Join(dir, check.FileName("12345", m, false))
	f, _ := os.Create(dataset)
	if _, err := source.Build(context.Background(), src, f, source.Options{Traeger: "12345", Month: m, Version: b.Version, Created: time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)}); err != nil {
		t.Fatal(err)
	}
	f.Close()
	rep, err = check.CheckFile(context.Background(), dataset, check.Options{Registry: reg, Traeger: "12345",
		Now: func() time.Time { return time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC) }})
	if err != nil {
		t.Fatal(err)
	}
	return src, dataset, rep
}

func TestRoundTripAndMapToSource(t *testing.T) {
	src, dataset, rep := setup(t)
	data, _ := os.ReadFile(dataset)
	sum := sha256.Sum256(data)
	fb := FromReport(rep, filepath.Base(dataset), hex.EncodeToString(sum[:]), time.Date(2026, 11, 3, 10, 0, 0, 0, time.UTC))
	if fb.Result != Rejected || len(fb.Findings) == 0 {
		t.Fatalf("result %s with %d findings; want rejected with findings", fb.Result, len(fb.Findings))
	}
	var buf bytes.Buffer
	if err := Write(&buf, fb); err != nil {
		t.Fatal(err)
	}
	got, err := Parse(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Findings) != len(fb.Findings) || got.Result != fb.Result || got.SHA256 != fb.SHA256 {
		t.Fatalf("round trip changed the feedback: %+v", got)
	}
	for i := range fb.Findings {
		if got.Findings[i] != fb.Findings[i] {
			t.Errorf("finding %d: got %+v, want %+v", i, got.Findings[i], fb.Findings[i])
		}
	}
	mapped, err := MapToSource(context.Background(), got, dataset, src)
	if err != nil {
		t.Fatal(err)
	}
	lines := map[string][]string{}
	checked := 0
	for _, m := range mapped {
		if m.Stage != "PTX" || m.Rule == "R1_0030" || m.Rule == "R1_0020" {
			continue
		}
		if m.Source == nil {
			t.Errorf("%s at line %d: no source", m.Rule, m.Line)
			continue
		}
		if lines[m.Source.File] == nil {
			b, _ := os.ReadFile(m.Source.File)
			lines[m.Source.File] = strings.Split(string(b), "\n")
		}
		srcLine := lines[m.Source.File][m.Source.Line-1]
		want := m.Kundennummer
		if want == "" {
			want = m.BG
		}
		if !strings.Contains(srcLine, want) {
			t.Errorf("%s (line %d, %s) maps to %s, which does not hold %s: %s", m.Rule, m.Line, m.Merkmal, m.Source, want, srcLine)
		}
		checked++
	}
	if checked < 30 {
		t.Errorf("only %d findings checked", checked)
	}
	// A changed source no longer maps.
	f, _ := os.OpenFile(filepath.Join(src, "faelle.jsonl"), os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"satz":"but","bg":"12345BG0009999","kundennummer":"123A999999","leistung":"6","betrag":10,"bedarfsmonat":"2026-10"}` + "\n")
	f.Close()
	if _, err := MapToSource(context.Background(), got, dataset, src); !errors.Is(err, ErrSourceChanged) {
		t.Errorf("changed source: got %v, want ErrSourceChanged", err)
	}
}

func TestParseRejects(t *testing.T) {
	for _, tc := range []struct{ doc, want string }{
		{`<x/>`, "root element"},
		{`<rueckmeldung xmlns="` + Namespace + `"><traegernummer>1</traegernummer><berichtsmonat>2026-10</berichtsmonat><ergebnis>vielleicht</ergebnis></rueckmeldung>`, "ergebnis"},
		{`<rueckmeldung xmlns="` + Namespace + `"><traegernummer>1</traegernummer><berichtsmonat>2026-10</berichtsmonat><ergebnis>angenommen</ergebnis><befund><regel>R1_0010</regel><schwere>Fehler</schwere><zeile>x</zeile></befund></rueckmeldung>`, "zeile"},
		{`<rueckmeldung xmlns="` + Namespace + `"><foo/></rueckmeldung>`, "unknown element <foo>"},
	} {
		_, err := Parse(strings.NewReader(tc.doc))
		if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%s) = %v, want ErrFormat mentioning %q", tc.doc, err, tc.want)
		}
	}
}
