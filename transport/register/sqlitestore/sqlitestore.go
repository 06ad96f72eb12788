// Package sqlitestore is the embedded register and outbox backend on
// SQLite (modernc.org/sqlite, pure Go). It is Meldeweg's default: one file,
// no server. It is a register.Driver; the register's operations are
// written once, over the driver, in register.NewStore.
//
// The database runs in WAL mode with synchronous=FULL (every commit is on
// disk before Append returns) and a busy timeout. Every write transaction
// begins IMMEDIATE, so SQLite has one writer at a time across all
// connections and processes; the others wait up to the busy timeout.
// Writes from concurrent callers in one process share a transaction and
// its fsync (group commit, commit.go).
//
// The file is created with mode 0600 (and missing directories with 0700);
// SQLite gives the -wal and -shm files the same mode.
//
// # Limits
//
// There is no FOR UPDATE SKIP LOCKED: concurrent Claim calls are
// serialised, not spread. The file must be on a local file system (WAL
// does not work over network file systems). UPDATE and DELETE on entries
// are refused by triggers; anyone who can write the file can drop them,
// which Verify then reports, and can change the file in any other way,
// which Verify reports as far as the chain reaches.
package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"modernc.org/sqlite" // registers the "sqlite" driver
	sqlite3 "modernc.org/sqlite/lib"

	"meldeweg.dev/meldeweg/transport/register"
)

// Options configure a Store. The zero value is fine.
type Options struct {
	// Clock gives entry and message times. Defaults to time.Now.
	Clock register.Clock
	// Tenant is the tenant the register belongs to: recorded at the
	// first open, checked at every later one (a register of another
	// tenant gives an error wrapping register.ErrTenantMismatch naming
	// both). Defaults to register.DefaultTenant.
	Tenant register.TenantID
	// BusyTimeout is how long a writer waits for the lock held by another
	// connection or process. Defaults to 10 s.
	BusyTimeout time.Duration

	unbound bool // tests: a store as before tenant binding (export_test.go)
}

// Store is a register.Store on one SQLite file.
type Store struct {
	register.Store
	d *driver
}

// driver is the register.Driver on one SQLite file.
type driver struct {
	w *sql.DB // the committer's connection: BEGIN IMMEDIATE
	r *sql.DB // readers: deferred transactions, WAL snapshots

	stmts   map[string]*sql.Stmt // the write path's statements, prepared at Open (see conn)
	reads   map[string]*sql.Stmt // the hot reads (readQueries), on the reader pool
	ops     chan writeOp         // unbuffered: a send succeeds only when the committer takes it
	quit    chan struct{}        // closed by Close
	stopped chan struct{}        // closed when the committer has returned

	executor // reads on the reader pool
}

var _ register.Driver = (*driver)(nil)

// Open opens or creates the register database at file, applies pending
// migrations and checks the schema version. A database written by a newer
// Meldeweg gives an error wrapping register.ErrSchemaVersion and is left
// untouched.
func Open(ctx context.Context, file string, opt Options) (*Store, error) {
	if opt.BusyTimeout == 0 {
		opt.BusyTimeout = 10 * time.Second
	}
	if file == "" || strings.ContainsAny(file, "?#") {
		return nil, fmt.Errorf("register %q: expected a file path without ? or #", file)
	}
	if err := createPrivate(file); err != nil {
		return nil, fmt.Errorf("register %s: %w", file, err)
	}
	// Several processes opening a new register at once can meet SQLite's
	// switch to WAL mode, which answers SQLITE_BUSY at once instead of
	// waiting (its busy handler is not called there). Such an open is tried
	// again, within the busy timeout.
	deadline := time.Now().Add(opt.BusyTimeout)
	for wait := 5 * time.Millisecond; ; wait = min(2*wait, 200*time.Millisecond) {
		st, err := open(ctx, file, opt)
		if err == nil || !isBusy(err) || time.Now().Add(wait).After(deadline) {
			return st, err
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("register %s: %w", file, ctx.Err())
		case <-time.After(wait + time.Duration(rand.Int64N(int64(wait)))):
		}
	}
}

// isBusy reports whether err is SQLite's SQLITE_BUSY (code 5, any
// extended code).
func isBusy(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_BUSY
}

