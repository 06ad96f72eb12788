package check

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"meldeweg.dev/meldeweg/schemas"
	"meldeweg.dev/meldeweg/xsozial"
	"meldeweg.dev/meldeweg/xsozial/source"
	"meldeweg.dev/meldeweg/xsozial/synth"
)

var testReg = func() *schemas.Registry {
	r, err := schemas.Load(schemas.Options{})
	if err != nil {
		panic(err)
	}
	return r
}()

// fixedNow is the clock of every test: after the months used.
var fixedNow = func() time.Time { return time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC) }

func bundleFor(t testing.TB, m schemas.Month) *schemas.Bundle {
	t.Helper()
	b, err := testReg.Select(xsozial.Standard, m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// buildSynth generates a source with synth and builds the dataset; it
// returns the dataset path and the injected faults.
func buildSynth(t testing.TB, bgs int, month string, faults bool) (string, []synth.Fault) {
	t.Helper()
	m, err := schemas.ParseMonth(month)
	if err != nil {
		t.Fatal(err)
	}
	b := bundleFor(t, m)
	dir := t.TempDir()
	src := filepath.Join(dir, "source")
	st, err := synth.WriteSource(src, synth.Options{BGs: bgs, Seed: 7, Traeger: "12345", Month: m, Version: b.Version, Faults: faults})
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, FileName("12345", m, true))
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	_, err = source.Build(context.Background(), src, f, source.Options{Traeger: "12345", Month: m, Version: b.Version,
		Created: time.Date(2026, 11, 2, 8, 0, 0, 0, time.UTC), SoftwareVersion: "test", Test: true})
	if err != nil {
		t.Fatal(err)
	}
	return out, st.Faults
}

func checkPath(t testing.TB, path string) *Report {
	t.Helper()
	rep, err := CheckFile(context.Background(), path, Options{Registry: testReg, Traeger: "12345", Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func keys(m map[string]int) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func mustMonth(s string) schemas.Month {
	m, err := schemas.ParseMonth(s)
	if err != nil {
		panic(err)
	}
	return m
}
