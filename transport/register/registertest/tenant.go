package registertest

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"meldeweg.dev/meldeweg/transport/register"
	pstore "meldeweg.dev/meldeweg/transport/register/payload"
)

// TenantBackend gives the tenant tests what they need beyond a fresh
// store: reopening one database as another tenant, and copying rows
// between two databases as someone with access to both could.
type TenantBackend interface {
	// Fresh returns the location of a new, empty database (a file, a
	// DSN) that is removed after the test.
	Fresh(t *testing.T) string
	// Open opens the database at loc as tenant. The caller closes it.
	Open(ctx context.Context, loc string, tenant register.TenantID) (register.Store, error)
	// CopyEntry copies entry seq, every column as stored, from database
	// from into database to, and moves to's head onto it.
	CopyEntry(t testing.TB, from, to string, seq int64)
	// CopyPayload copies the kept bytes of payload sum from database from
	// into database to.
	CopyPayload(t testing.TB, from, to string, sum register.Hash)
}

// ExerciseTenants runs the tenant-binding tests against b.
func ExerciseTenants(t *testing.T, b TenantBackend) {
	ctx := context.Background()
	open := func(t *testing.T, loc string, tenant register.TenantID) register.Store {
		t.Helper()
		s, err := b.Open(ctx, loc, tenant)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}

	t.Run("OpenedAsAnotherTenant", func(t *testing.T) {
		loc := b.Fresh(t)
		s, err := b.Open(ctx, loc, "traeger-a")
		if err != nil {
			t.Fatal(err)
		}
		if got := s.Tenant(); got != "traeger-a" {
			t.Errorf("Tenant() = %q; want traeger-a", got)
		}
		s.Close()
		s, err = b.Open(ctx, loc, "traeger-b")
		if err == nil {
			s.Close()
			t.Fatal("opening tenant traeger-a's register as traeger-b succeeded")
		}
		var me *register.TenantMismatchError
		if !errors.As(err, &me) || !errors.Is(err, register.ErrTenantMismatch) ||
			!strings.Contains(err.Error(), `"traeger-a"`) || !strings.Contains(err.Error(), `"traeger-b"`) {
			t.Fatalf("error %v; want a *TenantMismatchError naming both tenants", err)
		}
		s = open(t, loc, "traeger-a") // the right tenant still opens
		if _, err := s.Append(ctx, appendParams(1)); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("EntriesCarryTheTenant", func(t *testing.T) {
		s := open(t, b.Fresh(t), "traeger-a")
		e, err := s.Append(ctx, appendParams(1))
		if err != nil {
			t.Fatal(err)
		}
		if e.Tenant() != "traeger-a" {
			t.Fatalf("entry tenant %q; want traeger-a", e.Tenant())
		}
		got, err := s.Get(ctx, e.Seq())
		if err != nil || got.Tenant() != "traeger-a" || got.Hash() != e.Hash() {
			t.Fatalf("Get: tenant %q hash %s, %v; want traeger-a %s", got.Tenant(), got.Hash(), err, e.Hash())
		}
		mustVerify(t, s, 1)
	})

	// An entry copied into another tenant's register does not verify
	// there, even where the chain links (both registers start empty).
	t.Run("EntryCopiedToAnotherTenant", func(t *testing.T) {
		la, lb := b.Fresh(t), b.Fresh(t)
		sa, sb := open(t, la, "traeger-a"), open(t, lb, "traeger-b")
		if _, err := sa.Append(ctx, appendParams(1)); err != nil {
			t.Fatal(err)
		}
		mustVerify(t, sa, 1)
		b.CopyEntry(t, la, lb, 1)
		_, err := sb.Verify(ctx, register.VerifyParams{})
		var ce *register.ChainError
		if !errors.As(err, &ce) || ce.Seq != 1 || !strings.Contains(ce.Reason, "traeger-a") {
			t.Fatalf("Verify of traeger-b's register holding traeger-a's entry: %v; want a chain error at entry 1 naming traeger-a", err)
		}
	})

	// A payload copied into another tenant's store does not open there,
	// even with the same instance key.
	t.Run("PayloadCopiedToAnotherTenant", func(t *testing.T) {
		la, lb := b.Fresh(t), b.Fresh(t)
		sa, sb := open(t, la, "traeger-a"), open(t, lb, "traeger-b")
		keys := t.TempDir()
		pa, err := pstore.Open(keys, sa)
		if err != nil {
			t.Fatal(err)
		}
		sealed, err := pa.Seal(ctx, strings.NewReader("<Datensatz/>"))
		if err != nil {
			t.Fatal(err)
		}
		defer sealed.Close()
		if _, err := sa.Append(ctx, sealed.Entry(appendParams(1))); err != nil {
			t.Fatal(err)
		}
		rc, err := pa.Open(ctx, sealed.Ref.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadAll(rc); err != nil {
			t.Fatalf("reading the payload in its own tenant: %v", err)
		}
		rc.Close()

		b.CopyPayload(t, la, lb, sealed.Ref.SHA256)
		pb, err := pstore.Load(keys, sb)
		if err != nil {
			t.Fatal(err)
		}
		rc, err = pb.Open(ctx, sealed.Ref.SHA256)
		if err == nil {
			_, err = io.ReadAll(rc)
			rc.Close()
		}
		if !errors.Is(err, pstore.ErrCorrupt) {
			t.Fatalf("reading traeger-a's payload in traeger-b's store: %v; want ErrCorrupt", err)
		}
	})
}
