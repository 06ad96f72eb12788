package check

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRTX covers the file-level checks, each against a file made for it.
func TestRTX(t *testing.T) {
	clean, _ := buildSynth(t, 5, "2026-10", false)
	data, err := os.ReadFile(clean)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		fileName string
		edit     func([]byte) []byte
		traeger  string
		want     string
	}{
		{"wrong Träger", "", nil, "54321", "RTX_0050"},
		{"no Träger configured", "", nil, "", "RTX_0051"},
		{"file name", "delivery.xml", nil, "12345", "RTX_0030"},
		{"file name disagrees", "XSOZIAL_12345_2026-09_T.xml", nil, "12345", "RTX_0035"},
		{"future month", "XSOZIAL_12345_2027-01_T.xml", func(b []byte) []byte {
			b = bytes.Replace(b, []byte("<berichtsmonat>2026-10<"), []byte("<berichtsmonat>2027-01<"), 1)
			return bytes.Replace(b, []byte("<stichtag>2026-10-31<"), []byte("<stichtag>2027-01-31<"), 1)
		}, "12345", "RTX_0060"},
		{"Stichtag", "", func(b []byte) []byte {
			return bytes.Replace(b, []byte("<stichtag>2026-10-31<"), []byte("<stichtag>2026-10-30<"), 1)
		}, "12345", "RTX_0070"},
		{"not UTF-8", "", func(b []byte) []byte {
			return bytes.Replace(b, []byte("<software>meldeweg<"), []byte("<software>meldew\xe9g<"), 1)
		}, "12345", "RTX_0010"},
		{"header field missing", "", func(b []byte) []byte {
			return bytes.Replace(b, []byte("<lieferart>1</lieferart>"), nil, 1)
		}, "12345", "RTX_0040"},
		{"Lieferart", "", func(b []byte) []byte {
			return bytes.Replace(b, []byte("<lieferart>1<"), []byte("<lieferart>5<"), 1)
		}, "12345", "RTX_0100"},
		{"created in the future", "", func(b []byte) []byte {
			return bytes.Replace(b, []byte("<erstellt>2026-11-02T08:00:00Z<"), []byte("<erstellt>2027-11-02T08:00:00Z<"), 1)
		}, "12345", "RTX_0090"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := append([]byte(nil), data...)
			if tc.edit != nil {
				d = tc.edit(d)
			}
			name := tc.fileName
			if name == "" {
				name = filepath.Base(clean)
			}
			p := filepath.Join(t.TempDir(), name)
			if err := os.WriteFile(p, d, 0o644); err != nil {
				t.Fatal(err)
			}
			rep, err := CheckFile(context.Background(), p, Options{Registry: testReg, Traeger: tc.traeger, Now: fixedNow})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Rules()[tc.want] == 0 {
				t.Errorf("got rules %v, want %s", keys(rep.Rules()), tc.want)
			}
			st := rep.Stage(StageRTX)
			wantStatus := StatusFailed
			if tc.want == "RTX_0051" {
				wantStatus = StatusPassed
			}
			if st.Status != wantStatus {
				t.Errorf("RTX status %s, want %s", st.Status, wantStatus)
			}
			if wantStatus == StatusFailed && rep.Passed {
				t.Error("report passed although RTX failed")
			}
		})
	}
}

// TestVTXFindingsNeverShowBirthDates: a malformed birth date is reported
// by VTX without its value, with the BG-Nummer from the block it is in.
func TestVTXFindingsNeverShowBirthDates(t *testing.T) {
	clean, _ := buildSynth(t, 3, "2026-10", false)
	data, _ := os.ReadFile(clean)
	i := bytes.Index(data, []byte("<geburtsdatum>"))
	j := bytes.Index(data[i:], []byte("</geburtsdatum>"))
	orig := string(data[i+len("<geburtsdatum>") : i+j])
	bad := strings.Replace(orig, "-", "/", 1)
	d := bytes.Replace(data, []byte("<geburtsdatum>"+orig+"<"), []byte("<geburtsdatum>"+bad+"<"), 1)
	p := filepath.Join(t.TempDir(), filepath.Base(clean))
	os.WriteFile(p, d, 0o644)
	rep := checkPath(t, p)
	if rep.Stage(StageVTX).Status != StatusFailed || rep.Passed {
		t.Fatalf("VTX %s, passed %v; want failed", rep.Stage(StageVTX).Status, rep.Passed)
	}
	var buf bytes.Buffer
	rep.WriteText(&buf)
	rep.WriteJSON(&buf)
	rep.WriteHTML(&buf)
	if strings.Contains(buf.String(), bad) || strings.Contains(buf.String(), orig) {
		t.Errorf("a report shows the birth date:\n%s", buf.String())
	}
	var found bool
	for _, f := range rep.Findings {
		if f.Stage == StageVTX && f.Merkmal == "3.3" && strings.HasPrefix(f.BG, "12345BG") {
			found = true
		}
	}
	if !found {
		t.Errorf("no VTX finding for Merkmal 3.3 with a BG-Nummer: %+v", rep.Findings)
	}
}

// TestNotWellFormedIsNeverPassed: a truncated file fails VTX and leaves
// PTX incomplete.
func TestNotWellFormedIsNeverPassed(t *testing.T) {
	clean, _ := buildSynth(t, 3, "2026-10", false)
	data, _ := os.ReadFile(clean)
	p := filepath.Join(t.TempDir(), filepath.Base(clean))
	os.WriteFile(p, data[:len(data)/2], 0o644)
	rep := checkPath(t, p)
	if rep.Passed || rep.Stage(StageVTX).Status == StatusPassed || rep.Stage(StagePTX).Status != StatusIncomplete {
		t.Errorf("truncated file: passed %v, VTX %s, PTX %s", rep.Passed, rep.Stage(StageVTX).Status, rep.Stage(StagePTX).Status)
	}
}
