package scheduler

import (
	"context"
	"errors"

	"meldeweg.dev/meldeweg/transport/register"
)

// RegisterLedger is the Ledger kept in the register (either backend):
// leases and the latest runs in its service tables, and every start and
// finish also as a chain entry (register.EventJobStarted,
// register.EventJobFinished).
type RegisterLedger struct {
	Store register.Store
}

// LastRun implements Ledger.
func (l RegisterLedger) LastRun(ctx context.Context, job string) (RunRecord, bool, error) {
	return l.last(ctx, register.LastJobRunParams{Job: job})
}

// LastSucceeded implements Ledger.
func (l RegisterLedger) LastSucceeded(ctx context.Context, job string) (RunRecord, bool, error) {
	return l.last(ctx, register.LastJobRunParams{Job: job, Succeeded: true})
}

func (l RegisterLedger) last(ctx context.Context, p register.LastJobRunParams) (RunRecord, bool, error) {
	r, err := l.Store.LastJobRun(ctx, p)
	if errors.Is(err, register.ErrNotFound) {
		return RunRecord{}, false, nil
	}
	if err != nil {
		return RunRecord{}, false, err
	}
	return RunRecord{Job: r.Job, ID: r.ID, ScheduledFor: r.ScheduledFor, Attempt: r.Attempt, Holder: r.Holder,
		Started: r.Started, Finished: r.Finished, Outcome: Outcome(r.Outcome), RetryAt: r.RetryAt, Detail: r.Detail}, true, nil
}

// AcquireLease implements Ledger.
func (l RegisterLedger) AcquireLease(ctx context.Context, p LeaseParams) (bool, error) {
	return l.Store.AcquireJobLease(ctx, register.JobLeaseParams{Job: p.Job, Holder: p.Holder, Until: p.Until, Now: p.Now})
}

// ReleaseLease implements Ledger.
func (l RegisterLedger) ReleaseLease(ctx context.Context, p LeaseParams) error {
	return l.Store.ReleaseJobLease(ctx, register.JobLeaseParams{Job: p.Job, Holder: p.Holder, Until: p.Until, Now: p.Now})
}

// RecordStart implements Ledger.
func (l RegisterLedger) RecordStart(ctx context.Context, r RunRecord) error {
	_, err := l.Store.StartJobRun(ctx, toJobRun(r))
	return err
}

// RecordFinish implements Ledger.
func (l RegisterLedger) RecordFinish(ctx context.Context, r RunRecord) error {
	_, err := l.Store.FinishJobRun(ctx, toJobRun(r))
	return err
}

func toJobRun(r RunRecord) register.JobRun {
	return register.JobRun{Job: r.Job, ID: r.ID, ScheduledFor: r.ScheduledFor, Attempt: r.Attempt, Holder: r.Holder,
		Started: r.Started, Finished: r.Finished, Outcome: register.JobOutcome(r.Outcome), RetryAt: r.RetryAt, Detail: r.Detail}
}
