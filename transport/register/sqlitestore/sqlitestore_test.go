package sqlitestore_test

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"meldeweg.dev/meldeweg/transport/register"
	"meldeweg.dev/meldeweg/transport/register/registertest"
	"meldeweg.dev/meldeweg/transport/register/sqlitestore"
)

func openAt(t *testing.T, file string, clock register.Clock) *sqlitestore.Store {
	t.Helper()
	s, err := sqlitestore.Open(context.Background(), file, sqlitestore.Options{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	registertest.Exercise(t, func(t *testing.T, clock register.Clock) (register.Store, registertest.Tamper) {
		file := filepath.Join(t.TempDir(), "register.db")
		return openAt(t, file, clock), tamper{file}
	})
}

// tamper changes the file as someone with write access to it could.
type tamper struct{ file string }

func (tm tamper) exec(t testing.TB, stmt string, args ...any) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+tm.file+"?_busy_timeout=5000")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(stmt, args...); err != nil {
		t.Fatalf("%s: %v", stmt, err)
	}
}

func (tm tamper) DropGuards(t testing.TB) {
	tm.exec(t, `DROP TRIGGER register_entries_no_update`)
	tm.exec(t, `DROP TRIGGER register_entries_no_delete`)
}

func (tm tamper) FlipPayloadByte(t testing.TB, sum register.Hash) {
	tm.exec(t, `UPDATE register_payload_chunks SET data = substr(data, 1, length(data)/2) || x'00' || substr(data, length(data)/2 + 2)
		WHERE sha256 = ? AND n = 0`, sum[:])
}

func (tm tamper) DeleteMessage(t testing.TB, id register.MessageID) {
	tm.exec(t, `DELETE FROM outbox_messages WHERE id = ?`, string(id))
}

func (tm tamper) DeletePayloads(t testing.TB) {
	tm.exec(t, `DELETE FROM register_payload_chunks`)
	tm.exec(t, `DELETE FROM register_payloads`)
}

func (tm tamper) SetMessageState(t testing.TB, id register.MessageID, state register.MessageState, attempt int) {
	tm.exec(t, `UPDATE outbox_messages SET state = ?, attempt = ? WHERE id = ?`, state, attempt, id)
}

func seed(t *testing.T, s register.Store, n int) []register.Entry {
	t.Helper()
	var out []register.Entry
	for i := range n {
		e, err := s.Append(context.Background(), register.AppendParams{
			Direction: register.DirectionOut, Channel: register.ChannelXSozial, Event: register.EventBuilt,
			Actor: register.Operator("alice"), Detail: fmt.Sprintf("entry %d", i+1),
			Payload: register.PayloadRef{SHA256: sha256.Sum256([]byte{byte(i)}), Size: 1},
		})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	return out
}

// rawDB opens the file with the sqlite driver directly, outside the Store
// API, as someone with write access to the file would.
func rawDB(t *testing.T, file string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+file+"?_busy_timeout=5000")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestSQLRefusesUpdateAndDelete(t *testing.T) {
	file := filepath.Join(t.TempDir(), "register.db")
	s := openAt(t, file, nil)
	seed(t, s, 3)
	db := rawDB(t, file)
	for _, stmt := range []string{
		`UPDATE register_entries SET detail = 'forged' WHERE seq = 2`,
		`DELETE FROM register_entries WHERE seq = 3`,
		`DELETE FROM register_entries`,
	} {
		_, err := db.Exec(stmt)
		if err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: got %v, want the append-only refusal", stmt, err)
		}
	}
	if _, err := s.Verify(context.Background(), register.VerifyParams{}); err != nil {
		t.Fatalf("register no longer verifies after refused statements: %v", err)
	}
}

