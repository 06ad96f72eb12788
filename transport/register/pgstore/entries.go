package pgstore

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"meldeweg.dev/meldeweg/transport/register"
)

const entryCols = `seq, time, direction, channel, event, actor, endpoint, message_id, related, correlation, attempt, payload_sha256, payload_size, payload_kept, detail, prev_hash, hash, tenant`

// HeadGet implements register.Executor; ForUpdate locks the head row, so
// appends are serialised.
func (x executor) HeadGet(ctx context.Context, p *register.HeadGetParams) (register.Head, error) {
	q := `SELECT seq, hash FROM register_head WHERE id = 1`
	if p.ForUpdate {
		q += ` FOR UPDATE`
	}
	var h register.Head
	var b []byte
	if err := x.q.QueryRow(ctx, q).Scan(&h.Seq, &b); err != nil {
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
	_, err := x.q.Exec(ctx, `UPDATE register_head SET seq = $1, hash = $2 WHERE id = 1`, p.Head.Seq, p.Head.Hash[:])
	return err
}

// EntryInsert implements register.Executor.
func (x executor) EntryInsert(ctx context.Context, p *register.EntryInsertParams) error {
	for _, r := range p.Entries {
		if _, err := x.q.Exec(ctx, `INSERT INTO register_entries (`+entryCols+`) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18)`,
			r.Seq, r.Time, r.Direction, r.Channel, r.Event, r.Actor, r.Endpoint, r.MessageID, r.Related,
			r.Correlation, r.Attempt, r.PayloadSHA256[:], r.PayloadSize, r.PayloadKept, r.Detail, r.PrevHash[:], r.Hash[:], r.Tenant); err != nil {
			return fmt.Errorf("entry %d: %w", r.Seq, err)
		}
	}
	return nil
}

func scanEntry(row pgx.Row) (register.Record, error) {
	var r register.Record
	var ps, prev, h []byte
	if err := row.Scan(&r.Seq, &r.Time, &r.Direction, &r.Channel, &r.Event, &r.Actor, &r.Endpoint, &r.MessageID, &r.Related,
		&r.Correlation, &r.Attempt, &ps, &r.PayloadSize, &r.PayloadKept, &r.Detail, &prev, &h, &r.Tenant); err != nil {
		return r, err
	}
	r.Time = r.Time.UTC()
	// A hash of the wrong length loads as zero; Verify then reports it.
	r.PayloadSHA256, _ = register.HashFromBytes(ps)
	r.PrevHash, _ = register.HashFromBytes(prev)
	r.Hash, _ = register.HashFromBytes(h)
	return r, nil
}

// EntryGet implements register.Executor.
func (x executor) EntryGet(ctx context.Context, p *register.EntryGetParams) (register.Record, error) {
	r, err := scanEntry(x.q.QueryRow(ctx, `SELECT `+entryCols+` FROM register_entries WHERE seq = $1`, p.Seq))
	return r, notFound(err)
}

// EntryList implements register.Executor.
func (x executor) EntryList(ctx context.Context, p *register.EntryListParams) ([]register.Record, error) {
	rows, err := x.q.Query(ctx, `SELECT `+entryCols+` FROM register_entries
		WHERE seq > $1 AND ($2 = '' OR message_id = $2 OR related = $2) ORDER BY seq LIMIT $3`, p.After, string(p.MessageID), p.Limit)
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

// guards are the triggers migration 001 puts on the entries and the
// events each must refuse.
var guards = []struct{ name, events string }{
	{"register_entries_no_update", "UPDATE OR DELETE"},
	{"register_entries_no_truncate", "TRUNCATE"},
}

// refuses reports whether the trigger definition def fires BEFORE every
// one of events (PostgreSQL may list them in another order).
func refuses(def, events string) bool {
	before, _, ok := strings.Cut(def, " ON ")
	if !ok || !strings.Contains(before, " BEFORE ") {
		return false
	}
	for _, ev := range strings.Split(events, " OR ") {
		if !strings.Contains(before, ev) {
			return false
		}
	}
	return true
}

// GuardList implements register.Executor: a guard is intact if its
// trigger exists, is enabled (not DISABLE TRIGGER) and calls the refusing
// function, whose body still raises an exception.
func (x executor) GuardList(ctx context.Context, _ *register.GuardListParams) ([]register.Guard, error) {
	rows, err := x.q.Query(ctx, `SELECT t.tgname, t.tgenabled::text, p.prosrc, pg_get_triggerdef(t.oid)
		FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid
		WHERE t.tgrelid = 'register_entries'::regclass AND NOT t.tgisinternal`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	type trig struct{ enabled, src, def string }
	found := map[string]trig{}
	for rows.Next() {
		var name string
		var t trig
		if err := rows.Scan(&name, &t.enabled, &t.src, &t.def); err != nil {
			return nil, err
		}
		found[name] = t
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := make([]register.Guard, len(guards))
	for i, g := range guards {
		t, ok := found[g.name]
		out[i].Name = g.name
		switch {
		case !ok:
			out[i].Problem = "missing (trigger dropped)"
		case t.enabled == "D":
			out[i].Problem = "disabled (ALTER TABLE … DISABLE TRIGGER)"
		case !refuses(t.def, g.events), !strings.Contains(t.src, "RAISE EXCEPTION"):
			out[i].Problem = "altered (trigger no longer refuses the change)"
		default:
			out[i].Intact = true
		}
	}
	return out, nil
}
