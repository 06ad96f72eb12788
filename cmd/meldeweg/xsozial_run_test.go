package main

import (
	"bytes"
	"path/filepath"
	"strings"
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
