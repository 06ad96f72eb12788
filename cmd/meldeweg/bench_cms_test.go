package main

import (
	"bufio"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
)

// Benchmarks of "meldeweg seal"/"meldeweg open" next to openssl cms on the
// same generated payload, in the same run (issue 5):
//
//	make bench                                   # 500 MB payload
//	MELDEWEG_BENCH_CMS_MB=50 go test ./cmd/meldeweg -run '^$' -bench CMS -benchtime 1x
//
// Goals: peak RSS ≤ 64 MiB in both directions, throughput ≥ 0.8× openssl.
// openssl's side is "openssl cms -sign -stream | openssl cms -encrypt
// -stream" (two processes on two cores, its best case) and "openssl cms
// -decrypt | openssl cms -verify"; its peak RSS is the larger process's
// (wait4 reports the maximum over the shell and its children). MB/s is
// payload bytes (10^6) per wall-clock second.

func benchCMSBytes() int64 {
	if s := os.Getenv("MELDEWEG_BENCH_CMS_MB"); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n > 0 {
			return int64(n) * 1e6
		}
	}
	return 500e6
}

type cmsBenchFiles struct {
	dir, pki, payload string
	size              int64
	sum               [32]byte
}

var (
	cmsBenchOnce sync.Once
	cmsBench     cmsBenchFiles
	cmsBenchErr  error
)

// cmsBenchSetup writes the test PKI and an XSozial-like payload once.
func cmsBenchSetup(b *testing.B) cmsBenchFiles {
	b.Helper()
	bin := meldewegBinary(b)
	cmsBenchOnce.Do(func() {
		dir, err := os.MkdirTemp("", "meldeweg-bench-cms-")
		if err != nil {
			cmsBenchErr = err
			return
		}
		cmsBench = cmsBenchFiles{dir: dir, pki: filepath.Join(dir, "pki"), payload: filepath.Join(dir, "payload.xml")}
		if r := runMeasured(b, nil, bin, "pki", "init", cmsBench.pki); r.Exit != 0 {
			cmsBenchErr = fmt.Errorf("pki init: %s", r.Stderr)
			return
		}
		cmsBench.size, cmsBench.sum, cmsBenchErr = writeCMSPayload(cmsBench.payload, benchCMSBytes())
	})
	if cmsBenchErr != nil {
		b.Fatal(cmsBenchErr)
	}
	return cmsBench
}

// writeCMSPayload writes about n bytes of XSozial-like XML (synthetic
// numbers, no real personal data) and returns its size and SHA-256.
func writeCMSPayload(path string, n int64) (int64, [32]byte, error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, [32]byte{}, err
	}
	defer f.Close()
	h := sha256.New()
	w := bufio.NewWriterSize(io.MultiWriter(f, h), 1<<20)
	cw := &countingW{w: w}
	fmt.Fprintf(cw, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Lieferung Traegernummer=\"12345\" Berichtsmonat=\"2025-01\">\n")
	for i := 0; cw.n < n; i++ {
		fmt.Fprintf(cw, "<Bedarfsgemeinschaft><BGNummer>%05dBG%07d</BGNummer><Person><Kundennummer>%03dD%06d</Kundennummer><Geburtsdatum>19%02d-%02d-%02d</Geburtsdatum><Aufenthaltsstatus>%d</Aufenthaltsstatus></Person><Anspruch><Anspruchsmonat>2025-01</Anspruchsmonat><Betrag>%d.%02d</Betrag></Anspruch></Bedarfsgemeinschaft>\n",
			i%99991, i*7919%9999999, i%997, i*31%999999, 40+i%60, 1+i%12, 1+i%28, i%7, 100+i*13%4000, i%100)
	}
	fmt.Fprintf(cw, "</Lieferung>\n")
	if err := w.Flush(); err != nil {
		return 0, [32]byte{}, err
	}
	var sum [32]byte
	copy(sum[:], h.Sum(nil))
	return cw.n, sum, nil
}

type countingW struct {
	w io.Writer
	n int64
}

func (c *countingW) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func fileSHA256(path string) ([32]byte, error) {
	var sum [32]byte
	f, err := os.Open(path)
	if err != nil {
		return sum, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return sum, err
	}
	copy(sum[:], h.Sum(nil))
	return sum, nil
}

