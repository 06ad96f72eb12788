package register

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// ServiceStore is the part of Store that the service mode (flow/scheduler,
// flow/alert) keeps its state in. Every run start and finish and every
// alert raised or resolved is also an entry in the chain (ChannelService,
// EventJobStarted … EventAlertResolved), appended in the same transaction
// as the row it changes, so the chain is the history and the rows are the
// current state. Those entries carry no message and are not outbox state
// entries; Verify chains them like any other.
type ServiceStore interface {
	// AcquireJobLease takes the job's lease for p.Holder until p.Until,
	// or renews it if p.Holder holds it; false, with nothing changed,
	// while another holder's lease runs past p.Now. Leases are not
	// entries: they change every few seconds and say nothing afterwards.
	AcquireJobLease(ctx context.Context, p JobLeaseParams) (bool, error)
	// ReleaseJobLease gives the lease up if p.Holder holds it.
	ReleaseJobLease(ctx context.Context, p JobLeaseParams) error
	// LastJobRun returns the job's latest run (p.Succeeded: its latest
	// successful run), or an error wrapping ErrNotFound if there is none.
	LastJobRun(ctx context.Context, p LastJobRunParams) (JobRun, error)
	// StartJobRun records that r started (or was resumed or retried):
	// an EventJobStarted entry, and r as the job's latest run.
	StartJobRun(ctx context.Context, r JobRun) (Entry, error)
	// FinishJobRun records r's outcome (not JobRunning): an
	// EventJobFinished entry, r as the job's latest run and, if it
	// succeeded, as its latest successful run.
	FinishJobRun(ctx context.Context, r JobRun) (Entry, error)

	// OpenIncidents lists the incidents raised and not resolved, by key.
	OpenIncidents(ctx context.Context) ([]Incident, error)
	// RaiseIncident records that i's "raised" notice went out: an
	// EventAlertRaised entry, and i open.
	RaiseIncident(ctx context.Context, i Incident) (Entry, error)
	// ResolveIncident records that i's "resolved" notice went out: an
	// EventAlertResolved entry, and i no longer open.
	ResolveIncident(ctx context.Context, i Incident) (Entry, error)
}

// JobOutcome is how a run ended; the values are flow/scheduler's.
type JobOutcome string

const (
	// JobRunning: started and not finished.
	JobRunning JobOutcome = ""
	// JobSucceeded: the run did what its tick asked.
	JobSucceeded JobOutcome = "succeeded"
	// JobRetry: the run is tried again at RetryAt.
	JobRetry JobOutcome = "retry"
	// JobFailed: a person must look; not retried.
	JobFailed JobOutcome = "failed"
)

// JobOutcomes lists every JobOutcome.
func JobOutcomes() []JobOutcome { return []JobOutcome{JobRunning, JobSucceeded, JobRetry, JobFailed} }

// JobRun is one run of a scheduled job. It holds no personal data:
// Detail is an operator message (one line; longer ones are cut to 512
// characters when stored).
type JobRun struct {
	Job          string
	ID           string
	ScheduledFor time.Time
	Attempt      int
	Holder       string
	Started      time.Time
	Finished     time.Time // zero while running
	Outcome      JobOutcome
	RetryAt      time.Time
	Detail       string
}

// JobLeaseParams names a job's lease and its holder.
type JobLeaseParams struct {
	Job, Holder string
	// Until is when the lease lapses unless renewed; Now is the
	// caller's clock, against which another holder's lease is judged.
	Until, Now time.Time
}

// LastJobRunParams selects a job's run.
type LastJobRunParams struct {
	Job string
	// Succeeded: the latest successful run instead of the latest run.
	Succeeded bool
}

// jobNameRe is what job names, run IDs and holders may hold: they go into
// entry details and metric labels.
var jobNameRe = regexp.MustCompile(`^[A-Za-z0-9._@:/+-]{1,128}$`)

func (r JobRun) validate(finish bool) error {
	switch {
	case !jobNameRe.MatchString(r.Job):
		return &FieldError{Field: "Job", Expected: "1 to 128 characters from [A-Za-z0-9._@:/+-]"}
	case !jobNameRe.MatchString(r.ID):
		return &FieldError{Field: "ID", Expected: "1 to 128 characters from [A-Za-z0-9._@:/+-]"}
	case !jobNameRe.MatchString(r.Holder):
		return &FieldError{Field: "Holder", Expected: "1 to 128 characters from [A-Za-z0-9._@:/+-]"}
	case r.ScheduledFor.IsZero():
		return &FieldError{Field: "ScheduledFor", Expected: "a time"}
	case r.Attempt < 1:
		return &FieldError{Field: "Attempt", Expected: "1 or more"}
	case finish && (r.Outcome == JobRunning || !validOutcome(r.Outcome)):
		return &FieldError{Field: "Outcome", Expected: `"succeeded", "retry" or "failed"`}
	case !finish && r.Outcome != JobRunning:
		return &FieldError{Field: "Outcome", Expected: "empty (running) for a start"}
	}
	return nil
}

