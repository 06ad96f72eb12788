// Package pgstore is the register and outbox backend on PostgreSQL via
// pgx v5, for deployments where several Meldeweg instances share one
// outbox.
//
// Claims use SELECT … FOR UPDATE SKIP LOCKED, so concurrent instances
// take different messages without waiting for each other. Appends are
// serialised on the head row (SELECT … FOR UPDATE), so the chain has one
// order and append throughput is that of one transaction at a time.
// UPDATE, DELETE and TRUNCATE on entries are refused by triggers; the table
// owner can drop them, which Verify then reveals — run Meldeweg as a role
// that does not own the tables where that matters.
package pgstore

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"meldeweg.dev/meldeweg/transport/register"
)

//go:embed migration/*.sql
var migrations embed.FS

// Options configure a Store. The zero value is fine.
type Options struct {
	// Clock gives entry and message times. Defaults to time.Now.
	Clock register.Clock
}

// Store is a register.Store on a PostgreSQL database.
type Store struct {
	pool  *pgxpool.Pool
	clock register.Clock
}

var _ register.Store = (*Store)(nil)

// Open connects to the database at dsn (a postgres:// URL or key=value
// string), applies pending migrations under an advisory lock (so several
// instances may start at once) and checks the schema version. A database
// written by a newer Meldeweg gives an error wrapping
// register.ErrSchemaVersion and is left untouched.
func Open(ctx context.Context, dsn string, opt Options) (*Store, error) {
	if opt.Clock == nil {
		opt.Clock = time.Now
	}
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		return nil, fmt.Errorf("register database: %w", err)
	}
	s := &Store{pool: pool, clock: opt.Clock}
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("register database: %w", err)
	}
	return s, nil
}

// Close closes the connection pool.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// MigrationVersions lists the embedded migration numbers in order; the
// SQLite backend has the same numbering.
func MigrationVersions() []int {
	ms, _ := loadMigrations()
	return register.MigrationVersions(ms)
}

func loadMigrations() ([]register.Migration, error) {
	return register.LoadMigrations(migrations, "migration/*.sql")
}

// migrationLock is the advisory lock key that serialises migrations.
const migrationLock = 0x6d656c6465776567 // "meldeweg"

func (s *Store) migrate(ctx context.Context) error {
	ms, err := loadMigrations()
	if err != nil {
		return err
	}
	latest := ms[len(ms)-1].Version
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(migrationLock)); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS register_schema (version integer NOT NULL)`); err != nil {
			return err
		}
		var n, have int
		if err := tx.QueryRow(ctx, `SELECT count(*), COALESCE(max(version), 0) FROM register_schema`).Scan(&n, &have); err != nil {
			return err
		}
		if n > 1 || have > latest {
			return fmt.Errorf("%w: database has schema version %d, this Meldeweg knows up to %d", register.ErrSchemaVersion, have, latest)
		}
		for _, m := range ms {
			if m.Version <= have {
				continue
			}
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return fmt.Errorf("migration %03d: %w", m.Version, err)
			}
			have = m.Version
		}
		if _, err := tx.Exec(ctx, `DELETE FROM register_schema`); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO register_schema (version) VALUES ($1)`, have)
		return err
	})
}

// SchemaVersion returns the database's schema version.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := s.pool.QueryRow(ctx, `SELECT version FROM register_schema`).Scan(&v)
	return v, err
}

func (s *Store) now() time.Time { return s.clock().UTC().Truncate(time.Microsecond) }

const entryCols = `seq, time, direction, channel, event, actor, endpoint, message_id, related, correlation, attempt, payload_sha256, payload_size, detail, prev_hash, hash`

// appendAll appends entries in order, in one transaction: the payloads
// first, before the head row is locked, so that writing a large one does
// not hold up other instances' appends; then the head is locked and read
// once, the entries chained to it in memory (register.Chain), inserted,
// and the head advanced once.
func appendAll(ctx context.Context, tx pgx.Tx, at time.Time, entries ...register.AppendParams) error {
	_, err := appendChain(ctx, tx, at, entries)
	return err
}

func appendTx(ctx context.Context, tx pgx.Tx, at time.Time, p register.AppendParams) (register.Entry, error) {
	es, err := appendChain(ctx, tx, at, []register.AppendParams{p})
	if err != nil {
		return register.Entry{}, err
	}
	return es[0], nil
}

