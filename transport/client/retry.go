package client

import (
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// RetryPolicy decides how long to wait before the next attempt of a
// request. attempt counts the attempts made so far minus one (0 after the
// first failure); resp is the last answer, nil after a connection error.
// Whether to retry at all is decided by the client (see Client); the
// policy only says when.
type RetryPolicy interface {
	NextRetry(attempt int, resp *http.Response) time.Duration
}

// BackoffPolicy is the default RetryPolicy: exponential backoff with
// jitter, and the server's Retry-After honoured on 429 and 503 but capped.
// The zero value is usable.
//
// go-retryablehttp's own backoff honours Retry-After without a cap (a
// "Retry-After: 3600" waits an hour, see the project's library notes); the
// client installs this policy as its Backoff so the cap always applies.
type BackoffPolicy struct {
	// Min is the wait after the first failure. Defaults to 500ms.
	Min time.Duration
	// Max caps the exponential wait. Defaults to 30s.
	Max time.Duration
	// RetryAfterCap caps a server's Retry-After. Defaults to 60s.
	RetryAfterCap time.Duration
	// Now is the clock that HTTP-date Retry-After values are measured
	// against. Defaults to time.Now.
	Now func() time.Time
	// Jitter maps the exponential wait d to the wait used; it must return
	// a value in [0, d]. Defaults to a uniform choice in [d/2, d].
	Jitter func(d time.Duration) time.Duration
}

// Defaults of BackoffPolicy.
const (
	DefaultRetryMin      = 500 * time.Millisecond
	DefaultRetryMax      = 30 * time.Second
	DefaultRetryAfterCap = 60 * time.Second
)

// NextRetry implements RetryPolicy.
func (p BackoffPolicy) NextRetry(attempt int, resp *http.Response) time.Duration {
	lo, hi, capRA := p.Min, p.Max, p.RetryAfterCap
	if lo <= 0 {
		lo = DefaultRetryMin
	}
	if hi <= 0 {
		hi = DefaultRetryMax
	}
	if hi < lo {
		hi = lo
	}
	if capRA <= 0 {
		capRA = DefaultRetryAfterCap
	}
	if resp != nil && (resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable) {
		now := time.Now
		if p.Now != nil {
			now = p.Now
		}
		if d, ok := parseRetryAfter(resp.Header.Get("Retry-After"), now()); ok {
			return min(d, capRA)
		}
	}
	d := hi
	if attempt < 40 { // beyond that, 2^attempt overflows and hi applies anyway
		d = min(lo<<uint(max(attempt, 0)), hi)
		if d <= 0 {
			d = hi
		}
	}
	if p.Jitter != nil {
		return min(max(p.Jitter(d), 0), d)
	}
	return d/2 + rand.N(d/2+1)
}

// parseRetryAfter reads a Retry-After value: delay seconds or an HTTP
// date, relative to now. A date in the past gives 0.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if s, err := strconv.ParseInt(v, 10, 64); err == nil {
		if s < 0 {
			return 0, false
		}
		if s > int64(24*time.Hour/time.Second) {
			s = int64(24 * time.Hour / time.Second)
		}
		return time.Duration(s) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return max(t.Sub(now), 0), true
}