// open is one attempt of Open after the file exists.
func open(ctx context.Context, file string, opt Options) (*Store, error) {
	dsn := func(txlock string) string {
		return "file:" + file + "?_busy_timeout=" + strconv.FormatInt(opt.BusyTimeout.Milliseconds(), 10) +
			"&_journal_mode=WAL&_synchronous=FULL&_foreign_keys=1&_pragma=secure_delete(1)&_txlock=" + txlock
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
	d := &driver{w: w, r: r, ops: make(chan writeOp), quit: make(chan struct{}), stopped: make(chan struct{})}
	fail := func(err error) (*Store, error) {
		close(d.stopped)
		d.w.Close()
		d.r.Close()
		return nil, fmt.Errorf("register %s: %w", file, err)
	}
	if err := migrate(ctx, d.w); err != nil {
		return fail(err)
	}
	if d.stmts, err = prepareAll(ctx, d.w, writeQueries); err != nil {
		return fail(err)
	}
	if d.reads, err = prepareAll(ctx, d.r, readQueries); err != nil {
		return fail(err)
	}
	d.executor = executor{conn{db: d.r, stmts: d.reads}}
	go d.committer()
	if opt.unbound {
		return &Store{Store: register.NewStore(d, opt.Clock), d: d}, nil
	}
	st, err := register.OpenStore(ctx, d, register.StoreParams{Clock: opt.Clock, Tenant: opt.Tenant})
	if err != nil {
		d.Close()
		return nil, fmt.Errorf("register %s: %w", file, err)
	}
	return &Store{Store: st, d: d}, nil
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

// writeQueries are prepared on the committer's connection at Open.
var writeQueries = []string{qSavepoint, qRollbackTo, qRelease, qHead, qInsertEntry, qUpdateHead, qInsertPayload, qInsertChunk,
	qUpdatePayload, qDeleteChunks, qDeletePayload, qInsertMessage, qMessage, qUpdateMessage, qClaimable}

// readQueries are the hot reads: a message by ID and a payload's chunks
// are read for every message sent; prepared once like the writes
// (database/sql prepares a statement on each pooled connection once, when
// first used there).
var readQueries = []string{qMessage, qPayload, qPayloadChunk}

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

// ErrClosed is returned by writes after Close.
var ErrClosed = errors.New("register store is closed")

// Close stops the committer after the batch in progress and closes the
// database. Writes after Close return ErrClosed.
func (d *driver) Close() error {
	select {
	case <-d.quit:
		return nil
	default:
	}
	close(d.quit)
	<-d.stopped
	return errors.Join(d.w.Close(), d.r.Close())
}

// Snapshot implements register.Driver: a deferred read transaction on the
// reader pool sees one WAL snapshot from its first read on.
func (d *driver) Snapshot(ctx context.Context, fn func(register.Executor) error) error {
	tx, err := d.r.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	return fn(executor{conn{tx: tx, stmts: d.reads}})
}

// Write implements register.Driver through the committer.
func (d *driver) Write(ctx context.Context, fn func(register.Executor) error) error {
	return d.inTx(ctx, func(tx *sql.Tx) error {
		return fn(executor{conn{tx: tx, stmts: d.stmts}})
	})
}

// SchemaVersion returns the database's schema version.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := s.d.r.QueryRowContext(ctx, `SELECT version FROM register_schema`).Scan(&v)
	return v, err
}

// conn runs statements on a pool or in a transaction, using the prepared
// statement of a query where there is one: preparing (parsing and
// planning) each statement anew cost the committer, which every write
// waits for, about as much CPU as running it (BenchmarkDelivery's
// profile). A query not prepared is prepared for the one use.
type conn struct {
	db    *sql.DB // if tx is nil
	tx    *sql.Tx
	stmts map[string]*sql.Stmt
}

func (c conn) stmt(ctx context.Context, q string) *sql.Stmt {
	st, ok := c.stmts[q]
	switch {
	case !ok:
		return nil
	case c.tx != nil:
		return c.tx.StmtContext(ctx, st)
	}
	return st
}

func (c conn) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	if st := c.stmt(ctx, q); st != nil {
		return st.ExecContext(ctx, args...)
	}
	if c.tx != nil {
		return c.tx.ExecContext(ctx, q, args...)
	}
	return c.db.ExecContext(ctx, q, args...)
}

func (c conn) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	if st := c.stmt(ctx, q); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	if c.tx != nil {
		return c.tx.QueryRowContext(ctx, q, args...)
	}
	return c.db.QueryRowContext(ctx, q, args...)
}

func (c conn) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	if st := c.stmt(ctx, q); st != nil {
		return st.QueryContext(ctx, args...)
	}
	if c.tx != nil {
		return c.tx.QueryContext(ctx, q, args...)
	}
	return c.db.QueryContext(ctx, q, args...)
}

// executor implements register.Executor on a conn.
type executor struct{ c conn }

type scanner interface{ Scan(...any) error }

// notFound turns sql.ErrNoRows into register.ErrNotFound.
func notFound(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return register.ErrNotFound
	}
	return err
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
