package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"meldeweg.dev/meldeweg/transport/register"
	"meldeweg.dev/meldeweg/transport/register/sqlitestore"
)

// seedRegister writes a small register: an XSozial delivery through the
// outbox (queued, sending, sent, acknowledged) and an inbound eM@w file.
func seedRegister(t *testing.T) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "register.db")
	ctx := context.Background()
	clock := time.Date(2026, 4, 1, 8, 0, 0, 0, time.UTC)
	s, err := sqlitestore.Open(ctx, file, sqlitestore.Options{Clock: func() time.Time { clock = clock.Add(time.Second); return clock }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	key, _ := register.XSozialKey("12345", "2026-03")
	sys := register.System("run")
	ref := register.PayloadRef{SHA256: sha256.Sum256([]byte("delivery")), Size: 8}
	if _, err := s.Enqueue(ctx, register.EnqueueParams{ID: "xs-2026-03", Channel: register.ChannelXSozial, Endpoint: "https://127.0.0.1:8443/xsozial",
		Correlation: key, Payload: ref, Actor: register.Operator("alice")}); err != nil {
		t.Fatal(err)
	}
	ms, err := s.Claim(ctx, register.ClaimParams{Worker: "host-1"})
	if err != nil || len(ms) != 1 {
		t.Fatalf("Claim = %v, %v", ms, err)
	}
	if _, err := s.Transition(ctx, register.MarkSent("xs-2026-03", 1, sys)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Transition(ctx, register.MarkAcknowledged("xs-2026-03", register.PayloadRef{}, sys)); err != nil {
		t.Fatal(err)
	}
	ps, _ := register.NewPseudonymizer(bytes.Repeat([]byte{1}, 32))
	ek, _ := register.EmawKey("123/21/1/14/06", ps.Participant("123D456789", "C1"))
	if _, err := s.Append(ctx, register.AppendParams{Direction: register.DirectionIn, Channel: register.ChannelEmaw, Event: register.EventReceived,
		Actor: register.System("poll"), MessageID: "in-0001", Correlation: ek, Payload: ref, Detail: "Anmeldung"}); err != nil {
		t.Fatal(err)
	}
	return file
}

func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(args, strings.NewReader(""), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestRegisterCommands(t *testing.T) {
	file := seedRegister(t)
	tests := []struct {
		name     string
		args     []string
		wantCode int
		stdout   []string // substrings
		stderr   []string
	}{
		{"list", []string{"register", "list", "--register", file}, exitOK,
			[]string{"SEQ", "queued", "sending", "acknowledged", "received", "xs-2026-03", "operator:alice"}, nil},
		{"list limit", []string{"register", "list", "--register", file, "--limit", "2", "--after", "1"}, exitOK,
			[]string{"\n2 ", "\n3 "}, nil},
		{"list by message", []string{"register", "list", "--message", "in-0001", "--register", file}, exitOK,
			[]string{"received"}, nil},
		{"show entry", []string{"register", "show", "5", "--register", file}, exitOK,
			[]string{"event        received", "correlation  emaw massnahme=123/21/1/14/06 participant=ps1-", "prev hash", "hash"}, nil},
		{"show message", []string{"register", "show", "xs-2026-03", "--register", file}, exitOK,
			[]string{"state        acknowledged", "attempts     1 of 8", "correlation  xsozial traeger=12345 month=2026-03", "sent"}, nil},
		{"show missing entry", []string{"register", "show", "99", "--register", file}, exitError, nil, []string{"no register entry 99"}},
		{"show missing message", []string{"register", "show", "nope", "--register", file}, exitError, nil, []string{"no message nope"}},
		{"verify", []string{"register", "verify", "--register", file}, exitOK, []string{"intact, 5 entries, head "}, nil},
		{"verify missing file", []string{"register", "verify", "--register", file + ".nope"}, exitError, nil, []string{"does not exist"}},
		{"export bad format", []string{"register", "export", "--format", "xml", "--register", file}, exitError, nil, []string{"expected jsonl or csv"}},
		{"show no arg", []string{"register", "show", "--register", file}, exitError, nil, []string{"expected one SEQ"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, tt.args...)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.wantCode, stdout, stderr)
			}
			for _, w := range tt.stdout {
				if !strings.Contains(stdout, w) {
					t.Errorf("stdout lacks %q:\n%s", w, stdout)
				}
			}
			for _, w := range tt.stderr {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
			if strings.Contains(stdout+stderr, "123D456789") {
				t.Errorf("output contains a raw Kundennummer")
			}
		})
	}
	// The read-only commands must not create a register by a typo.
	if _, err := os.Stat(file + ".nope"); err == nil {
		t.Error("verify created a register file")
	}
}

func TestRegisterLocationPrecedence(t *testing.T) {
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "meldeweg.json")
	if err := os.WriteFile(cfgFile, []byte(`{"register": "data/reg.db"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, flag, env, config, want string
	}{
		{"flag wins", "f.db", "e.db", cfgFile, "f.db"},
		{"env next", "", "e.db", cfgFile, "e.db"},
		{"config relative to its file", "", "", cfgFile, filepath.Join(dir, "data", "reg.db")},
		{"default", "", "", "", "meldeweg-register.db"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("MELDEWEG_REGISTER", tt.env)
			t.Setenv("MELDEWEG_CONFIG", "")
			o := &registerOptions{register: tt.flag}
			e := &env{configPath: tt.config, flags: o.settingsFlags}
			s, err := e.settings()
			if err != nil || s.Register.Location != tt.want {
				t.Fatalf("got %+v, %v; want %q", s, err, tt.want)
			}
		})
	}
}

// TestRegisterVerifyCatchesFileEdit edits the database file outside the
// Store API (dropping the trigger that refuses it) and expects verify to
// name the edited entry and export to refuse.
func TestRegisterVerifyCatchesFileEdit(t *testing.T) {
	file := seedRegister(t)
	db, err := sql.Open("sqlite", "file:"+file)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE register_entries SET detail = 'x' WHERE seq = 3`); err == nil || !strings.Contains(err.Error(), "append-only") {
		t.Fatalf("UPDATE through SQL: got %v, want the append-only refusal", err)
	}
	for _, stmt := range []string{`DROP TRIGGER register_entries_no_update`, `UPDATE register_entries SET attempt = 2 WHERE seq = 3`} {
		if _, err := db.Exec(stmt); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	code, stdout, stderr := runCLI(t, "register", "verify", "--register", file)
	if code != exitFindings || !strings.Contains(stdout, "BROKEN at entry 3: stored hash does not match") || !strings.Contains(stdout, "2 entries before it verified") {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	out := filepath.Join(t.TempDir(), "export.jsonl")
	code, _, stderr = runCLI(t, "register", "export", "--register", file, "--output", out)
	if code != exitFindings || !strings.Contains(stderr, "broken at entry 3") {
		t.Fatalf("export of a broken register: exit %d, stderr %s", code, stderr)
	}
	if _, err := os.Stat(out); err == nil {
		t.Fatal("a broken register was exported")
	}
}

// TestRegisterExport checks both formats: every entry, every field, and a
// JSONL export that verifies again on its own.
func TestRegisterExport(t *testing.T) {
	file := seedRegister(t)
	out := filepath.Join(t.TempDir(), "audit.jsonl")
	code, _, stderr := runCLI(t, "register", "export", "--register", file, "--output", out)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(out); st.Mode().Perm() != 0o600 {
		t.Errorf("export mode %v, want 0600", st.Mode().Perm())
	}
	if ents, _ := os.ReadDir(filepath.Dir(out)); len(ents) != 1 {
		t.Errorf("files next to the export: %v, want only the export", ents)
	}
	var entries []register.Entry
	for i, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var r register.Record
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		entries = append(entries, register.RecordEntry(r))
	}
	if len(entries) != 5 {
		t.Fatalf("%d entries exported, want 5", len(entries))
	}
	head := register.Head{Seq: 5, Hash: entries[4].Hash()}
	if _, err := register.VerifyChain(context.Background(), func(yield func(register.Entry, error) bool) {
		for _, e := range entries {
			if !yield(e, nil) {
				return
			}
		}
	}, head); err != nil {
		t.Fatalf("the JSONL export does not verify on its own: %v", err)
	}

	code, stdout, stderr := runCLI(t, "register", "export", "--format", "csv", "--register", file)
	if code != exitOK {
		t.Fatalf("csv: exit %d: %s", code, stderr)
	}
	rows, err := csv.NewReader(strings.NewReader(stdout)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 6 || strings.Join(rows[0], ",") != strings.Join(register.CSVHeader, ",") {
		t.Fatalf("csv has %d rows, header %v", len(rows), rows[0])
	}
	if got, want := rows[5][len(rows[5])-1], entries[4].Hash().String(); got != want {
		t.Fatalf("csv last hash %s, JSONL %s", got, want)
	}
	if strings.Contains(stdout, "123D456789") || strings.Contains(string(data), "123D456789") {
		t.Fatal("an export contains a raw Kundennummer")
	}
}
