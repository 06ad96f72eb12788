package bacheck_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"meldeweg.dev/meldeweg/basim/bacheck"
	"meldeweg.dev/meldeweg/emaw/msg"
	"meldeweg.dev/meldeweg/schemas"
	"meldeweg.dev/meldeweg/transport/baapi"
	"meldeweg.dev/meldeweg/transport/cms"
	"meldeweg.dev/meldeweg/xsozial"
	"meldeweg.dev/meldeweg/xsozial/check"
	"meldeweg.dev/meldeweg/xsozial/source"
	"meldeweg.dev/meldeweg/xsozial/synth"
)

func benchChecker(b *testing.B, pkiDir string, reg *schemas.Registry) *bacheck.Checker {
	b.Helper()
	cfg, err := bacheck.LoadTestPKI(pkiDir, bacheck.Config{Registry: reg})
	if err != nil {
		b.Fatal(err)
	}
	c, err := bacheck.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	return c
}

// BenchmarkJudgeXSozial: what the BA side adds to the plain three-stage
// check for one delivery: decrypting, verifying and sealing the feedback.
// The dataset is generated at run time (5000 BGs, about 10 MB).
func BenchmarkJudgeXSozial(b *testing.B) {
	pkiDir, reg := testPKI(b), registry(b)
	c := benchChecker(b, pkiDir, reg)
	month := schemas.Month{Year: 2026, Month: time.October}
	bundle, err := reg.Select(xsozial.Standard, month)
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	src := filepath.Join(dir, "src")
	if _, err := synth.WriteSource(src, synth.Options{BGs: 5000, Seed: 1, Traeger: "12345", Month: month, Version: bundle.Version}); err != nil {
		b.Fatal(err)
	}
	var ds bytes.Buffer
	if _, err := source.Build(context.Background(), src, &ds, source.Options{Traeger: "12345", Month: month, Version: bundle.Version,
		Created: time.Date(2026, 11, 2, 8, 0, 0, 0, time.UTC)}); err != nil {
		b.Fatal(err)
	}
	sealedPath := filepath.Join(dir, "upload.p7m")
	if err := os.WriteFile(sealedPath, seal(b, ds.Bytes(), pkiDir, "traeger-sign", pkiDir, cms.ProfileCompat), 0o600); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ResetTimer()
	var plainDur, judgeDur time.Duration
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		rep, err := check.Check(ctx, bytes.NewReader(ds.Bytes()), "", check.Options{Registry: reg, Traeger: "12345"})
		plainDur += time.Since(t0)
		if err != nil || !rep.Passed {
			b.Fatalf("plain check: %v, passed %v", err, rep != nil && rep.Passed)
		}
		t0 = time.Now()
		r, err := c.Check(ctx, baapi.ChannelXSozial, baapi.MessageID(fmt.Sprintf("bench-%d", i)), sealedPath)
		judgeDur += time.Since(t0)
		if err != nil || r.Outcome != baapi.OutcomeOK {
			b.Fatalf("judge: %v %s", err, r.Outcome)
		}
	}
	mb := float64(ds.Len()) / 1e6
	b.ReportMetric(mb, "XML-MB")
	b.ReportMetric(mb*float64(b.N)/judgeDur.Seconds(), "judge-MB/s")
	b.ReportMetric(mb*float64(b.N)/plainDur.Seconds(), "check-MB/s")
	b.ReportMetric(judgeDur.Seconds()/plainDur.Seconds(), "judge-x-vs-check")
}

// BenchmarkJudgeEmaw: events per second through open, unpack, validate,
// rules and the sealed acknowledgement, for an upload of 500 events.
func BenchmarkJudgeEmaw(b *testing.B) {
	pkiDir, reg := testPKI(b), registry(b)
	c := benchChecker(b, pkiDir, reg)
	const events = 500
	var ms []msg.Message
	for i := 0; i < events; i++ {
		ms = append(ms, example(msg.TypeEintritt, fmt.Sprintf("EV-%04d", i)))
	}
	path := filepath.Join(b.TempDir(), "upload.p7m")
	if err := os.WriteFile(path, seal(b, emawZIP(b, reg, ms...), pkiDir, "emaw-sign", pkiDir, cms.ProfileCompat), 0o600); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r, err := c.Check(context.Background(), baapi.ChannelEmaw, baapi.MessageID(fmt.Sprintf("bench-%d", i)), path)
		if err != nil || r.Outcome != baapi.OutcomeOK {
			b.Fatalf("judge: %v %s", err, r.Outcome)
		}
	}
	b.ReportMetric(float64(events*b.N)/b.Elapsed().Seconds(), "events/s")
}
