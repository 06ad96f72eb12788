package pgstore

import (
	"context"

	"meldeweg.dev/meldeweg/transport/register"
)

// TenantGet implements register.Executor.
func (x executor) TenantGet(ctx context.Context, _ *register.TenantGetParams) (register.TenantBinding, error) {
	var b register.TenantBinding
	err := x.q.QueryRow(ctx, `SELECT tenant, bound_from, created FROM register_tenant WHERE id = 1`).Scan(&b.Tenant, &b.BoundFrom, &b.At)
	b.At = b.At.UTC()
	return b, notFound(err)
}

// TenantSet implements register.Executor.
func (x executor) TenantSet(ctx context.Context, p *register.TenantSetParams) error {
	_, err := x.q.Exec(ctx, `INSERT INTO register_tenant (id, tenant, bound_from, created) VALUES (1, $1, $2, $3)`,
		string(p.Binding.Tenant), p.Binding.BoundFrom, p.Binding.At)
	return err
}
