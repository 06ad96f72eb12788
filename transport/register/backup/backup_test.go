package backup_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"meldeweg.dev/meldeweg/transport/register"
	"meldeweg.dev/meldeweg/transport/register/backup"
	"meldeweg.dev/meldeweg/transport/register/checkpoint"
	"meldeweg.dev/meldeweg/transport/register/payload"
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

// target is one backend: a register to back up, and a fresh place to
// restore into.
type target struct {
	name string
	// open returns a new register's location, its store and its payload
	// key directory.
	open func(t *testing.T) (string, register.Store)
	into func(t *testing.T) string
	// dump is the backup's register file.
	dump string
}

func pgDSN(t *testing.T) string { return pg.NewDB(t) }

func targets() []target {
	return []target{
		{
			name: "sqlite",
			open: func(t *testing.T) (string, register.Store) {
				file := filepath.Join(t.TempDir(), "register.db")
				s, err := sqlitestore.Open(context.Background(), file, sqlitestore.Options{})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { s.Close() })
				return file, s
			},
			into: func(t *testing.T) string { return filepath.Join(t.TempDir(), "restored") },
			dump: "register.db",
		},
		{
			name: "postgres",
			open: func(t *testing.T) (string, register.Store) {
				dsn := pgDSN(t)
				s, err := pgstore.Open(context.Background(), dsn, pgstore.Options{})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { s.Close() })
				return dsn, s
			},
			into: pgDSN,
			dump: "register.pgdump",
		},
	}
}

const origin = "meldeweg.test/jobcenter-12345"

func step(i int) register.AppendParams {
	return register.AppendParams{Direction: register.DirectionOut, Channel: register.ChannelXSozial, Event: register.EventBuilt,
		Actor: register.System("test"), MessageID: register.MessageID(fmt.Sprintf("m-%d", i)), Detail: fmt.Sprintf("step %d", i)}
}

// seed fills a register with sealed payloads and entries, and a signed
// checkpoint of it in a checkpoint directory; it returns the key
// directory, the checkpoint directory and the verifier key.
func seed(t *testing.T, s register.Store) (keys, cps, vkey string) {
	t.Helper()
	ctx := context.Background()
	keys = filepath.Join(t.TempDir(), "payloads")
	ps, err := payload.Open(keys, s)
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 3; i++ {
		sealed, err := ps.Seal(ctx, strings.NewReader(strings.Repeat(fmt.Sprintf("<Datensatz n=\"%d\"/>\n", i), 20_000)))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Append(ctx, sealed.Entry(step(i))); err != nil {
			t.Fatal(err)
		}
		sealed.Close()
	}
	skey, vkey, err := checkpoint.GenerateKey(origin)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := checkpoint.Take(ctx, s, origin)
	if err != nil {
		t.Fatal(err)
	}
	signed, err := checkpoint.Sign(cp, skey)
	if err != nil {
		t.Fatal(err)
	}
	cps = filepath.Join(t.TempDir(), "checkpoints")
	if err := checkpoint.WriteDir(cps, cp.Size, signed); err != nil {
		t.Fatal(err)
	}
	return keys, cps, vkey
}