func TestVerifyCatchesDirectEdits(t *testing.T) {
	tests := []struct {
		name    string
		sql     []string
		wantSeq int64
		reason  string
	}{
		{"detail changed", []string{`UPDATE register_entries SET detail = 'forged' WHERE seq = 4`}, 4, "stored hash does not match"},
		{"payload hash changed", []string{`UPDATE register_entries SET payload_size = 2 WHERE seq = 2`}, 2, "stored hash does not match"},
		{"entry removed", []string{`DELETE FROM register_entries WHERE seq = 3`}, 3, "entry missing"},
		{"tail removed", []string{`DELETE FROM register_entries WHERE seq >= 5`}, 5, "entries missing at the end"},
		{"tail removed and head rewound", []string{`DELETE FROM register_entries WHERE seq = 6`,
			`UPDATE register_head SET seq = 5, hash = (SELECT hash FROM register_entries WHERE seq = 5)`}, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "register.db")
			s := openAt(t, file, nil)
			entries := seed(t, s, 6)
			db := rawDB(t, file)
			for _, stmt := range []string{`DROP TRIGGER register_entries_no_update`, `DROP TRIGGER register_entries_no_delete`} {
				if _, err := db.Exec(stmt); err != nil {
					t.Fatal(err)
				}
			}
			for _, stmt := range tt.sql {
				if _, err := db.Exec(stmt); err != nil {
					t.Fatalf("%s: %v", stmt, err)
				}
			}
			rep, err := s.Verify(context.Background(), register.VerifyParams{})
			if tt.wantSeq == 0 {
				// Truncating the tail and rewinding the head consistently is
				// beyond what a hash chain alone can see: only the dropped
				// triggers are reported. An auditor's noted head hash
				// (ExpectHead) catches it.
				var fe *register.FindingsError
				if !errors.As(err, &fe) || rep.Entries != 5 || len(fe.Findings) != 2 || fe.Findings[0].Check != "guard" {
					t.Fatalf("got %d entries, %v; want 5 entries verified and the two dropped triggers", rep.Entries, err)
				}
				_, err = s.Verify(context.Background(), register.VerifyParams{ExpectHead: entries[5].Hash()})
				if !errors.As(err, &fe) || fe.Findings[0].Check != "head" {
					t.Fatalf("with the head noted before: got %v, want a head finding", err)
				}
				return
			}
			var ce *register.ChainError
			if !errors.As(err, &ce) {
				t.Fatalf("got %v, want a *ChainError", err)
			}
			if ce.Seq != tt.wantSeq || !strings.Contains(ce.Reason, tt.reason) {
				t.Fatalf("got entry %d (%s), want entry %d (%s)", ce.Seq, ce.Reason, tt.wantSeq, tt.reason)
			}
		})
	}
}

func TestSchemaVersionFromTheFutureIsRefused(t *testing.T) {
	file := filepath.Join(t.TempDir(), "register.db")
	s := openAt(t, file, nil)
	v, err := s.SchemaVersion(context.Background())
	if err != nil || v != sqlitestore.MigrationVersions()[len(sqlitestore.MigrationVersions())-1] {
		t.Fatalf("SchemaVersion = %d, %v", v, err)
	}
	s.Close()
	if _, err := rawDB(t, file).Exec(`UPDATE register_schema SET version = 999`); err != nil {
		t.Fatal(err)
	}
	_, err = sqlitestore.Open(context.Background(), file, sqlitestore.Options{})
	if !errors.Is(err, register.ErrSchemaVersion) || !strings.Contains(err.Error(), "999") {
		t.Fatalf("got %v, want ErrSchemaVersion naming version 999", err)
	}
}

func TestPragmas(t *testing.T) {
	file := filepath.Join(t.TempDir(), "register.db")
	openAt(t, file, nil)
	s := openAt(t, file, nil) // a second open must not re-run migrations
	_ = s
	db, err := sql.Open("sqlite", "file:"+file)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var mode string
	if err := db.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal_mode = %q, %v; want wal", mode, err)
	}
}

// TestSeveralStoresShareOneFile runs three workers, each with its own Store
// (own connection pools, as separate processes would have) on one file.
func TestSeveralStoresShareOneFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "register.db")
	var stores []register.Store
	for range 3 {
		stores = append(stores, openAt(t, file, nil))
	}
	registertest.ConcurrentWorkers(t, stores, 90)
}

