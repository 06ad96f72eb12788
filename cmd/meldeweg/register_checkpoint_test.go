package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"meldeweg.dev/meldeweg/transport/register"
	"meldeweg.dev/meldeweg/transport/register/pgstore"
	"meldeweg.dev/meldeweg/transport/register/sqlitestore"
)

// cliBackend makes registers of one kind for the command tests and
// tampers with them as someone with database access would.
type cliBackend struct {
	name     string
	location func(t *testing.T) string
	exec     func(t *testing.T, loc string, stmts ...string)
	// truncate: cut the register after entry k, move the head along and
	// put the append-only guards back, so that a bare verify passes.
	truncate func(k int64) []string
}

func cliBackends() []cliBackend {
	return []cliBackend{
		{
			name:     "sqlite",
			location: func(t *testing.T) string { return filepath.Join(t.TempDir(), "register.db") },
			exec:     func(t *testing.T, loc string, stmts ...string) { t.Helper(); sqlExec(t, loc, stmts...) },
			truncate: func(k int64) []string {
				return []string{
					`DROP TRIGGER register_entries_no_update`, `DROP TRIGGER register_entries_no_delete`,
					fmt.Sprintf(`DELETE FROM register_entries WHERE seq > %d`, k),
					fmt.Sprintf(`UPDATE register_head SET seq = %d, hash = (SELECT hash FROM register_entries WHERE seq = %d)`, k, k),
					`CREATE TRIGGER register_entries_no_update BEFORE UPDATE ON register_entries BEGIN SELECT RAISE(ABORT, 'register entries are append-only: UPDATE refused'); END`,
					`CREATE TRIGGER register_entries_no_delete BEFORE DELETE ON register_entries BEGIN SELECT RAISE(ABORT, 'register entries are append-only: DELETE refused'); END`,
				}
			},
		},
		{
			name:     "postgres",
			location: postgresRegister,
			exec: func(t *testing.T, loc string, stmts ...string) {
				t.Helper()
				ctx := context.Background()
				c, err := pgx.Connect(ctx, loc)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close(ctx)
				for _, q := range stmts {
					if _, err := c.Exec(ctx, q); err != nil {
						t.Fatalf("%s: %v", q, err)
					}
				}
			},
			truncate: func(k int64) []string {
				return []string{
					`ALTER TABLE register_entries DISABLE TRIGGER USER`,
					fmt.Sprintf(`DELETE FROM register_entries WHERE seq > %d`, k),
					fmt.Sprintf(`UPDATE register_head SET seq = %d, hash = (SELECT hash FROM register_entries WHERE seq = %d)`, k, k),
					`ALTER TABLE register_entries ENABLE TRIGGER USER`,
				}
			},
		},
	}
}

// openTestRegister opens the register at loc directly.
func openTestRegister(t *testing.T, loc string) register.Store {
	t.Helper()
	ctx := context.Background()
	var s register.Store
	var err error
	if strings.HasPrefix(loc, "postgres") {
		s, err = pgstore.Open(ctx, loc, pgstore.Options{})
	} else {
		s, err = sqlitestore.Open(ctx, loc, sqlitestore.Options{})
	}
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// appendSteps appends entries from to to (1-based step numbers); rewrite
// tells some steps differently.
func appendSteps(t *testing.T, loc string, from, to int, rewrite map[int]string) {
	t.Helper()
	s := openTestRegister(t, loc)
	defer s.Close()
	for i := from; i <= to; i++ {
		d := fmt.Sprintf("step %d", i)
		if r, ok := rewrite[i]; ok {
			d = r
		}
		if _, err := s.Append(context.Background(), register.AppendParams{Direction: register.DirectionOut, Channel: register.ChannelXSozial,
			Event: register.EventBuilt, Actor: register.System("test"), MessageID: register.MessageID(fmt.Sprintf("m-%d", i)), Detail: d}); err != nil {
			t.Fatal(err)
		}
	}
}

// checkpointConfig makes checkpoint keys and writes a configuration file
// for the register at loc; it returns the file and the checkpoint
// directory.
func checkpointConfig(t *testing.T, loc string) (cfg, dir string) {
	t.Helper()
	base := t.TempDir()
	keys := filepath.Join(base, "keys")
	if code, out, errOut := runCLI(t, "register", "checkpoint", "keygen", "--origin", "meldeweg.test/jobcenter-12345", "--out", keys); code != exitOK {
		t.Fatalf("keygen: exit %d\n%s%s", code, out, errOut)
	}
	dir = filepath.Join(base, "witness")
	b, _ := json.Marshal(map[string]string{
		"register": loc, "payloads": filepath.Join(base, "payloads"),
		"checkpoint_origin": "meldeweg.test/jobcenter-12345", "checkpoint_dir": dir,
		"checkpoint_signer_key": filepath.Join(keys, "checkpoint.key"), "checkpoint_verifier_key": filepath.Join(keys, "checkpoint.pub"),
	})
	cfg = filepath.Join(base, "meldeweg.json")
	if err := os.WriteFile(cfg, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return cfg, dir
}

func wantOutput(t *testing.T, what string, code, wantCode int, out string, want ...string) {
	t.Helper()
	if code != wantCode {
		t.Fatalf("%s: exit %d, want %d\n%s", what, code, wantCode, out)
	}
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("%s: output lacks %q:\n%s", what, w, out)
		}
	}
}