// TestBackupWhileAppendingRestores backs up a register while another
// goroutine appends to it, and restores the backup: the snapshot is
// consistent (its chain ends in the manifest's head), the checkpoint's
// prefix holds and every kept payload opens with the backed-up key.
func TestBackupWhileAppendingRestores(t *testing.T) {
	for _, tg := range targets() {
		t.Run(tg.name, func(t *testing.T) {
			ctx := context.Background()
			loc, s := tg.open(t)
			keys, cps, vkey := seed(t, s)
			out := filepath.Join(t.TempDir(), "backup")

			var wg sync.WaitGroup
			stop, started := make(chan struct{}), make(chan struct{})
			appended := 0
			var once sync.Once
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer once.Do(func() { close(started) })
				for i := 100; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					if _, err := s.Append(ctx, step(i)); err != nil {
						t.Error(err)
						return
					}
					appended++
					if appended == 20 {
						once.Do(func() { close(started) })
					}
				}
			}()
			<-started
			m, err := backup.Create(ctx, backup.Options{Register: loc, Payloads: keys, CheckpointDir: cps, Out: out, Tool: "meldeweg test"})
			close(stop)
			wg.Wait()
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("backup of %d entries while %d were appended", m.Entries, appended)
			if m.Entries < 3 || m.Checkpoint == "" || len(m.Files) < 2 {
				t.Fatalf("manifest %+v", m)
			}
			for _, f := range m.Files {
				if f.Name == "payloads/payload.key" {
					goto keyed
				}
			}
			t.Fatalf("the payload key is not in the backup: %+v", m.Files)
		keyed:
			if fi, _ := os.Stat(out); fi.Mode().Perm() != 0o700 {
				t.Errorf("backup directory is %04o", fi.Mode().Perm())
			}
			filepath.Walk(out, func(p string, fi os.FileInfo, err error) error {
				if err == nil && !fi.IsDir() && fi.Mode().Perm() != 0o600 {
					t.Errorf("%s is %04o", p, fi.Mode().Perm())
				}
				return nil
			})

			rep, err := backup.Restore(ctx, backup.RestoreOptions{Backup: out, Into: tg.into(t), VerifierKey: vkey})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Verify.Entries != m.Entries || rep.Verify.Head != m.Head || rep.Checkpoint.Size != 3 || rep.Verify.Payloads.Checked != 3 || len(rep.NotChecked) != 0 {
				t.Errorf("report %+v, not checked %q", rep.Verify, rep.NotChecked)
			}
			if _, err := backup.Restore(ctx, backup.RestoreOptions{Backup: out, Into: filepath.Dir(out)}); err == nil {
				t.Error("restored into a place that is not empty")
			}
		})
	}
}

// TestRestoreNamesDamage: a flipped byte, a truncated register file and
// a manifest that disagrees with the register are each reported as such.
func TestRestoreNamesDamage(t *testing.T) {
	for _, tg := range targets() {
		t.Run(tg.name, func(t *testing.T) {
			ctx := context.Background()
			loc, s := tg.open(t)
			keys, cps, vkey := seed(t, s)
			fresh := func(t *testing.T) string {
				out := filepath.Join(t.TempDir(), "backup")
				if _, err := backup.Create(ctx, backup.Options{Register: loc, Payloads: keys, CheckpointDir: cps, Out: out}); err != nil {
					t.Fatal(err)
				}
				return out
			}
			t.Run("flipped byte", func(t *testing.T) {
				out := fresh(t)
				f := filepath.Join(out, tg.dump)
				b, _ := os.ReadFile(f)
				b[len(b)/2] ^= 0x01
				os.WriteFile(f, b, 0o600)
				_, err := backup.Restore(ctx, backup.RestoreOptions{Backup: out, Into: tg.into(t), VerifierKey: vkey})
				var de *backup.DamageError
				if !errors.As(err, &de) || de.Kind != "corrupted" || de.File != f || !strings.Contains(err.Error(), "expected SHA-256 ") {
					t.Fatalf("got %v, want %s corrupted", err, f)
				}
			})
			t.Run("truncated", func(t *testing.T) {
				out := fresh(t)
				f := filepath.Join(out, tg.dump)
				fi, _ := os.Stat(f)
				os.Truncate(f, fi.Size()/3)
				_, err := backup.Restore(ctx, backup.RestoreOptions{Backup: out, Into: tg.into(t), VerifierKey: vkey})
				var de *backup.DamageError
				if !errors.As(err, &de) || de.Kind != "truncated" || !errors.Is(err, backup.ErrDamaged) {
					t.Fatalf("got %v, want %s truncated", err, f)
				}
			})
			t.Run("manifest mismatch", func(t *testing.T) {
				out := fresh(t)
				mf := filepath.Join(out, backup.ManifestName)
				var m map[string]any
				b, _ := os.ReadFile(mf)
				json.Unmarshal(b, &m)
				m["entries"] = 2
				b, _ = json.Marshal(m)
				os.WriteFile(mf, b, 0o600)
				_, err := backup.Restore(ctx, backup.RestoreOptions{Backup: out, Into: tg.into(t), VerifierKey: vkey})
				if !errors.Is(err, backup.ErrMismatch) || !strings.Contains(err.Error(), "the manifest says 2 entries") {
					t.Fatalf("got %v, want a mismatch", err)
				}
			})
			t.Run("no manifest", func(t *testing.T) {
				out := fresh(t)
				os.Remove(filepath.Join(out, backup.ManifestName))
				_, err := backup.Restore(ctx, backup.RestoreOptions{Backup: out, Into: tg.into(t)})
				if !errors.Is(err, backup.ErrDamaged) || !strings.Contains(err.Error(), "missing") {
					t.Fatalf("got %v", err)
				}
			})
		})
	}
}
