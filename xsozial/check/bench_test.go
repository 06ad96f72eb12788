package check

import (
	"bytes"
	"context"
	"os"
	"testing"
)

// BenchmarkPTX runs the plausibility stage alone over a built synthetic
// dataset (2000 BGs, faults injected), to see what the rule code costs
// apart from reading and XSD validation.
func BenchmarkPTX(b *testing.B) {
	path, _ := buildSynth(b, 2000, "2026-10", true)
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	spec, err := LoadSpec(bundleFor(b, mustMonth("2026-10")))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		var fig Figures
		p := newPTX(spec, mustMonth("2026-10"), &fig, func(Finding) {})
		if _, _, err := runPTX(context.Background(), bytes.NewReader(data), p, &bgIndex{}); err != nil {
			b.Fatal(err)
		}
	}
}
