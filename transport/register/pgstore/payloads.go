package pgstore

import (
	"context"

	"github.com/jackc/pgx/v5"

	"meldeweg.dev/meldeweg/transport/register"
)

// PayloadInsert implements register.Executor.
func (x executor) PayloadInsert(ctx context.Context, p *register.PayloadInsertParams) (bool, error) {
	tag, err := x.q.Exec(ctx, `INSERT INTO register_payloads (sha256, stored_size, chunks, created) VALUES ($1, 0, 0, $2) ON CONFLICT DO NOTHING`,
		p.SHA256[:], p.At)
	return tag.RowsAffected() > 0, err
}

// PayloadChunkInsert implements register.Executor.
func (x executor) PayloadChunkInsert(ctx context.Context, p *register.PayloadChunkInsertParams) error {
	_, err := x.q.Exec(ctx, `INSERT INTO register_payload_chunks (sha256, n, data) VALUES ($1, $2, $3)`, p.SHA256[:], p.N, p.Data)
	return err
}

// PayloadSetSize implements register.Executor.
func (x executor) PayloadSetSize(ctx context.Context, p *register.PayloadSetSizeParams) error {
	_, err := x.q.Exec(ctx, `UPDATE register_payloads SET stored_size = $1, chunks = $2 WHERE sha256 = $3`, p.StoredSize, p.Chunks, p.SHA256[:])
	return err
}

func scanPayload(row pgx.Row) (register.KeptPayload, error) {
	var kp register.KeptPayload
	var sum []byte
	if err := row.Scan(&sum, &kp.StoredSize, &kp.Chunks); err != nil {
		return kp, err
	}
	kp.SHA256, _ = register.HashFromBytes(sum)
	return kp, nil
}

// PayloadGet implements register.Executor.
func (x executor) PayloadGet(ctx context.Context, p *register.PayloadGetParams) (register.KeptPayload, error) {
	kp, err := scanPayload(x.q.QueryRow(ctx, `SELECT sha256, stored_size, chunks FROM register_payloads WHERE sha256 = $1`, p.SHA256[:]))
	return kp, notFound(err)
}

// PayloadChunkGet implements register.Executor.
func (x executor) PayloadChunkGet(ctx context.Context, p *register.PayloadChunkGetParams) ([]byte, error) {
	var b []byte
	err := x.q.QueryRow(ctx, `SELECT data FROM register_payload_chunks WHERE sha256 = $1 AND n = $2`, p.SHA256[:], p.N).Scan(&b)
	return b, notFound(err)
}

// PayloadList implements register.Executor.
func (x executor) PayloadList(ctx context.Context, p *register.PayloadListParams) ([]register.KeptPayload, error) {
	rows, err := x.q.Query(ctx, `SELECT sha256, stored_size, chunks FROM register_payloads WHERE sha256 > $1 ORDER BY sha256 LIMIT $2`,
		p.After[:], p.Limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []register.KeptPayload{}
	for rows.Next() {
		kp, err := scanPayload(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, kp)
	}
	return out, rows.Err()
}

// PayloadDelete implements register.Executor.
func (x executor) PayloadDelete(ctx context.Context, p *register.PayloadDeleteParams) error {
	if _, err := x.q.Exec(ctx, `DELETE FROM register_payload_chunks WHERE sha256 = $1`, p.SHA256[:]); err != nil {
		return err
	}
	_, err := x.q.Exec(ctx, `DELETE FROM register_payloads WHERE sha256 = $1`, p.SHA256[:])
	return err
}
