package sqlitestore

import (
	"context"

	"meldeweg.dev/meldeweg/transport/register"
)

const (
	qInsertPayload = `INSERT INTO register_payloads (sha256, stored_size, chunks, created_us) VALUES (?, 0, 0, ?) ON CONFLICT DO NOTHING`
	qInsertChunk   = `INSERT INTO register_payload_chunks (sha256, n, data) VALUES (?, ?, ?)`
	qUpdatePayload = `UPDATE register_payloads SET stored_size = ?, chunks = ? WHERE sha256 = ?`
	qDeleteChunks  = `DELETE FROM register_payload_chunks WHERE sha256 = ?`
	qDeletePayload = `DELETE FROM register_payloads WHERE sha256 = ?`
	qPayload       = `SELECT sha256, stored_size, chunks FROM register_payloads WHERE sha256 = ?`
	qPayloadChunk  = `SELECT data FROM register_payload_chunks WHERE sha256 = ? AND n = ?`
	qPayloads      = `SELECT sha256, stored_size, chunks FROM register_payloads WHERE sha256 > ? ORDER BY sha256 LIMIT ?`
)

// PayloadInsert implements register.Executor.
func (x executor) PayloadInsert(ctx context.Context, p *register.PayloadInsertParams) (bool, error) {
	res, err := x.c.exec(ctx, qInsertPayload, p.SHA256[:], micro(p.At))
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// PayloadChunkInsert implements register.Executor.
func (x executor) PayloadChunkInsert(ctx context.Context, p *register.PayloadChunkInsertParams) error {
	_, err := x.c.exec(ctx, qInsertChunk, p.SHA256[:], p.N, p.Data)
	return err
}

// PayloadSetSize implements register.Executor.
func (x executor) PayloadSetSize(ctx context.Context, p *register.PayloadSetSizeParams) error {
	_, err := x.c.exec(ctx, qUpdatePayload, p.StoredSize, p.Chunks, p.SHA256[:])
	return err
}

func scanPayload(sc scanner) (register.KeptPayload, error) {
	var kp register.KeptPayload
	var sum []byte
	if err := sc.Scan(&sum, &kp.StoredSize, &kp.Chunks); err != nil {
		return kp, err
	}
	kp.SHA256, _ = register.HashFromBytes(sum)
	return kp, nil
}

// PayloadGet implements register.Executor.
func (x executor) PayloadGet(ctx context.Context, p *register.PayloadGetParams) (register.KeptPayload, error) {
	kp, err := scanPayload(x.c.queryRow(ctx, qPayload, p.SHA256[:]))
	return kp, notFound(err)
}

// PayloadChunkGet implements register.Executor.
func (x executor) PayloadChunkGet(ctx context.Context, p *register.PayloadChunkGetParams) ([]byte, error) {
	var b []byte
	err := x.c.queryRow(ctx, qPayloadChunk, p.SHA256[:], p.N).Scan(&b)
	return b, notFound(err)
}

// PayloadList implements register.Executor.
func (x executor) PayloadList(ctx context.Context, p *register.PayloadListParams) ([]register.KeptPayload, error) {
	rows, err := x.c.query(ctx, qPayloads, p.After[:], p.Limit)
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
	if _, err := x.c.exec(ctx, qDeleteChunks, p.SHA256[:]); err != nil {
		return err
	}
	_, err := x.c.exec(ctx, qDeletePayload, p.SHA256[:])
	return err
}
