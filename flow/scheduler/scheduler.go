// Package scheduler runs the service's jobs on their schedules: the
// monthly XSozial delivery per Träger, the eM@w outbox and mailbox, the
// daily deadline and certificate checks.
//
// Every run is kept in a Ledger (the register, in production), so that
// what ran survives a restart and is shared by every instance on the same
// database:
//
//	due?     the job's schedule has a tick after its last run's scheduled
//	         time; ticks missed while no instance was up collapse into one
//	         run (Due), never one per missed tick;
//	lease    the instance that takes the job's lease runs it; the lease is
//	         renewed while the run lasts, so a second instance skips the
//	         job, and takes it over only when the holder stopped renewing;
//	started  the run is recorded with a stable ID (job and scheduled
//	         time) before the job's code runs;
//	resumed  a run recorded as started but never finished (its instance
//	         died) is run again under the same ID by whoever takes the
//	         lease next: the ledger shows one run;
//	finished the outcome: succeeded, failed (a person is needed; no
//	         retries), or retry (the counterpart was unreachable; the same
//	         run is tried again at RetryAt with backoff).
//
// Jobs must be idempotent per scheduled time: a resumed run repeats the
// steps its dead predecessor had not recorded. Meldeweg's flows are (the
// register is their memory).
//
// # Limits
//
//   - A job runs on one instance at a time, not exactly once in the face of
//     a lease holder that is alive but stalled beyond its lease: keep Lease
//     well above the longest pause between renewals (a third of Lease).
//   - Due walks missed ticks one by one, at most about a million of them.
//   - Schedules know German nationwide holidays only (see WorkingDay).
package scheduler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Outcome is how a run ended.
type Outcome string

const (
	// OutcomeRunning: the run is recorded as started and not finished (in
	// progress, or its instance died and it awaits resumption).
	OutcomeRunning Outcome = ""
	// OutcomeSucceeded: the job did what its tick asked.
	OutcomeSucceeded Outcome = "succeeded"
	// OutcomeRetry: the job could not finish for a passing reason (the BA
	// unreachable); the scheduler runs it again at RetryAt.
	OutcomeRetry Outcome = "retry"
	// OutcomeFailed: the job failed in a way a person must look at (a
	// check failed, the BA rejected); it is not retried for this tick.
	OutcomeFailed Outcome = "failed"
)

// RunRecord is one run of a job as the ledger keeps it. It holds no
// personal data: Detail is an operator message.
type RunRecord struct {
	Job string
	// ID is stable for a job and scheduled time (see RunID), so a run
	// resumed by another instance keeps it.
	ID           string
	ScheduledFor time.Time
	// Attempt counts the starts of this run: 1, then 2 after a retry or
	// a resumption.
	Attempt  int
	Holder   string
	Started  time.Time
	Finished time.Time // zero while running
	Outcome  Outcome
	// RetryAt is when a run with OutcomeRetry is tried again.
	RetryAt time.Time
	Detail  string
}

// RunID names the run of job scheduled for t.
func RunID(job string, t time.Time) string {
	return job + "@" + t.UTC().Format("2006-01-02T15:04Z")
}

// LeaseParams names a job's lease and its holder.
type LeaseParams struct {
	Job    string
	Holder string
	// Until is when the lease lapses unless renewed.
	Until time.Time
	// Now is the caller's clock, against which other holders' leases are
	// judged.
	Now time.Time
}

// Ledger keeps runs and leases. The register implements it for both of
// its backends; the scheduler's own tests run against it too.
type Ledger interface {
	// LastRun returns the job's latest run; ok is false if it never ran.
	LastRun(ctx context.Context, job string) (r RunRecord, ok bool, err error)
	// LastSucceeded returns the job's latest run with OutcomeSucceeded;
	// ok is false if none succeeded yet.
	LastSucceeded(ctx context.Context, job string) (r RunRecord, ok bool, err error)
	// AcquireLease takes the job's lease for p.Holder until p.Until, or
	// renews it if p.Holder holds it. It returns false, and changes
	// nothing, while another holder's lease is valid at p.Now.
	AcquireLease(ctx context.Context, p LeaseParams) (bool, error)
	// ReleaseLease gives up the lease if p.Holder holds it.
	ReleaseLease(ctx context.Context, p LeaseParams) error
	// RecordStart records that r started (or was resumed).
	RecordStart(ctx context.Context, r RunRecord) error
	// RecordFinish records r's outcome.
	RecordFinish(ctx context.Context, r RunRecord) error
}

// Job is one scheduled task.
type Job struct {
	// Name is unique and stable: the ledger keys runs by it.
	Name     string
	Schedule Schedule
	// Run does the work of one tick. It returns nil when done, an error
	// wrapping ErrRetry when the same run should be tried again later,
	// and any other error when a person must look (the run fails). It
	// must stop when ctx is done.
	Run func(ctx context.Context, run Run) error
	// Backoff gives the wait before retry attempt n (1, 2, …). Defaults
	// to 1m, 2m, 4m, … capped at 1h.
	Backoff func(n int) time.Duration
}

