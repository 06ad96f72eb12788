package pgstore

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"meldeweg.dev/meldeweg/transport/register"
)

const dataKeyCols = `key_id, class, month, kek_id, wrapped, created, destroyed`

func scanDataKey(row pgx.Row) (register.DataKey, error) {
	var k register.DataKey
	var destroyed *time.Time
	if err := row.Scan(&k.ID, &k.Class, &k.Month, &k.KEKID, &k.Wrapped, &k.Created, &destroyed); err != nil {
		return k, err
	}
	k.Created = k.Created.UTC()
	k.Destroyed = utc(destroyed)
	return k, nil
}

// DataKeyGet implements register.Executor.
func (x executor) DataKeyGet(ctx context.Context, p *register.DataKeyGetParams) (register.DataKey, error) {
	if p.ID == "" {
		k, err := scanDataKey(x.q.QueryRow(ctx, `SELECT `+dataKeyCols+` FROM register_data_keys
			WHERE class = $1 AND month = $2 AND destroyed IS NULL`, string(p.Class), p.Month))
		return k, notFound(err)
	}
	k, err := scanDataKey(x.q.QueryRow(ctx, `SELECT `+dataKeyCols+` FROM register_data_keys WHERE key_id = $1`, p.ID))
	return k, notFound(err)
}

// DataKeyInsert implements register.Executor.
func (x executor) DataKeyInsert(ctx context.Context, p *register.DataKeyInsertParams) error {
	k := p.Key
	_, err := x.q.Exec(ctx, `INSERT INTO register_data_keys (`+dataKeyCols+`) VALUES ($1, $2, $3, $4, $5, $6, NULL)`,
		k.ID, string(k.Class), k.Month, k.KEKID, k.Wrapped, k.Created)
	return err
}

// DataKeyList implements register.Executor.
func (x executor) DataKeyList(ctx context.Context, p *register.DataKeyListParams) ([]register.DataKey, error) {
	rows, err := x.q.Query(ctx, `SELECT `+dataKeyCols+` FROM register_data_keys WHERE key_id > $1 ORDER BY key_id LIMIT $2`, p.After, p.Limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []register.DataKey{}
	for rows.Next() {
		k, err := scanDataKey(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

// DataKeySetWrapped implements register.Executor.
func (x executor) DataKeySetWrapped(ctx context.Context, p *register.DataKeySetWrappedParams) (bool, error) {
	tag, err := x.q.Exec(ctx, `UPDATE register_data_keys SET kek_id = $1, wrapped = $2
		WHERE key_id = $3 AND kek_id = $4 AND destroyed IS NULL`, p.KEKID, p.Wrapped, p.ID, p.OldKEKID)
	return tag.RowsAffected() == 1, err
}

// DataKeyDestroy implements register.Executor. PostgreSQL keeps the old
// row version until VACUUM reclaims it (see the package doc's Limits).
func (x executor) DataKeyDestroy(ctx context.Context, p *register.DataKeyDestroyParams) error {
	_, err := x.q.Exec(ctx, `UPDATE register_data_keys SET wrapped = NULL, destroyed = $1 WHERE key_id = $2`, p.At, p.ID)
	return err
}
