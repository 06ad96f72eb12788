package sqlitestore_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"strconv"
	"testing"

	"meldeweg.dev/meldeweg/transport/register"
	"meldeweg.dev/meldeweg/transport/register/registertest"
	"meldeweg.dev/meldeweg/transport/register/sqlitestore"
)

func TestTenants(t *testing.T) { registertest.ExerciseTenants(t, tenantBackend{}) }

// tenantBackend copies rows between register files with ATTACH, as
// someone with access to both files could.
type tenantBackend struct{}

func (tenantBackend) Fresh(t *testing.T) string { return filepath.Join(t.TempDir(), "register.db") }

func (tenantBackend) Open(ctx context.Context, loc string, tenant register.TenantID) (register.Store, error) {
	return sqlitestore.Open(ctx, loc, sqlitestore.Options{Tenant: tenant})
}

func (tenantBackend) copy(t testing.TB, from, to string, stmts ...string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+to+"?_busy_timeout=5000")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(context.Background(), `ATTACH DATABASE ? AS src`, from); err != nil {
		t.Fatal(err)
	}
	for _, s := range stmts {
		if _, err := conn.ExecContext(context.Background(), s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

func (b tenantBackend) CopyEntry(t testing.TB, from, to string, seq int64) {
	s := itoa(seq)
	b.copy(t, from, to, `INSERT INTO register_entries SELECT * FROM src.register_entries WHERE seq = `+s,
		`UPDATE register_head SET seq = `+s+`, hash = (SELECT hash FROM src.register_entries WHERE seq = `+s+`)`)
}

func (b tenantBackend) CopyPayload(t testing.TB, from, to string, sum register.Hash) {
	x := `x'` + sum.String() + `'`
	b.copy(t, from, to, `INSERT INTO register_payloads SELECT * FROM src.register_payloads WHERE sha256 = `+x,
		`INSERT INTO register_payload_chunks SELECT * FROM src.register_payload_chunks WHERE sha256 = `+x)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
