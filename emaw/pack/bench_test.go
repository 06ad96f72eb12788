package pack

import (
	"bytes"
	"fmt"
	"testing"
)

// benchEvents returns n events, each an XML of about 2 KB and, for every
// second one, a 50 KB PDF-like attachment of incompressible bytes.
func benchEvents(n int) ([]Event, int64) {
	var total int64
	evs := make([]Event, n)
	seed := uint32(1)
	for i := range evs {
		id := fmt.Sprintf("EV-%06d", i)
		xml := bytes.Repeat([]byte("<Tag><Datum>2026-02-02</Datum><Art>01</Art></Tag>\n"), 40)
		evs[i] = Event{ID: id, Parts: []Part{{Name: id + ".xml", Data: xml}}}
		total += int64(len(xml))
		if i%2 == 0 {
			pdf := make([]byte, 50<<10)
			copy(pdf, "%PDF-1.4\n")
			for j := 9; j < len(pdf); j++ {
				seed = seed*1664525 + 1013904223
				pdf[j] = byte(seed >> 24)
			}
			evs[i].Parts = append(evs[i].Parts, Part{Name: id + ".pdf", Data: pdf})
			total += int64(len(pdf))
		}
	}
	return evs, total
}

// BenchmarkWrite measures packing 1000 events (about 27 MB of parts).
func BenchmarkWrite(b *testing.B) {
	evs, total := benchEvents(1000)
	b.SetBytes(total)
	for b.Loop() {
		var buf bytes.Buffer
		if _, err := Write(&buf, evs); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOpen measures checking and unpacking the same upload in memory,
// manifest verification included.
func BenchmarkOpen(b *testing.B) {
	evs, total := benchEvents(1000)
	var buf bytes.Buffer
	if _, err := Write(&buf, evs); err != nil {
		b.Fatal(err)
	}
	data := buf.Bytes()
	b.SetBytes(total)
	for b.Loop() {
		up, err := Open(data, "bench.zip", Limits{RequireManifest: true})
		if err != nil || len(up.Events) != len(evs) {
			b.Fatalf("Open: %v", err)
		}
	}
}
