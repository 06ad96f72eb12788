package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"meldeweg.dev/meldeweg/schemas"
	"meldeweg.dev/meldeweg/xsozial/check"
	"meldeweg.dev/meldeweg/xsozial/feedback"
)

// runXS runs meldeweg in-process and returns exit code, stdout, stderr.
func runXS(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

// TestXsozialCommands runs the whole chain as an operator would: synthetic
// source, build (twice: byte-identical), check (clean and faulty), a build
// from unusable input, and feedback mapped back to source lines.
func TestXsozialCommands(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	month := schemas.MonthOf(time.Now()).AddMonths(-1).String()
	code, _, stderr := runXS(t, "testdata", "xsozial", "--bgs", "40", "--seed", "5", "--month", month, "--out", src)
	if code != exitOK {
		t.Fatalf("testdata xsozial: %d %s", code, stderr)
	}
	m, _ := schemas.ParseMonth(month)
	out := filepath.Join(dir, check.FileName("12345", m, false))
	build := func(dst string) {
		t.Helper()
		code, _, stderr := runXS(t, "xsozial", "build", "--traeger", "12345", "--month", month, "--in", src, "--out", dst, "--created", "2026-11-02T08:00:00Z")
		if code != exitOK || !strings.Contains(stderr, "40 BGs") {
			t.Fatalf("build: %d %s", code, stderr)
		}
	}
	build(out)
	if st, err := os.Stat(out); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("built dataset %s: %v %v, want 0600 (it holds personal data)", out, st.Mode(), err)
	}
	again := filepath.Join(dir, "again.xml")
	build(again)
	a, _ := os.ReadFile(out)
	b, _ := os.ReadFile(again)
	if !bytes.Equal(a, b) {
		t.Fatal("two builds of the same input differ")
	}

	t.Run("check clean", func(t *testing.T) {
		for _, format := range []string{"text", "json", "html"} {
			code, stdout, stderr := runXS(t, "xsozial", "check", "--traeger", "12345", "--format", format, out)
			if code != exitOK {
				t.Fatalf("%s: exit %d\n%s%s", format, code, stdout, stderr)
			}
			if format == "html" && !strings.Contains(stdout, "Kennzahlen") {
				t.Errorf("html report without key figures")
			}
		}
		code, stdout, _ := runXS(t, "xsozial", "check", "--traeger", "54321", out)
		if code != exitFindings || !strings.Contains(stdout, "RTX_0050") {
			t.Errorf("wrong Träger: exit %d\n%s", code, stdout)
		}
	})

	t.Run("unusable input", func(t *testing.T) {
		bad := filepath.Join(dir, "bad")
		os.MkdirAll(bad, 0o755)
		os.WriteFile(filepath.Join(bad, "a.jsonl"), []byte("{\"satz\":\"person\",\"bg\":\"12345BG0000001\",\"kundennummer\":\"123X\"}\n"), 0o644)
		dst := filepath.Join(dir, "bad.xml")
		code, _, stderr := runXS(t, "xsozial", "build", "--traeger", "12345", "--month", month, "--in", bad, "--out", dst)
		if code != exitError || !strings.Contains(stderr, "a.jsonl:1") || !strings.Contains(stderr, `field "kundennummer" (Merkmal 3.1)`) {
			t.Errorf("exit %d, stderr %q; want exit 2 naming file, line and field", code, stderr)
		}
		if _, err := os.Stat(dst); !os.IsNotExist(err) {
			t.Errorf("a failed build left %s behind", dst)
		}
	})

	t.Run("faulty and feedback", func(t *testing.T) {
		fsrc := filepath.Join(dir, "fsrc")
		runXS(t, "testdata", "xsozial", "--bgs", "40", "--seed", "5", "--month", month, "--out", fsrc, "--faults")
		fout := filepath.Join(dir, "faulty", check.FileName("12345", m, false))
		os.MkdirAll(filepath.Dir(fout), 0o755)
		if code, _, stderr := runXS(t, "xsozial", "build", "--traeger", "12345", "--month", month, "--in", fsrc, "--out", fout); code != exitOK {
			t.Fatal(stderr)
		}
		code, stdout, _ := runXS(t, "xsozial", "check", "--traeger", "12345", fout)
		if code != exitFindings || !strings.Contains(stdout, "PTX    failed") {
			t.Fatalf("faulty: exit %d\n%s", code, stdout)
		}
		// The BA's side: a feedback file from the check report.
		reg, _ := schemas.Load(schemas.Options{})
		rep, err := check.CheckFile(context.Background(), fout, check.Options{Registry: reg, Traeger: "12345"})
		if err != nil {
			t.Fatal(err)
		}
		data, _ := os.ReadFile(fout)
		sum := sha256.Sum256(data)
		fbPath := filepath.Join(dir, "rueckmeldung.xml")
		var fbb bytes.Buffer
		feedback.Write(&fbb, feedback.FromReport(rep, filepath.Base(fout), hex.EncodeToString(sum[:]), time.Now()))
		os.WriteFile(fbPath, fbb.Bytes(), 0o644)
		// Mapping shows source records: refused without a purpose, and
		// without a register to log the read in.
		regFile := filepath.Join(dir, "register.db")
		code, _, stderr := runXS(t, "xsozial", "feedback", fbPath, "--dataset", fout, "--source", fsrc, "--register", regFile)
		if code != exitError || !strings.Contains(stderr, "give --purpose TEXT") {
			t.Errorf("feedback without --purpose: exit %d, %s", code, stderr)
		}
		code, stdout, stderr = runXS(t, "xsozial", "feedback", fbPath, "--dataset", fout, "--source", fsrc, "--register", regFile, "--purpose", "Fehlerklärung")
		if code != exitError || !strings.Contains(stderr, "personal data is shown only with a register to log the read in: register "+regFile+" does not exist") || stdout != "" {
			t.Errorf("feedback without a register: exit %d, %s%s", code, stdout, stderr)
		}
		appendSteps(t, regFile, 1, 1, nil)
		code, stdout, stderr = runXS(t, "xsozial", "feedback", fbPath, "--dataset", fout, "--source", fsrc, "--register", regFile, "--purpose", "Fehlerklärung")
		if code != exitFindings || !strings.Contains(stdout, "abgelehnt") || !strings.Contains(stdout, "source: "+filepath.Join(fsrc, "faelle.jsonl")+":") {
			t.Errorf("feedback: exit %d\n%s%s", code, stdout, stderr)
		}
		code, stdout, stderr = runXS(t, "register", "list", "--accessed", "--register", regFile)
		if code != exitOK || !strings.Contains(stdout, "xsozial feedback --source") || !strings.Contains(stdout, "Fehlerklärung") ||
			!strings.Contains(stdout, "xsozial traeger=12345 month="+month) {
			t.Errorf("register list --accessed: exit %d\n%s%s", code, stdout, stderr)
		}
	})
}
