// Package sqlitestore is the embedded register and outbox backend on
// SQLite (modernc.org/sqlite, pure Go). It is Meldeweg's default: one file,
// no server.
//
// The database runs in WAL mode with synchronous=FULL (every commit is on
// disk before Append returns) and a busy timeout. Every write transaction
// begins IMMEDIATE, so SQLite has one writer at a time across all
// connections and processes; the others wait up to the busy timeout. There
// is no FOR UPDATE SKIP LOCKED: concurrent Claim calls are serialised, not
// spread. The file must be on a local file system. UPDATE and DELETE on
// entries are refused by triggers; anyone who can write the file can drop
// them, which Verify then reveals.
package sqlitestore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"meldeweg.dev/meldeweg/transport/register"
)

//go:embed migration/*.sql
var migrations embed.FS

// Options configure a Store. The zero value is fine.
type Options struct {
	// Clock gives entry and message times. Defaults to time.Now.
	Clock register.Clock
	// BusyTimeout is how long a writer waits for the lock held by another
	// connection or process. Defaults to 10 s.
	BusyTimeout time.Duration
}

// Store is a register.Store on one SQLite file.
type Store struct {
	w     *sql.DB // the committer's connection: BEGIN IMMEDIATE
	r     *sql.DB // readers: deferred transactions, WAL snapshots
	clock register.Clock
	path  string

	stmts   map[string]*sql.Stmt // the write path's statements, prepared at Open (see wtx)
	reads   map[string]*sql.Stmt // the hot reads (readQueries), on the reader pool
	ops     chan writeOp         // unbuffered: a send succeeds only when the committer takes it
	quit    chan struct{}        // closed by Close
	stopped chan struct{}        // closed when the committer has returned
}

// writeOp is one caller's write, run by the committer inside a shared
// transaction under its own savepoint.
type writeOp struct {
	ctx  context.Context
	fn   func(w *wtx) error
	done chan error
}

// wtx is one write inside the committer's transaction. Its statements are
// prepared once, when the store opens, and reused: preparing (parsing and
// planning) each statement anew cost the committer, which every write
// waits for, about as much CPU as running it (BenchmarkDelivery's
// profile). A query not in writeQueries is prepared for the one use.
type wtx struct {
	ctx context.Context
	tx  *sql.Tx
	s   *Store
}

func (w *wtx) stmt(q string) *sql.Stmt {
	if st, ok := w.s.stmts[q]; ok {
		return w.tx.StmtContext(w.ctx, st)
	}
	return nil
}

func (w *wtx) exec(q string, args ...any) (sql.Result, error) {
	if st := w.stmt(q); st != nil {
		return st.ExecContext(w.ctx, args...)
	}
	return w.tx.ExecContext(w.ctx, q, args...)
}

func (w *wtx) queryRow(q string, args ...any) *sql.Row {
	if st := w.stmt(q); st != nil {
		return st.QueryRowContext(w.ctx, args...)
	}
	return w.tx.QueryRowContext(w.ctx, q, args...)
}

func (w *wtx) query(q string, args ...any) (*sql.Rows, error) {
	if st := w.stmt(q); st != nil {
		return st.QueryContext(w.ctx, args...)
	}
	return w.tx.QueryContext(w.ctx, q, args...)
}

// The write path's statements.
const (
	qSavepoint     = `SAVEPOINT op`
	qRollbackTo    = `ROLLBACK TO op`
	qRelease       = `RELEASE op`
	qHead          = `SELECT seq, hash FROM register_head WHERE id = 1`
	qInsertEntry   = `INSERT INTO register_entries (` + entryCols + `) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`
	qUpdateHead    = `UPDATE register_head SET seq = ?, hash = ? WHERE id = 1`
	qInsertPayload = `INSERT INTO register_payloads (sha256, stored_size, chunks, created_us) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`
	qInsertChunk   = `INSERT INTO register_payload_chunks (sha256, n, data) VALUES (?, ?, ?)`
	qUpdatePayload = `UPDATE register_payloads SET stored_size = ?, chunks = ? WHERE sha256 = ?`
	qDeleteChunks  = `DELETE FROM register_payload_chunks WHERE sha256 = ?`
	qDeletePayload = `DELETE FROM register_payloads WHERE sha256 = ?`
	qCountMessage  = `SELECT COUNT(*) FROM outbox_messages WHERE id = ?`
	qInsertMessage = `INSERT INTO outbox_messages (` + messageCols + `) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`
	qSelectMessage = `SELECT ` + messageCols + ` FROM outbox_messages WHERE id = ?`
	qUpdateMessage = `UPDATE outbox_messages SET state = ?, attempt = ?, next_attempt_us = ?, claimed_by = ?, claimed_us = ?, last_error = ?, updated_us = ? WHERE id = ? AND state = ? AND attempt = ?`
	qClaimable     = `SELECT ` + messageCols + ` FROM outbox_messages
		WHERE (state = 'queued' OR (state = 'retry-wait' AND next_attempt_us <= ?) OR (state = 'sending' AND claimed_us <= ?))
		  AND (? = '' OR channel = ?)
		ORDER BY created_us, id LIMIT ?`
)

