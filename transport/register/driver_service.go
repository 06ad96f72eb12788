package register

import (
	"context"
	"time"
)

// ServiceExecutor is the part of Executor that keeps the service mode's
// state beside the chain (migration 004): job leases, the latest and the
// latest successful run per job, and the open incidents. The chain
// entries that record the same events are appended by the Store in the
// same transaction.
type ServiceExecutor interface {
	// JobLeaseAcquire gives the job's lease to Holder until Until if it
	// is free, lapsed at Now (its Until at or before Now) or already
	// Holder's, and reports whether it did; else nothing changes.
	JobLeaseAcquire(ctx context.Context, p *JobLeaseAcquireParams) (bool, error)
	// JobLeaseRelease deletes the job's lease if Holder holds it.
	JobLeaseRelease(ctx context.Context, p *JobLeaseReleaseParams) error
	// JobRunGet reads the run kept in a slot, or an error wrapping
	// ErrNotFound.
	JobRunGet(ctx context.Context, p *JobRunGetParams) (JobRun, error)
	// JobRunPut writes the run into a slot, replacing what was there.
	JobRunPut(ctx context.Context, p *JobRunPutParams) error
	// IncidentList lists the open incidents by key.
	IncidentList(ctx context.Context, p *IncidentListParams) ([]Incident, error)
	// IncidentPut opens an incident, replacing an open one with its key.
	IncidentPut(ctx context.Context, p *IncidentPutParams) error
	// IncidentDelete closes the incident with Key; an incident not open
	// is no error.
	IncidentDelete(ctx context.Context, p *IncidentDeleteParams) error
}

// JobRunSlot says which of a job's runs a row keeps.
type JobRunSlot string

const (
	// JobRunLast: the job's latest run, whatever its outcome.
	JobRunLast JobRunSlot = "last"
	// JobRunSucceeded: the job's latest run that succeeded.
	JobRunSucceeded JobRunSlot = "succeeded"
)

// JobLeaseAcquireParams: see ServiceExecutor.JobLeaseAcquire.
type JobLeaseAcquireParams struct {
	Job, Holder string
	Until, Now  time.Time
}

// JobLeaseReleaseParams: see ServiceExecutor.JobLeaseRelease.
type JobLeaseReleaseParams struct {
	Job, Holder string
}

// JobRunGetParams: see ServiceExecutor.JobRunGet.
type JobRunGetParams struct {
	Job  string
	Slot JobRunSlot
}

// JobRunPutParams: see ServiceExecutor.JobRunPut.
type JobRunPutParams struct {
	Slot JobRunSlot
	Run  JobRun
}

// IncidentListParams: see ServiceExecutor.IncidentList.
type IncidentListParams struct{}

// IncidentPutParams: see ServiceExecutor.IncidentPut.
type IncidentPutParams struct {
	Incident Incident
}

// IncidentDeleteParams: see ServiceExecutor.IncidentDelete.
type IncidentDeleteParams struct {
	Key string
}
