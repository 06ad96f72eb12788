// Package schedulertest holds what the scheduler's tests share: a fake
// clock to play months in milliseconds, and Exercise, the contract every
// scheduler.Ledger (the register's backends) must pass. Only tests import
// it.
package schedulertest

import (
	"context"
	"sync"
	"testing"
	"time"

	"meldeweg.dev/meldeweg/flow/scheduler"
)

// Clock is a fake scheduler.Clock that moves only when told to.
type Clock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []waiter
}

type waiter struct {
	at time.Time
	ch chan time.Time
}

// NewClock returns a Clock set to t.
func NewClock(t time.Time) *Clock { return &Clock{now: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// After returns a channel that receives once the clock has been moved d on.
func (c *Clock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
		return ch
	}
	c.waiters = append(c.waiters, waiter{at: c.now.Add(d), ch: ch})
	return ch
}

// Set moves the clock to t (never back) and fires the waiters due by then.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.After(c.now) {
		c.now = t
	}
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if !w.at.After(c.now) {
			w.ch <- c.now
			continue
		}
		kept = append(kept, w)
	}
	c.waiters = kept
}

// Advance moves the clock on by d.
func (c *Clock) Advance(d time.Duration) { c.Set(c.Now().Add(d)) }

// Exercise runs the Ledger contract against fresh ledgers from open.
func Exercise(t *testing.T, open func(t *testing.T) scheduler.Ledger) {
	ctx := context.Background()
	t0 := time.Date(2026, 11, 4, 5, 0, 0, 0, time.UTC)

	t.Run("LeaseIsExclusiveUntilItLapses", func(t *testing.T) {
		l := open(t)
		a := scheduler.LeaseParams{Job: "j", Holder: "a", Now: t0, Until: t0.Add(time.Minute)}
		b := scheduler.LeaseParams{Job: "j", Holder: "b", Now: t0.Add(30 * time.Second), Until: t0.Add(90 * time.Second)}
		mustLease(t, l, a, true)
		mustLease(t, l, b, false)
		other := b
		other.Job = "k"
		mustLease(t, l, other, true) // leases are per job
		renew := a
		renew.Now, renew.Until = t0.Add(40*time.Second), t0.Add(100*time.Second)
		mustLease(t, l, renew, true) // the holder renews
		b.Now, b.Until = t0.Add(99*time.Second), t0.Add(3*time.Minute)
		mustLease(t, l, b, false) // still a's
		b.Now = t0.Add(101 * time.Second)
		mustLease(t, l, b, true)                           // lapsed: b takes it over
		if err := l.ReleaseLease(ctx, renew); err != nil { // a no longer holds it: nothing changes
			t.Fatal(err)
		}
		a.Now, a.Until = t0.Add(102*time.Second), t0.Add(4*time.Minute)
		mustLease(t, l, a, false)
		if err := l.ReleaseLease(ctx, b); err != nil {
			t.Fatal(err)
		}
		mustLease(t, l, a, true) // released: free at once
	})

	t.Run("LastRunFollowsStartAndFinish", func(t *testing.T) {
		l := open(t)
		if _, ok, err := l.LastRun(ctx, "j"); err != nil || ok {
			t.Fatalf("LastRun of a job that never ran = %v, %v", ok, err)
		}
		at := t0.Truncate(time.Hour)
		r := scheduler.RunRecord{Job: "j", ID: scheduler.RunID("j", at), ScheduledFor: at, Attempt: 1, Holder: "a", Started: t0}
		if err := l.RecordStart(ctx, r); err != nil {
			t.Fatal(err)
		}
		got := mustLast(t, l, "j")
		if got.ID != r.ID || got.Outcome != scheduler.OutcomeRunning || !got.ScheduledFor.Equal(at) || got.Attempt != 1 || got.Holder != "a" {
			t.Errorf("after start: %+v", got)
		}
		r.Finished, r.Outcome, r.RetryAt, r.Detail = t0.Add(time.Minute), scheduler.OutcomeRetry, t0.Add(3*time.Minute), "BA unreachable"
		if err := l.RecordFinish(ctx, r); err != nil {
			t.Fatal(err)
		}
		got = mustLast(t, l, "j")
		if got.Outcome != scheduler.OutcomeRetry || !got.RetryAt.Equal(r.RetryAt) || got.Detail != "BA unreachable" || !got.Finished.Equal(r.Finished) {
			t.Errorf("after finish: %+v", got)
		}
		r.Attempt, r.Holder, r.Started, r.Finished, r.Outcome, r.RetryAt, r.Detail = 2, "b", t0.Add(4*time.Minute), time.Time{}, scheduler.OutcomeRunning, time.Time{}, ""
		if err := l.RecordStart(ctx, r); err != nil {
			t.Fatal(err)
		}
		if got = mustLast(t, l, "j"); got.Attempt != 2 || got.Holder != "b" || got.Outcome != scheduler.OutcomeRunning {
			t.Errorf("after the second start: %+v", got)
		}
		if _, ok, _ := l.LastRun(ctx, "other"); ok {
			t.Error("runs leak between jobs")
		}
		if _, ok, err := l.LastSucceeded(ctx, "j"); err != nil || ok {
			t.Errorf("LastSucceeded before any success = %v, %v", ok, err)
		}
		r.Finished, r.Outcome = t0.Add(5*time.Minute), scheduler.OutcomeSucceeded
		if err := l.RecordFinish(ctx, r); err != nil {
			t.Fatal(err)
		}
		next := scheduler.RunRecord{Job: "j", ID: scheduler.RunID("j", at.Add(time.Hour)), ScheduledFor: at.Add(time.Hour), Attempt: 1, Holder: "a", Started: t0.Add(time.Hour)}
		if err := l.RecordStart(ctx, next); err != nil {
			t.Fatal(err)
		}
		next.Finished, next.Outcome, next.Detail = t0.Add(61*time.Minute), scheduler.OutcomeFailed, "rejected"
		if err := l.RecordFinish(ctx, next); err != nil {
			t.Fatal(err)
		}
		if got, ok, err := l.LastSucceeded(ctx, "j"); err != nil || !ok || got.ID != r.ID || !got.Finished.Equal(r.Finished) {
			t.Errorf("LastSucceeded = %+v, %v, %v; want the run of %s", got, ok, err, at)
		}
	})
}

func mustLease(t *testing.T, l scheduler.Ledger, p scheduler.LeaseParams, want bool) {
	t.Helper()
	got, err := l.AcquireLease(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Fatalf("AcquireLease(%+v) = %v, want %v", p, got, want)
	}
}

func mustLast(t *testing.T, l scheduler.Ledger, job string) scheduler.RunRecord {
	t.Helper()
	r, ok, err := l.LastRun(context.Background(), job)
	if err != nil || !ok {
		t.Fatalf("LastRun(%s) = %v, %v", job, ok, err)
	}
	return r
}
