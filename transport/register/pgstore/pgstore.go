// Package pgstore is the register and outbox backend on PostgreSQL via
// pgx v5, for deployments where several Meldeweg instances share one
// outbox. It is a register.Driver; the register's operations are written
// once, over the driver, in register.NewStore.
//
// Claims use SELECT … FOR UPDATE SKIP LOCKED, so concurrent instances
// take different messages without waiting for each other. Appends are
// serialised on the head row (SELECT … FOR UPDATE), so the chain has one
// order. Payload bytes are written before the head is locked, so a large
// payload does not hold up other instances' appends.
//
// # Limits
//
// Append throughput is that of one transaction at a time (the head row).
// UPDATE, DELETE and TRUNCATE on entries are refused by triggers; the
// table owner can drop or disable them, which Verify then reports — run
// Meldeweg as a role that does not own the tables where that matters.
package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

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
}

// Store is a register.Store on a PostgreSQL database.
type Store struct {
	register.Store
	d *driver
}

// driver is the register.Driver on a PostgreSQL database.
type driver struct {
	pool *pgxpool.Pool
	executor
}

var _ register.Driver = (*driver)(nil)

// Open connects to the database at dsn (a postgres:// URL or key=value
// string), applies pending migrations under an advisory lock (so several
// instances may start at once) and checks the schema version. A database
// written by a newer Meldeweg gives an error wrapping
// register.ErrSchemaVersion and is left untouched.
func Open(ctx context.Context, dsn string, opt Options) (*Store, error) {
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		return nil, fmt.Errorf("register database: %w", err)
	}
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, fmt.Errorf("register database: %w", err)
	}
	d := &driver{pool: pool, executor: executor{pool}}
	st, err := register.OpenStore(ctx, d, register.StoreParams{Clock: opt.Clock, Tenant: opt.Tenant})
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("register database: %w", err)
	}
	return &Store{Store: st, d: d}, nil
}

// Close implements register.Driver.
func (d *driver) Close() error {
	d.pool.Close()
	return nil
}

// Write implements register.Driver.
func (d *driver) Write(ctx context.Context, fn func(register.Executor) error) error {
	return pgx.BeginFunc(ctx, d.pool, func(tx pgx.Tx) error { return fn(executor{tx}) })
}

// Snapshot implements register.Driver with a REPEATABLE READ, read-only
// transaction.
func (d *driver) Snapshot(ctx context.Context, fn func(register.Executor) error) error {
	return pgx.BeginTxFunc(ctx, d.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly},
		func(tx pgx.Tx) error { return fn(executor{tx}) })
}

// SchemaVersion returns the database's schema version.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := s.d.pool.QueryRow(ctx, `SELECT version FROM register_schema`).Scan(&v)
	return v, err
}

// querier is a pool or a transaction.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// executor implements register.Executor on a pool or transaction.
type executor struct{ q querier }

// notFound turns pgx.ErrNoRows into register.ErrNotFound.
func notFound(err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return register.ErrNotFound
	}
	return err
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
