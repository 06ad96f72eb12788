package pgstore

import (
	"context"
	"time"

	"meldeweg.dev/meldeweg/transport/register"
)

const runCols = `job, run_id, scheduled_for, attempt, holder, started_at, finished_at, outcome, retry_at, detail`

// JobLeaseAcquire implements register.Executor: one upsert that changes
// the row only if it is free, lapsed or the holder's.
func (x executor) JobLeaseAcquire(ctx context.Context, p *register.JobLeaseAcquireParams) (bool, error) {
	tag, err := x.q.Exec(ctx, `INSERT INTO job_leases (job, holder, lease_until) VALUES ($1, $2, $3)
		ON CONFLICT (job) DO UPDATE SET holder = excluded.holder, lease_until = excluded.lease_until
		WHERE job_leases.holder = excluded.holder OR job_leases.lease_until <= $4`, p.Job, p.Holder, p.Until, p.Now)
	if err != nil {
		return false, err
	}
	return tag.RowsAffected() == 1, nil
}

// JobLeaseRelease implements register.Executor.
func (x executor) JobLeaseRelease(ctx context.Context, p *register.JobLeaseReleaseParams) error {
	_, err := x.q.Exec(ctx, `DELETE FROM job_leases WHERE job = $1 AND holder = $2`, p.Job, p.Holder)
	return err
}

// JobRunGet implements register.Executor.
func (x executor) JobRunGet(ctx context.Context, p *register.JobRunGetParams) (register.JobRun, error) {
	var r register.JobRun
	var started, finished, retry *time.Time
	err := x.q.QueryRow(ctx, `SELECT `+runCols+` FROM job_runs WHERE job = $1 AND slot = $2`, p.Job, string(p.Slot)).
		Scan(&r.Job, &r.ID, &r.ScheduledFor, &r.Attempt, &r.Holder, &started, &finished, &r.Outcome, &retry, &r.Detail)
	if err != nil {
		return r, notFound(err)
	}
	r.ScheduledFor = r.ScheduledFor.UTC()
	r.Started, r.Finished, r.RetryAt = utc(started), utc(finished), utc(retry)
	return r, nil
}

// JobRunPut implements register.Executor.
func (x executor) JobRunPut(ctx context.Context, p *register.JobRunPutParams) error {
	r := p.Run
	_, err := x.q.Exec(ctx, `INSERT INTO job_runs (slot, `+runCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
		ON CONFLICT (job, slot) DO UPDATE SET run_id = excluded.run_id, scheduled_for = excluded.scheduled_for,
		attempt = excluded.attempt, holder = excluded.holder, started_at = excluded.started_at,
		finished_at = excluded.finished_at, outcome = excluded.outcome, retry_at = excluded.retry_at, detail = excluded.detail`,
		string(p.Slot), r.Job, r.ID, r.ScheduledFor, r.Attempt, r.Holder, nullTime(r.Started), nullTime(r.Finished),
		string(r.Outcome), nullTime(r.RetryAt), r.Detail)
	return err
}

// IncidentList implements register.Executor.
func (x executor) IncidentList(ctx context.Context, _ *register.IncidentListParams) ([]register.Incident, error) {
	rows, err := x.q.Query(ctx, `SELECT key, scope, severity, summary, detail, since FROM open_incidents ORDER BY key`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []register.Incident{}
	for rows.Next() {
		var i register.Incident
		if err := rows.Scan(&i.Key, &i.Scope, &i.Severity, &i.Summary, &i.Detail, &i.Since); err != nil {
			return nil, err
		}
		i.Since = i.Since.UTC()
		out = append(out, i)
	}
	return out, rows.Err()
}

// IncidentPut implements register.Executor.
func (x executor) IncidentPut(ctx context.Context, p *register.IncidentPutParams) error {
	i := p.Incident
	_, err := x.q.Exec(ctx, `INSERT INTO open_incidents (key, scope, severity, summary, detail, since) VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (key) DO UPDATE SET scope = excluded.scope, severity = excluded.severity,
		summary = excluded.summary, detail = excluded.detail, since = excluded.since`,
		i.Key, i.Scope, i.Severity, i.Summary, i.Detail, i.Since)
	return err
}

// IncidentDelete implements register.Executor.
func (x executor) IncidentDelete(ctx context.Context, p *register.IncidentDeleteParams) error {
	_, err := x.q.Exec(ctx, `DELETE FROM open_incidents WHERE key = $1`, p.Key)
	return err
}
