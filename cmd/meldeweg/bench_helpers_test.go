package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Benchmarks in this package measure the real binary as a subprocess, next
// to the reference tool (xmllint, openssl) run in the same benchmark, so
// peak RSS is the process's own (getrusage) and ratios compare like with
// like. "make bench" runs them; they never run as unit tests.

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// meldewegBinary returns the path of a meldeweg binary: $MELDEWEG_BIN, or
// one built once per test process.
func meldewegBinary(tb testing.TB) string {
	tb.Helper()
	binOnce.Do(func() {
		if p := os.Getenv("MELDEWEG_BIN"); p != "" {
			binPath = p
			return
		}
		dir, err := os.MkdirTemp("", "meldeweg-bin-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "meldeweg")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			binErr = errors.New(string(out))
		}
	})
	if binErr != nil {
		tb.Fatalf("building meldeweg: %v", binErr)
	}
	return binPath
}

// procResult is what one measured subprocess did.
type procResult struct {
	Wall   time.Duration
	MaxRSS int64 // bytes
	Exit   int
	Stdout []byte
	Stderr []byte
}

// runMeasured runs name with args and measures wall time and peak RSS.
func runMeasured(tb testing.TB, env []string, name string, args ...string) procResult {
	tb.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	var exit int
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		exit = ee.ExitCode()
	} else if err != nil {
		tb.Fatalf("running %s: %v", name, err)
	}
	var rss int64
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		rss = ru.Maxrss * 1024 // Linux reports KiB
	}
	return procResult{Wall: wall, MaxRSS: rss, Exit: exit, Stdout: stdout.Bytes(), Stderr: stderr.Bytes()}
}

// mbps is throughput in MB/s (10^6 bytes per second).
func mbps(bytes int64, d time.Duration) float64 {
	return float64(bytes) / 1e6 / d.Seconds()
}

// mib converts bytes to MiB.
func mib(b int64) float64 { return float64(b) / (1 << 20) }
