package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// Benchmarks of "meldeweg validate" next to "xmllint --stream --schema" on
// the same generated files, in the same run. The schema is the example
// bundle in testdata/bundles (loaded as an operator bundle, with its import
// by absolute URL mapped locally; xmllint gets the same map as a catalog).
//
//	make bench                       # ~200 MB, 20 MB and 1 GB files
//	MELDEWEG_BENCH_MB=50 go test ./cmd/meldeweg -run '^$' -bench Validate -benchtime 1x
//
// Goals (issue "Foundation"): throughput ≥ 1.3× xmllint --stream, peak RSS
// ≤ 32 MiB, and the same peak RSS for 20 MB and 1 GB.

func benchMB(def int) int64 {
	if s := os.Getenv("MELDEWEG_BENCH_MB"); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n > 0 {
			return int64(n)
		}
	}
	return int64(def)
}

type exampleFiles struct {
	dir, catalog, xsd, bundles string
}

var (
	benchFilesOnce sync.Once
	benchFiles     exampleFiles
	benchGenerated = map[string]string{}
	benchGenMu     sync.Mutex
)

func exampleBundle(b *testing.B) exampleFiles {
	benchFilesOnce.Do(func() {
		repo, _ := filepath.Abs(filepath.Join("..", ".."))
		dir, err := os.MkdirTemp("", "meldeweg-bench-")
		if err != nil {
			b.Fatal(err)
		}
		bundles := filepath.Join(repo, "testdata", "bundles")
		remote := filepath.Join(bundles, "example-1.0", "remote")
		catalog := filepath.Join(dir, "catalog.xml")
		os.WriteFile(catalog, []byte(`<?xml version="1.0"?>
<catalog xmlns="urn:oasis:names:tc:entity:xmlns:xml:catalog">
  <rewriteURI uriStartString="http://example.meldeweg.dev/schemata/" rewritePrefix="file://`+remote+`/"/>
  <rewriteSystem systemIdStartString="http://example.meldeweg.dev/schemata/" rewritePrefix="file://`+remote+`/"/>
</catalog>
`), 0o644)
		benchFiles = exampleFiles{dir: dir, catalog: catalog, xsd: filepath.Join(bundles, "example-1.0", "meldung.xsd"), bundles: bundles}
	})
	return benchFiles
}

// generateExample writes a document of about mb megabytes for the example
// bundle. With errEvery > 0, every errEvery-th Fall carries an amount with
// three decimals (one validity error each).
func generateExample(b *testing.B, mb int64, errEvery int) (string, int) {
	ef := exampleBundle(b)
	key := fmt.Sprintf("%d-%d", mb, errEvery)
	benchGenMu.Lock()
	defer benchGenMu.Unlock()
	if p, ok := benchGenerated[key]; ok {
		return p, countErrors(p)
	}
	p := filepath.Join(ef.dir, "example-"+key+".xml")
	f, err := os.Create(p)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	w.WriteString(`<?xml version="1.0" encoding="UTF-8"?>
<m:meldung xmlns:m="urn:meldeweg:example:1.0" version="1.0">
  <m:kopf>
    <m:traegernummer>12345</m:traegernummer>
    <m:berichtsmonat>2026-10</m:berichtsmonat>
    <m:erstellt>2026-11-03T08:15:00Z</m:erstellt>
    <m:software>Meldeweg benchmark</m:software>
  </m:kopf>
`)
	limit := mb * 1e6
	errs := 0
	for i := 1; ; i++ {
		amount := fmt.Sprintf("%d.%02d", i%900+100, i%100)
		if errEvery > 0 && i%errEvery == 0 {
			amount += "1"
			errs++
		}
		fmt.Fprintf(w, `  <m:fall bg="12345BG%07d">
    <m:beginn>2025-%02d-01</m:beginn>
    <m:person kundennummer="%03dD%06d">
      <m:geburtsjahr>%d</m:geburtsjahr>
      <m:geschlecht>%s</m:geschlecht>
      <m:erwerbsfaehig>true</m:erwerbsfaehig>
    </m:person>
    <m:person kundennummer="%03dD%06d">
      <m:geburtsjahr>%d</m:geburtsjahr>
      <m:geschlecht>%s</m:geschlecht>
      <m:erwerbsfaehig>false</m:erwerbsfaehig>
    </m:person>
    <m:leistung>
      <m:art>ALG2</m:art>
      <m:monat>2026-10</m:monat>
      <m:betrag>%s</m:betrag>
    </m:leistung>
    <m:leistung>
      <m:art>KdU</m:art>
      <m:monat>2026-10</m:monat>
      <m:betrag>%d.00</m:betrag>
    </m:leistung>
  </m:fall>
`, i%10000000, i%12+1, i%1000, i%1000000, 1950+i%50, []string{"m", "w", "d", "x"}[i%4],
			(i+1)%1000, (i+7)%1000000, 2005+i%15, []string{"w", "m"}[i%2], amount, 300+i%400)
		if w.Buffered() == 0 || i%1000 == 0 {
			st, _ := f.Stat()
			if st.Size()+int64(w.Buffered()) >= limit {
				break
			}
		}
	}
	w.WriteString("</m:meldung>\n")
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	f.Close()
	benchGenerated[key] = p
	os.WriteFile(p+".errors", []byte(strconv.Itoa(errs)), 0o644)
	return p, errs
}

