package sqlitestore

import (
	"context"

	"meldeweg.dev/meldeweg/transport/register"
)

// TenantGet implements register.Executor.
func (x executor) TenantGet(ctx context.Context, _ *register.TenantGetParams) (register.TenantBinding, error) {
	var b register.TenantBinding
	var us int64
	err := x.c.queryRow(ctx, `SELECT tenant, bound_from, created_us FROM register_tenant WHERE id = 1`).Scan(&b.Tenant, &b.BoundFrom, &us)
	b.At = fromMicro(us)
	return b, notFound(err)
}

// TenantSet implements register.Executor.
func (x executor) TenantSet(ctx context.Context, p *register.TenantSetParams) error {
	_, err := x.c.exec(ctx, `INSERT INTO register_tenant (id, tenant, bound_from, created_us) VALUES (1, ?, ?, ?)`,
		string(p.Binding.Tenant), p.Binding.BoundFrom, micro(p.Binding.At))
	return err
}
