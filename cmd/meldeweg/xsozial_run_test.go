package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"meldeweg.dev/meldeweg/basim"
	"meldeweg.dev/meldeweg/basim/bacheck"
	"meldeweg.dev/meldeweg/schemas"
)

// TestXsozialRunCommand runs "meldeweg xsozial run" in-process against the
// simulator with the real BA checker: a clean month is accepted (exit 0),
// a rerun does nothing (exit 0), a faulty export stops at Meldeweg's own
// check without reaching the BA (exit 1), a correction is linked (exit 0),
// and the register verifies.
func TestXsozialRunCommand(t *testing.T) {
	ba := startBA(t, bacheck.Config{}, basim.Faults{})
	month := schemas.MonthOf(time.Now()).AddMonths(-1)
	earlier := month.AddMonths(-1)
	reg := filepath.Join(ba.dir, "register.db")
	mw := func(wantExit int, args ...string) string {
		t.Helper()
		var stdout, stderr bytes.Buffer
		code := run(args, strings.NewReader(""), &stdout, &stderr)
		if code != wantExit {
			t.Fatalf("meldeweg %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, wantExit, stdout.String(), stderr.String())
		}
		return stdout.String() + stderr.String()
	}
	src := filepath.Join(ba.dir, "src")
	faulty := filepath.Join(ba.dir, "faulty")
	mw(0, "testdata", "xsozial", "--bgs", "30", "--seed", "3", "--month", month.String(), "--traeger", "12345", "--out", src)
	mw(0, "testdata", "xsozial", "--bgs", "30", "--seed", "3", "--month", earlier.String(), "--traeger", "12345", "--out", faulty, "--faults")
	conn := []string{"--pki", ba.pkiDir, "--url", ba.url, "--register", reg, "--traeger", "12345", "--work", filepath.Join(ba.dir, "out"), "--feedback-wait", "30s"}
	runMonth := func(m schemas.Month, in string, extra ...string) []string {
		return append(append([]string{"xsozial", "run", "--month", m.String(), "--in", in}, conn...), extra...)
	}

	out := mw(0, runMonth(month, src)...)
	if !strings.Contains(out, "xsozial-12345-"+month.String()+"-1 accepted by the BA (angenommen") {
		t.Errorf("first run:\n%s", out)
	}
	out = mw(0, runMonth(month, src)...)
	if !strings.Contains(out, "already delivered and accepted by the BA as xsozial-12345-"+month.String()+"-1") || !strings.Contains(out, "nothing to do") {
		t.Errorf("rerun:\n%s", out)
	}
	out = mw(1, runMonth(earlier, faulty)...)
	if !strings.Contains(out, "check FAILED; nothing was sent") || !strings.Contains(out, "PTX") {
		t.Errorf("faulty month:\n%s", out)
	}
	out = mw(0, runMonth(month, src, "--correction")...)
	if !strings.Contains(out, "xsozial-12345-"+month.String()+"-2 accepted") {
		t.Errorf("correction:\n%s", out)
	}
	if n := len(ba.server.Accepted()); n != 2 {
		t.Errorf("the BA accepted %d uploads, want 2 (the first delivery and its correction)", n)
	}
	out = mw(0, "register", "show", "xsozial-12345-"+month.String()+"-2", "--register", reg)
	if !strings.Contains(out, "xsozial-12345-"+month.String()+"-1") {
		t.Errorf("the correction is not linked to the delivery it supersedes:\n%s", out)
	}
	mw(0, "register", "verify", "--register", reg)
	// Usage errors.
	mw(2, "xsozial", "run", "--register", reg)
	mw(2, runMonth(month.AddMonths(3), src)...)
}

// xsozialRunBundle is the simulator, one register and one work directory
// for "meldeweg xsozial run" tests, with source data per seed.
type xsozialRunBundle struct {
	ba         *baBundle
	month      schemas.Month
	reg, work  string
	connection []string
}

func newXsozialRunBundle(t *testing.T) *xsozialRunBundle {
	t.Helper()
	ba := startBA(t, bacheck.Config{}, basim.Faults{})
	b := &xsozialRunBundle{ba: ba, month: schemas.MonthOf(time.Now()).AddMonths(-1),
		reg: filepath.Join(ba.dir, "register.db"), work: filepath.Join(ba.dir, "out")}
	b.connection = []string{"--pki", ba.pkiDir, "--url", ba.url, "--register", b.reg, "--traeger", "12345", "--work", b.work, "--feedback-wait", "30s"}
	return b
}

// source writes synthetic source records from seed (another seed, other
// data) and returns the directory.
func (b *xsozialRunBundle) source(t *testing.T, seed int) string {
	t.Helper()
	dir := filepath.Join(b.ba.dir, fmt.Sprintf("src-%d", seed))
	if _, err := os.Stat(dir); err == nil {
		return dir
	}
	var stdout, stderr bytes.Buffer
	args := []string{"testdata", "xsozial", "--bgs", "30", "--seed", fmt.Sprint(seed), "--month", b.month.String(), "--traeger", "12345", "--out", dir}
	if code := run(args, strings.NewReader(""), &stdout, &stderr); code != 0 {
		t.Fatalf("testdata: exit %d: %s", code, stderr.String())
	}
	return dir
}

// run runs "xsozial run" for the month from source seed and returns the
// exit code, stdout and stderr.
func (b *xsozialRunBundle) run(t *testing.T, seed int, extra ...string) (int, string, string) {
	t.Helper()
	args := append(append([]string{"xsozial", "run", "--month", b.month.String(), "--in", b.source(t, seed)}, b.connection...), extra...)
	var stdout, stderr bytes.Buffer
	code := run(args, strings.NewReader(""), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// Defect: "xsozial run --test" followed by the same run without --test said
// "already delivered and accepted … nothing to do"; the production month
// was never sent.
func TestXsozialRunTestDoesNotCountForProduction(t *testing.T) {
	b := newXsozialRunBundle(t)
	m := b.month.String()
	code, out, errOut := b.run(t, 3, "--test")
	if code != 0 || !strings.Contains(out, "accepted by the BA") {
		t.Fatalf("test run: exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = b.run(t, 3)
	if code != 0 || strings.Contains(out, "already delivered") || !strings.Contains(out, "xsozial-12345-"+m+"-1 accepted by the BA") {
		t.Fatalf("production run after the test run: exit %d\n%s%s", code, out, errOut)
	}
	if n := len(b.ba.server.Accepted()); n != 2 {
		t.Errorf("the BA accepted %d uploads, want 2 (test and production)", n)
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{"register", "list", "--register", b.reg}, strings.NewReader(""), &stdout, &stderr); code != 0 {
		t.Fatalf("register list: %s", stderr.String())
	}
	for _, want := range []string{"xsozial-12345-" + m + "-test-1", "XSOZIAL_12345_" + m + "_T.xml", "xsozial-12345-" + m + "-1", "XSOZIAL_12345_" + m + "_P.xml"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("register list does not show %s:\n%s", want, stdout.String())
		}
	}
}

// Defect (issue 17): two runs of one month started together from different
// source data both said "accepted", though only one dataset reached the
// BA. The one whose data is not delivered exits 1 and says why.
func TestXsozialRunConcurrentRunsWithDifferentData(t *testing.T) {
	b := newXsozialRunBundle(t)
	b.source(t, 3)
	b.source(t, 4)
	type result struct {
		code     int
		out, err string
	}
	res := make([]result, 2)
	var wg sync.WaitGroup
	for i, seed := range []int{3, 4} {
		wg.Go(func() {
			var r result
			r.code, r.out, r.err = b.run(t, seed)
			res[i] = r
		})
	}
	wg.Wait()
	codes := []int{res[0].code, res[1].code}
	slices.Sort(codes)
	if !slices.Equal(codes, []int{0, 1}) {
		t.Fatalf("exit codes %v, want one 0 and one 1\nrun 1:\n%s%s\nrun 2:\n%s%s", codes, res[0].out, res[0].err, res[1].out, res[1].err)
	}
	for _, r := range res {
		if r.code == 1 && (!strings.Contains(r.out, "a different delivery for the month exists") || !strings.Contains(r.out, "--correction")) {
			t.Errorf("the run whose data was not delivered says:\n%s%s", r.out, r.err)
		}
	}
	if n := len(b.ba.server.Accepted()); n != 1 {
		t.Errorf("the BA accepted %d uploads, want 1", n)
	}
}

// Defect: after the BA accepted a delivery, the work directory still held
// the plain dataset (0640); a run killed during the build left
// ".XSOZIAL_…_P.xml.tmp-…" for ever.
func TestXsozialRunLeavesNoPlainData(t *testing.T) {
	b := newXsozialRunBundle(t)
	if err := os.MkdirAll(b.work, 0o700); err != nil {
		t.Fatal(err)
	}
	leftover := filepath.Join(b.work, ".XSOZIAL_12345_"+b.month.String()+"_P.xml.tmp-2718281828")
	if err := os.WriteFile(leftover, []byte("<kopf>"), 0o640); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := b.run(t, 3)
	if code != 0 {
		t.Fatalf("run: exit %d\n%s%s", code, out, errOut)
	}
	if !strings.Contains(errOut, "removed "+leftover) {
		t.Errorf("stderr does not say the leftover was removed:\n%s", errOut)
	}
	st, err := os.Stat(b.work)
	if err != nil || st.Mode().Perm() != 0o700 {
		t.Fatalf("work directory: %v, %v; want 0700", st.Mode(), err)
	}
	entries, _ := os.ReadDir(b.work)
	for _, en := range entries {
		info, _ := en.Info()
		if strings.HasSuffix(en.Name(), ".xml") || strings.Contains(en.Name(), ".tmp-") {
			t.Errorf("the work directory still holds %s after the delivery was accepted", en.Name())
		}
		if info.Mode().Perm() != 0o600 {
			t.Errorf("%s is %04o, want 0600", en.Name(), info.Mode().Perm())
		}
	}
}
