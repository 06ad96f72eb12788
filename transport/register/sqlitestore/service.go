package sqlitestore

import (
	"context"

	"meldeweg.dev/meldeweg/transport/register"
)

const (
	qLeaseAcquire = `INSERT INTO job_leases (job, holder, until_us) VALUES (?, ?, ?)
		ON CONFLICT (job) DO UPDATE SET holder = excluded.holder, until_us = excluded.until_us
		WHERE job_leases.holder = excluded.holder OR job_leases.until_us <= ?`
	qLeaseRelease = `DELETE FROM job_leases WHERE job = ? AND holder = ?`
	runCols       = `job, run_id, scheduled_us, attempt, holder, started_us, finished_us, outcome, retry_us, detail`
	qRunGet       = `SELECT ` + runCols + ` FROM job_runs WHERE job = ? AND slot = ?`
	qRunPut       = `INSERT INTO job_runs (slot, ` + runCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (job, slot) DO UPDATE SET run_id = excluded.run_id, scheduled_us = excluded.scheduled_us,
		attempt = excluded.attempt, holder = excluded.holder, started_us = excluded.started_us,
		finished_us = excluded.finished_us, outcome = excluded.outcome, retry_us = excluded.retry_us, detail = excluded.detail`
	qIncidents   = `SELECT key, scope, severity, summary, detail, since_us FROM open_incidents ORDER BY key`
	qIncidentPut = `INSERT INTO open_incidents (key, scope, severity, summary, detail, since_us) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (key) DO UPDATE SET scope = excluded.scope, severity = excluded.severity,
		summary = excluded.summary, detail = excluded.detail, since_us = excluded.since_us`
	qIncidentDelete = `DELETE FROM open_incidents WHERE key = ?`
)

// JobLeaseAcquire implements register.Executor: one upsert that changes
// the row only if it is free, lapsed or the holder's.
func (x executor) JobLeaseAcquire(ctx context.Context, p *register.JobLeaseAcquireParams) (bool, error) {
	res, err := x.c.exec(ctx, qLeaseAcquire, p.Job, p.Holder, p.Until.UnixMicro(), p.Now.UnixMicro())
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// JobLeaseRelease implements register.Executor.
func (x executor) JobLeaseRelease(ctx context.Context, p *register.JobLeaseReleaseParams) error {
	_, err := x.c.exec(ctx, qLeaseRelease, p.Job, p.Holder)
	return err
}

// JobRunGet implements register.Executor.
func (x executor) JobRunGet(ctx context.Context, p *register.JobRunGetParams) (register.JobRun, error) {
	var r register.JobRun
	var sched, started, finished, retry int64
	err := x.c.queryRow(ctx, qRunGet, p.Job, p.Slot).Scan(&r.Job, &r.ID, &sched, &r.Attempt, &r.Holder,
		&started, &finished, &r.Outcome, &retry, &r.Detail)
	if err != nil {
		return r, notFound(err)
	}
	r.ScheduledFor, r.Started, r.Finished, r.RetryAt = fromMicro(sched), fromMicro(started), fromMicro(finished), fromMicro(retry)
	return r, nil
}

// JobRunPut implements register.Executor.
func (x executor) JobRunPut(ctx context.Context, p *register.JobRunPutParams) error {
	r := p.Run
	_, err := x.c.exec(ctx, qRunPut, p.Slot, r.Job, r.ID, micro(r.ScheduledFor), r.Attempt, r.Holder,
		micro(r.Started), micro(r.Finished), r.Outcome, micro(r.RetryAt), r.Detail)
	return err
}

// IncidentList implements register.Executor.
func (x executor) IncidentList(ctx context.Context, _ *register.IncidentListParams) ([]register.Incident, error) {
	rows, err := x.c.query(ctx, qIncidents)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []register.Incident{}
	for rows.Next() {
		var i register.Incident
		var since int64
		if err := rows.Scan(&i.Key, &i.Scope, &i.Severity, &i.Summary, &i.Detail, &since); err != nil {
			return nil, err
		}
		i.Since = fromMicro(since)
		out = append(out, i)
	}
	return out, rows.Err()
}

// IncidentPut implements register.Executor.
func (x executor) IncidentPut(ctx context.Context, p *register.IncidentPutParams) error {
	i := p.Incident
	_, err := x.c.exec(ctx, qIncidentPut, i.Key, i.Scope, i.Severity, i.Summary, i.Detail, micro(i.Since))
	return err
}

// IncidentDelete implements register.Executor.
func (x executor) IncidentDelete(ctx context.Context, p *register.IncidentDeleteParams) error {
	_, err := x.c.exec(ctx, qIncidentDelete, p.Key)
	return err
}
