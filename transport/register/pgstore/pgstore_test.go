package pgstore_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"meldeweg.dev/meldeweg/transport/register"
	"meldeweg.dev/meldeweg/transport/register/pgstore"
	"meldeweg.dev/meldeweg/transport/register/pgstore/pgtest"
	"meldeweg.dev/meldeweg/transport/register/registertest"
	"meldeweg.dev/meldeweg/transport/register/sqlitestore"
)

// pg is the PostgreSQL server of this package's tests, started on first use.
var pg pgtest.Shared

func TestMain(m *testing.M) {
	code := m.Run()
	pg.Stop()
	os.Exit(code)
}

// newDB returns the DSN of a fresh database; it skips the test only when
// the server binaries are absent.
func newDB(t *testing.T) string { return pg.NewDB(t) }

func openDSN(t *testing.T, dsn string, clock register.Clock) *pgstore.Store {
	t.Helper()
	s, err := pgstore.Open(context.Background(), dsn, pgstore.Options{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	registertest.Exercise(t, func(t *testing.T, clock register.Clock) (register.Store, registertest.Tamper) {
		dsn := newDB(t)
		return openDSN(t, dsn, clock), tamper{dsn}
	})
}

// tamper changes the database as its owner could.
type tamper struct{ dsn string }

func (tm tamper) exec(t testing.TB, stmt string, args ...any) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, tm.dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, stmt, args...); err != nil {
		t.Fatalf("%s: %v", stmt, err)
	}
}

func (tm tamper) DropGuards(t testing.TB) {
	tm.exec(t, `ALTER TABLE register_entries DISABLE TRIGGER USER`)
}

func (tm tamper) FlipPayloadByte(t testing.TB, sum register.Hash) {
	tm.exec(t, `UPDATE register_payload_chunks SET data = set_byte(data, length(data)/2, get_byte(data, length(data)/2) # 1)
		WHERE sha256 = $1 AND n = 0`, sum[:])
}

func (tm tamper) DeleteMessage(t testing.TB, id register.MessageID) {
	tm.exec(t, `DELETE FROM outbox_messages WHERE id = $1`, string(id))
}

func (tm tamper) DeletePayloads(t testing.TB) {
	tm.exec(t, `DELETE FROM register_payload_chunks`)
	tm.exec(t, `DELETE FROM register_payloads`)
}

func (tm tamper) SetMessageState(t testing.TB, id register.MessageID, state register.MessageState, attempt int) {
	tm.exec(t, `UPDATE outbox_messages SET state = $1, attempt = $2 WHERE id = $3`, string(state), attempt, string(id))
}

func TestMigrationNumberingMatchesSQLite(t *testing.T) {
	if got, want := pgstore.MigrationVersions(), sqlitestore.MigrationVersions(); !slices.Equal(got, want) {
		t.Fatalf("PostgreSQL migrations %v, SQLite migrations %v", got, want)
	}
}

// TestThreeInstancesShareTheOutbox runs three workers, each with its own
// Store and connection pool, as three Meldeweg instances would.
func TestThreeInstancesShareTheOutbox(t *testing.T) {
	dsn := newDB(t)
	var stores []register.Store
	for range 3 {
		stores = append(stores, openDSN(t, dsn, nil))
	}
	registertest.ConcurrentWorkers(t, stores, 150)
}

func seed(t *testing.T, s register.Store, n int) {
	t.Helper()
	for i := range n {
		if _, err := s.Append(context.Background(), register.AppendParams{
			Direction: register.DirectionOut, Channel: register.ChannelXSozial, Event: register.EventBuilt,
			Actor: register.Operator("alice"), Detail: fmt.Sprintf("entry %d", i+1),
			Payload: register.PayloadRef{SHA256: sha256.Sum256([]byte{byte(i)}), Size: 1},
		}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestSQLRefusesUpdateDeleteTruncate(t *testing.T) {
	dsn := newDB(t)
	s := openDSN(t, dsn, nil)
	seed(t, s, 3)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, stmt := range []string{
		`UPDATE register_entries SET detail = 'forged' WHERE seq = 2`,
		`DELETE FROM register_entries WHERE seq = 3`,
		`TRUNCATE register_entries`,
	} {
		if _, err := conn.Exec(ctx, stmt); !isAppendOnlyRefusal(err) {
			t.Errorf("%s: got %v, want the append-only refusal", stmt, err)
		}
	}
	if _, err := s.Verify(ctx, register.VerifyParams{}); err != nil {
		t.Fatalf("register no longer verifies after refused statements: %v", err)
	}
}

func TestVerifyCatchesDirectEdits(t *testing.T) {
	tests := []struct {
		name    string
		sql     string
		wantSeq int64
		reason  string
	}{
		{"detail changed", `UPDATE register_entries SET detail = 'forged' WHERE seq = 4`, 4, "stored hash does not match"},
		{"time changed", `UPDATE register_entries SET time = time + interval '1 microsecond' WHERE seq = 2`, 2, "stored hash does not match"},
		{"entry removed", `DELETE FROM register_entries WHERE seq = 3`, 3, "entry missing"},
		{"tail removed", `DELETE FROM register_entries WHERE seq >= 5`, 5, "entries missing at the end"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dsn := newDB(t)
			s := openDSN(t, dsn, nil)
			seed(t, s, 6)
			ctx := context.Background()
			conn, err := pgx.Connect(ctx, dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close(ctx)
			for _, stmt := range []string{`ALTER TABLE register_entries DISABLE TRIGGER USER`, tt.sql} {
				if _, err := conn.Exec(ctx, stmt); err != nil {
					t.Fatalf("%s: %v", stmt, err)
				}
			}
			_, err = s.Verify(ctx, register.VerifyParams{})
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
	dsn := newDB(t)
	s := openDSN(t, dsn, nil)
	ctx := context.Background()
	if v, err := s.SchemaVersion(ctx); err != nil || v != pgstore.MigrationVersions()[len(pgstore.MigrationVersions())-1] {
		t.Fatalf("SchemaVersion = %d, %v", v, err)
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `UPDATE register_schema SET version = 999`); err != nil {
		t.Fatal(err)
	}
	if _, err := pgstore.Open(ctx, dsn, pgstore.Options{}); !errors.Is(err, register.ErrSchemaVersion) {
		t.Fatalf("got %v, want ErrSchemaVersion", err)
	}
}

// isAppendOnlyRefusal reports whether err is the database refusing to
// change or delete an entry.
func isAppendOnlyRefusal(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && strings.Contains(pe.Message, "append-only")
}