// Run is what a job's code is given.
type Run struct {
	RunRecord
	// Log carries the run's ID on every line.
	Log *slog.Logger
}

// ErrRetry marks a job error as passing: the run is tried again.
var ErrRetry = errors.New("retry later")

// Clock is the scheduler's time; tests play a year on a fake one.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Scheduler runs Jobs. Zero fields take the documented defaults.
type Scheduler struct {
	Jobs   []Job
	Ledger Ledger // required
	// Holder names this instance in leases and runs (host-pid). Required.
	Holder string
	// Lease is how long a lease lasts unless renewed; it is renewed every
	// Lease/3 while a job runs. Defaults to 1 minute.
	Lease time.Duration
	// Since is when the scheduler first knew its jobs: a job that never
	// ran is due at its first tick after Since. Defaults to the clock's
	// time at the first Tick.
	Since time.Time
	// Clock defaults to the system clock.
	Clock Clock
	// Log defaults to slog.Default().
	Log *slog.Logger
	// Poll is the longest wait between passes in Loop (new leases to
	// take over, retries due). Defaults to 30 seconds.
	Poll time.Duration
	// OnFinish, if set, is called with every finished run (metrics,
	// alerts).
	OnFinish func(RunRecord)
	// RunContext, if set, is the context Loop runs jobs under instead of
	// its own: then the end of Loop's ctx only stops new passes (the
	// service's SIGTERM), and the end of RunContext interrupts the runs
	// under way (the grace period's end). Runs interrupted either way
	// stay open in the Ledger and are resumed.
	RunContext context.Context

	once sync.Once
	mu   sync.Mutex // guards running
	// running are the jobs this instance runs now.
	running map[string]bool
	wg      sync.WaitGroup
}

func (s *Scheduler) init() {
	s.once.Do(func() {
		if s.Clock == nil {
			s.Clock = realClock{}
		}
		if s.Lease <= 0 {
			s.Lease = time.Minute
		}
		if s.Log == nil {
			s.Log = slog.Default()
		}
		if s.Poll <= 0 {
			s.Poll = 30 * time.Second
		}
		if s.Since.IsZero() {
			s.Since = s.Clock.Now()
		}
		s.running = map[string]bool{}
	})
}

// Validate checks the scheduler's configuration; its messages name the
// field.
func (s *Scheduler) Validate() error {
	if s.Ledger == nil {
		return errors.New("scheduler: Ledger is required")
	}
	if s.Holder == "" {
		return errors.New("scheduler: Holder is required")
	}
	seen := map[string]bool{}
	for i, j := range s.Jobs {
		switch {
		case j.Name == "":
			return fmt.Errorf("scheduler: Jobs[%d].Name is empty", i)
		case seen[j.Name]:
			return fmt.Errorf("scheduler: job %q is defined twice", j.Name)
		case j.Schedule == nil:
			return fmt.Errorf("scheduler: job %q has no Schedule", j.Name)
		case j.Run == nil:
			return fmt.Errorf("scheduler: job %q has no Run", j.Name)
		}
		seen[j.Name] = true
	}
	return nil
}

// Tick makes one pass at the clock's time: it runs, one after another,
// every job that is due and whose lease this instance gets, and returns
// the records of the runs it finished.
func (s *Scheduler) Tick(ctx context.Context) ([]RunRecord, error) {
	s.init()
	var done []RunRecord
	var errs []error
	for _, j := range s.Jobs {
		r, ran, err := s.tickJob(ctx, j)
		if err != nil {
			errs = append(errs, fmt.Errorf("job %s: %w", j.Name, err))
		}
		if ran {
			done = append(done, r)
		}
	}
	return done, errors.Join(errs...)
}

// pending returns the run job j should do now, if any: an unfinished run
// to resume, a retry that has come due, or a new tick.
func (s *Scheduler) pending(last RunRecord, ok bool, j Job, now time.Time) (RunRecord, bool) {
	if ok {
		switch {
		case last.Outcome == OutcomeRunning:
			last.Attempt++
			return last, true
		case last.Outcome == OutcomeRetry && !now.Before(last.RetryAt):
			// A newer tick supersedes a retry that is still pending.
			if at, due := Due(j.Schedule, last.ScheduledFor, s.Since, now); due {
				return RunRecord{Job: j.Name, ID: RunID(j.Name, at), ScheduledFor: at, Attempt: 1}, true
			}
			last.Attempt++
			return last, true
		}
	}
	var lastAt time.Time
	if ok {
		lastAt = last.ScheduledFor
	}
	at, due := Due(j.Schedule, lastAt, s.Since, now)
	if !due {
		return RunRecord{}, false
	}
	return RunRecord{Job: j.Name, ID: RunID(j.Name, at), ScheduledFor: at, Attempt: 1}, true
}