func BenchmarkCMS(b *testing.B) {
	for _, profile := range []string{"compat", "bsi"} {
		b.Run(profile, func(b *testing.B) {
			f := cmsBenchSetup(b)
			bin := meldewegBinary(b)
			p := func(name string) string { return filepath.Join(f.pki, name) }
			work := b.TempDir()
			sealed := filepath.Join(work, "payload.p7m")
			opened := filepath.Join(work, "opened.xml")
			osslSealed := filepath.Join(work, "payload.openssl.p7m")
			osslOpened := filepath.Join(work, "opened.openssl.xml")

			signOpts, encOpts := "", "-aes-256-cbc"
			if profile == "bsi" {
				// openssl 3.0 cannot stream an RSA-PSS signature ("illegal
				// zero content"), so its bsi pipeline signs without -stream.
				signOpts = "-keyopt rsa_padding_mode:pss -keyopt rsa_pss_saltlen:32"
				encOpts = "-aes-256-gcm -keyopt rsa_padding_mode:oaep -keyopt rsa_oaep_md:sha256 -keyopt rsa_mgf1_md:sha256"
			}
			stream := "-stream"
			if profile == "bsi" {
				stream = ""
			}
			for i := 0; i < b.N; i++ {
				// Seal.
				ms := runMeasured(b, nil, bin, "seal", "--profile", profile, "--sign-key", p("traeger-sign.key"), "--sign-cert", p("traeger-sign.pem"),
					"--to", p("ba-encrypt.pem"), f.payload, sealed)
				if ms.Exit != 0 {
					b.Fatalf("meldeweg seal: %s", ms.Stderr)
				}
				os_ := runMeasured(b, nil, "sh", "-c", fmt.Sprintf(
					"openssl cms -sign -binary -nodetach %s -md sha256 -outform DER -in %s -signer %s -inkey %s %s | "+
						"openssl cms -encrypt -binary -stream -outform DER %s -recip %s %s -out %s",
					stream, f.payload, p("traeger-sign.pem"), p("traeger-sign.key"), signOpts,
					encOpts[:12], p("ba-encrypt.pem"), encOpts[12:], osslSealed))
				if os_.Exit != 0 {
					b.Fatalf("openssl seal: %s", os_.Stderr)
				}
				// Open.
				mo := runMeasured(b, nil, bin, "open", "--profile", profile, "--key", p("ba-encrypt.key"), "--cert", p("ba-encrypt.pem"),
					"--trust", p("ca.pem"), sealed, opened)
				if mo.Exit != 0 {
					b.Fatalf("meldeweg open: %s", mo.Stderr)
				}
				oo := runMeasured(b, nil, "sh", "-c", fmt.Sprintf(
					"openssl cms -decrypt -binary -inform DER -in %s -recip %s -inkey %s | openssl cms -verify -binary -inform DER -CAfile %s -out %s",
					osslSealed, p("ba-encrypt.pem"), p("ba-encrypt.key"), p("ca.pem"), osslOpened))
				if oo.Exit != 0 {
					b.Fatalf("openssl open: %s", oo.Stderr)
				}
				for _, out := range []string{opened, osslOpened} {
					if sum, err := fileSHA256(out); err != nil || sum != f.sum {
						b.Fatalf("%s differs from the payload (%v)", out, err)
					}
				}
				// Meldeweg opens what openssl sealed, too (not timed against anything).
				if r := runMeasured(b, nil, bin, "open", "--profile", profile, "--key", p("ba-encrypt.key"), "--cert", p("ba-encrypt.pem"),
					"--trust", p("ca.pem"), osslSealed, opened); r.Exit != 0 {
					b.Fatalf("meldeweg open of openssl's message: %s", r.Stderr)
				}
				st, _ := os.Stat(sealed)
				ost, _ := os.Stat(osslSealed)
				b.ReportMetric(mbps(f.size, ms.Wall), "seal-MB/s")
				b.ReportMetric(mib(ms.MaxRSS), "seal-peakRSS-MiB")
				b.ReportMetric(mbps(f.size, os_.Wall), "openssl-seal-MB/s")
				b.ReportMetric(mib(os_.MaxRSS), "openssl-seal-peakRSS-MiB")
				b.ReportMetric(os_.Wall.Seconds()/ms.Wall.Seconds(), "seal-x-vs-openssl")
				b.ReportMetric(mbps(f.size, mo.Wall), "open-MB/s")
				b.ReportMetric(mib(mo.MaxRSS), "open-peakRSS-MiB")
				b.ReportMetric(mbps(f.size, oo.Wall), "openssl-open-MB/s")
				b.ReportMetric(mib(oo.MaxRSS), "openssl-open-peakRSS-MiB")
				b.ReportMetric(oo.Wall.Seconds()/mo.Wall.Seconds(), "open-x-vs-openssl")
				b.ReportMetric(float64(f.size)/float64(st.Size()), "compression-ratio")
				b.Logf("%s: payload %d bytes; meldeweg message %d bytes, openssl message %d bytes", profile, f.size, st.Size(), ost.Size())
			}
		})
	}
}