func countErrors(p string) int {
	data, _ := os.ReadFile(p + ".errors")
	n, _ := strconv.Atoi(string(data))
	return n
}

func fileSize(b *testing.B, p string) int64 {
	st, err := os.Stat(p)
	if err != nil {
		b.Fatal(err)
	}
	return st.Size()
}

func BenchmarkValidate(b *testing.B) {
	bin := meldewegBinary(b)
	ef := exampleBundle(b)
	mb := benchMB(200)
	for _, tc := range []struct {
		name     string
		errEvery int
		wantExit int
	}{
		{"valid", 0, 0},
		{"invalid", 10000, 1},
	} {
		b.Run(fmt.Sprintf("%s-%dMB", tc.name, mb), func(b *testing.B) {
			doc, nerr := generateExample(b, mb, tc.errEvery)
			size := fileSize(b, doc)
			var ours, theirs procResult
			for i := 0; i < b.N; i++ {
				ours = bestOf(func() procResult {
					return runMeasured(b, nil, bin, "--schema-dir", ef.bundles, "validate", "--bundle", "example@1.0", doc)
				})
				theirs = bestOf(func() procResult {
					return runMeasured(b, []string{"XML_CATALOG_FILES=" + ef.catalog}, "xmllint", "--nonet", "--noout", "--stream", "--schema", ef.xsd, doc)
				})
			}
			if ours.Exit != tc.wantExit {
				b.Fatalf("meldeweg exit %d, want %d\n%s", ours.Exit, tc.wantExit, ours.Stderr)
			}
			if got := strings.Count(string(ours.Stdout), "fractional digits"); got != nerr {
				b.Fatalf("meldeweg reported %d errors, the file has %d", got, nerr)
			}
			if got := strings.Count(string(theirs.Stderr), "fractional digits"); got != nerr {
				b.Fatalf("xmllint reported %d errors, the file has %d (exit %d)", got, nerr, theirs.Exit)
			}
			b.ReportMetric(mbps(size, ours.Wall), "MB/s")
			b.ReportMetric(mib(ours.MaxRSS), "peakRSS-MiB")
			b.ReportMetric(mbps(size, theirs.Wall), "xmllint-MB/s")
			b.ReportMetric(mib(theirs.MaxRSS), "xmllint-peakRSS-MiB")
			b.ReportMetric(theirs.Wall.Seconds()/ours.Wall.Seconds(), "x-vs-xmllint")
		})
	}
}

// BenchmarkValidateFlatMemory compares peak RSS for a 20 MB and a 1 GB file
// (MELDEWEG_BENCH_BIG_MB overrides the 1 GB).
func BenchmarkValidateFlatMemory(b *testing.B) {
	bin := meldewegBinary(b)
	ef := exampleBundle(b)
	big := int64(1000)
	if s := os.Getenv("MELDEWEG_BENCH_BIG_MB"); s != "" {
		if n, err := strconv.Atoi(s); err == nil {
			big = int64(n)
		}
	}
	small, _ := generateExample(b, 20, 0)
	large, _ := generateExample(b, big, 0)
	var rs, rl procResult
	for i := 0; i < b.N; i++ {
		rs = runMeasured(b, nil, bin, "--schema-dir", ef.bundles, "validate", "--bundle", "example@1.0", small)
		rl = runMeasured(b, nil, bin, "--schema-dir", ef.bundles, "validate", "--bundle", "example@1.0", large)
	}
	if rs.Exit != 0 || rl.Exit != 0 {
		b.Fatalf("exit codes %d and %d, want 0", rs.Exit, rl.Exit)
	}
	b.ReportMetric(mib(rs.MaxRSS), "peakRSS-20MB-MiB")
	b.ReportMetric(mib(rl.MaxRSS), fmt.Sprintf("peakRSS-%dMB-MiB", big))
	b.ReportMetric(mbps(fileSize(b, large), rl.Wall), "MB/s")
	b.ReportMetric(mib(rl.MaxRSS-rs.MaxRSS), "RSS-growth-MiB")
}
