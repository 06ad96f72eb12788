package synth

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"meldeweg.dev/meldeweg/schemas"
)

func TestSameSeedSameFiles(t *testing.T) {
	m, _ := schemas.ParseMonth("2026-10")
	write := func(seed uint64) []byte {
		dir := t.TempDir()
		if _, err := WriteSource(dir, Options{BGs: 30, Seed: seed, Traeger: "12345", Month: m, Version: "4.3.0", Faults: true}); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(dir, "faelle.jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	a, b, c := write(1), write(1), write(2)
	if !bytes.Equal(a, b) {
		t.Error("the same seed gave different files")
	}
	if bytes.Equal(a, c) {
		t.Error("different seeds gave the same file")
	}
}

func TestFaultCatalogRulesAreUnique(t *testing.T) {
	seen := map[string]bool{}
	for _, f := range FaultCatalog() {
		if seen[f.Rule] {
			t.Errorf("rule %s twice", f.Rule)
		}
		seen[f.Rule] = true
	}
}
