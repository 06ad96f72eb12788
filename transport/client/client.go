package client

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-retryablehttp"

	"meldeweg.dev/meldeweg/transport/baapi"
)

// Timeouts bound each phase of one attempt. Zero fields take the default.
type Timeouts struct {
	// Dial bounds the TCP connect. Defaults to 10s.
	Dial time.Duration
	// TLSHandshake bounds the TLS handshake. Defaults to 10s.
	TLSHandshake time.Duration
	// ResponseHeader bounds the wait for the answer's headers after the
	// body was sent (the receiver stores and hashes the upload first).
	// Defaults to 60s.
	ResponseHeader time.Duration
	// Request bounds one whole attempt, body transfer included. Defaults to
	// 10m. The caller's context bounds all attempts together.
	Request time.Duration
}

func (t Timeouts) withDefaults() Timeouts {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&t.Dial, 10*time.Second)
	def(&t.TLSHandshake, 10*time.Second)
	def(&t.ResponseHeader, 60*time.Second)
	def(&t.Request, 10*time.Minute)
	return t
}

// Config configures a Client.
type Config struct {
	// BaseURL is the BA endpoint, "https://host:port" (a path prefix is
	// kept). Required; only https is accepted.
	BaseURL string
	// TLS is the mutual-TLS configuration, from ClientTLSConfig. Required.
	TLS *tls.Config
	// Timeouts per phase of an attempt.
	Timeouts Timeouts
	// Attempts is the most attempts per request, the first included.
	// Defaults to 7; 1 disables retries.
	Attempts int
	// RetryPolicy says how long to wait between attempts. Defaults to
	// BackoffPolicy{}.
	RetryPolicy RetryPolicy
	// MaxReplyBytes bounds a reply file or listing held in memory.
	// Defaults to 64 MiB.
	MaxReplyBytes int64
	// OnAttempt, if set, is called before every attempt (for metrics).
	// How each attempt ended is reported to the observer of the request's
	// context instead (WithAttemptObserver), which is how the outbox
	// records every attempt of an upload in the register.
	OnAttempt func(Attempt)
	// Logger receives retry diagnostics at debug level. Defaults to none.
	// Paths and message IDs are logged; bodies never are.
	Logger *slog.Logger
}

// Client talks to one BA endpoint over mutual TLS. Every request is
// retried by exactly one layer, go-retryablehttp, on connection errors and
// on 408, 425, 429, 500, 502, 503 and 504, and when an answer is corrupt
// (a receipt that does not confirm the upload, a download whose hash does
// not match). Upload bodies are re-read from their source on every attempt
// and always sent whole with Content-Length. TLS failures (unknown CA,
// rejected client certificate, old protocol) and other 4xx answers are
// final. A Client is safe for concurrent use.
type Client struct {
	base     string
	rc       *retryablehttp.Client
	http     *http.Client
	maxReply int64
}

// Sentinel conditions; errors returned by Client wrap them.
var (
	// ErrNotReady: the reply to a message is not available yet.
	ErrNotReady = errors.New("reply not ready yet")
	// ErrNotFound: the receiver does not know the message or file.
	ErrNotFound = errors.New("not found at the receiver")
	// ErrConflict: the message ID was used before for a different body.
	ErrConflict = errors.New("message ID already used for a different body")
	// ErrCorruptResponse: an answer failed its checks (bad JSON, a receipt
	// that does not confirm the upload, a body that does not match its
	// digest or length).
	ErrCorruptResponse = errors.New("corrupt response")
	// ErrRejectedTLS: the TLS connection failed for a reason retrying
	// cannot fix (certificate or protocol). The concrete error is a
	// *TLSError with the evidence.
	ErrRejectedTLS = errors.New("TLS connection refused")
	// ErrUploadBody: the upload's body could not be opened or read from
	// its source (a file, a kept payload); the request ended at once,
	// since sending again cannot fix the source. The source's own error
	// is wrapped too (e.g. a payload that fails authentication).
	ErrUploadBody = errors.New("upload body could not be read")
)

// StatusError is a final non-success HTTP answer.
type StatusError struct {
	Method, Path string
	StatusCode   int
	// Problem is the receiver's error body; Code is empty when the body
	// was not a baapi.Problem (Detail then holds up to 200 bytes of it).
	Problem  baapi.Problem
	Attempts int
}