// TestRegisterCheckpointCommand takes checkpoints through the command and
// shows that "register verify --checkpoint" finds a tail cut off, a chain
// rewritten with every later hash recomputed, and (SQLite) an older copy
// put back — each of which a bare verify passes.
func TestRegisterCheckpointCommand(t *testing.T) {
	for _, b := range cliBackends() {
		t.Run(b.name, func(t *testing.T) {
			loc := b.location(t)
			cfg, dir := checkpointConfig(t, loc)
			appendSteps(t, loc, 1, 5, nil)
			var old string
			if b.name == "sqlite" {
				old = filepath.Join(t.TempDir(), "old.db")
				copyRegisterFile(t, loc, old)
			}
			appendSteps(t, loc, 6, 10, nil)

			code, out, errOut := runCLI(t, "--config", cfg, "register", "checkpoint")
			wantOutput(t, "first checkpoint", code, exitOK, out+errOut, "checkpoint meldeweg.test/jobcenter-12345: size 10, head ", "recorded as entry 11")
			first := filepath.Join(dir, "checkpoint-10")
			if fi, err := os.Stat(first); err != nil || fi.Mode().Perm() != 0o600 {
				t.Fatalf("%s: %v %v", first, fi, err)
			}
			code, out, errOut = runCLI(t, "--config", cfg, "register", "list", "--after", "10")
			wantOutput(t, "list", code, exitOK, out+errOut, "checkpoint", "size=10 head=")

			code, out, errOut = runCLI(t, "--config", cfg, "register", "verify", "--checkpoint", filepath.Join(dir, "latest"))
			wantOutput(t, "verify against the checkpoint", code, exitOK, out+errOut, "intact, 11 entries", "prefix of 10 entries proved")
			if strings.Contains(out, "signed checkpoints (none configured)") {
				t.Errorf("verify still says checkpoints were not checked:\n%s", out)
			}

			appendSteps(t, loc, 12, 13, nil)
			code, out, errOut = runCLI(t, "--config", cfg, "register", "checkpoint")
			wantOutput(t, "second checkpoint", code, exitOK, out+errOut, "size 13", "recorded as entry 14")
			code, out, errOut = runCLI(t, "--config", cfg, "register", "verify", "--checkpoint", dir)
			wantOutput(t, "verify against the directory", code, exitOK, out+errOut, "checkpoint-10: signature", "checkpoint-13: signature")

			t.Run("rewritten and every later hash recomputed", func(t *testing.T) {
				forged := b.location(t)
				appendSteps(t, forged, 1, 10, map[int]string{3: "step 3, told differently"})
				if code, out, _ := runCLI(t, "--config", cfg, "register", "verify", "--register", forged); code != exitOK {
					t.Fatalf("the forged register fails a bare verify:\n%s", out)
				}
				code, out, errOut := runCLI(t, "--config", cfg, "register", "verify", "--register", forged, "--checkpoint", first)
				wantOutput(t, "forged", code, exitFindings, out+errOut, "BROKEN against checkpoint "+first, "at entry 10: last entry does not match the recorded head", "expected ", "found ")
			})

			t.Run("last entries deleted", func(t *testing.T) {
				b.exec(t, loc, b.truncate(7)...)
				if code, out, _ := runCLI(t, "--config", cfg, "register", "verify"); code != exitOK {
					t.Fatalf("the truncated register fails a bare verify:\n%s", out)
				}
				code, out, errOut := runCLI(t, "--config", cfg, "register", "verify", "--checkpoint", filepath.Join(dir, "latest"))
				wantOutput(t, "truncated", code, exitFindings, out+errOut, "BROKEN against checkpoint", "at entry 8: entries missing at the end: the head names entry 13")
				// The witness check refuses to move on from a checkpoint
				// the register no longer holds.
				code, out, errOut = runCLI(t, "--config", cfg, "register", "checkpoint")
				wantOutput(t, "checkpoint after truncation", code, exitFindings, out+errOut, "witness check against "+filepath.Join(dir, "checkpoint-13"), "no checkpoint written")
				if _, err := os.Stat(filepath.Join(dir, "checkpoint-7")); !os.IsNotExist(err) {
					t.Errorf("a checkpoint of the truncated register was written: %v", err)
				}
			})

			if old == "" {
				return
			}
			t.Run("older copy put back", func(t *testing.T) {
				copyRegisterFile(t, old, loc)
				if code, out, _ := runCLI(t, "--config", cfg, "register", "verify"); code != exitOK {
					t.Fatalf("the older copy fails a bare verify:\n%s", out)
				}
				code, out, errOut := runCLI(t, "--config", cfg, "register", "verify", "--checkpoint", first)
				wantOutput(t, "rolled back", code, exitFindings, out+errOut, "BROKEN against checkpoint", "at entry 6: entries missing at the end: the head names entry 10")
			})
		})
	}
}

// copyRegisterFile copies a closed SQLite register, without its WAL.
func copyRegisterFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{to + "-wal", to + "-shm"} {
		os.Remove(f)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestRegisterCheckpointNeedsItsSettings(t *testing.T) {
	loc := filepath.Join(t.TempDir(), "register.db")
	appendSteps(t, loc, 1, 1, nil)
	code, _, errOut := runCLI(t, "register", "checkpoint", "--register", loc)
	if code != exitError || !strings.Contains(errOut, "checkpoint_origin: not set") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	code, _, errOut = runCLI(t, "register", "verify", "--register", loc, "--checkpoint", loc)
	if code != exitError || !strings.Contains(errOut, "checkpoint_verifier_key: not set") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
}
