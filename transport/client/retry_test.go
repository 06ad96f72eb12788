package client

import (
	"net/http"
	"testing"
	"time"
)

func TestBackoffPolicy(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	noJitter := func(d time.Duration) time.Duration { return d }
	p := BackoffPolicy{Min: 100 * time.Millisecond, Max: time.Second, RetryAfterCap: 10 * time.Second,
		Now: func() time.Time { return now }, Jitter: noJitter}
	resp := func(code int, retryAfter string) *http.Response {
		h := http.Header{}
		if retryAfter != "" {
			h.Set("Retry-After", retryAfter)
		}
		return &http.Response{StatusCode: code, Header: h}
	}
	tests := []struct {
		name    string
		attempt int
		resp    *http.Response
		want    time.Duration
	}{
		{"first retry after a connection error", 0, nil, 100 * time.Millisecond},
		{"doubles", 1, nil, 200 * time.Millisecond},
		{"doubles again", 3, nil, 800 * time.Millisecond},
		{"capped at Max", 4, nil, time.Second},
		{"no overflow for huge attempts", 500, nil, time.Second},
		{"500 ignores Retry-After", 0, resp(500, "5"), 100 * time.Millisecond},
		{"503 honours seconds", 0, resp(503, "3"), 3 * time.Second},
		{"429 honours seconds", 5, resp(429, "2"), 2 * time.Second},
		{"503 caps seconds", 0, resp(503, "3600"), 10 * time.Second},
		{"503 honours an HTTP date on the injected clock", 0, resp(503, now.Add(4*time.Second).Format(http.TimeFormat)), 4 * time.Second},
		{"503 caps an HTTP date", 0, resp(503, now.Add(time.Hour).Format(http.TimeFormat)), 10 * time.Second},
		{"a date in the past means now", 0, resp(503, now.Add(-time.Hour).Format(http.TimeFormat)), 0},
		{"malformed Retry-After falls back to backoff", 1, resp(503, "soon"), 200 * time.Millisecond},
		{"negative Retry-After falls back to backoff", 1, resp(503, "-5"), 200 * time.Millisecond},
		{"503 without Retry-After backs off", 2, resp(503, ""), 400 * time.Millisecond},
	}
	for _, tt := range tests {
		if got := p.NextRetry(tt.attempt, tt.resp); got != tt.want {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestBackoffPolicyDefaultsAndJitter(t *testing.T) {
	t.Parallel()
	var p BackoffPolicy // zero value: 500ms … 30s, jitter in [d/2, d]
	for attempt, want := range []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second} {
		for range 50 {
			got := p.NextRetry(attempt, nil)
			if got < want/2 || got > want {
				t.Fatalf("attempt %d: got %v, want within [%v, %v]", attempt, got, want/2, want)
			}
		}
	}
	if got := p.NextRetry(100, nil); got > DefaultRetryMax || got < DefaultRetryMax/2 {
		t.Errorf("attempt 100: got %v, want within the default max", got)
	}
	h := http.Header{"Retry-After": {"86400"}}
	if got := p.NextRetry(0, &http.Response{StatusCode: 503, Header: h}); got != DefaultRetryAfterCap {
		t.Errorf("Retry-After one day: got %v, want the default cap %v", got, DefaultRetryAfterCap)
	}
	bad := BackoffPolicy{Jitter: func(time.Duration) time.Duration { return time.Hour }}
	if got := bad.NextRetry(0, nil); got != DefaultRetryMin {
		t.Errorf("jitter out of range: got %v, want it clamped to %v", got, DefaultRetryMin)
	}
}