func (e *StatusError) Error() string {
	msg := fmt.Sprintf("%s %s: HTTP %d", e.Method, e.Path, e.StatusCode)
	if e.Problem.Code != "" {
		msg += " " + string(e.Problem.Code)
	}
	if e.Problem.Detail != "" {
		msg += ": " + e.Problem.Detail
	}
	if e.Attempts > 1 {
		msg += fmt.Sprintf(" (after %d attempts)", e.Attempts)
	}
	return msg
}

// Is maps status codes to the package's sentinels.
func (e *StatusError) Is(target error) bool {
	switch target {
	case ErrNotFound:
		return e.StatusCode == http.StatusNotFound
	case ErrConflict:
		return e.StatusCode == http.StatusConflict
	}
	return false
}

// corruptError marks an answer that failed its checks; it is retried.
type corruptError struct{ err error }

func (e *corruptError) Error() string { return e.err.Error() }
func (e *corruptError) Unwrap() []error {
	return []error{ErrCorruptResponse, e.err}
}

func corrupt(format string, args ...any) error {
	return &corruptError{err: fmt.Errorf(format, args...)}
}

// bodyError is a failure of the upload body's source; it is final.
type bodyError struct{ err error }

func (e *bodyError) Error() string   { return e.err.Error() }
func (e *bodyError) Unwrap() []error { return []error{ErrUploadBody, e.err} }

// finalError marks a condition the handler found that must not be
// retried (for example ErrNotReady).
type finalError struct{ err error }

func (e *finalError) Error() string { return e.err.Error() }
func (e *finalError) Unwrap() error { return e.err }

