package main

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"meldeweg.dev/meldeweg/schemas"
	"meldeweg.dev/meldeweg/xsozial"
	"meldeweg.dev/meldeweg/xsozial/check"
)

// BenchmarkXsozial builds and checks synthetic datasets of 10k and 100k
// BGs with the real binary and runs xmllint --stream --schema on the same
// file, in the same run:
//
//	make bench
//	go test ./cmd/meldeweg -run '^$' -bench Xsozial -benchtime 1x
//
// Goals (issue 3): build ≥ 60 MB/s of XML; the full check (RTX, VTX and
// PTX) ≥ 0.8× xmllint's throughput; peak RSS ≤ 64 MiB for both sizes. The
// source is generated in b.TempDir() by "meldeweg testdata xsozial" (the
// 100k set is about 440 MB of JSON Lines and 710 MB of XML).
func BenchmarkXsozial(b *testing.B) {
	if _, err := os.Stat("/usr/bin/xmllint"); err != nil {
		b.Skip("xmllint not installed (apt-get install libxml2-utils)")
	}
	bin := meldewegBinary(b)
	month := schemas.MonthOf(time.Now()).AddMonths(-1)
	reg, err := schemas.Load(schemas.Options{})
	if err != nil {
		b.Fatal(err)
	}
	bundle, err := reg.Select(xsozial.Standard, month)
	if err != nil {
		b.Fatal(err)
	}
	repo, _ := filepath.Abs(filepath.Join("..", ".."))
	xsd := filepath.Join(repo, "schemas", "bundles", "xsozial-ba-sgb2-"+bundle.Version, "xsozial-ba-sgb2.xsd")
	for _, bgs := range []int{10000, 100000} {
		b.Run(fmt.Sprintf("bgs=%d", bgs), func(b *testing.B) {
			dir := b.TempDir()
			src := filepath.Join(dir, "src")
			if r := runMeasured(b, nil, bin, "testdata", "xsozial", "--bgs", fmt.Sprint(bgs), "--seed", "1",
				"--month", month.String(), "--out", src); r.Exit != 0 {
				b.Fatalf("testdata xsozial: exit %d: %s", r.Exit, r.Stderr)
			}
			out := filepath.Join(dir, check.FileName("12345", month, true))
			for i := 0; i < b.N; i++ {
				build := runMeasured(b, nil, bin, "xsozial", "build", "--traeger", "12345", "--month", month.String(),
					"--in", src, "--out", out, "--test")
				if build.Exit != 0 {
					b.Fatalf("build: exit %d: %s", build.Exit, build.Stderr)
				}
				st, err := os.Stat(out)
				if err != nil {
					b.Fatal(err)
				}
				size := st.Size()
				chk := runMeasured(b, nil, bin, "xsozial", "check", "--traeger", "12345", out)
				if chk.Exit != 0 {
					b.Fatalf("check of a clean dataset: exit %d:\n%s%s", chk.Exit, chk.Stdout, chk.Stderr)
				}
				lint := runMeasured(b, nil, "xmllint", "--noout", "--stream", "--schema", xsd, out)
				if lint.Exit != 0 {
					b.Fatalf("xmllint: exit %d: %s", lint.Exit, lint.Stderr)
				}
				buildMBs, checkMBs, lintMBs := mbps(size, build.Wall), mbps(size, chk.Wall), mbps(size, lint.Wall)
				b.ReportMetric(float64(size)/1e6, "XML-MB")
				b.ReportMetric(buildMBs, "build-MB/s")
				b.ReportMetric(mib(build.MaxRSS), "build-peakRSS-MiB")
				b.ReportMetric(checkMBs, "check-MB/s")
				b.ReportMetric(mib(chk.MaxRSS), "check-peakRSS-MiB")
				b.ReportMetric(lintMBs, "xmllint-MB/s")
				b.ReportMetric(mib(lint.MaxRSS), "xmllint-peakRSS-MiB")
				b.ReportMetric(checkMBs/lintMBs, "check-x-vs-xmllint")
				goal := func(ok bool, what string) {
					if !ok {
						b.Errorf("goal missed: %s", what)
					}
				}
				goal(buildMBs >= 60, fmt.Sprintf("build %.1f MB/s ≥ 60", buildMBs))
				goal(checkMBs >= 0.8*lintMBs, fmt.Sprintf("check %.1f MB/s ≥ 0.8 × xmllint %.1f MB/s", checkMBs, lintMBs))
				goal(mib(build.MaxRSS) <= 64, fmt.Sprintf("build peak RSS %.1f MiB ≤ 64", mib(build.MaxRSS)))
				goal(mib(chk.MaxRSS) <= 64, fmt.Sprintf("check peak RSS %.1f MiB ≤ 64", mib(chk.MaxRSS)))
			}
		})
	}
}
