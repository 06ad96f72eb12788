package client

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"syscall"

	"meldeweg.dev/meldeweg/transport/baapi"
)

// Attempt describes one attempt of a request, for Config.OnAttempt.
type Attempt struct {
	Method, Path string
	// MessageID is set for uploads.
	MessageID baapi.MessageID
	// N counts attempts from 1.
	N int
}

// AttemptResult is how one attempt of a request ended, for the observer
// installed with WithAttemptObserver.
type AttemptResult struct {
	Attempt
	// StatusCode is the answer's HTTP status; 0 when no answer came
	// (connection error, TLS failure, timeout).
	StatusCode int
	// Err is nil when the attempt succeeded. For the last attempt it is
	// the error the request returns.
	Err error
	// Retry says that another attempt follows.
	Retry bool
}

// Outcome names how the attempt ended in a few words, safe to record and
// log: "HTTP 202", "HTTP 503 unavailable", "connection reset",
// "connection closed", "connection refused", "timeout", "corrupt response
// (HTTP 202)",
// "TLS failure", "upload body unreadable", "cancelled". It never holds a
// body or a server's free text.
func (r AttemptResult) Outcome() string {
	status := ""
	if r.StatusCode != 0 {
		status = "HTTP " + strconv.Itoa(r.StatusCode)
	}
	err := r.Err
	var se *StatusError
	var be *bodyError
	switch {
	case err == nil:
		return status
	case errors.As(err, &se):
		if se.Problem.Code != "" && validToken(string(se.Problem.Code)) {
			return "HTTP " + strconv.Itoa(se.StatusCode) + " " + string(se.Problem.Code)
		}
		return "HTTP " + strconv.Itoa(se.StatusCode)
	case errors.As(err, &be):
		return "upload body unreadable"
	case errors.Is(err, ErrCorruptResponse):
		if status != "" {
			return "corrupt response (" + status + ")"
		}
		return "corrupt response"
	case errors.Is(err, ErrRejectedTLS):
		return "TLS failure"
	case errors.Is(err, ErrNotReady):
		return status + " not ready"
	case errors.Is(err, context.Canceled):
		return "cancelled"
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed), errors.Is(err, syscall.EPIPE):
		// After a reset while sending, the transport often reports only
		// that the connection it closed is gone.
		return "connection closed"
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "timeout"
	}
	if status != "" {
		return status + " failed"
	}
	return "connection error"
}

// validToken: a problem code is recorded only if it is a short token
// (baapi's codes are); anything else from the server is left out.
func validToken(s string) bool {
	if s == "" || len(s) > 40 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

type observerKey struct{}

// WithAttemptObserver returns a context that makes every request made
// with it report each of its attempts to observe, once the attempt's
// outcome is known: a retried attempt before the next one starts (after
// the wait), the last one before the request returns. observe runs on the
// requesting goroutine and delays the request while it runs; it must not
// make requests with ctx itself. Like net/http/httptrace, this travels in
// the context because it belongs to one request (one message's upload),
// not to the Client that many senders share.
func WithAttemptObserver(ctx context.Context, observe func(AttemptResult)) context.Context {
	return context.WithValue(ctx, observerKey{}, observe)
}

// attemptTracker follows one request's attempts between the retry layer's
// hooks: RequestLogHook (an attempt starts), CheckRetry (its outcome) and
// the end of the request.
type attemptTracker struct {
	observe func(AttemptResult)

	mu      sync.Mutex
	current AttemptResult
	started bool
}

type trackerKey struct{}

// newTracker returns ctx with a tracker for one request, or ctx itself
// when nobody observes.
func newTracker(ctx context.Context) (context.Context, *attemptTracker) {
	observe, _ := ctx.Value(observerKey{}).(func(AttemptResult))
	if observe == nil {
		return ctx, nil
	}
	t := &attemptTracker{observe: observe}
	return context.WithValue(ctx, trackerKey{}, t), t
}

func trackerOf(ctx context.Context) *attemptTracker {
	t, _ := ctx.Value(trackerKey{}).(*attemptTracker)
	return t
}

// start reports the previous attempt as retried and begins attempt a.
func (t *attemptTracker) start(a Attempt) {
	if t == nil {
		return
	}
	t.mu.Lock()
	prev, had := t.current, t.started
	t.current, t.started = AttemptResult{Attempt: a}, true
	t.mu.Unlock()
	if had {
		prev.Retry = true
		t.observe(prev)
	}
}

// judged notes the retry layer's view of the current attempt (it may be
// called twice per attempt: for the transport's answer, then for the
// response handler's verdict; the later one counts).
func (t *attemptTracker) judged(resp *http.Response, err error) {
	if t == nil {
		return
	}
	t.mu.Lock()
	if resp != nil {
		t.current.StatusCode = resp.StatusCode
		if err == nil && (resp.StatusCode < 200 || resp.StatusCode > 299) {
			err = &StatusError{Method: t.current.Method, Path: t.current.Path, StatusCode: resp.StatusCode}
		}
	}
	t.current.Err = err
	t.mu.Unlock()
}

// finish reports the last attempt with the request's final error.
func (t *attemptTracker) finish(err error) {
	if t == nil {
		return
	}
	t.mu.Lock()
	last, had := t.current, t.started
	t.started = false
	t.mu.Unlock()
	if !had {
		return
	}
	last.Err = err
	t.observe(last)
}
