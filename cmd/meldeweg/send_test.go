package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"meldeweg.dev/meldeweg/basim"
	"meldeweg.dev/meldeweg/basim/bacheck"
	"meldeweg.dev/meldeweg/emaw"
	"meldeweg.dev/meldeweg/emaw/msg"
	"meldeweg.dev/meldeweg/schemas"
	"meldeweg.dev/meldeweg/transport/register"
	"meldeweg.dev/meldeweg/xsozial/check"
)

// Defect: "send" skipped every check. It delivered an XSozial dataset that
// had failed PTX and queued a text file holding "hello" as an eM@w upload.
// Now what fails its channel's checks is refused with its findings (exit
// 1) and nothing is queued or reaches the BA; what passes is sent.
func TestSendChecksBeforeQueueing(t *testing.T) {
	ba := startBA(t, bacheck.Config{}, basim.Faults{})
	dir := t.TempDir()
	month := schemas.MonthOf(time.Now()).AddMonths(-1)
	dataset := func(name string, faults bool) string {
		t.Helper()
		src := filepath.Join(dir, name+"-src")
		args := []string{"testdata", "xsozial", "--bgs", "30", "--seed", "5", "--month", month.String(), "--traeger", "12345", "--out", src}
		if faults {
			args = append(args, "--faults")
		}
		if code, _, stderr := runXS(t, args...); code != exitOK {
			t.Fatalf("testdata: %s", stderr)
		}
		out := filepath.Join(dir, name, check.FileName("12345", month, false))
		os.MkdirAll(filepath.Dir(out), 0o700)
		if code, _, stderr := runXS(t, "xsozial", "build", "--traeger", "12345", "--month", month.String(), "--in", src, "--out", out); code != exitOK {
			t.Fatalf("build: %s", stderr)
		}
		return out
	}
	faulty := dataset("faulty", true)
	clean := dataset("clean", false)
	hello := filepath.Join(dir, "hello.zip")
	if err := os.WriteFile(hello, []byte("hello\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	broken := filepath.Join(dir, "broken.zip")
	bad := example(msg.TypeAustritt, "EV-REJ").(*msg.Austritt)
	bad.Grund = "" // required by the rules, optional in the schema
	bad.Austrittsdatum = emaw.MustDate("2026-03-20")
	writeUpload(t, broken, example(msg.TypeEintritt, "EV-OK"), bad)
	regFile := filepath.Join(dir, "register.db")
	conn := []string{"--pki", ba.pkiDir, "--url", ba.url, "--register", regFile}

	refused := []struct {
		name, file, channel string
		wantErr             []string
	}{
		{"xsozial failing PTX", faulty, "xsozial", []string{"PTX failed", "PTX R", "nothing was queued", "meldeweg xsozial check"}},
		{"text file as eM@w upload", hello, "emaw", []string{"hello.zip", "not a valid eM@w upload", "nothing was queued"}},
		{"eM@w event breaking a rule", broken, "emaw", []string{"Austritt EV-REJ: Austritt/Grund", "[austritt-grund-verbleib]", "nothing was queued"}},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runXS(t, append([]string{"send", tt.file, "--channel", tt.channel}, conn...)...)
			if code != exitFindings {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, exitFindings, stdout, stderr)
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(stderr, want) {
					t.Errorf("stderr lacks %q:\n%s", want, stderr)
				}
			}
		})
	}
	if n := len(ba.server.Accepted()); n != 0 {
		t.Errorf("the BA received %d uploads of refused files", n)
	}
	store := openRegisterT(t, regFile)
	if msgs, err := store.Messages(context.Background(), register.MessagesParams{}); err != nil || len(msgs) != 0 {
		t.Errorf("refused files were queued: %d messages, %v", len(msgs), err)
	}
	store.Close()

	// A dataset that passes is sent.
	runOK(t, 0, "sent xsozial-", append([]string{"send", clean, "--channel", "xsozial"}, conn...)...)
	if n := len(ba.server.Accepted()); n != 1 {
		t.Errorf("the BA accepted %d uploads, want the clean dataset", n)
	}
}
