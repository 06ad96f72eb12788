package console

import (
	"sync"
	"time"
)

// throttle counts failed logins per login name and per client address.
// After maxFailures failures within the window a key is locked for
// lockout; a success clears the login's count (not the address's).
type throttle struct {
	mu          sync.Mutex
	maxFailures int
	window      time.Duration
	lockout     time.Duration
	keys        map[string]*failures
}

type failures struct {
	count       int
	first       time.Time
	lockedUntil time.Time
}

// maxThrottleKeys bounds the failure table before stale keys are dropped.
const maxThrottleKeys = 10000

func newThrottle(max int, window, lockout time.Duration) *throttle {
	return &throttle{maxFailures: max, window: window, lockout: lockout, keys: map[string]*failures{}}
}

// locked reports whether any of keys is locked at now, and until when.
func (t *throttle) locked(now time.Time, keys ...string) (time.Time, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	var until time.Time
	for _, k := range keys {
		if f, ok := t.keys[k]; ok && now.Before(f.lockedUntil) && f.lockedUntil.After(until) {
			until = f.lockedUntil
		}
	}
	return until, !until.IsZero()
}

// fail records a failure for each key at now.
func (t *throttle) fail(now time.Time, keys ...string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.keys) > maxThrottleKeys { // many distinct names: forget the stale ones
		for k, f := range t.keys {
			if now.Sub(f.first) > t.window && !now.Before(f.lockedUntil) {
				delete(t.keys, k)
			}
		}
	}
	for _, k := range keys {
		f, ok := t.keys[k]
		if !ok || now.Sub(f.first) > t.window {
			f = &failures{first: now}
			t.keys[k] = f
		}
		f.count++
		if f.count >= t.maxFailures {
			f.lockedUntil = now.Add(t.lockout)
			f.count, f.first = 0, now
		}
	}
}

// succeed clears key's failures.
func (t *throttle) succeed(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.keys, key)
}
