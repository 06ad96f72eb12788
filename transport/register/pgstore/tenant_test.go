package pgstore_test

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"meldeweg.dev/meldeweg/transport/register"
	"meldeweg.dev/meldeweg/transport/register/pgstore"
	"meldeweg.dev/meldeweg/transport/register/registertest"
)

func TestTenants(t *testing.T) { registertest.ExerciseTenants(t, tenantBackend{}) }

// tenantBackend copies rows between two databases through the client, as
// someone with access to both could.
type tenantBackend struct{}

func (tenantBackend) Fresh(t *testing.T) string { return newDB(t) }

func (tenantBackend) Open(ctx context.Context, loc string, tenant register.TenantID) (register.Store, error) {
	return pgstore.Open(ctx, loc, pgstore.Options{Tenant: tenant})
}

// copyRows copies the rows of table matching where (with arg) from one
// database into the other, every column as stored.
func copyRows(t testing.TB, from, to, table, where string, arg any) {
	t.Helper()
	ctx := context.Background()
	src, err := pgx.Connect(ctx, from)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close(ctx)
	rows, err := src.Query(ctx, `SELECT * FROM `+table+` WHERE `+where, arg)
	if err != nil {
		t.Fatal(err)
	}
	var cols []string
	for _, f := range rows.FieldDescriptions() {
		cols = append(cols, f.Name)
	}
	var all [][]any
	for rows.Next() {
		v, err := rows.Values()
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, v)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	ph := make([]string, len(cols))
	for i := range ph {
		ph[i] = "$" + strconv.Itoa(i+1)
	}
	for _, v := range all {
		tamper{to}.exec(t, `INSERT INTO `+table+` (`+strings.Join(cols, ", ")+`) VALUES (`+strings.Join(ph, ", ")+`)`, v...)
	}
}

func (tenantBackend) CopyEntry(t testing.TB, from, to string, seq int64) {
	copyRows(t, from, to, "register_entries", "seq = $1", seq)
	ctx := context.Background()
	src, err := pgx.Connect(ctx, from)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close(ctx)
	var h []byte
	if err := src.QueryRow(ctx, `SELECT hash FROM register_entries WHERE seq = $1`, seq).Scan(&h); err != nil {
		t.Fatal(err)
	}
	tamper{to}.exec(t, `UPDATE register_head SET seq = $1, hash = $2 WHERE id = 1`, seq, h)
}

func (tenantBackend) CopyPayload(t testing.TB, from, to string, sum register.Hash) {
	copyRows(t, from, to, "register_payloads", "sha256 = $1", sum[:])
	copyRows(t, from, to, "register_payload_chunks", "sha256 = $1", sum[:])
}
