package checkpoint_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"meldeweg.dev/meldeweg/transport/register"
	"meldeweg.dev/meldeweg/transport/register/checkpoint"
	"meldeweg.dev/meldeweg/transport/register/pgstore"
	"meldeweg.dev/meldeweg/transport/register/pgstore/pgtest"
	"meldeweg.dev/meldeweg/transport/register/sqlitestore"
)

// pg is the PostgreSQL server of this package's tests, started on first use.
var pg pgtest.Shared

func TestMain(m *testing.M) {
	code := m.Run()
	pg.Stop()
	os.Exit(code)
}

// backend opens registers of one kind and can tamper with them behind the
// store's back, as an attacker with database access would.
type backend struct {
	name string
	// open returns a fresh register and a handle to tamper with it.
	open func(t *testing.T) (register.Store, func(stmts ...string))
	// truncate: the statements that cut the register after entry k and
	// move the head along, so a bare chain check still passes.
	truncate func(k int64) []string
}

func backends() []backend {
	return []backend{
		{
			name: "sqlite",
			open: func(t *testing.T) (register.Store, func(...string)) {
				file := filepath.Join(t.TempDir(), "register.db")
				s, err := sqlitestore.Open(context.Background(), file, sqlitestore.Options{})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { s.Close() })
				return s, func(stmts ...string) {
					t.Helper()
					db, err := sql.Open("sqlite", "file:"+file+"?_busy_timeout=5000")
					if err != nil {
						t.Fatal(err)
					}
					defer db.Close()
					for _, q := range stmts {
						if _, err := db.Exec(q); err != nil {
							t.Fatalf("%s: %v", q, err)
						}
					}
				}
			},
			truncate: func(k int64) []string {
				return []string{
					`DROP TRIGGER register_entries_no_update`, `DROP TRIGGER register_entries_no_delete`,
					fmt.Sprintf(`DELETE FROM register_entries WHERE seq > %d`, k),
					fmt.Sprintf(`UPDATE register_head SET seq = %d, hash = (SELECT hash FROM register_entries WHERE seq = %d)`, k, k),
					// put the guards back, so that verify finds nothing amiss
					`CREATE TRIGGER register_entries_no_update BEFORE UPDATE ON register_entries BEGIN SELECT RAISE(ABORT, 'register entries are append-only: UPDATE refused'); END`,
					`CREATE TRIGGER register_entries_no_delete BEFORE DELETE ON register_entries BEGIN SELECT RAISE(ABORT, 'register entries are append-only: DELETE refused'); END`,
				}
			},
		},
		{
			name: "postgres",
			open: func(t *testing.T) (register.Store, func(...string)) {
				ctx := context.Background()
				dsn := pg.NewDB(t)
				s, err := pgstore.Open(ctx, dsn, pgstore.Options{})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { s.Close() })
				return s, func(stmts ...string) {
					t.Helper()
					c, err := pgx.Connect(ctx, dsn)
					if err != nil {
						t.Fatal(err)
					}
					defer c.Close(ctx)
					for _, q := range stmts {
						if _, err := c.Exec(ctx, q); err != nil {
							t.Fatalf("%s: %v", q, err)
						}
					}
				}
			},
			truncate: func(k int64) []string {
				return []string{
					`ALTER TABLE register_entries DISABLE TRIGGER USER`,
					fmt.Sprintf(`DELETE FROM register_entries WHERE seq > %d`, k),
					fmt.Sprintf(`UPDATE register_head SET seq = %d, hash = (SELECT hash FROM register_entries WHERE seq = %d)`, k, k),
					`ALTER TABLE register_entries ENABLE TRIGGER USER`, // the guards back on
				}
			},
		},
	}
}

// entry returns the i-th entry of the test history; detail overrides its
// Detail (a rewrite).
func entry(i int, detail string) register.AppendParams {
	if detail == "" {
		detail = fmt.Sprintf("step %d", i)
	}
	return register.AppendParams{Direction: register.DirectionOut, Channel: register.ChannelXSozial, Event: register.EventBuilt,
		Actor: register.System("test"), MessageID: register.MessageID(fmt.Sprintf("xsozial-12345-2026-%02d-1", i%12+1)), Detail: detail}
}

func fill(t *testing.T, s register.Store, from, to int, rewrite map[int]string) {
	t.Helper()
	for i := from; i <= to; i++ {
		if _, err := s.Append(context.Background(), entry(i, rewrite[i])); err != nil {
			t.Fatal(err)
		}
	}
}

const origin = "meldeweg.test/jobcenter-12345"

