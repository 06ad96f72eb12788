package source

import (
	"context"
	"encoding/json"
	"io"
	"path/filepath"
	"testing"
	"time"

	"meldeweg.dev/meldeweg/schemas"
	"meldeweg.dev/meldeweg/xsozial/synth"
)

// BenchmarkBuild builds 2000 synthetic BGs to io.Discard and reports MB/s
// of XML written.
func BenchmarkBuild(b *testing.B) {
	dir := filepath.Join(b.TempDir(), "src")
	m, _ := schemas.ParseMonth("2026-10")
	if _, err := synth.WriteSource(dir, synth.Options{BGs: 2000, Seed: 1, Traeger: "12345", Month: m, Version: "4.3.0"}); err != nil {
		b.Fatal(err)
	}
	var bytes int64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		st, err := Build(context.Background(), dir, io.Discard, Options{Traeger: "12345", Month: m, Version: "4.3.0", Created: time.Unix(0, 0)})
		if err != nil {
			b.Fatal(err)
		}
		bytes += st.Bytes
	}
	b.ReportMetric(float64(bytes)/1e6/b.Elapsed().Seconds(), "MB/s")
}

var sampleLine = []byte(`{"satz":"person","bg":"12345BG0000001","kundennummer":"000A000001","monat":"2026-10","geburtsdatum":"1984-03-09","geschlecht":"2","staatsangehoerigkeit":"0","stellung":"1","erwerbsfaehig":true,"einkommen":0}`)

// BenchmarkParseLine compares the hand-written flat-object scanner with
// encoding/json decoding the same line into a struct: the measurement
// behind using the scanner.
func BenchmarkParseLine(b *testing.B) {
	b.Run("parseFlat", func(b *testing.B) {
		var ms []member
		b.SetBytes(int64(len(sampleLine)))
		for i := 0; i < b.N; i++ {
			var err error
			if ms, err = parseFlat(sampleLine, ms); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding/json", func(b *testing.B) {
		type rec struct {
			Satz, BG, Kundennummer, Monat, Geburtsdatum, Geschlecht, Staatsangehoerigkeit, Stellung string
			Erwerbsfaehig                                                                           bool
			Einkommen                                                                               json.Number
		}
		b.SetBytes(int64(len(sampleLine)))
		for i := 0; i < b.N; i++ {
			var r rec
			if err := json.Unmarshal(sampleLine, &r); err != nil {
				b.Fatal(err)
			}
		}
	})
}
