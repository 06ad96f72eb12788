package main

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"meldeweg.dev/meldeweg/transport/register"
	"meldeweg.dev/meldeweg/transport/register/payload"
	"meldeweg.dev/meldeweg/transport/register/sqlitestore"
)

// seedDelivered writes a register whose one XSozial delivery was sent and
// acknowledged, its dataset kept sealed with the "sealed" entry and its
// key in the default payload directory (REGISTER.payloads).
func seedDelivered(t *testing.T) (file string, kept register.PayloadRef) {
	t.Helper()
	ctx := context.Background()
	file = filepath.Join(t.TempDir(), "register.db")
	s, err := sqlitestore.Open(ctx, file, sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ps, err := payload.Open(file+".payloads", s)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := ps.Seal(ctx, strings.NewReader(strings.Repeat("<Datensatz/>\n", 100_000)))
	if err != nil {
		t.Fatal(err)
	}
	defer sealed.Close()
	sys := register.System("run")
	key, _ := register.XSozialKey("12345", "2026-03")
	if _, err := s.Enqueue(ctx, register.EnqueueParams{ID: "xs-2026-03", Channel: register.ChannelXSozial, Correlation: key,
		Payload: sealed.Ref, Actor: sys, ClaimBy: "host-1", Before: []register.AppendParams{sealed.Entry(register.AppendParams{
			Direction: register.DirectionOut, Channel: register.ChannelXSozial, Event: register.EventSealed, Actor: sys, MessageID: "xs-2026-03"})}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Transition(ctx, register.MarkSent("xs-2026-03", 1, sys)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Transition(ctx, register.MarkAcknowledged("xs-2026-03", register.PayloadRef{}, sys)); err != nil {
		t.Fatal(err)
	}
	return file, sealed.Ref
}

func sqlExec(t *testing.T, file string, stmts ...string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+file)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, stmt := range stmts {
		if _, err := db.Exec(stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
}

func TestRegisterVerifySaysWhatItChecked(t *testing.T) {
	file, _ := seedDelivered(t)
	code, stdout, stderr := runCLI(t, "register", "verify", "--register", file)
	if code != exitOK {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	for _, want := range []string{
		"intact, 5 entries, head ",
		"chain: 5 entries intact",
		"append-only guards present: register_entries_no_update, register_entries_no_delete",
		"payloads: 1 checked against their entries' size and SHA-256 (1.3 MB), 0 deleted by entry",
		"outbox: 1 message agrees with the chain",
		"not checked: entries removed from the end together with the head (no expected head given); signed checkpoints (none configured)",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	// show names the entry that kept the payload, a field of its hash.
	if code, out, _ := runCLI(t, "register", "show", "1", "--register", file); code != exitOK || !strings.Contains(out, "kept with this entry") {
		t.Errorf("register show 1: exit %d\n%s", code, out)
	}
	head := regexp.MustCompile(`head ([0-9a-f]{64})`).FindStringSubmatch(stdout)[1]
	code, stdout, _ = runCLI(t, "register", "verify", "--register", file, "--expect-head", head)
	if code != exitOK || !strings.Contains(stdout, "expected head: entry 5 of the chain") {
		t.Fatalf("--expect-head of the current head: exit %d\n%s", code, stdout)
	}
	code, _, stderr = runCLI(t, "register", "verify", "--register", file, "--expect-head", "abc")
	if code != exitError || !strings.Contains(stderr, "--expect-head") {
		t.Fatalf("malformed --expect-head: exit %d, %s", code, stderr)
	}
	// Without the key, the output says the contents were not checked,
	// and no key is made.
	nokey := filepath.Join(t.TempDir(), "nokey")
	code, stdout, _ = runCLI(t, "register", "verify", "--register", file, "--payloads", nokey)
	if code != exitOK || !strings.Contains(stdout, "contents not checked") || !strings.Contains(stdout, "not checked: payload contents: payload key "+filepath.Join(nokey, "payload.key")+" does not exist") {
		t.Fatalf("verify without the key: exit %d\n%s", code, stdout)
	}
	if _, err := os.Stat(nokey); !os.IsNotExist(err) {
		t.Fatalf("verify created %s", nokey)
	}
}

// TestRegisterVerifyFindsTampering alters copies of a register after
// dropping its triggers, as issue 17 did: each alteration used to verify
// as intact.
func TestRegisterVerifyFindsTampering(t *testing.T) {
	tests := []struct {
		name  string
		stmts []string
		want  []string
	}{
		{"flipped payload byte", []string{`UPDATE register_payload_chunks SET data = substr(data, 1, 1000) || x'00' || substr(data, 1002) WHERE n = 0`},
			[]string{"FINDING payload ", "kept bytes do not match the entry (entry 1)", "fails authentication"}},
		{"every payload deleted", []string{`DELETE FROM register_payload_chunks`, `DELETE FROM register_payloads`},
			[]string{"FINDING payload ", "the store does not hold it (entry 1)"}},
		{"acknowledged message reset to queued", []string{`UPDATE outbox_messages SET state = 'queued', attempt = 0`},
			[]string{"FINDING outbox xs-2026-03: state differs from the last state entry (entry 5): expected acknowledged at attempt 1, found queued at attempt 0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file, _ := seedDelivered(t)
			sqlExec(t, file, append([]string{`DROP TRIGGER register_entries_no_update`, `DROP TRIGGER register_entries_no_delete`}, tt.stmts...)...)
			code, stdout, stderr := runCLI(t, "register", "verify", "--register", file)
			if code != exitFindings {
				t.Fatalf("exit %d, want %d\n%s%s", code, exitFindings, stdout, stderr)
			}
			for _, want := range append(tt.want, "FINDING guard register_entries_no_update: append-only trigger missing (trigger dropped)\n") {
				if !strings.Contains(stdout, want) {
					t.Errorf("output lacks %q:\n%s", want, stdout)
				}
			}
			if strings.Contains(stdout, "intact,") || strings.Contains(stdout, "Datensatz") {
				t.Errorf("output:\n%s", stdout)
			}
		})
	}
}
