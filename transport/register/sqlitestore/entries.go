package sqlitestore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"meldeweg.dev/meldeweg/transport/register"
)

const entryCols = `seq, time_us, direction, channel, event, actor, endpoint, message_id, related, correlation, attempt, payload_sha256, payload_size, payload_kept, detail, prev_hash, hash, tenant`

const (
	qHead        = `SELECT seq, hash FROM register_head WHERE id = 1`
	qUpdateHead  = `UPDATE register_head SET seq = ?, hash = ? WHERE id = 1`
	qInsertEntry = `INSERT INTO register_entries (` + entryCols + `) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`
	qEntry       = `SELECT ` + entryCols + ` FROM register_entries WHERE seq = ?`
	qEntries     = `SELECT ` + entryCols + ` FROM register_entries WHERE seq > ? ORDER BY seq LIMIT ?`
	qEntriesOf   = `SELECT ` + entryCols + ` FROM register_entries WHERE seq > ? AND (message_id = ? OR related = ?) ORDER BY seq LIMIT ?`
)

// HeadGet implements register.Executor. The write transaction holds the
// database's one write lock, so ForUpdate needs nothing more.
func (x executor) HeadGet(ctx context.Context, _ *register.HeadGetParams) (register.Head, error) {
	var h register.Head
	var b []byte
	if err := x.c.queryRow(ctx, qHead).Scan(&h.Seq, &b); err != nil {
		return h, err
	}
	var ok bool
	if h.Hash, ok = register.HashFromBytes(b); !ok {
		return h, fmt.Errorf("register head hash has %d bytes, expected 32", len(b))
	}
	return h, nil
}

// HeadSet implements register.Executor.
func (x executor) HeadSet(ctx context.Context, p *register.HeadSetParams) error {
	_, err := x.c.exec(ctx, qUpdateHead, p.Head.Seq, p.Head.Hash[:])
	return err
}

// EntryInsert implements register.Executor.
func (x executor) EntryInsert(ctx context.Context, p *register.EntryInsertParams) error {
	for _, r := range p.Entries {
		if _, err := x.c.exec(ctx, qInsertEntry,
			r.Seq, r.Time.UnixMicro(), r.Direction, r.Channel, r.Event, r.Actor, r.Endpoint, r.MessageID, r.Related,
			r.Correlation, r.Attempt, r.PayloadSHA256[:], r.PayloadSize, r.PayloadKept, r.Detail, r.PrevHash[:], r.Hash[:], r.Tenant); err != nil {
			return fmt.Errorf("entry %d: %w", r.Seq, err)
		}
	}
	return nil
}

func scanEntry(sc scanner) (register.Record, error) {
	var r register.Record
	var us int64
	var ps, prev, h []byte
	if err := sc.Scan(&r.Seq, &us, &r.Direction, &r.Channel, &r.Event, &r.Actor, &r.Endpoint, &r.MessageID, &r.Related,
		&r.Correlation, &r.Attempt, &ps, &r.PayloadSize, &r.PayloadKept, &r.Detail, &prev, &h, &r.Tenant); err != nil {
		return r, err
	}
	r.Time = time.UnixMicro(us).UTC()
	// A hash column of the wrong length loads as a zero hash; Verify then
	// reports the entry as broken.
	r.PayloadSHA256, _ = register.HashFromBytes(ps)
	r.PrevHash, _ = register.HashFromBytes(prev)
	r.Hash, _ = register.HashFromBytes(h)
	return r, nil
}

// EntryGet implements register.Executor.
func (x executor) EntryGet(ctx context.Context, p *register.EntryGetParams) (register.Record, error) {
	r, err := scanEntry(x.c.queryRow(ctx, qEntry, p.Seq))
	return r, notFound(err)
}

// EntryList implements register.Executor.
func (x executor) EntryList(ctx context.Context, p *register.EntryListParams) ([]register.Record, error) {
	q, args := qEntries, []any{p.After, p.Limit}
	if p.MessageID != "" {
		q, args = qEntriesOf, []any{p.After, p.MessageID, p.MessageID, p.Limit}
	}
	rows, err := x.c.query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []register.Record{}
	for rows.Next() {
		r, err := scanEntry(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// guards are the triggers migration 001 puts on the entries, each with
// what its definition must say.
var guards = []struct{ name, must string }{
	{"register_entries_no_update", "BEFORE UPDATE ON register_entries BEGIN SELECT RAISE(ABORT,"},
	{"register_entries_no_delete", "BEFORE DELETE ON register_entries BEGIN SELECT RAISE(ABORT,"},
}

// GuardList implements register.Executor.
func (x executor) GuardList(ctx context.Context, _ *register.GuardListParams) ([]register.Guard, error) {
	rows, err := x.c.query(ctx, `SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'register_entries'`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	found := map[string]string{}
	for rows.Next() {
		var name, def string
		if err := rows.Scan(&name, &def); err != nil {
			return nil, err
		}
		found[name] = strings.Join(strings.Fields(def), " ")
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := make([]register.Guard, len(guards))
	for i, g := range guards {
		def, ok := found[g.name]
		out[i] = register.Guard{Name: g.name, Intact: ok && strings.Contains(def, g.must)}
		switch {
		case !ok:
			out[i].Problem = "missing (trigger dropped)"
		case !out[i].Intact:
			out[i].Problem = "altered (trigger no longer refuses the change)"
		}
	}
	return out, nil
}