// New builds a Client. The configuration is checked; the error names the
// field.
func New(cfg Config) (*Client, error) {
	u, err := url.Parse(cfg.BaseURL)
	switch {
	case err != nil:
		return nil, fmt.Errorf("client: BaseURL: %w", err)
	case u.Scheme != "https" || u.Host == "":
		return nil, fmt.Errorf("client: BaseURL %q: expected https://host[:port]", cfg.BaseURL)
	case cfg.TLS == nil:
		return nil, errors.New("client: TLS is required (see ClientTLSConfig)")
	case cfg.TLS.RootCAs == nil:
		return nil, fmt.Errorf("client: TLS: %w", ErrNoRoots)
	case cfg.Attempts < 0:
		return nil, fmt.Errorf("client: Attempts %d: must be 1 or more (0 for the default)", cfg.Attempts)
	}
	if cfg.Attempts == 0 {
		cfg.Attempts = 7
	}
	if cfg.RetryPolicy == nil {
		cfg.RetryPolicy = BackoffPolicy{}
	}
	if cfg.MaxReplyBytes <= 0 {
		cfg.MaxReplyBytes = 64 << 20
	}
	to := cfg.Timeouts.withDefaults()
	dialer := &net.Dialer{Timeout: to.Dial, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		DialContext:           dialer.DialContext,
		TLSClientConfig:       cfg.TLS.Clone(),
		TLSHandshakeTimeout:   to.TLSHandshake,
		ResponseHeaderTimeout: to.ResponseHeader,
		ForceAttemptHTTP2:     true,
		// Senders and pollers share one client; with fewer idle
		// connections than concurrent requests, every request beyond
		// them paid a new mTLS handshake (two RSA signatures) —
		// BenchmarkDelivery's profile with 8 workers.
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	hc := &http.Client{
		Transport: tr,
		Timeout:   to.Request,
		// The BA endpoints do not redirect; following one would re-send a
		// body to a place nobody configured.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	policy := cfg.RetryPolicy
	ev := newTLSEvidence(cfg.TLS, u.Hostname())
	rc := &retryablehttp.Client{
		HTTPClient: hc,
		RetryMax:   cfg.Attempts - 1,
		CheckRetry: func(ctx context.Context, resp *http.Response, err error) (bool, error) {
			retry, err2 := checkRetry(ctx, resp, err, ev)
			trackerOf(ctx).judged(resp, err2Or(err, err2))
			return retry, err2
		},
		Backoff: func(_, _ time.Duration, attempt int, resp *http.Response) time.Duration {
			return policy.NextRetry(attempt, resp)
		},
		ErrorHandler: errorHandler,
	}
	if cfg.Logger != nil {
		rc.Logger = slogAdapter{cfg.Logger}
	}
	on := cfg.OnAttempt
	rc.RequestLogHook = func(_ retryablehttp.Logger, r *http.Request, i int) {
		a := Attempt{Method: r.Method, Path: r.URL.Path, MessageID: baapi.MessageID(r.Header.Get(baapi.HeaderMessageID)), N: i + 1}
		trackerOf(r.Context()).start(a)
		if on != nil {
			on(a)
		}
	}
	return &Client{base: strings.TrimRight(cfg.BaseURL, "/"), rc: rc, http: hc, maxReply: cfg.MaxReplyBytes}, nil
}

// Close releases idle connections.
func (c *Client) Close() { c.http.CloseIdleConnections() }

// err2Or is the error that describes an attempt: the retry decision's
// error when it has one (a TLS failure with its evidence), else the
// attempt's own.
func err2Or(err, err2 error) error {
	if err2 != nil {
		return err2
	}
	return err
}

// checkRetry is the client's single retry decision (go-retryablehttp
// CheckRetry). err is a transport error or the response handler's error.
func checkRetry(ctx context.Context, resp *http.Response, err error, ev *tlsEvidence) (bool, error) {
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	if err != nil {
		var se *StatusError
		var fe *finalError
		var be *bodyError
		switch {
		case errors.As(err, &se), errors.As(err, &fe), errors.As(err, &be):
			return false, err
		case errors.Is(err, ErrCorruptResponse):
			return true, nil
		case tlsFailure(err):
			return false, ev.explain(err)
		}
		var ue *url.Error
		if errors.As(err, &ue) && strings.Contains(ue.Err.Error(), "unsupported protocol scheme") {
			return false, err
		}
		return true, nil
	}
	switch resp.StatusCode {
	case http.StatusRequestTimeout, http.StatusTooEarly, http.StatusTooManyRequests,
		http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true, nil
	}
	return false, nil // the response handler judges the rest
}

// tlsFailure reports errors retrying cannot fix: certificate verification
// on either side and TLS alerts from the server (bad or missing client
// certificate, protocol version).
func tlsFailure(err error) bool {
	var cv *tls.CertificateVerificationError
	var ua x509.UnknownAuthorityError
	var he x509.HostnameError
	var ci x509.CertificateInvalidError
	var rh tls.RecordHeaderError
	var ae tls.AlertError
	if errors.As(err, &cv) || errors.As(err, &ua) || errors.As(err, &he) || errors.As(err, &ci) ||
		errors.As(err, &rh) || errors.As(err, &ae) {
		return true
	}
	var oe *net.OpError
	return errors.As(err, &oe) && oe.Op == "remote error"
}

// errorHandler turns go-retryablehttp's final failure into our errors.
func errorHandler(resp *http.Response, err error, attempts int) (*http.Response, error) {
	var se *StatusError
	if errors.As(err, &se) {
		se.Attempts = attempts
		closeBody(resp)
		return nil, err
	}
	var fe *finalError
	var be *bodyError
	switch {
	case errors.As(err, &be):
		closeBody(resp)
		return nil, be
	case errors.As(err, &fe):
		closeBody(resp)
		return nil, fe.err
	}
	if err == nil && resp != nil { // retries exhausted on a retryable status
		se := statusError(resp)
		se.Attempts = attempts
		closeBody(resp)
		return nil, se
	}
	closeBody(resp)
	if attempts > 1 {
		return nil, fmt.Errorf("giving up after %d attempts: %w", attempts, err)
	}
	return nil, err
}

func closeBody(resp *http.Response) {
	if resp != nil && resp.Body != nil {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
	}
}

// statusError reads an error answer's Problem body.
func statusError(resp *http.Response) *StatusError {
	se := &StatusError{StatusCode: resp.StatusCode}
	if resp.Request != nil {
		se.Method, se.Path = resp.Request.Method, resp.Request.URL.Path
	}
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 8<<10))
	if json.Unmarshal(data, &se.Problem) != nil || se.Problem.Code == "" {
		se.Problem = baapi.Problem{Status: resp.StatusCode, Detail: snippet(data)}
	}
	return se
}