// signed takes, signs and reopens a checkpoint of s, as a witness keeps it.
func signed(t *testing.T, s register.Store) checkpoint.Checkpoint {
	t.Helper()
	skey, vkey, err := checkpoint.GenerateKey(origin)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := checkpoint.Take(context.Background(), s, origin)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := checkpoint.Sign(cp, skey)
	if err != nil {
		t.Fatal(err)
	}
	got, err := checkpoint.Open(msg, vkey)
	if err != nil {
		t.Fatal(err)
	}
	if got != cp {
		t.Fatalf("reopened checkpoint %+v, signed %+v", got, cp)
	}
	return got
}

func mustBreak(t *testing.T, s register.Store, cp checkpoint.Checkpoint, why string) {
	t.Helper()
	if _, err := s.Verify(context.Background(), register.VerifyParams{}); err != nil {
		t.Fatalf("the tampered register fails even the bare chain check (%v); the test does not show what checkpoints add", err)
	}
	_, err := checkpoint.Verify(context.Background(), s, cp)
	var ce *register.ChainError
	if !errors.As(err, &ce) {
		t.Fatalf("%s: checkpoint.Verify = %v, want a *register.ChainError", why, err)
	}
	t.Logf("%s: %v", why, err)
}

func TestCheckpointDetectsWhatAChainCheckCannot(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			t.Run("intact register and its growth verify", func(t *testing.T) {
				s, _ := b.open(t)
				fill(t, s, 1, 10, nil)
				cp := signed(t, s)
				fill(t, s, 11, 15, nil)
				if _, err := checkpoint.Verify(ctx, s, cp); err != nil {
					t.Fatalf("a register that grew past its checkpoint: %v", err)
				}
				if err := checkpoint.Consistent(ctx, s, cp, signed(t, s)); err != nil {
					t.Fatal(err)
				}
			})
			t.Run("last entries deleted", func(t *testing.T) {
				s, tamper := b.open(t)
				fill(t, s, 1, 10, nil)
				cp := signed(t, s)
				tamper(b.truncate(7)...)
				mustBreak(t, s, cp, "truncated")
			})
			t.Run("rewritten and every later hash recomputed", func(t *testing.T) {
				s, _ := b.open(t)
				fill(t, s, 1, 10, nil)
				cp := signed(t, s)
				forged, _ := b.open(t)
				fill(t, forged, 1, 10, map[int]string{3: "step 3, told differently"})
				mustBreak(t, forged, cp, "rewritten")
			})
		})
	}
}

func TestCheckpointDetectsARolledBackCopy(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	file := filepath.Join(dir, "register.db")
	s, err := sqlitestore.Open(ctx, file, sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	fill(t, s, 1, 5, nil)
	s.Close()
	copyFile(t, file, file+".old")
	if s, err = sqlitestore.Open(ctx, file, sqlitestore.Options{}); err != nil {
		t.Fatal(err)
	}
	fill(t, s, 6, 10, nil)
	cp := signed(t, s)
	s.Close()
	copyFile(t, file+".old", file) // the older copy put back
	for _, f := range []string{file + "-wal", file + "-shm"} {
		os.Remove(f)
	}
	old, err := sqlitestore.Open(ctx, file, sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	mustBreak(t, old, cp, "rolled back")
	if err := checkpoint.Consistent(ctx, old, cp, checkpoint.Checkpoint{Origin: origin, Size: 5}); err == nil || !strings.Contains(err.Error(), "rolled back") {
		t.Errorf("a witness shown a smaller checkpoint: %v, want a rollback", err)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestSignedCheckpointsRefuseForgeries(t *testing.T) {
	skey, vkey, _ := checkpoint.GenerateKey(origin)
	cp := checkpoint.Checkpoint{Origin: origin, Size: 3}
	msg, err := checkpoint.Sign(cp, skey)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(msg), origin+"\n3\n") || !strings.Contains(string(msg), "\n\n— "+origin+" ") {
		t.Errorf("not a C2SP signed note:\n%s", msg)
	}
	altered := strings.Replace(string(msg), "\n3\n", "\n4\n", 1)
	if _, err := checkpoint.Open([]byte(altered), vkey); err == nil {
		t.Error("an altered size verified")
	}
	_, otherV, _ := checkpoint.GenerateKey(origin)
	if _, err := checkpoint.Open(msg, otherV); err == nil {
		t.Error("a checkpoint verified under another key")
	}
	otherS, _, _ := checkpoint.GenerateKey("meldeweg.test/other")
	if _, err := checkpoint.Sign(cp, otherS); err == nil {
		t.Error("signed a checkpoint with another register's key")
	}
	for _, body := range []string{"", "o\n", "o\n-1\nAAAA\n", "o\n1\nnot base64\n", "o\n01\n" + strings.Repeat("A", 44) + "\n"} {
		if _, err := checkpoint.ParseBody([]byte(body)); !errors.Is(err, checkpoint.ErrMalformed) {
			t.Errorf("ParseBody(%q) = %v, want ErrMalformed", body, err)
		}
	}
}