var writeQueries = []string{qSavepoint, qRollbackTo, qRelease, qHead, qInsertEntry, qUpdateHead, qInsertPayload, qInsertChunk,
	qUpdatePayload, qDeleteChunks, qDeletePayload, qCountMessage, qInsertMessage, qSelectMessage, qUpdateMessage, qClaimable}

// Hot reads: a message by ID and a payload's chunks are read for every
// message sent; prepared once like the writes (database/sql prepares a
// statement on each pooled connection once, when first used there).
const (
	qMessageByID   = `SELECT ` + messageCols + ` FROM outbox_messages WHERE id = ?`
	qPayloadChunks = `SELECT chunks FROM register_payloads WHERE sha256 = ?`
	qPayloadChunk  = `SELECT data FROM register_payload_chunks WHERE sha256 = ? AND n = ?`
)

var readQueries = []string{qMessageByID, qPayloadChunks, qPayloadChunk}

// maxBatch bounds how many writes share one transaction (and one fsync).
const maxBatch = 256

var _ register.Store = (*Store)(nil)

// Open opens or creates the register database at file, applies pending
// migrations and checks the schema version. A database written by a newer
// Meldeweg gives an error wrapping register.ErrSchemaVersion and is left
// untouched.
func Open(ctx context.Context, file string, opt Options) (*Store, error) {
	if opt.Clock == nil {
		opt.Clock = time.Now
	}
	if opt.BusyTimeout == 0 {
		opt.BusyTimeout = 10 * time.Second
	}
	if file == "" || strings.ContainsAny(file, "?#") {
		return nil, fmt.Errorf("register %q: expected a file path without ? or #", file)
	}
	if err := createPrivate(file); err != nil {
		return nil, fmt.Errorf("register %s: %w", file, err)
	}
	dsn := func(txlock string) string {
		return "file:" + file + "?_busy_timeout=" + strconv.FormatInt(opt.BusyTimeout.Milliseconds(), 10) +
			"&_journal_mode=WAL&_synchronous=FULL&_foreign_keys=1&_txlock=" + txlock
	}
	w, err := sql.Open("sqlite", dsn("immediate"))
	if err != nil {
		return nil, fmt.Errorf("register %s: %w", file, err)
	}
	r, err := sql.Open("sqlite", dsn("deferred"))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("register %s: %w", file, err)
	}
	w.SetMaxOpenConns(1) // only the committer writes
	s := &Store{w: w, r: r, clock: opt.Clock, path: file,
		ops: make(chan writeOp), quit: make(chan struct{}), stopped: make(chan struct{})}
	fail := func(err error) (*Store, error) {
		close(s.stopped)
		s.w.Close()
		s.r.Close()
		return nil, fmt.Errorf("register %s: %w", file, err)
	}
	if err := s.migrate(ctx); err != nil {
		return fail(err)
	}
	if s.stmts, err = prepareAll(ctx, s.w, writeQueries); err != nil {
		return fail(err)
	}
	if s.reads, err = prepareAll(ctx, s.r, readQueries); err != nil {
		return fail(err)
	}
	go s.committer()
	return s, nil
}