func snippet(b []byte) string {
	s := strings.ToValidUTF8(strings.TrimSpace(string(b)), "?")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// do runs one request through the retry layer. handle sees every 2xx
// answer; returning a corrupt(...) error retries, other errors end the
// request.
func (c *Client) do(ctx context.Context, method, path string, body *Body, hdr http.Header, handle func(*http.Response) error) error {
	var raw any
	if body != nil {
		// go-retryablehttp calls a ReaderFunc once when the request is
		// built, only to probe for a length, and closes what it got. The
		// body opens on its first Read instead, so that probe costs
		// nothing (for a kept payload it was a register read and a
		// decryption per upload).
		raw = retryablehttp.ReaderFunc(func() (io.Reader, error) { return &lazyBody{open: body.open}, nil })
	}
	ctx, tracker := newTracker(ctx)
	req, err := retryablehttp.NewRequestWithContext(ctx, method, c.base+path, raw)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if body != nil {
		// ReaderFunc bodies have no length go-retryablehttp can see; set it
		// so the body goes out whole, never chunked.
		req.ContentLength = body.size
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	req.SetResponseHandler(func(resp *http.Response) error {
		if resp.StatusCode < 200 || resp.StatusCode > 299 {
			return statusError(resp)
		}
		return handle(resp)
	})
	resp, err := c.rc.Do(req)
	tracker.finish(err)
	if err != nil {
		return err
	}
	closeBody(resp)
	return nil
}

// lazyBody opens a Body's content on the first Read. An error opening or
// reading it ends the request (a *bodyError): sending again cannot fix the
// source, and the caller decides what it means (the outbox stops at once
// on a payload that fails authentication). The transport may close a
// request body while another goroutine reads it, hence the lock.
type lazyBody struct {
	mu     sync.Mutex
	open   func() (io.Reader, error)
	r      io.Reader
	closed bool
}

func (l *lazyBody) Read(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return 0, io.ErrClosedPipe
	}
	if l.r == nil {
		r, err := l.open()
		if err != nil {
			return 0, &bodyError{err: fmt.Errorf("opening the upload body: %w", err)}
		}
		l.r = r
	}
	n, err := l.r.Read(p)
	if err != nil && err != io.EOF {
		return n, &bodyError{err: fmt.Errorf("reading the upload body: %w", err)}
	}
	return n, err
}

func (l *lazyBody) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	if c, ok := l.r.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

// Body is an upload body that can be read again for every attempt. Size
// and SHA-256 are computed once, up front; the receiver checks every
// attempt against them, so a source that changes between attempts is
// refused instead of delivered altered.
type Body struct {
	open func() (io.Reader, error)
	size int64
	sum  [sha256.Size]byte
}

// Size is the body's length in bytes.
func (b *Body) Size() int64 { return b.size }

// SHA256 is the body's hash.
func (b *Body) SHA256() [sha256.Size]byte { return b.sum }

// FileBody reads path once to hash it; every attempt opens it anew.
func FileBody(path string) (*Body, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	b := &Body{size: n, open: func() (io.Reader, error) { return os.Open(path) }}
	h.Sum(b.sum[:0])
	return b, nil
}

// ReaderBody sends what open returns, anew on every attempt; size and sum
// must be those of that content (they are sent as Content-Length and
// Content-Digest before the content is read). If open returns an
// io.ReadCloser it is closed after the attempt.
func ReaderBody(size int64, sum [sha256.Size]byte, open func() (io.Reader, error)) *Body {
	return &Body{size: size, sum: sum, open: open}
}

// BytesBody sends data; it must not change afterwards.
func BytesBody(data []byte) *Body {
	return &Body{size: int64(len(data)), sum: sha256.Sum256(data),
		open: func() (io.Reader, error) { return bytes.NewReader(data), nil }}
}

// Upload sends body as message id on channel ch and returns the
// receiver's receipt, which has been checked to confirm exactly this ID,
// size and SHA-256. A receipt of status duplicate means an earlier attempt
// (maybe by an earlier process) was delivered; it is success too.
func (c *Client) Upload(ctx context.Context, ch baapi.Channel, id baapi.MessageID, contentType string, body *Body) (baapi.Receipt, error) {
	if err := id.Validate(); err != nil {
		return baapi.Receipt{}, err
	}
	if body == nil || body.size == 0 {
		return baapi.Receipt{}, fmt.Errorf("upload %s: empty body; nothing to deliver", id)
	}
	path := baapi.UploadPath(ch, id)
	hdr := http.Header{}
	hdr.Set("Content-Type", contentType)
	hdr.Set(baapi.HeaderMessageID, string(id))
	hdr.Set(baapi.HeaderDigest, baapi.FormatDigest(body.sum))
	var rec baapi.Receipt
	err := c.do(ctx, http.MethodPost, path, body, hdr, func(resp *http.Response) error {
		data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		if err != nil {
			return corrupt("reading the receipt for %s: %w", id, err)
		}
		rec = baapi.Receipt{}
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&rec); err != nil {
			return corrupt("receipt for %s (HTTP %d) is not a receipt: %v", id, resp.StatusCode, err)
		}
		if err := rec.Confirm(ch, id, body.size, body.sum); err != nil {
			return &corruptError{err: err}
		}
		return nil
	})
	if err != nil {
		return baapi.Receipt{}, fmt.Errorf("upload %s: %w", id, err)
	}
	return rec, nil
}

