package source

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"meldeweg.dev/meldeweg/schemas"
)

const (
	bgLine     = `{"satz":"bg","bg":"12345BG0000001","aktenzeichen":"AZ-1","bewilligung_beginn":"2026-07-01","bewilligung_ende":"2026-12-31","wohnflaeche":62.5,"kdu":640,"zahlmonat":"2026-10","zahlbetrag":1432.17}`
	personLine = `{"satz":"person","bg":"12345BG0000001","kundennummer":"123A000001","monat":"2026-10","geburtsdatum":"1984-03-09","geschlecht":"2","staatsangehoerigkeit":"0","stellung":"1","erwerbsfaehig":true,"einkommen":0}`
)

func buildLines(t *testing.T, month string, lines ...string) (Stats, string, error) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a.jsonl"), []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	m, _ := schemas.ParseMonth(month)
	version := "4.3.0"
	if m.Before(schemas.Month{Year: 2026, Month: 7}) {
		version = "4.2.0"
	}
	var out bytes.Buffer
	st, err := Build(context.Background(), dir, &out, Options{Traeger: "12345", Month: m, Version: version, Created: time.Unix(0, 0)})
	return st, out.String(), err
}

func TestBuildRejectsUnusableInput(t *testing.T) {
	for _, tc := range []struct {
		name, line, want string
	}{
		{"not JSON", `{"satz":"bg",`, `a.jsonl:1: not a JSON object`},
		{"unknown type", `{"satz":"haushalt"}`, `field "satz": unknown record type "haushalt"`},
		{"unknown member", strings.Replace(bgLine, `"kdu"`, `"miete"`, 1), `field "miete": not a member of a "bg" record`},
		{"missing member", strings.Replace(personLine, `,"stellung":"1"`, "", 1), `field "stellung" (Merkmal 3.7): missing`},
		{"three decimals", strings.Replace(bgLine, `1432.17`, `1432.175`, 1), `field "zahlbetrag" (Merkmal 2.9): 1432.175: expected a JSON number with at most two decimals`},
		{"amount as string", strings.Replace(bgLine, `640`, `"640"`, 1), `field "kdu" (Merkmal 2.7)`},
		{"negative", strings.Replace(bgLine, `640`, `-640`, 1), `field "kdu" (Merkmal 2.7)`},
		{"twice", strings.Replace(bgLine, `"kdu":640`, `"kdu":640,"kdu":650`, 1), `field "kdu" (Merkmal 2.7): appears twice`},
		{"nested", strings.Replace(bgLine, `640`, `{"x":1}`, 1), `nested objects`},
		{"bad BG-Nummer", strings.Replace(bgLine, `12345BG0000001`, `12345-1`, 1), `field "bg" (Merkmal 2.1)`},
		{"no bg", strings.Replace(personLine, `"bg":"12345BG0000001",`, "", 1), `field "bg" (Merkmal 2.1): missing`},
		{"not UTF-8", strings.Replace(bgLine, `AZ-1`, "AZ-\xff", 1), `not UTF-8`},
		{"field of a later version", strings.Replace(strings.ReplaceAll(personLine, "2026-10", "2026-03"), `"einkommen":0`, `"einkommen":0,"schulabschluss":"1"`, 1), `exists only from schema version 4.3.0`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			month := "2026-10"
			if strings.Contains(tc.line, "2026-03") {
				month = "2026-03"
			}
			_, _, err := buildLines(t, month, tc.line)
			var ie *InputError
			if !errors.As(err, &ie) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an InputError containing %q", err, tc.want)
			}
		})
	}
}

// TestBuildNeverEchoesPersonalData: a malformed birth date or Kundennummer
// is reported without its value.
func TestBuildNeverEchoesPersonalData(t *testing.T) {
	for _, v := range []string{`"09.03.1984"`, `1984-03-09`} {
		_, _, err := buildLines(t, "2026-10", strings.Replace(personLine, `"1984-03-09"`, v, 1))
		if err == nil || strings.Contains(err.Error(), "1984") {
			t.Errorf("%s: %v", v, err)
		}
	}
	_, _, err := buildLines(t, "2026-10", strings.Replace(personLine, `123A000001`, `123X0001`, 1))
	if err == nil || strings.Contains(err.Error(), "123X0001") {
		t.Errorf("Kundennummer: %v", err)
	}
}

func TestBuildGroupsAndWindow(t *testing.T) {
	other := strings.ReplaceAll(bgLine, "12345BG0000001", "12345BG0000002")
	// A BG whose records are interrupted by another BG stops the build.
	_, _, err := buildLines(t, "2026-10", bgLine, other, personLine)
	if err == nil || !strings.Contains(err.Error(), "must stand together") || !strings.Contains(err.Error(), "a.jsonl:1") {
		t.Errorf("interrupted BG: %v", err)
	}
	// Records of one BG in any order are written in schema order; months
	// outside the window are left out and counted.
	old := strings.ReplaceAll(personLine, `"monat":"2026-10"`, `"monat":"2026-06"`)
	st, out, err := buildLines(t, "2026-10", personLine, old, bgLine)
	if err != nil {
		t.Fatal(err)
	}
	if st.Outside["person"] != 1 || st.Written["person"] != 1 || st.Written["bg"] != 1 {
		t.Errorf("stats %+v", st)
	}
	if i, j := strings.Index(out, "<bgmonat>"), strings.Index(out, "<person>"); i < 0 || j < i {
		t.Errorf("bgmonat not before person:\n%s", out)
	}
	if !strings.Contains(out, "<kdu>640.00</kdu>") || !strings.Contains(out, "<erwerbsfaehig>J</erwerbsfaehig>") {
		t.Errorf("values not converted:\n%s", out)
	}
}
