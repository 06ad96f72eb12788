package main

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"meldeweg.dev/meldeweg/emaw/msg"
	"meldeweg.dev/meldeweg/schemas"
)

// emawBenchEvents writes n valid AnwesenheitMonat messages (about 5 KB
// each) into dir and returns their paths and total size.
func emawBenchEvents(b *testing.B, dir string, n int) ([]string, int64) {
	b.Helper()
	reg, err := schemas.Load(schemas.Options{})
	if err != nil {
		b.Fatal(err)
	}
	c := msg.NewCodec(reg)
	var paths []string
	var total int64
	for i := 0; i < n; i++ {
		m := msg.Example(msg.TypeAnwesenheitMonat)
		m.Header().NachrichtID = fmt.Sprintf("EV-%06d", i)
		data, _, err := c.Marshal(context.Background(), m)
		if err != nil {
			b.Fatal(err)
		}
		p := filepath.Join(dir, m.Header().NachrichtID+".xml")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			b.Fatal(err)
		}
		paths = append(paths, p)
		total += int64(len(data))
	}
	return paths, total
}

// BenchmarkEmawPackUnpack packs 1000 events with the real binary, then
// unpacks them (every event validated against the bundle) next to
// Info-ZIP's unzip extracting the outer archive only.
func BenchmarkEmawPackUnpack(b *testing.B) {
	bin := meldewegBinary(b)
	dir := b.TempDir()
	paths, total := emawBenchEvents(b, dir, 1000)
	for b.Loop() {
		up := filepath.Join(dir, "up.zip")
		os.Remove(up)
		res := runMeasured(b, nil, bin, append([]string{"emaw", "pack", "--out", up}, paths...)...)
		if res.Exit != 0 {
			b.Fatalf("pack: exit %d: %s", res.Exit, res.Stderr)
		}
		b.ReportMetric(mbps(total, res.Wall), "pack-MB/s")
		b.ReportMetric(mib(res.MaxRSS), "pack-peakRSS-MiB")

		out := filepath.Join(dir, "in")
		os.RemoveAll(out)
		res = runMeasured(b, nil, bin, "emaw", "unpack", up, "--out", out, "--require-manifest")
		if res.Exit != 0 {
			b.Fatalf("unpack: exit %d: %s", res.Exit, res.Stderr)
		}
		b.ReportMetric(mbps(total, res.Wall), "unpack-MB/s")
		b.ReportMetric(mib(res.MaxRSS), "unpack-peakRSS-MiB")
		if unzip, err := exec.LookPath("unzip"); err == nil {
			ref := filepath.Join(dir, "ref")
			os.RemoveAll(ref)
			r := runMeasured(b, nil, unzip, "-q", up, "-d", ref)
			if r.Exit != 0 {
				b.Fatalf("unzip: exit %d: %s", r.Exit, r.Stderr)
			}
			b.ReportMetric(res.Wall.Seconds()/r.Wall.Seconds(), "x-vs-unzip")
		}
	}
}

// BenchmarkEmawUnpackBomb feeds the binary a 1 MB archive that unpacks to
// 1 GiB of zeros: it must be refused from the headers, fast and in little
// memory, with nothing extracted.
func BenchmarkEmawUnpackBomb(b *testing.B) {
	bin := meldewegBinary(b)
	dir := b.TempDir()
	var inner bytes.Buffer
	zw := zip.NewWriter(&inner)
	w, _ := zw.Create("EV-1.xml")
	zero := make([]byte, 1<<20)
	for i := 0; i < 1024; i++ {
		w.Write(zero)
	}
	zw.Close()
	var outer bytes.Buffer
	zw = zip.NewWriter(&outer)
	fh := &zip.FileHeader{Name: "EV-1.zip", Method: zip.Store}
	w, _ = zw.CreateHeader(fh)
	w.Write(inner.Bytes())
	zw.Close()
	bomb := filepath.Join(dir, "bomb.zip")
	os.WriteFile(bomb, outer.Bytes(), 0o644)
	for b.Loop() {
		out := filepath.Join(dir, "in")
		res := runMeasured(b, nil, bin, "emaw", "unpack", bomb, "--out", out)
		if res.Exit != exitFindings || !bytes.Contains(res.Stderr, []byte("nothing was extracted")) {
			b.Fatalf("bomb: exit %d: %s", res.Exit, res.Stderr)
		}
		if _, err := os.Stat(out); err == nil {
			b.Fatal("the bomb was extracted")
		}
		b.ReportMetric(float64(res.Wall.Milliseconds()), "refuse-ms")
		b.ReportMetric(mib(res.MaxRSS), "peakRSS-MiB")
		b.ReportMetric(float64(outer.Len())/1e6, "archive-MB")
	}
}