// Fetched describes a downloaded file.
type Fetched struct {
	Size    int64
	SHA256  [sha256.Size]byte
	Outcome baapi.Outcome // from HeaderOutcome, for replies; may be empty
}

// sink receives a download; reset starts it over for a new attempt.
type sink interface {
	io.Writer
	reset() error
}

type memSink struct{ bytes.Buffer }

func (m *memSink) reset() error { m.Reset(); return nil }

type fileSink struct{ f *os.File }

func (s *fileSink) Write(p []byte) (int, error) { return s.f.Write(p) }
func (s *fileSink) reset() error {
	if err := s.f.Truncate(0); err != nil {
		return err
	}
	_, err := s.f.Seek(0, io.SeekStart)
	return err
}

// fetch GETs path into dst, checking length and Content-Digest; a
// mismatch is retried. limit < 0 means no limit.
func (c *Client) fetch(ctx context.Context, path string, dst sink, limit int64, onStatus func(*http.Response) error) (Fetched, error) {
	var got Fetched
	err := c.do(ctx, http.MethodGet, path, nil, nil, func(resp *http.Response) error {
		if onStatus != nil {
			if err := onStatus(resp); err != nil {
				return err
			}
		}
		want, derr := baapi.ParseDigest(resp.Header.Get(baapi.HeaderDigest))
		if derr != nil {
			return corrupt("%s: %w", path, derr)
		}
		if err := dst.reset(); err != nil {
			return &finalError{err: fmt.Errorf("%s: %w", path, err)}
		}
		h := sha256.New()
		src := resp.Body
		if limit >= 0 {
			src = io.NopCloser(io.LimitReader(resp.Body, limit+1))
		}
		n, err := io.Copy(io.MultiWriter(dst, h), src)
		if err != nil {
			var we *writeError
			if errors.As(err, &we) {
				return &finalError{err: we.err}
			}
			return corrupt("%s: body broke off after %d bytes: %w", path, n, err)
		}
		if limit >= 0 && n > limit {
			return &finalError{err: fmt.Errorf("%s: answer exceeds %d bytes", path, limit)}
		}
		if resp.ContentLength >= 0 && n != resp.ContentLength {
			return corrupt("%s: got %d bytes, Content-Length says %d", path, n, resp.ContentLength)
		}
		var sum [sha256.Size]byte
		h.Sum(sum[:0])
		if sum != want {
			return corrupt("%s: SHA-256 %x does not match Content-Digest %x", path, sum, want)
		}
		got = Fetched{Size: n, SHA256: sum, Outcome: baapi.Outcome(resp.Header.Get(baapi.HeaderOutcome))}
		return nil
	})
	return got, err
}

// writeError marks a failure of the local destination, which retrying the
// request cannot fix.
type writeError struct{ err error }

func (e *writeError) Error() string { return e.err.Error() }

type guardedWriter struct{ w sink }

func (g guardedWriter) Write(p []byte) (int, error) {
	n, err := g.w.Write(p)
	if err != nil {
		return n, &writeError{err: err}
	}
	return n, nil
}
func (g guardedWriter) reset() error { return g.w.reset() }

// Reply fetches the reply to message id: the XSozial feedback file or the
// eM@w OK/NOK acknowledgement, checked against its Content-Digest. It
// returns an error wrapping ErrNotReady while the receiver has none yet,
// and ErrNotFound for an ID it never accepted.
func (c *Client) Reply(ctx context.Context, ch baapi.Channel, id baapi.MessageID) ([]byte, Fetched, error) {
	if err := id.Validate(); err != nil {
		return nil, Fetched{}, err
	}
	var buf memSink
	f, err := c.fetch(ctx, baapi.ReplyPath(ch, id), guardedWriter{&buf}, c.maxReply, func(resp *http.Response) error {
		if resp.StatusCode == http.StatusAccepted {
			return &finalError{err: fmt.Errorf("message %s: %w", id, ErrNotReady)}
		}
		return nil
	})
	if err != nil {
		return nil, Fetched{}, err
	}
	return buf.Bytes(), f, nil
}

