package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
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
	Wall time.Duration
	// CPU is user plus system time. On a shared machine it is the steadier
	// figure: wall time includes waiting for a core.
	CPU    time.Duration
	MaxRSS int64 // bytes
	Exit   int
	Stdout []byte
	Stderr []byte
}

// timeBin is GNU time, which measures the peak RSS of the command it runs.
//
// getrusage of a child started by Go cannot be used: Go starts children
// with vfork semantics (CLONE_VM), and Linux folds the high-water RSS of the
// parent's address space into the child's maxrss at exec, so every child
// would report at least the test process's own RSS. GNU time forks a copy of
// its own small process instead.
const timeBin = "/usr/bin/time"

// runMeasured runs name with args and measures wall time and peak RSS.
func runMeasured(tb testing.TB, env []string, name string, args ...string) procResult {
	tb.Helper()
	if _, err := os.Stat(timeBin); err != nil {
		tb.Fatalf("benchmarks measure peak RSS with GNU time: apt-get install -y time")
	}
	rssFile := filepath.Join(tb.TempDir(), "rss")
	cmd := exec.Command(timeBin, append([]string{"-f", "%U %S %M", "-o", rssFile, name}, args...)...)
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
	data, err := os.ReadFile(rssFile)
	if err != nil {
		tb.Fatalf("reading peak RSS of %s: %v", name, err)
	}
	// GNU time writes "Command exited with non-zero status N" before the
	// figures; the figures (user s, system s, KiB) are the last three words.
	words := strings.Fields(strings.TrimSpace(string(data)))
	if len(words) < 3 {
		tb.Fatalf("figures of %s: %q", name, data)
	}
	words = words[len(words)-3:]
	user, err1 := strconv.ParseFloat(words[0], 64)
	sys, err2 := strconv.ParseFloat(words[1], 64)
	kib, err3 := strconv.ParseInt(words[2], 10, 64)
	if err := errors.Join(err1, err2, err3); err != nil {
		tb.Fatalf("figures of %s: %q: %v", name, data, err)
	}
	rss := kib * 1024
	cpu := time.Duration((user + sys) * float64(time.Second))
	return procResult{Wall: wall, CPU: cpu, MaxRSS: rss, Exit: exit, Stdout: stdout.Bytes(), Stderr: stderr.Bytes()}
}

// mbps is throughput in MB/s (10^6 bytes per second).
func mbps(bytes int64, d time.Duration) float64 {
	return float64(bytes) / 1e6 / d.Seconds()
}

// mib converts bytes to MiB.
func mib(b int64) float64 { return float64(b) / (1 << 20) }

// benchReps is how often bestOf runs a command: $MELDEWEG_BENCH_REPS, or 3.
func benchReps() int {
	if n, err := strconv.Atoi(os.Getenv("MELDEWEG_BENCH_REPS")); err == nil && n > 0 {
		return n
	}
	return 3
}

// bestOf runs f benchReps times and keeps the fastest wall time, the
// least CPU time and the highest peak RSS: the machine is shared, so the
// fastest run is the best estimate of what the code can do, and the
// highest RSS the honest bound.
func bestOf(f func() procResult) procResult {
	return bestOfEach(f)[0]
}

// bestOfEach is bestOf for several commands whose runs take turns
// (a, b, c, a, b, c, …), so that a change in the machine's load falls on
// all of them alike.
func bestOfEach(fs ...func() procResult) []procResult {
	best := make([]procResult, len(fs))
	for i := 0; i < benchReps(); i++ {
		for k, f := range fs {
			r := f()
			if i == 0 {
				best[k] = r
				continue
			}
			rss, cpu := max(best[k].MaxRSS, r.MaxRSS), min(best[k].CPU, r.CPU)
			if r.Wall < best[k].Wall {
				best[k] = r
			}
			best[k].MaxRSS, best[k].CPU = rss, cpu
		}
	}
	return best
}