func validOutcome(o JobOutcome) bool {
	for _, x := range JobOutcomes() {
		if x == o {
			return true
		}
	}
	return false
}

// oneLine makes s a Detail the register accepts: one line of printable
// characters, at most 512 of them.
func oneLine(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	if r := []rune(s); len(r) > 512 {
		s = string(r[:511]) + "…"
	}
	return s
}

// runEntry is the chain entry for a run's start or finish.
func runEntry(ev Event, r JobRun) AppendParams {
	d := fmt.Sprintf("job=%s run=%s scheduled=%s attempt=%d holder=%s", r.Job, r.ID,
		r.ScheduledFor.UTC().Format(time.RFC3339), r.Attempt, r.Holder)
	if ev == EventJobFinished {
		d += " outcome=" + string(r.Outcome)
	}
	return AppendParams{Direction: DirectionOut, Channel: ChannelService, Event: ev,
		Actor: System("scheduler"), Attempt: r.Attempt, Detail: oneLine(d)}
}

// AcquireJobLease implements Store.
func (s *dbStore) AcquireJobLease(ctx context.Context, p JobLeaseParams) (bool, error) {
	if !jobNameRe.MatchString(p.Job) || !jobNameRe.MatchString(p.Holder) {
		return false, &FieldError{Field: "Job/Holder", Expected: "1 to 128 characters from [A-Za-z0-9._@:/+-]"}
	}
	var got bool
	err := s.d.Write(ctx, func(x Executor) error {
		var err error
		got, err = x.JobLeaseAcquire(ctx, &JobLeaseAcquireParams{Job: p.Job, Holder: p.Holder,
			Until: p.Until.UTC().Truncate(time.Microsecond), Now: p.Now.UTC().Truncate(time.Microsecond)})
		return err
	})
	return got, err
}

// ReleaseJobLease implements Store.
func (s *dbStore) ReleaseJobLease(ctx context.Context, p JobLeaseParams) error {
	return s.d.Write(ctx, func(x Executor) error {
		return x.JobLeaseRelease(ctx, &JobLeaseReleaseParams{Job: p.Job, Holder: p.Holder})
	})
}

// LastJobRun implements Store.
func (s *dbStore) LastJobRun(ctx context.Context, p LastJobRunParams) (JobRun, error) {
	slot := JobRunLast
	if p.Succeeded {
		slot = JobRunSucceeded
	}
	r, err := s.d.JobRunGet(ctx, &JobRunGetParams{Job: p.Job, Slot: slot})
	if err != nil {
		return JobRun{}, fmt.Errorf("job %s, %s run: %w", p.Job, slot, err)
	}
	return r, nil
}

// StartJobRun implements Store.
func (s *dbStore) StartJobRun(ctx context.Context, r JobRun) (Entry, error) {
	return s.putRun(ctx, r, false)
}

// FinishJobRun implements Store.
func (s *dbStore) FinishJobRun(ctx context.Context, r JobRun) (Entry, error) {
	return s.putRun(ctx, r, true)
}

func (s *dbStore) putRun(ctx context.Context, r JobRun, finish bool) (Entry, error) {
	if err := r.validate(finish); err != nil {
		return Entry{}, err
	}
	r.Detail = oneLine(r.Detail)
	ev := EventJobStarted
	if finish {
		ev = EventJobFinished
	}
	var e Entry
	err := s.d.Write(ctx, func(x Executor) error {
		es, err := s.appendChain(ctx, x, s.now(), []AppendParams{runEntry(ev, r)})
		if err != nil {
			return err
		}
		e = es[0]
		if err := x.JobRunPut(ctx, &JobRunPutParams{Slot: JobRunLast, Run: r}); err != nil {
			return fmt.Errorf("recording run %s: %w", r.ID, err)
		}
		if finish && r.Outcome == JobSucceeded {
			if err := x.JobRunPut(ctx, &JobRunPutParams{Slot: JobRunSucceeded, Run: r}); err != nil {
				return fmt.Errorf("recording run %s: %w", r.ID, err)
			}
		}
		return nil
	})
	return e, err
}