// createPrivate creates file (mode 0600) and its missing directories
// (mode 0700) unless the file exists, so that SQLite opens a file only its
// owner can read; SQLite gives the -wal and -shm files it creates the
// database file's mode. An existing file keeps its mode.
func createPrivate(file string) error {
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(file, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return f.Close()
}

// prepareAll prepares queries on db, by query text.
func prepareAll(ctx context.Context, db *sql.DB, queries []string) (map[string]*sql.Stmt, error) {
	stmts := make(map[string]*sql.Stmt, len(queries))
	for _, q := range queries {
		st, err := db.PrepareContext(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("preparing %q: %w", q, err)
		}
		stmts[q] = st
	}
	return stmts, nil
}

// Path returns the database file.
func (s *Store) Path() string { return s.path }

// ErrClosed is returned by writes after Close.
var ErrClosed = errors.New("register store is closed")

// Close stops the committer after the batch in progress and closes the
// database. Writes after Close return ErrClosed.
func (s *Store) Close() error {
	select {
	case <-s.quit:
		return nil
	default:
	}
	close(s.quit)
	<-s.stopped
	return errors.Join(s.w.Close(), s.r.Close())
}

// MigrationVersions lists the embedded migration numbers in order; the
// PostgreSQL backend has the same numbering.
func MigrationVersions() []int {
	ms, _ := loadMigrations()
	return register.MigrationVersions(ms)
}

func loadMigrations() ([]register.Migration, error) {
	return register.LoadMigrations(migrations, "migration/*.sql")
}

// migrate applies pending migrations, each in its own write transaction,
// and refuses a database from the future.
func (s *Store) migrate(ctx context.Context) error {
	ms, err := loadMigrations()
	if err != nil {
		return err
	}
	latest := ms[len(ms)-1].Version
	for {
		tx, err := s.w.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS register_schema (version INTEGER NOT NULL)`); err != nil {
			tx.Rollback()
			return err
		}
		var have int
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*), COALESCE(MAX(version), 0) FROM register_schema`).Scan(&n, &have); err != nil {
			tx.Rollback()
			return err
		}
		if n > 1 || have > latest {
			tx.Rollback()
			return fmt.Errorf("%w: database has schema version %d, this Meldeweg knows up to %d", register.ErrSchemaVersion, have, latest)
		}
		var next *register.Migration
		for i := range ms {
			if ms[i].Version > have {
				next = &ms[i]
				break
			}
		}
		if next == nil {
			return tx.Rollback()
		}
		if _, err := tx.ExecContext(ctx, next.SQL); err != nil {
			tx.Rollback()
			return fmt.Errorf("migration %03d: %w", next.Version, err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM register_schema`); err != nil {
			tx.Rollback()
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO register_schema (version) VALUES (?)`, next.Version); err != nil {
			tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return err
		}
	}
}

// SchemaVersion returns the database's schema version.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := s.r.QueryRowContext(ctx, `SELECT version FROM register_schema`).Scan(&v)
	return v, err
}

func (s *Store) now() time.Time { return s.clock().UTC().Truncate(time.Microsecond) }

// inTx runs fn in a write transaction and returns once that transaction
// is committed (fsynced) or has failed. Writes from concurrent callers
// share one transaction and so one fsync (group commit): each runs under
// its own savepoint, so one caller's error undoes only its own changes.
// This is how synchronous commits reach thousands of appends per second
// on a disk that manages only about a thousand fsyncs.
func (s *Store) inTx(ctx context.Context, fn func(w *wtx) error) error {
	op := writeOp{ctx: ctx, fn: fn, done: make(chan error, 1)}
	select {
	case s.ops <- op:
	case <-s.quit:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	// Once taken, the write may commit; wait for the outcome rather than
	// report a cancellation for something that happened.
	return <-op.done
}

// committer is the one goroutine that writes: it takes a write, adds any
// others already waiting, and runs them in one transaction.
func (s *Store) committer() {
	defer close(s.stopped)
	for {
		var batch []writeOp
		select {
		case op := <-s.ops:
			batch = append(batch, op)
		case <-s.quit:
			return
		}
	more:
		for len(batch) < maxBatch {
			select {
			case op := <-s.ops:
				batch = append(batch, op)
			default:
				break more
			}
		}
		s.runBatch(batch)
	}
}

func (s *Store) runBatch(batch []writeOp) {
	ctx := context.Background()
	errs := make([]error, len(batch))
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		for _, op := range batch {
			op.done <- err
		}
		return
	}
	if len(batch) == 1 {
		errs[0] = batch[0].fn(&wtx{ctx: batch[0].ctx, tx: tx, s: s})
	} else {
		ctl := &wtx{ctx: ctx, tx: tx, s: s} // savepoints, under the committer's context
		for i, op := range batch {
			w := &wtx{ctx: op.ctx, tx: tx, s: s}
			if _, err := ctl.exec(qSavepoint); err != nil {
				errs[i] = err
				continue
			}
			if err := op.ctx.Err(); err != nil {
				errs[i] = err
			} else {
				errs[i] = op.fn(w)
			}
			if errs[i] != nil {
				if _, err := ctl.exec(qRollbackTo); err != nil {
					// The transaction is in an unknown state: fail them all.
					tx.Rollback()
					for j, op := range batch {
						op.done <- errors.Join(errs[j], fmt.Errorf("rolling back a failed write: %w", err))
					}
					return
				}
			}
			if _, err := ctl.exec(qRelease); err != nil && errs[i] == nil {
				errs[i] = err
			}
		}
	}
	if len(batch) == 1 && errs[0] != nil {
		tx.Rollback()
		batch[0].done <- errs[0]
		return
	}
	cerr := tx.Commit()
	for i, op := range batch {
		if errs[i] == nil && cerr != nil {
			errs[i] = fmt.Errorf("commit: %w", cerr)
		}
		op.done <- errs[i]
	}
}

