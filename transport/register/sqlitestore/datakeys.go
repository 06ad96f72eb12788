package sqlitestore

import (
	"context"
	"database/sql"

	"meldeweg.dev/meldeweg/transport/register"
)

const dataKeyCols = `key_id, class, month, kek_id, wrapped, created_us, destroyed_us`

func scanDataKey(sc scanner) (register.DataKey, error) {
	var k register.DataKey
	var created int64
	var destroyed sql.NullInt64
	if err := sc.Scan(&k.ID, &k.Class, &k.Month, &k.KEKID, &k.Wrapped, &created, &destroyed); err != nil {
		return k, err
	}
	k.Created = fromMicro(created)
	if destroyed.Valid {
		k.Destroyed = fromMicro(destroyed.Int64)
	}
	return k, nil
}

// DataKeyGet implements register.Executor.
func (x executor) DataKeyGet(ctx context.Context, p *register.DataKeyGetParams) (register.DataKey, error) {
	if p.ID == "" {
		k, err := scanDataKey(x.c.queryRow(ctx, `SELECT `+dataKeyCols+` FROM register_data_keys
			WHERE class = ? AND month = ? AND destroyed_us IS NULL`, string(p.Class), p.Month))
		return k, notFound(err)
	}
	k, err := scanDataKey(x.c.queryRow(ctx, `SELECT `+dataKeyCols+` FROM register_data_keys WHERE key_id = ?`, p.ID))
	return k, notFound(err)
}

// DataKeyInsert implements register.Executor.
func (x executor) DataKeyInsert(ctx context.Context, p *register.DataKeyInsertParams) error {
	k := p.Key
	_, err := x.c.exec(ctx, `INSERT INTO register_data_keys (`+dataKeyCols+`) VALUES (?, ?, ?, ?, ?, ?, NULL)`,
		k.ID, string(k.Class), k.Month, k.KEKID, k.Wrapped, micro(k.Created))
	return err
}

// DataKeyList implements register.Executor.
func (x executor) DataKeyList(ctx context.Context, p *register.DataKeyListParams) ([]register.DataKey, error) {
	rows, err := x.c.query(ctx, `SELECT `+dataKeyCols+` FROM register_data_keys WHERE key_id > ? ORDER BY key_id LIMIT ?`, p.After, p.Limit)
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
	res, err := x.c.exec(ctx, `UPDATE register_data_keys SET kek_id = ?, wrapped = ?
		WHERE key_id = ? AND kek_id = ? AND destroyed_us IS NULL`, p.KEKID, p.Wrapped, p.ID, p.OldKEKID)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// DataKeyDestroy implements register.Executor. The wrapped key is first
// overwritten with zeros of its length in place, then cleared; the
// database runs with secure_delete, so freed pages are zeroed too.
func (x executor) DataKeyDestroy(ctx context.Context, p *register.DataKeyDestroyParams) error {
	if _, err := x.c.exec(ctx, `UPDATE register_data_keys SET wrapped = zeroblob(length(wrapped)) WHERE key_id = ?`, p.ID); err != nil {
		return err
	}
	_, err := x.c.exec(ctx, `UPDATE register_data_keys SET wrapped = NULL, destroyed_us = ? WHERE key_id = ?`, micro(p.At), p.ID)
	return err
}