func appendChain(ctx context.Context, tx pgx.Tx, at time.Time, ps []register.AppendParams) ([]register.Entry, error) {
	for _, p := range ps {
		if p.Data == nil {
			continue
		}
		if err := register.CheckEntry(p); err != nil {
			return nil, err
		}
		if err := keepPayload(ctx, tx, at, p.Payload.SHA256, p.Data); err != nil {
			return nil, fmt.Errorf("keeping payload %s: %w", p.Payload.SHA256, err)
		}
	}
	var seq int64
	var head []byte
	if err := tx.QueryRow(ctx, `SELECT seq, hash FROM register_head WHERE id = 1 FOR UPDATE`).Scan(&seq, &head); err != nil {
		return nil, fmt.Errorf("reading register head: %w", err)
	}
	prev, ok := register.HashFromBytes(head)
	if !ok {
		return nil, fmt.Errorf("register head hash has %d bytes, expected 32", len(head))
	}
	es, err := register.Chain(prev, seq, at, ps)
	if err != nil || len(es) == 0 {
		return nil, err
	}
	for _, e := range es {
		r := e.Record()
		if _, err := tx.Exec(ctx, `INSERT INTO register_entries (`+entryCols+`) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16)`,
			r.Seq, r.Time, r.Direction, r.Channel, r.Event, r.Actor, r.Endpoint, r.MessageID, r.Related,
			r.Correlation, r.Attempt, r.PayloadSHA256[:], r.PayloadSize, r.Detail, r.PrevHash[:], r.Hash[:]); err != nil {
			return nil, fmt.Errorf("appending entry %d: %w", r.Seq, err)
		}
	}
	last := es[len(es)-1].Record()
	if _, err := tx.Exec(ctx, `UPDATE register_head SET seq = $1, hash = $2 WHERE id = 1`, last.Seq, last.Hash[:]); err != nil {
		return nil, fmt.Errorf("advancing register head: %w", err)
	}
	return es, nil
}

// keepPayload stores data under sum unless the register holds it already.
func keepPayload(ctx context.Context, tx pgx.Tx, at time.Time, sum register.Hash, data io.Reader) error {
	tag, err := tx.Exec(ctx, `INSERT INTO register_payloads (sha256, stored_size, chunks, created) VALUES ($1, 0, 0, $2) ON CONFLICT DO NOTHING`,
		sum[:], at)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return nil // kept before
	}
	size, chunks, err := register.WriteChunks(data, func(n int, chunk []byte) error {
		_, err := tx.Exec(ctx, `INSERT INTO register_payload_chunks (sha256, n, data) VALUES ($1, $2, $3)`, sum[:], n, chunk)
		return err
	})
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `UPDATE register_payloads SET stored_size = $1, chunks = $2 WHERE sha256 = $3`, size, chunks, sum[:])
	return err
}

// Payload implements register.Store.
func (s *Store) Payload(ctx context.Context, sum register.Hash) (io.ReadCloser, error) {
	var chunks int
	err := s.pool.QueryRow(ctx, `SELECT chunks FROM register_payloads WHERE sha256 = $1`, sum[:]).Scan(&chunks)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("payload %s: %w", sum, register.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("payload %s: %w", sum, err)
	}
	return register.ChunkReader(sum, chunks, func(n int) ([]byte, error) {
		var b []byte
		err := s.pool.QueryRow(ctx, `SELECT data FROM register_payload_chunks WHERE sha256 = $1 AND n = $2`, sum[:], n).Scan(&b)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, register.ErrNotFound
		}
		return b, err
	}), nil
}

// DeletePayload implements register.Store.
func (s *Store) DeletePayload(ctx context.Context, p register.AppendParams) (register.Entry, error) {
	if err := register.CheckDeletePayload(p); err != nil {
		return register.Entry{}, err
	}
	var e register.Entry
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		if e, err = appendTx(ctx, tx, s.now(), p); err != nil {
			return err
		}
		sum := p.Payload.SHA256
		if _, err := tx.Exec(ctx, `DELETE FROM register_payload_chunks WHERE sha256 = $1`, sum[:]); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `DELETE FROM register_payloads WHERE sha256 = $1`, sum[:])
		return err
	})
	return e, err
}

// Append implements register.Store.
func (s *Store) Append(ctx context.Context, p register.AppendParams) (register.Entry, error) {
	var e register.Entry
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		e, err = appendTx(ctx, tx, s.now(), p)
		return err
	})
	return e, err
}

func scanEntry(row pgx.Row) (register.Entry, error) {
	var r register.Record
	var ps, prev, h []byte
	if err := row.Scan(&r.Seq, &r.Time, &r.Direction, &r.Channel, &r.Event, &r.Actor, &r.Endpoint, &r.MessageID, &r.Related,
		&r.Correlation, &r.Attempt, &ps, &r.PayloadSize, &r.Detail, &prev, &h); err != nil {
		return register.Entry{}, err
	}
	r.Time = r.Time.UTC()
	// A hash of the wrong length loads as zero; Verify then reports it.
	r.PayloadSHA256, _ = register.HashFromBytes(ps)
	r.PrevHash, _ = register.HashFromBytes(prev)
	r.Hash, _ = register.HashFromBytes(h)
	return register.RecordEntry(r), nil
}