const entryCols = `seq, time_us, direction, channel, event, actor, endpoint, message_id, related, correlation, attempt, payload_sha256, payload_size, detail, prev_hash, hash`

// appendAll appends entries in order, in one transaction. The head is
// read once and written once for all of them: the entries of one write
// chain to each other in memory (a message's first commit appends four).
func appendAll(w *wtx, at time.Time, entries ...register.AppendParams) error {
	_, err := appendChain(w, at, entries)
	return err
}

func appendTx(w *wtx, at time.Time, p register.AppendParams) (register.Entry, error) {
	es, err := appendChain(w, at, []register.AppendParams{p})
	if err != nil {
		return register.Entry{}, err
	}
	return es[0], nil
}

// appendChain appends ps in order after the register head and advances
// the head to the last of them.
func appendChain(w *wtx, at time.Time, ps []register.AppendParams) ([]register.Entry, error) {
	var seq int64
	var head []byte
	if err := w.queryRow(qHead).Scan(&seq, &head); err != nil {
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
	for i, e := range es {
		r := e.Record()
		if _, err := w.exec(qInsertEntry,
			r.Seq, r.Time.UnixMicro(), r.Direction, r.Channel, r.Event, r.Actor, r.Endpoint, r.MessageID, r.Related,
			r.Correlation, r.Attempt, r.PayloadSHA256[:], r.PayloadSize, r.Detail, r.PrevHash[:], r.Hash[:]); err != nil {
			return nil, fmt.Errorf("appending entry %d: %w", r.Seq, err)
		}
		if p := ps[i]; p.Data != nil {
			if err := keepPayload(w, at, p.Payload.SHA256, p.Data); err != nil {
				return nil, fmt.Errorf("entry %d: keeping payload %s: %w", r.Seq, p.Payload.SHA256, err)
			}
		}
	}
	last := es[len(es)-1].Record()
	if _, err := w.exec(qUpdateHead, last.Seq, last.Hash[:]); err != nil {
		return nil, fmt.Errorf("advancing register head: %w", err)
	}
	return es, nil
}

// keepPayload stores data under sum unless the register holds it already.
func keepPayload(w *wtx, at time.Time, sum register.Hash, data io.Reader) error {
	res, err := w.exec(qInsertPayload, sum[:], 0, 0, micro(at))
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return err // kept before
	}
	size, chunks, err := register.WriteChunks(data, func(n int, chunk []byte) error {
		_, err := w.exec(qInsertChunk, sum[:], n, chunk)
		return err
	})
	if err != nil {
		return err
	}
	_, err = w.exec(qUpdatePayload, size, chunks, sum[:])
	return err
}

