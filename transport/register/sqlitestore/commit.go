package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// writeOp is one caller's write, run by the committer inside a shared
// transaction under its own savepoint.
type writeOp struct {
	ctx  context.Context
	fn   func(tx *sql.Tx) error
	done chan error
}

// maxBatch bounds how many writes share one transaction (and one fsync).
const maxBatch = 256

// inTx runs fn in a write transaction and returns once that transaction
// is committed (fsynced) or has failed. Writes from concurrent callers
// share one transaction and so one fsync (group commit): each runs under
// its own savepoint, so one caller's error undoes only its own changes.
// This is how synchronous commits reach thousands of appends per second
// on a disk that manages only about a thousand fsyncs.
func (d *driver) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	op := writeOp{ctx: ctx, fn: fn, done: make(chan error, 1)}
	select {
	case d.ops <- op:
	case <-d.quit:
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
func (d *driver) committer() {
	defer close(d.stopped)
	for {
		var batch []writeOp
		select {
		case op := <-d.ops:
			batch = append(batch, op)
		case <-d.quit:
			return
		}
	more:
		for len(batch) < maxBatch {
			select {
			case op := <-d.ops:
				batch = append(batch, op)
			default:
				break more
			}
		}
		d.runBatch(batch)
	}
}

const (
	qSavepoint  = `SAVEPOINT op`
	qRollbackTo = `ROLLBACK TO op`
	qRelease    = `RELEASE op`
)

func (d *driver) runBatch(batch []writeOp) {
	ctx := context.Background()
	errs := make([]error, len(batch))
	tx, err := d.w.BeginTx(ctx, nil)
	if err != nil {
		for _, op := range batch {
			op.done <- err
		}
		return
	}
	if len(batch) == 1 {
		errs[0] = batch[0].fn(tx)
	} else {
		ctl := conn{tx: tx, stmts: d.stmts} // savepoints, under the committer's context
		for i, op := range batch {
			if _, err := ctl.exec(ctx, qSavepoint); err != nil {
				errs[i] = err
				continue
			}
			if err := op.ctx.Err(); err != nil {
				errs[i] = err
			} else {
				errs[i] = op.fn(tx)
			}
			if errs[i] != nil {
				if _, err := ctl.exec(ctx, qRollbackTo); err != nil {
					// The transaction is in an unknown state: fail them all.
					tx.Rollback()
					for j, op := range batch {
						op.done <- errors.Join(errs[j], fmt.Errorf("rolling back a failed write: %w", err))
					}
					return
				}
			}
			if _, err := ctl.exec(ctx, qRelease); err != nil && errs[i] == nil {
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