func (s *Scheduler) tickJob(ctx context.Context, j Job) (RunRecord, bool, error) {
	s.mu.Lock()
	if s.running[j.Name] {
		s.mu.Unlock()
		return RunRecord{}, false, nil
	}
	s.running[j.Name] = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.running, j.Name)
		s.mu.Unlock()
	}()

	now := s.Clock.Now()
	lease := LeaseParams{Job: j.Name, Holder: s.Holder, Until: now.Add(s.Lease), Now: now}
	got, err := s.Ledger.AcquireLease(ctx, lease)
	if err != nil || !got {
		return RunRecord{}, false, err
	}
	defer func() {
		// Release even when ctx is done: the next instance need not wait.
		if err := s.Ledger.ReleaseLease(context.WithoutCancel(ctx), lease); err != nil {
			s.Log.Warn("releasing a job lease failed; it lapses by itself", "job", j.Name, "err", err)
		}
	}()

	last, ok, err := s.Ledger.LastRun(ctx, j.Name)
	if err != nil {
		return RunRecord{}, false, err
	}
	r, due := s.pending(last, ok, j, now)
	if !due {
		return RunRecord{}, false, nil
	}
	if r.Attempt > 1 && last.Outcome == OutcomeRunning {
		s.Log.Info("resuming a run its instance did not finish", "job", j.Name, "run", r.ID, "previous_holder", last.Holder)
	}
	r.Holder, r.Started, r.Finished, r.Outcome, r.RetryAt, r.Detail = s.Holder, now, time.Time{}, OutcomeRunning, time.Time{}, ""
	if err := s.Ledger.RecordStart(ctx, r); err != nil {
		return RunRecord{}, false, err
	}
	runErr := s.runWithLease(ctx, j, r, lease)

	r.Finished = s.Clock.Now()
	switch {
	case runErr == nil:
		r.Outcome, r.Detail = OutcomeSucceeded, ""
	case ctx.Err() != nil:
		// Stopped by the service (SIGTERM): the run stays open and is
		// resumed by the next instance to take the lease.
		s.Log.Info("run interrupted by shutdown; it will be resumed", "job", j.Name, "run", r.ID)
		return r, false, nil
	case errors.Is(runErr, ErrRetry):
		r.Outcome, r.Detail = OutcomeRetry, runErr.Error()
		r.RetryAt = r.Finished.Add(backoff(j, r.Attempt))
	default:
		r.Outcome, r.Detail = OutcomeFailed, runErr.Error()
	}
	if err := s.Ledger.RecordFinish(context.WithoutCancel(ctx), r); err != nil {
		return r, true, err
	}
	if s.OnFinish != nil {
		s.OnFinish(r)
	}
	return r, true, nil
}

// runWithLease runs the job while renewing its lease every Lease/3. If a
// renewal finds the lease taken (this instance stalled past it), the job's
// context is cancelled: another instance owns the run now.
func (s *Scheduler) runWithLease(ctx context.Context, j Job, r RunRecord, lease LeaseParams) error {
	jobCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := make(chan struct{})
	renewed := make(chan struct{})
	go func() {
		defer close(renewed)
		for {
			select {
			case <-stop:
				return
			case <-jobCtx.Done():
				return
			case <-s.Clock.After(s.Lease / 3):
			}
			now := s.Clock.Now()
			lease.Now, lease.Until = now, now.Add(s.Lease)
			ok, err := s.Ledger.AcquireLease(jobCtx, lease)
			if err == nil && !ok {
				s.Log.Error("job lease lost to another instance; stopping the run", "job", j.Name, "run", r.ID)
				cancel()
				return
			}
		}
	}()
	log := s.Log.With("job", j.Name, "run", r.ID, "attempt", r.Attempt)
	err := j.Run(jobCtx, Run{RunRecord: r, Log: log})
	close(stop)
	<-renewed
	return err
}

func backoff(j Job, attempt int) time.Duration {
	if j.Backoff != nil {
		return j.Backoff(attempt)
	}
	d := time.Minute
	for i := 1; i < attempt && d < time.Hour; i++ {
		d *= 2
	}
	return min(d, time.Hour)
}

// Loop calls Tick until ctx is done, waiting between passes until the
// earliest next tick of any job, at most Poll. Jobs run in their own
// goroutines, so a long monthly delivery does not hold up the eM@w
// mailbox. Loop returns after every running job has returned.
func (s *Scheduler) Loop(ctx context.Context) error {
	s.init()
	if err := s.Validate(); err != nil {
		return err
	}
	defer s.wg.Wait()
	runCtx := ctx
	if s.RunContext != nil {
		runCtx = s.RunContext
	}
	for {
		now := s.Clock.Now()
		wait := s.Poll
		for _, j := range s.Jobs {
			j := j
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				if _, _, err := s.tickJob(runCtx, j); err != nil && runCtx.Err() == nil {
					s.Log.Error("scheduling a job failed", "job", j.Name, "err", err)
				}
			}()
			if next := j.Schedule.Next(now); !next.IsZero() && next.Sub(now) < wait {
				wait = max(next.Sub(now), time.Second)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-s.Clock.After(wait):
		}
	}
}