// Payload implements register.Store.
func (s *Store) Payload(ctx context.Context, sum register.Hash) (io.ReadCloser, error) {
	var chunks int
	err := s.reads[qPayloadChunks].QueryRowContext(ctx, sum[:]).Scan(&chunks)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("payload %s: %w", sum, register.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("payload %s: %w", sum, err)
	}
	return register.ChunkReader(sum, chunks, func(n int) ([]byte, error) {
		var b []byte
		err := s.reads[qPayloadChunk].QueryRowContext(ctx, sum[:], n).Scan(&b)
		if errors.Is(err, sql.ErrNoRows) {
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
	err := s.inTx(ctx, func(w *wtx) error {
		var err error
		if e, err = appendTx(w, s.now(), p); err != nil {
			return err
		}
		sum := p.Payload.SHA256
		if _, err := w.exec(qDeleteChunks, sum[:]); err != nil {
			return err
		}
		_, err = w.exec(qDeletePayload, sum[:])
		return err
	})
	return e, err
}

// Append implements register.Store.
func (s *Store) Append(ctx context.Context, p register.AppendParams) (register.Entry, error) {
	var e register.Entry
	err := s.inTx(ctx, func(w *wtx) error {
		var err error
		e, err = appendTx(w, s.now(), p)
		return err
	})
	return e, err
}

type scanner interface{ Scan(...any) error }

func scanEntry(sc scanner) (register.Entry, error) {
	var r register.Record
	var us int64
	var ps, prev, h []byte
	if err := sc.Scan(&r.Seq, &us, &r.Direction, &r.Channel, &r.Event, &r.Actor, &r.Endpoint, &r.MessageID, &r.Related,
		&r.Correlation, &r.Attempt, &ps, &r.PayloadSize, &r.Detail, &prev, &h); err != nil {
		return register.Entry{}, err
	}
	r.Time = time.UnixMicro(us).UTC()
	// A hash column of the wrong length loads as a zero hash; Verify then
	// reports the entry as broken.
	r.PayloadSHA256, _ = register.HashFromBytes(ps)
	r.PrevHash, _ = register.HashFromBytes(prev)
	r.Hash, _ = register.HashFromBytes(h)
	return register.RecordEntry(r), nil
}

// Get implements register.Store.
func (s *Store) Get(ctx context.Context, seq int64) (register.Entry, error) {
	e, err := scanEntry(s.r.QueryRowContext(ctx, `SELECT `+entryCols+` FROM register_entries WHERE seq = ?`, seq))
	if errors.Is(err, sql.ErrNoRows) {
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
	q := `SELECT ` + entryCols + ` FROM register_entries WHERE seq > ? ORDER BY seq LIMIT ?`
	args := []any{p.After, p.Limit}
	if p.MessageID != "" {
		q = `SELECT ` + entryCols + ` FROM register_entries WHERE seq > ? AND (message_id = ? OR related = ?) ORDER BY seq LIMIT ?`
		args = []any{p.After, p.MessageID, p.MessageID, p.Limit}
	}
	rows, err := s.r.QueryContext(ctx, q, args...)
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
// one read snapshot, so concurrent appends do not disturb it.
func (s *Store) Verify(ctx context.Context) (register.VerifyReport, error) {
	tx, err := s.r.BeginTx(ctx, nil)
	if err != nil {
		return register.VerifyReport{}, err
	}
	defer tx.Rollback()
	var head register.Head
	var hb []byte
	if err := tx.QueryRowContext(ctx, `SELECT seq, hash FROM register_head WHERE id = 1`).Scan(&head.Seq, &hb); err != nil {
		return register.VerifyReport{}, fmt.Errorf("reading register head: %w", err)
	}
	head.Hash, _ = register.HashFromBytes(hb)
	rows, err := tx.QueryContext(ctx, `SELECT `+entryCols+` FROM register_entries ORDER BY seq`)
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

const messageCols = `id, channel, endpoint, correlation, payload_sha256, payload_size, resend_of, state, attempt, max_attempts, next_attempt_us, claimed_by, claimed_us, last_error, created_us, updated_us`

func scanMessage(sc scanner) (register.Message, error) {
	var m register.Message
	var corr string
	var ps []byte
	var next, claimed, created, updated int64
	if err := sc.Scan(&m.ID, &m.Channel, &m.Endpoint, &corr, &ps, &m.Payload.Size, &m.ResendOf, &m.State, &m.Attempt,
		&m.MaxAttempts, &next, &m.ClaimedBy, &claimed, &m.LastError, &created, &updated); err != nil {
		return m, err
	}
	var err error
	if m.Correlation, err = register.ParseCorrelationKey(corr); err != nil {
		return m, fmt.Errorf("message %s: %w", m.ID, err)
	}
	m.Payload.SHA256, _ = register.HashFromBytes(ps)
	m.NextAttemptAt, m.ClaimedAt = fromMicro(next), fromMicro(claimed)
	m.CreatedAt, m.UpdatedAt = fromMicro(created), fromMicro(updated)
	return m, nil
}

func fromMicro(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}

func micro(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

// Enqueue implements register.Store.
func (s *Store) Enqueue(ctx context.Context, p register.EnqueueParams) (register.Message, error) {
	now := s.now()
	m, aps, err := register.NewMessage(p, now)
	if err != nil {
		return register.Message{}, err
	}
	err = s.inTx(ctx, func(w *wtx) error {
		var n int
		if err := w.queryRow(qCountMessage, m.ID).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("message %s: %w", m.ID, register.ErrDuplicateMessage)
		}
		if m.ResendOf != "" {
			if err := w.queryRow(qCountMessage, m.ResendOf).Scan(&n); err != nil {
				return err
			}
			if n == 0 {
				return fmt.Errorf("message %s resends %s: %w", m.ID, m.ResendOf, register.ErrNotFound)
			}
		}
		if _, err := w.exec(qInsertMessage,
			m.ID, m.Channel, m.Endpoint, m.Correlation.String(), m.Payload.SHA256[:], m.Payload.Size, m.ResendOf, m.State,
			m.Attempt, m.MaxAttempts, micro(m.NextAttemptAt), m.ClaimedBy, micro(m.ClaimedAt), m.LastError,
			micro(m.CreatedAt), micro(m.UpdatedAt)); err != nil {
			return err
		}
		return appendAll(w, now, slices.Concat(p.Before, aps)...)
	})
	if err != nil {
		return register.Message{}, err
	}
	return m, nil
}

// casUpdate writes n over the row that is still in old's state and attempt.
func casUpdate(w *wtx, old, n register.Message) error {
	res, err := w.exec(qUpdateMessage,
		n.State, n.Attempt, micro(n.NextAttemptAt), n.ClaimedBy, micro(n.ClaimedAt), n.LastError, micro(n.UpdatedAt),
		old.ID, old.State, old.Attempt)
	if err != nil {
		return err
	}
	if k, err := res.RowsAffected(); err != nil || k != 1 {
		return &register.StateConflictError{ID: old.ID, Want: []register.MessageState{old.State}, WantAttempt: old.Attempt, Found: "changed concurrently"}
	}
	return nil
}

// Claim implements register.Store. The write transaction makes claims
// exclusive; SQLite has no SKIP LOCKED, so concurrent claimers queue.
func (s *Store) Claim(ctx context.Context, p register.ClaimParams) ([]register.Message, error) {
	p, err := register.CheckClaim(p)
	if err != nil {
		return nil, err
	}
	var out []register.Message
	err = s.inTx(ctx, func(w *wtx) error {
		now := s.now()
		leaseBefore := int64(-1) // no row has a negative claim time
		if p.Lease > 0 {
			leaseBefore = now.Add(-p.Lease).UnixMicro()
		}
		var rows *sql.Rows
		var err error
		if p.ID != "" {
			// By primary key; Claimable below decides.
			rows, err = w.query(qSelectMessage, p.ID)
		} else {
			rows, err = w.query(qClaimable, now.UnixMicro(), leaseBefore, string(p.Channel), string(p.Channel), p.Limit)
		}
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
		out = out[:0]
		for _, m := range cands {
			if !register.Claimable(m, now, p.Lease) || (p.Channel != "" && m.Channel != p.Channel) {
				continue
			}
			n, ap := register.ClaimMessage(m, p.Worker, now)
			if err := casUpdate(w, m, n); err != nil {
				return err
			}
			if _, err := appendTx(w, now, ap); err != nil {
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
	err := s.inTx(ctx, func(w *wtx) error {
		m, err := scanMessage(w.queryRow(qSelectMessage, t.ID()))
		if errors.Is(err, sql.ErrNoRows) {
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
		if err := casUpdate(w, m, n); err != nil {
			return err
		}
		return appendAll(w, now, slices.Concat(t.Before(), []register.AppendParams{ap})...)
	})
	if err != nil {
		return register.Message{}, err
	}
	return n, nil
}

// Message implements register.Store.
func (s *Store) Message(ctx context.Context, id register.MessageID) (register.Message, error) {
	m, err := scanMessage(s.reads[qMessageByID].QueryRowContext(ctx, id))
	if errors.Is(err, sql.ErrNoRows) {
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
	rows, err := s.r.QueryContext(ctx, `SELECT `+messageCols+` FROM outbox_messages
		WHERE (? = '' OR state = ?) AND (? = '' OR correlation = ?) ORDER BY created_us, id LIMIT ?`,
		p.State, p.State, p.Correlation.String(), p.Correlation.String(), p.Limit)
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
