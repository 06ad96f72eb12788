package register

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// TenantID names a tenant: one Träger or provider site with its own
// register, keys, certificates and endpoints. It is 1 to 63 characters
// from [a-z0-9-], starting with a letter or digit; it is no secret and no
// personal data.
type TenantID string

// DefaultTenant is the tenant of a configuration that names none (the
// single-tenant configuration from before tenants).
const DefaultTenant TenantID = "default"

// ParseTenantID checks the shape of s.
func ParseTenantID(s string) (TenantID, error) {
	if !validTenant(s) {
		return "", &FieldError{Field: "Tenant", Expected: "1 to 63 characters from [a-z0-9-], starting with a letter or digit"}
	}
	return TenantID(s), nil
}

func validTenant(s string) bool {
	if len(s) == 0 || len(s) > 63 || s[0] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// TenantBinding is what a register database records about its tenant, at
// its first open with a tenant.
type TenantBinding struct {
	Tenant TenantID
	// BoundFrom is the first entry bound to the tenant: entries before
	// it were written before tenant binding and carry no tenant; every
	// entry from it on must carry Tenant.
	BoundFrom int64
	// At is when the binding was recorded.
	At time.Time
}

// ErrTenantMismatch: a register was opened as another tenant than the
// one it belongs to. The concrete error is a *TenantMismatchError.
var ErrTenantMismatch = errors.New("register belongs to another tenant")

// TenantMismatchError names both tenants.
type TenantMismatchError struct {
	Register TenantID // the tenant the register belongs to
	Opened   TenantID // the tenant it was opened as
}

func (e *TenantMismatchError) Error() string {
	return fmt.Sprintf("register belongs to tenant %q, but was opened as tenant %q: wrong register for this tenant?", e.Register, e.Opened)
}

// Unwrap makes errors.Is(err, ErrTenantMismatch) true.
func (e *TenantMismatchError) Unwrap() error { return ErrTenantMismatch }

// StoreParams configure OpenStore.
type StoreParams struct {
	// Clock gives entry and message times. Defaults to time.Now.
	Clock Clock
	// Tenant the register belongs to. Defaults to DefaultTenant.
	Tenant TenantID
}

// OpenStore returns the Store over d bound to p.Tenant, as NewStore does
// for no tenant: a register that records no tenant yet is bound to it now
// (from its next entry on; older entries keep verifying as they were
// written); one that records another tenant is a *TenantMismatchError
// naming both, and d is left open for the caller to close. Backends call
// it from their Open.
func OpenStore(ctx context.Context, d Driver, p StoreParams) (Store, error) {
	if p.Tenant == "" {
		p.Tenant = DefaultTenant
	}
	if _, err := ParseTenantID(string(p.Tenant)); err != nil {
		return nil, err
	}
	s := NewStore(d, p.Clock).(*dbStore)
	// A bound register is only read: opening it writes nothing.
	b, err := d.TenantGet(ctx, &TenantGetParams{})
	if err == nil {
		if b.Tenant != p.Tenant {
			return nil, &TenantMismatchError{Register: b.Tenant, Opened: p.Tenant}
		}
		s.tenant, s.bound = p.Tenant, b
		return s, nil
	}
	if !errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("reading the register's tenant: %w", err)
	}
	err = d.Write(ctx, func(x Executor) error {
		b, err := x.TenantGet(ctx, &TenantGetParams{})
		if errors.Is(err, ErrNotFound) {
			head, err := x.HeadGet(ctx, &HeadGetParams{ForUpdate: true})
			if err != nil {
				return fmt.Errorf("reading register head: %w", err)
			}
			b = TenantBinding{Tenant: p.Tenant, BoundFrom: head.Seq + 1, At: s.now()}
			if err := x.TenantSet(ctx, &TenantSetParams{Binding: b}); err != nil {
				return fmt.Errorf("recording the register's tenant: %w", err)
			}
		} else if err != nil {
			return fmt.Errorf("reading the register's tenant: %w", err)
		}
		s.bound = b
		return nil
	})
	if err != nil {
		return nil, err
	}
	if s.bound.Tenant != p.Tenant {
		return nil, &TenantMismatchError{Register: s.bound.Tenant, Opened: p.Tenant}
	}
	s.tenant = p.Tenant
	return s, nil
}

// Tenant implements Store.
func (s *dbStore) Tenant() TenantID { return s.tenant }

// tenantOf checks that e carries the tenant the binding b says it must:
// none before b.BoundFrom, b.Tenant from it on. It returns a *ChainError
// for an entry that does not.
func tenantOf(b TenantBinding, e Entry) error {
	want := TenantID("")
	if b.Tenant != "" && e.seq >= b.BoundFrom {
		want = b.Tenant
	}
	if e.tenant == want {
		return nil
	}
	reason := fmt.Sprintf("entry belongs to tenant %q, but this register is tenant %q's from entry %d on", e.tenant, b.Tenant, b.BoundFrom)
	if want == "" {
		reason = fmt.Sprintf("entry claims tenant %q, but precedes the register's tenant binding (entry %d)", e.tenant, b.BoundFrom)
	}
	return &ChainError{Seq: e.seq, Reason: reason, Expected: e.prevHash, Found: e.prevHash}
}