// A register written before payloads moved into it (schema version 1)
// opens, migrates to the current version, keeps its entries and chain,
// and keeps payloads from then on.
func TestMigratesVersion1(t *testing.T) {
	ctx := context.Background()
	file := filepath.Join(t.TempDir(), "register.db")
	s, err := sqlitestore.OpenUnbound(ctx, file) // writes entries as before tenant binding
	if err != nil {
		t.Fatal(err)
	}
	old := register.AppendParams{Direction: register.DirectionOut, Channel: register.ChannelXSozial, Event: register.EventBuilt,
		Actor: register.System("test"), Payload: register.PayloadRef{SHA256: sha256.Sum256([]byte("v1")), Size: 2}}
	if _, err := s.Append(ctx, old); err != nil {
		t.Fatal(err)
	}
	s.Close()
	db := rawDB(t, file)
	for _, stmt := range []string{`DROP TABLE job_leases`, `DROP TABLE job_runs`, `DROP TABLE open_incidents`, `DROP TABLE register_payload_chunks`, `DROP TABLE register_payloads`,
		`ALTER TABLE register_entries DROP COLUMN payload_kept`, `DROP TABLE register_data_keys`, `DROP TABLE register_tenant`,
		`ALTER TABLE register_entries DROP COLUMN tenant`, `UPDATE register_schema SET version = 1`} {
		if _, err := db.Exec(stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	db.Close()

	s = openAt(t, file, nil)
	if v, want := must(s.SchemaVersion(ctx)), sqlitestore.MigrationVersions()[len(sqlitestore.MigrationVersions())-1]; v != want {
		t.Fatalf("SchemaVersion after migrating = %d; want %d", v, want)
	}
	ap := old
	ap.Payload, ap.Data = register.PayloadRef{SHA256: sha256.Sum256([]byte("v2")), Size: 2}, strings.NewReader("kept")
	if _, err := s.Append(ctx, ap); err != nil {
		t.Fatal(err)
	}
	if rep, err := s.Verify(ctx, register.VerifyParams{}); err != nil || rep.Entries != 2 || rep.Payloads.Read != 1 {
		t.Fatalf("Verify after migrating: %+v, %v", rep, err)
	}
	// The old entry keeps its hash without a tenant; the new one is bound.
	for seq, want := range map[int64]register.TenantID{1: "", 2: register.DefaultTenant} {
		if e, err := s.Get(ctx, seq); err != nil || e.Tenant() != want {
			t.Errorf("entry %d: tenant %q, %v; want %q", seq, e.Tenant(), err, want)
		}
	}
	rc, err := s.Payload(ctx, ap.Payload.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if b, err := io.ReadAll(rc); err != nil || string(b) != "kept" {
		t.Fatalf("payload after migrating: %q, %v", b, err)
	}
}

// TestFilesArePrivate: the database, its write-ahead log and shared
// memory file are readable by their owner only, in a directory only the
// owner can enter, whatever the umask.
func TestFilesArePrivate(t *testing.T) {
	wantMode := func(file string, want os.FileMode) {
		t.Helper()
		fi, err := os.Stat(file)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s: mode %04o, want %04o", file, got, want)
		}
	}
	// In a directory that exists (the working directory, say) ...
	file := filepath.Join(t.TempDir(), "register.db")
	seed(t, openAt(t, file, nil), 1)
	for _, f := range []string{file, file + "-wal", file + "-shm"} {
		wantMode(f, 0o600)
	}
	// ... and in one the store makes.
	dir := filepath.Join(t.TempDir(), "data")
	file = filepath.Join(dir, "register.db")
	seed(t, openAt(t, file, nil), 1)
	wantMode(dir, 0o700)
	for _, f := range []string{file, file + "-wal", file + "-shm"} {
		wantMode(f, 0o600)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