// Get implements register.Store.
func (s *Store) Get(ctx context.Context, seq int64) (register.Entry, error) {
	e, err := scanEntry(s.pool.QueryRow(ctx, `SELECT `+entryCols+` FROM register_entries WHERE seq = $1`, seq))
	if errors.Is(err, pgx.ErrNoRows) {
		return e, fmt.Errorf("register entry %d: %w", seq, register.ErrNotFound)
	}
	return e, err
}

// List implements register.Store.
func (s *Store) List(ctx context.Context, p register.ListParams) ([]register.Entry, error) {
	p, err := register.CheckList(p)
	if err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `SELECT `+entryCols+` FROM register_entries
		WHERE seq > $1 AND ($2 = '' OR message_id = $2 OR related = $2) ORDER BY seq LIMIT $3`, p.After, string(p.MessageID), p.Limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []register.Entry{}
	for rows.Next() {
		e, err := scanEntry(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// Verify implements register.Store. It reads the head and all entries in
// one REPEATABLE READ snapshot, so concurrent appends do not disturb it.
func (s *Store) Verify(ctx context.Context) (register.VerifyReport, error) {
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return register.VerifyReport{}, err
	}
	defer tx.Rollback(ctx)
	var head register.Head
	var hb []byte
	if err := tx.QueryRow(ctx, `SELECT seq, hash FROM register_head WHERE id = 1`).Scan(&head.Seq, &hb); err != nil {
		return register.VerifyReport{}, fmt.Errorf("reading register head: %w", err)
	}
	head.Hash, _ = register.HashFromBytes(hb)
	rows, err := tx.Query(ctx, `SELECT `+entryCols+` FROM register_entries ORDER BY seq`)
	if err != nil {
		return register.VerifyReport{}, err
	}
	defer rows.Close()
	return register.VerifyChain(ctx, func(yield func(register.Entry, error) bool) {
		for rows.Next() {
			e, err := scanEntry(rows)
			if !yield(e, err) || err != nil {
				return
			}
		}
		if err := rows.Err(); err != nil {
			yield(register.Entry{}, err)
		}
	}, head)
}

const messageCols = `id, channel, endpoint, correlation, payload_sha256, payload_size, resend_of, state, attempt, max_attempts, next_attempt_at, claimed_by, claimed_at, last_error, created_at, updated_at`

func scanMessage(row pgx.Row) (register.Message, error) {
	var m register.Message
	var corr string
	var ps []byte
	var next, claimed *time.Time
	if err := row.Scan(&m.ID, &m.Channel, &m.Endpoint, &corr, &ps, &m.Payload.Size, &m.ResendOf, &m.State, &m.Attempt,
		&m.MaxAttempts, &next, &m.ClaimedBy, &claimed, &m.LastError, &m.CreatedAt, &m.UpdatedAt); err != nil {
		return m, err
	}
	var err error
	if m.Correlation, err = register.ParseCorrelationKey(corr); err != nil {
		return m, fmt.Errorf("message %s: %w", m.ID, err)
	}
	m.Payload.SHA256, _ = register.HashFromBytes(ps)
	m.NextAttemptAt, m.ClaimedAt = utc(next), utc(claimed)
	m.CreatedAt, m.UpdatedAt = m.CreatedAt.UTC(), m.UpdatedAt.UTC()
	return m, nil
}

func utc(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// Enqueue implements register.Store.
func (s *Store) Enqueue(ctx context.Context, p register.EnqueueParams) (register.Message, error) {
	now := s.now()
	m, aps, err := register.NewMessage(p, now)
	if err != nil {
		return register.Message{}, err
	}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if m.ResendOf != "" {
			var n int
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM outbox_messages WHERE id = $1`, m.ResendOf).Scan(&n); err != nil {
				return err
			}
			if n == 0 {
				return fmt.Errorf("message %s resends %s: %w", m.ID, m.ResendOf, register.ErrNotFound)
			}
		}
		tag, err := tx.Exec(ctx, `INSERT INTO outbox_messages (`+messageCols+`) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16)
			ON CONFLICT (id) DO NOTHING`,
			m.ID, m.Channel, m.Endpoint, m.Correlation.String(), m.Payload.SHA256[:], m.Payload.Size, m.ResendOf, m.State,
			m.Attempt, m.MaxAttempts, nullTime(m.NextAttemptAt), m.ClaimedBy, nullTime(m.ClaimedAt), m.LastError,
			m.CreatedAt, m.UpdatedAt)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("message %s: %w", m.ID, register.ErrDuplicateMessage)
		}
		return appendAll(ctx, tx, now, slices.Concat(p.Before, aps)...)
	})
	if err != nil {
		return register.Message{}, err
	}
	return m, nil
}

// casUpdate writes n over the row that is still in old's state and attempt.
func casUpdate(ctx context.Context, tx pgx.Tx, old, n register.Message) error {
	tag, err := tx.Exec(ctx, `UPDATE outbox_messages SET state = $1, attempt = $2, next_attempt_at = $3, claimed_by = $4,
		claimed_at = $5, last_error = $6, updated_at = $7 WHERE id = $8 AND state = $9 AND attempt = $10`,
		n.State, n.Attempt, nullTime(n.NextAttemptAt), n.ClaimedBy, nullTime(n.ClaimedAt), n.LastError, n.UpdatedAt,
		old.ID, old.State, old.Attempt)
	if err != nil {
		return err
	}
	if tag.RowsAffected() != 1 {
		return &register.StateConflictError{ID: old.ID, Want: []register.MessageState{old.State}, WantAttempt: old.Attempt, Found: "changed concurrently"}
	}
	return nil
}

// Claim implements register.Store with FOR UPDATE SKIP LOCKED: rows another
// instance is claiming are passed over, not waited for.
func (s *Store) Claim(ctx context.Context, p register.ClaimParams) ([]register.Message, error) {
	p, err := register.CheckClaim(p)
	if err != nil {
		return nil, err
	}
	var out []register.Message
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		out = out[:0]
		now := s.now()
		leaseBefore := time.Time{} // matches no claimed_at
		if p.Lease > 0 {
			leaseBefore = now.Add(-p.Lease)
		}
		rows, err := tx.Query(ctx, `SELECT `+messageCols+` FROM outbox_messages
			WHERE (state = 'queued' OR (state = 'retry-wait' AND next_attempt_at <= $1) OR (state = 'sending' AND claimed_at <= $2))
			  AND ($4 = '' OR channel = $4) AND ($5 = '' OR id = $5)
			ORDER BY created_at, id LIMIT $3 FOR UPDATE SKIP LOCKED`, now, leaseBefore, p.Limit, string(p.Channel), string(p.ID))
		if err != nil {
			return err
		}
		var cands []register.Message
		for rows.Next() {
			m, err := scanMessage(rows)
			if err != nil {
				rows.Close()
				return err
			}
			cands = append(cands, m)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, m := range cands {
			if !register.Claimable(m, now, p.Lease) {
				continue
			}
			n, ap := register.ClaimMessage(m, p.Worker, now)
			if err := casUpdate(ctx, tx, m, n); err != nil {
				return err
			}
			if _, err := appendTx(ctx, tx, now, ap); err != nil {
				return err
			}
			out = append(out, n)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if out == nil {
		out = []register.Message{}
	}
	return out, nil
}

// Transition implements register.Store.
func (s *Store) Transition(ctx context.Context, t register.Transition) (register.Message, error) {
	var n register.Message
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		m, err := scanMessage(tx.QueryRow(ctx, `SELECT `+messageCols+` FROM outbox_messages WHERE id = $1 FOR UPDATE`, t.ID()))
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("message %s: %w", t.ID(), register.ErrNotFound)
		}
		if err != nil {
			return err
		}
		now := s.now()
		var ap register.AppendParams
		if n, ap, err = register.Apply(m, t, now); err != nil {
			return err
		}
		if err := casUpdate(ctx, tx, m, n); err != nil {
			return err
		}
		return appendAll(ctx, tx, now, slices.Concat(t.Before(), []register.AppendParams{ap})...)
	})
	if err != nil {
		return register.Message{}, err
	}
	return n, nil
}

// Message implements register.Store.
func (s *Store) Message(ctx context.Context, id register.MessageID) (register.Message, error) {
	m, err := scanMessage(s.pool.QueryRow(ctx, `SELECT `+messageCols+` FROM outbox_messages WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return m, fmt.Errorf("message %s: %w", id, register.ErrNotFound)
	}
	return m, err
}

// Messages implements register.Store.
func (s *Store) Messages(ctx context.Context, p register.MessagesParams) ([]register.Message, error) {
	p, err := register.CheckMessages(p)
	if err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `SELECT `+messageCols+` FROM outbox_messages
		WHERE ($1 = '' OR state = $1) AND ($2 = '' OR correlation = $2) ORDER BY created_at, id LIMIT $3`,
		string(p.State), p.Correlation.String(), p.Limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []register.Message{}
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// IsAppendOnlyRefusal reports whether err is the database refusing to
// change or delete an entry.
func IsAppendOnlyRefusal(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && strings.Contains(pe.Message, "append-only")
}