// List returns the files the BA offers on channel ch, checked with
// Listing.Validate; a listing that fails the check is fetched again.
func (c *Client) List(ctx context.Context, ch baapi.Channel) (baapi.Listing, error) {
	var l baapi.Listing
	path := baapi.InboxPath(ch)
	err := c.do(ctx, http.MethodGet, path, nil, nil, func(resp *http.Response) error {
		data, err := io.ReadAll(io.LimitReader(resp.Body, c.maxReply+1))
		if err != nil {
			return corrupt("%s: %w", path, err)
		}
		if int64(len(data)) > c.maxReply {
			return &finalError{err: fmt.Errorf("%s: listing exceeds %d bytes", path, c.maxReply)}
		}
		l = baapi.Listing{}
		if err := json.Unmarshal(data, &l); err != nil {
			return corrupt("%s: listing is not JSON: %v", path, err)
		}
		if l.Channel != ch {
			return corrupt("%s: listing is for channel %q", path, l.Channel)
		}
		if err := l.Validate(); err != nil {
			return corrupt("%s: %w", path, err)
		}
		return nil
	})
	return l, err
}

// Download fetches offered file id into dst: it writes a temporary file in
// dst's directory, checks length and SHA-256 against Content-Digest (and
// against want, unless want is zero), syncs it and renames it to dst. On
// error dst is left untouched.
func (c *Client) Download(ctx context.Context, ch baapi.Channel, id baapi.FileID, want [sha256.Size]byte, dst string) (Fetched, error) {
	if err := id.Validate(); err != nil {
		return Fetched{}, err
	}
	// Not transport/atomicfile: a retried attempt truncates the temporary
	// file and starts again (fileSink.reset), which needs the *os.File that
	// atomicfile's writer does not expose. The steps are the same: temp
	// file (0600), fsync, rename, fsync of the directory.
	tmp, err := os.CreateTemp(filepath.Dir(dst), ".download-*")
	if err != nil {
		return Fetched{}, err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	f, err := c.fetch(ctx, baapi.InboxFilePath(ch, id), guardedWriter{&fileSink{tmp}}, -1, nil)
	if err != nil {
		return Fetched{}, fmt.Errorf("download %s: %w", id, err)
	}
	if want != ([sha256.Size]byte{}) && f.SHA256 != want {
		return Fetched{}, fmt.Errorf("download %s: %w: SHA-256 %x, listing says %x", id, ErrCorruptResponse, f.SHA256, want)
	}
	if err := tmp.Sync(); err != nil {
		return Fetched{}, err
	}
	if err := tmp.Close(); err != nil {
		return Fetched{}, err
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return Fetched{}, err
	}
	if d, err := os.Open(filepath.Dir(dst)); err == nil {
		d.Sync()
		d.Close()
	}
	return f, nil
}

// Remove tells the BA that file id was collected, so it is no longer
// offered. Removing a file that is gone already succeeds.
func (c *Client) Remove(ctx context.Context, ch baapi.Channel, id baapi.FileID) error {
	if err := id.Validate(); err != nil {
		return err
	}
	err := c.do(ctx, http.MethodDelete, baapi.InboxFilePath(ch, id), nil, nil, func(*http.Response) error { return nil })
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}

// slogAdapter makes an slog.Logger a go-retryablehttp LeveledLogger; all
// messages go out at debug level except errors.
type slogAdapter struct{ l *slog.Logger }

func (a slogAdapter) Error(msg string, kv ...any) { a.l.Debug(msg, kv...) }
func (a slogAdapter) Info(msg string, kv ...any)  { a.l.Debug(msg, kv...) }
func (a slogAdapter) Debug(msg string, kv ...any) { a.l.Debug(msg, kv...) }
func (a slogAdapter) Warn(msg string, kv ...any)  { a.l.Debug(msg, kv...) }

func decodeHex32(s string) ([sha256.Size]byte, error) {
	var out [sha256.Size]byte
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != sha256.Size {
		return out, fmt.Errorf("%q is not a SHA-256 in hex", s)
	}
	copy(out[:], b)
	return out, nil
}
