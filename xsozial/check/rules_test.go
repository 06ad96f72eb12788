package check

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"meldeweg.dev/meldeweg/schemas"
	"meldeweg.dev/meldeweg/xsozial"
	"meldeweg.dev/meldeweg/xsozial/synth"
)

// writeCase generates three clean BGs for month, lets mutate change them,
// writes the dataset directly (no build: some faults cannot come out of a
// build, which leaves out months outside the window) and checks it.
func writeCase(t *testing.T, month string, mutate func(bgs []*synth.BG, fin *[]xsozial.Record)) *Report {
	t.Helper()
	return checkPath(t, writeCaseFile(t, month, mutate))
}

// writeCaseFile is writeCase without the check: it returns the dataset's
// path.
func writeCaseFile(t *testing.T, month string, mutate func(bgs []*synth.BG, fin *[]xsozial.Record)) string {
	t.Helper()
	m := mustMonth(month)
	b := bundleFor(t, m)
	var bgs []*synth.BG
	fin, _, err := synth.Generate(synth.Options{BGs: 3, Seed: 11, Traeger: "12345", Month: m, Version: b.Version}, func(bg *synth.BG) error {
		c := *bg
		c.Records = slices.Clone(bg.Records)
		bgs = append(bgs, &c)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if mutate != nil {
		mutate(bgs, &fin)
	}
	path := filepath.Join(t.TempDir(), FileName("12345", m, true))
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := xsozial.NewWriter(f, b.Version)
	var k xsozial.Record
	k.Reset(xsozial.KindKopf)
	copy(k.F[:], []string{"12345", month, m.Last().Format("2006-01-02"), "2026-11-02T08:00:00Z", "meldeweg", "test", "1", "T", b.Version})
	must(t, w.Kopf(&k))
	for _, bg := range bgs {
		_, err := w.BeginBG(bg.Nummer)
		must(t, err)
		slices.SortStableFunc(bg.Records, func(a, b xsozial.Record) int { return int(a.Kind) - int(b.Kind) })
		for i := range bg.Records {
			_, err := w.Record(&bg.Records[i])
			must(t, err)
		}
		must(t, w.EndBG())
	}
	for i := range fin {
		_, err := w.Record(&fin[i])
		must(t, err)
	}
	must(t, w.Close())
	must(t, f.Close())
	return path
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func recOf(bg *synth.BG, k xsozial.Kind) *xsozial.Record {
	for i := range bg.Records {
		if bg.Records[i].Kind == k {
			return &bg.Records[i]
		}
	}
	return nil
}

// directCases trigger the rules no build can produce, and a few more.
var directCases = map[string]func(bgs []*synth.BG, fin *[]xsozial.Record){
	"R1_0010": func(bgs []*synth.BG, fin *[]xsozial.Record) {
		r := (*fin)[0]
		r.F[xsozial.FMonat] = "2025-01"
		*fin = append(*fin, r)
	},
	"R1_0030": func(bgs []*synth.BG, fin *[]xsozial.Record) { *fin = (*fin)[:len(*fin)-1] },
	"R2_0020": func(bgs []*synth.BG, fin *[]xsozial.Record) { bgs[1].Nummer = bgs[0].Nummer },
	"R2_0030": func(bgs []*synth.BG, fin *[]xsozial.Record) {
		r := *recOf(bgs[0], xsozial.KindBGMonat)
		r.F[xsozial.MZahlmonat] = "2025-01"
		r.F[xsozial.MBewilligungBeginn] = "2024-12-01"
		bgs[0].Records = append(bgs[0].Records, r)
		p := *recOf(bgs[0], xsozial.KindPerson)
		p.F[xsozial.PMonat] = "2025-01"
		bgs[0].Records = append(bgs[0].Records, p)
	},
	"R2_0080": func(bgs []*synth.BG, fin *[]xsozial.Record) {
		bgs[0].Records = nil
	},
	"R3_0010": func(bgs []*synth.BG, fin *[]xsozial.Record) {
		p := *recOf(bgs[0], xsozial.KindPerson)
		p.F[xsozial.PMonat] = "2024-01"
		bgs[0].Records = append(bgs[0].Records, p)
	},
	"R7_0020": func(bgs []*synth.BG, fin *[]xsozial.Record) {
		r := *recOf(bgs[0], xsozial.KindAnspruch)
		r.F[xsozial.AAnspruchsmonat] = "2030-01"
		bgs[0].Records = append(bgs[0].Records, r)
	},
	"R13_0060": func(bgs []*synth.BG, fin *[]xsozial.Record) {
		p := recOf(bgs[0], xsozial.KindPerson)
		var r xsozial.Record
		r.Reset(xsozial.KindMassnahme)
		copy(r.F[:], []string{p.F[0], "10", "2030-01-01", "", "20.0", "100.00"})
		if p.F[xsozial.PErwerbsfaehig] != "J" {
			panic("first person is not erwerbsfähig")
		}
		bgs[0].Records = append(bgs[0].Records, r)
	},
	"R16_0050": func(bgs []*synth.BG, fin *[]xsozial.Record) {
		p := recOf(bgs[0], xsozial.KindPerson)
		var r xsozial.Record
		r.Reset(xsozial.KindWiderspruch)
		copy(r.F[:], []string{p.F[0], "1", "2030-01-01", "1"})
		bgs[0].Records = append(bgs[0].Records, r)
	},
	"R18_0020": func(bgs []*synth.BG, fin *[]xsozial.Record) {
		p := recOf(bgs[0], xsozial.KindPerson)
		var r xsozial.Record
		r.Reset(xsozial.KindBuT)
		copy(r.F[:], []string{p.F[0], "6", "20.00", "2030-01"})
		bgs[0].Records = append(bgs[0].Records, r)
	},
	"R18_0050": func(bgs []*synth.BG, fin *[]xsozial.Record) {
		for _, bg := range bgs {
			for i := range bg.Records {
				if bg.Records[i].Kind == xsozial.KindBuT {
					bg.Records[i].F[xsozial.BBetrag] = "600.00"
					return
				}
			}
		}
		panic("no BuT record to change")
	},
}

// TestEveryRuleIsImplementedAndTriggered checks, for the rule table of
// every embedded bundle, that each rule has code (Implemented) and a case
// that triggers it: a direct case here, or an injected synth fault.
func TestEveryRuleIsImplementedAndTriggered(t *testing.T) {
	triggered := map[string]bool{}
	for rule, mutate := range directCases {
		for _, month := range []string{"2026-03", "2026-10"} {
			rep := writeCase(t, month, mutate)
			got := rep.Rules()
			if got[rule] == 0 {
				t.Errorf("%s (%s): not triggered; got %v", rule, month, keys(got))
				continue
			}
			triggered[rule] = true
		}
	}
	for _, month := range []string{"2026-03", "2026-10"} {
		path, _ := buildSynth(t, 60, month, true)
		for r := range checkPath(t, path).Rules() {
			triggered[r] = true
		}
	}
	for _, b := range testReg.All() {
		if b.Standard != xsozial.Standard {
			continue
		}
		spec, err := LoadSpec(b)
		if err != nil {
			t.Fatal(err)
		}
		if len(spec.Rules) < 25 {
			t.Errorf("%s has %d rules, want at least 25", b.ID(), len(spec.Rules))
		}
		for _, r := range spec.Rules {
			if !slices.Contains(Implemented, r.ID) {
				t.Errorf("%s: rule %s has no implementation", b.ID(), r.ID)
			}
			if !triggered[r.ID] {
				t.Errorf("%s: rule %s has no case that triggers it", b.ID(), r.ID)
			}
		}
	}
	for _, id := range Implemented {
		if !triggered[id] {
			t.Errorf("implemented rule %s is never triggered", id)
		}
	}
}

// TestMonthSelectsVersion: the same data checked for a month before and a
// month after the 4.3.0 Stichtag uses 4.2.0 and 4.3.0, and R3_0090 (valid
// from 2026-07) applies only to the later.
func TestMonthSelectsVersion(t *testing.T) {
	noSchulabschluss := func(bgs []*synth.BG, fin *[]xsozial.Record) {
		for _, bg := range bgs {
			for i := range bg.Records {
				if bg.Records[i].Kind == xsozial.KindPerson {
					bg.Records[i].F[xsozial.PSchulabschluss] = "" // in 4.2.0 it is empty anyway
				}
			}
		}
	}
	for _, tc := range []struct {
		month, bundle string
		r3090         bool
	}{
		{"2026-06", "xsozial-ba-sgb2@4.2.0", false},
		{"2026-07", "xsozial-ba-sgb2@4.3.0", true},
	} {
		rep := writeCase(t, tc.month, noSchulabschluss)
		if rep.Bundle != tc.bundle {
			t.Errorf("%s: bundle %s, want %s", tc.month, rep.Bundle, tc.bundle)
		}
		if got := rep.Rules()["R3_0090"] > 0; got != tc.r3090 {
			t.Errorf("%s: R3_0090 found = %v, want %v", tc.month, got, tc.r3090)
		}
	}
	// A 4.3.0 field in a 4.2.0 month is a VTX finding.
	rep := writeCaseVersion(t, "2026-06", "4.3.0")
	if rep.Stage(StageVTX).Status != StatusFailed || rep.Rules()["RTX_0080"] == 0 {
		t.Errorf("4.3.0 file for 2026-06: VTX %s, rules %v; want VTX failed and RTX_0080", rep.Stage(StageVTX).Status, keys(rep.Rules()))
	}
}

// writeCaseVersion writes a case for month with a header claiming version.
func writeCaseVersion(t *testing.T, month, version string) *Report {
	t.Helper()
	path := filepath.Join(t.TempDir(), FileName("12345", mustMonth(month), true))
	data := `<?xml version="1.0" encoding="UTF-8"?>
<xsozial xmlns="urn:meldeweg:modell:xsozial-ba-sgb2">
  <kopf>
    <traegernummer>12345</traegernummer>
    <berichtsmonat>` + month + `</berichtsmonat>
    <stichtag>` + mustMonth(month).Last().Format("2006-01-02") + `</stichtag>
    <erstellt>2026-11-02T08:00:00Z</erstellt>
    <software>x</software>
    <softwareversion>1</softwareversion>
    <lieferart>1</lieferart>
    <verwendung>T</verwendung>
    <schemaversion>` + version + `</schemaversion>
  </kopf>
</xsozial>
`
	must(t, os.WriteFile(path, []byte(data), 0o644))
	return checkPath(t, path)
}

func TestParseRulesErrorsNameTheLine(t *testing.T) {
	for _, tc := range []struct{ table, want string }{
		{"R1_001;Fehler;1;1.1;2025-01;;x", "line 1: rule id"},
		{"id;schwere;modul;merkmal;gueltig_ab;grenze;text\nR1_0010;Warnung;1;1.1;2025-01;;x", "line 2: rule R1_0010: severity"},
		{"R1_0010;Fehler;2;2.1;2025-01;;x", "does not match"},
		{"R1_0010;Fehler;1;1.1;2025-1;;x", "gueltig_ab"},
		{"R1_0010;Fehler;1;1.1;2025-01;;x\nR1_0010;Fehler;1;1.1;2025-01;;x", "twice"},
		// The limit column: missing, garbled, in the wrong unit or shape,
		// or on a rule whose check compares against no number.
		{"id;schwere;modul;merkmal;gueltig_ab;text", "line 1: header: 6 columns, expected 7"},
		{"R2_0100;Hinweis;2;2.7;2025-01;KdU über 3000 EUR", "line 1: rule R2_0100: 6 columns, expected 7"},
		{"R1_0010;Fehler;1;1.1;2025-01;;x\nR2_0100;Hinweis;2;2.7;2025-01;;x", "line 2: rule R2_0100: grenze is empty; the rule needs an amount in EUR"},
		{"R2_0100;Hinweis;2;2.7;2025-01;3000 EUR;x", `line 1: rule R2_0100: grenze "3000 EUR": amount "3000"`},
		{"R2_0100;Hinweis;2;2.7;2025-01;3000.00;x", `line 1: rule R2_0100: grenze "3000.00": expected a number and a unit`},
		{"R2_0100;Hinweis;2;2.7;2025-01;3000.00 Euro;x", `unit "Euro": expected EUR, Stunden or Jahre`},
		{"R2_0100;Hinweis;2;2.7;2025-01;30 Jahre;x", `line 1: rule R2_0100: grenze "30 Jahre": the rule needs an amount in EUR`},
		{"R13_0030;Fehler;13;13.5;2025-01;40,0 Stunden;x", `line 1: rule R13_0030: grenze "40,0 Stunden": hours "40,0"`},
		{"R3_0040;Fehler;3;3.8;2025-01;67 Jahre;x", `line 1: rule R3_0040: grenze "67 Jahre": the rule needs an age span`},
		{"R3_0040;Fehler;3;3.8;2025-01;67-15 Jahre;x", `line 1: rule R3_0040: grenze "67-15 Jahre": age span "67-15"`},
		{"R3_0070;Fehler;3;3.7;2025-01;15-67 Jahre;x", `line 1: rule R3_0070: grenze "15-67 Jahre": the rule needs an age in Jahre`},
		{"R3_0070;Fehler;3;3.7;2025-01;fünfundzwanzig Jahre;x", `line 1: rule R3_0070: grenze "fünfundzwanzig Jahre": age`},
		{"R1_0010;Fehler;1;1.1;2025-01;12 Jahre;x", `line 1: rule R1_0010: grenze "12 Jahre": this rule compares against no number`},
	} {
		_, err := ParseRules([]byte(tc.table))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseRules(%q) = %v, want an error containing %q", tc.table, err, tc.want)
		}
	}
	// A rule Meldeweg has no code for may carry any well-formed limit.
	if _, err := ParseRules([]byte("R99_0010;Hinweis;99;99.1;2025-01;5 Jahre;x")); err != nil {
		t.Errorf("an unknown rule with a limit: %v", err)
	}
}

// TestLimitsComeFromTheRuleTable: the check compares against the number in
// column grenze, not one of its own. The embedded bundles are copied, one
// rule's limit is edited, and the same dataset gets the other verdict.
func TestLimitsComeFromTheRuleTable(t *testing.T) {
	bigBuT := directCases["R18_0050"] // a BuT-Betrag of 600.00 EUR
	for _, tc := range []struct {
		rule, from, to string
		mutate         func(bgs []*synth.BG, fin *[]xsozial.Record)
		before, after  bool
	}{
		{"R18_0050", "500.00 EUR", "700.00 EUR", bigBuT, true, false},
		{"R18_0050", "500.00 EUR", "599.99 EUR", bigBuT, true, true},
		{"R18_0050", "500.00 EUR", "600.00 EUR", bigBuT, true, false},
		{"R2_0100", "3000.00 EUR", "10.00 EUR", nil, false, true},
		{"R13_0030", "40.0 Stunden", "1.0 Stunden", nil, false, true},
		{"R3_0040", "15-67 Jahre", "15-16 Jahre", nil, false, true},
		{"R3_0070", "25 Jahre", "1 Jahre", nil, false, true},
	} {
		t.Run(tc.rule+" "+tc.to, func(t *testing.T) {
			path := writeCaseFile(t, "2026-10", tc.mutate)
			if got := checkPath(t, path).Rules()[tc.rule] > 0; got != tc.before {
				t.Fatalf("with the shipped limit %s: %s found = %v, want %v", tc.from, tc.rule, got, tc.before)
			}
			reg := editedRegistry(t, tc.rule, tc.from, tc.to)
			rep, err := CheckFile(context.Background(), path, Options{Registry: reg, Traeger: "12345", Now: fixedNow})
			if err != nil {
				t.Fatal(err)
			}
			if got := rep.Rules()[tc.rule] > 0; got != tc.after {
				t.Errorf("with the limit edited to %s: %s found = %v, want %v", tc.to, tc.rule, got, tc.after)
			}
		})
	}
}

// editedRegistry loads copies of the embedded XSozial bundles whose rule
// tables give rule the limit to instead of from.
func editedRegistry(t *testing.T, rule, from, to string) *schemas.Registry {
	t.Helper()
	dir := t.TempDir()
	for _, b := range []string{"xsozial-ba-sgb2-4.2.0", "xsozial-ba-sgb2-4.3.0"} {
		dst := filepath.Join(dir, b)
		must(t, os.CopyFS(dst, os.DirFS(filepath.Join("..", "..", "schemas", "bundles", b))))
		table, err := os.ReadFile(filepath.Join(dst, RulesFile))
		must(t, err)
		re := regexp.MustCompile(`(?m)^(` + rule + `;[^;]*;[^;]*;[^;]*;[^;]*;)` + regexp.QuoteMeta(from) + `;`)
		if !re.Match(table) {
			t.Fatalf("%s: no rule %s with limit %s", b, rule, from)
		}
		must(t, os.WriteFile(filepath.Join(dst, RulesFile), re.ReplaceAll(table, []byte("${1}"+to+";")), 0o600))
	}
	reg, err := schemas.Load(schemas.Options{Dirs: []string{dir}, NoEmbedded: true})
	must(t, err)
	return reg
}

// TestRuleTextsNameTheirLimits: the German text of a rule with a limit
// repeats its number for the reader; the two must not drift apart.
func TestRuleTextsNameTheirLimits(t *testing.T) {
	for _, b := range testReg.All() {
		if b.Standard != xsozial.Standard {
			continue
		}
		spec, err := LoadSpec(b)
		must(t, err)
		n := 0
		for _, r := range spec.Rules {
			var nums []int64
			switch r.Limit.Unit {
			case "":
				continue
			case unitEUR:
				nums = []int64{r.Limit.Value / 100}
			case unitHours:
				nums = []int64{r.Limit.Value / 10}
			default:
				nums = []int64{r.Limit.Value}
				if r.Limit.Span {
					nums = append(nums, r.Limit.From)
				}
			}
			n++
			for _, v := range nums {
				if !strings.Contains(r.Text, itoa(v)+" ") {
					t.Errorf("%s: rule %s has limit %s, but its text %q does not name %d", b.ID(), r.ID, r.Limit, r.Text, v)
				}
			}
		}
		if n < len(ruleLimits)-1 { // 4.2.0 has no R3_0090
			t.Errorf("%s: %d rules with a limit, want at least %d", b.ID(), n, len(ruleLimits)-1)
		}
	}
}

func TestMaskSetAndHashSet(t *testing.T) {
	var m maskSet
	var h hashSet
	for i := 0; i < 50000; i++ {
		k := hashStr("123A"+itoa(int64(i)), 0)
		if !m.add(k, 1) || m.add(k, 1) || !m.add(k, 4) {
			t.Fatalf("maskSet: key %d", i)
		}
		if !h.add(k) || h.add(k) {
			t.Fatalf("hashSet: key %d", i)
		}
	}
	if m.n != 50000 || h.n != 50000 {
		t.Errorf("sizes %d, %d; want 50000", m.n, h.n)
	}
}
