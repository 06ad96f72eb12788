package client_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"meldeweg.dev/meldeweg/basim"
	"meldeweg.dev/meldeweg/basim/simtest"
	"meldeweg.dev/meldeweg/transport/baapi"
	"meldeweg.dev/meldeweg/transport/client"
)

// fastRetry keeps tests short: 10ms, 20ms, … with no jitter.
var fastRetry = client.BackoffPolicy{Min: 10 * time.Millisecond, Max: 100 * time.Millisecond, RetryAfterCap: 100 * time.Millisecond,
	Jitter: func(d time.Duration) time.Duration { return d }}

// attemptLog records OnAttempt calls with their times.
type attemptLog struct {
	mu    sync.Mutex
	times []time.Time
}

func (a *attemptLog) on(client.Attempt) {
	a.mu.Lock()
	a.times = append(a.times, time.Now())
	a.mu.Unlock()
}

func (a *attemptLog) n() int { a.mu.Lock(); defer a.mu.Unlock(); return len(a.times) }

func (a *attemptLog) gap(i int) time.Duration {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.times[i].Sub(a.times[i-1])
}

func newClient(t *testing.T, url string, tlsCfg *tls.Config, mod func(*client.Config)) (*client.Client, *attemptLog) {
	t.Helper()
	log := &attemptLog{}
	cfg := client.Config{BaseURL: url, TLS: tlsCfg, RetryPolicy: fastRetry, OnAttempt: log.on,
		Timeouts: client.Timeouts{Request: 30 * time.Second}}
	if mod != nil {
		mod(&cfg)
	}
	c, err := client.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c, log
}

func randomBytes(t testing.TB, n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// TestMutualTLS is the table of clients × URLs: only the right client
// certificate, over TLS 1.2+, with the BA's CA pinned, gets through; every
// refusal is final (one attempt, no retries).
func TestMutualTLS(t *testing.T) {
	t.Parallel()
	p := simtest.NewPKI(t)
	s := simtest.Start(t, p, basim.Config{})
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(s.URL, "https://"))
	urls := []string{"https://127.0.0.1:" + port, "https://localhost:" + port}
	if l6, err := net.Listen("tcp", "[::1]:0"); err == nil {
		go s.Serve(l6)
		urls = append(urls, "https://"+l6.Addr().String())
	}

	good := p.ClientTLS(t)
	noCert := good.Clone()
	noCert.Certificates = nil
	otherCA := good.Clone()
	otherCA.Certificates = []tls.Certificate{p.OtherClient.TLS}
	tls11 := good.Clone()
	tls11.MinVersion, tls11.MaxVersion = tls.VersionTLS10, tls.VersionTLS11
	tls11.CipherSuites = nil
	unpinned := good.Clone()
	unpinned.RootCAs = p.OtherPool // the BA's real CA is not trusted
	wrongName := good.Clone()
	wrongName.ServerName = "not-the-ba.example"

	clients := []struct {
		name    string
		cfg     *tls.Config
		wantErr bool
	}{
		{"good client", good, false},
		{"no client certificate", noCert, true},
		{"client cert from another CA", otherCA, true},
		{"TLS 1.1 client", tls11, true},
		{"server CA not pinned", unpinned, true},
		{"server name mismatch", wrongName, true},
	}
	for _, url := range urls {
		for _, tc := range clients {
			t.Run(tc.name+" "+url, func(t *testing.T) {
				t.Parallel()
				c, log := newClient(t, url, tc.cfg, nil)
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				_, err := c.List(ctx, baapi.ChannelEmaw)
				if (err != nil) != tc.wantErr {
					t.Fatalf("List: got err %v, wantErr %v", err, tc.wantErr)
				}
				if err != nil && !errors.Is(err, client.ErrRejectedTLS) {
					t.Errorf("got %v, want it to wrap ErrRejectedTLS", err)
				}
				if got := log.n(); got != 1 {
					t.Errorf("attempts: got %d, want 1 (TLS refusals are final)", got)
				}
			})
		}
	}
}

func TestClientConfigRefused(t *testing.T) {
	t.Parallel()
	p := simtest.NewPKI(t)
	good := p.ClientTLS(t)
	noRoots := good.Clone()
	noRoots.RootCAs = nil
	tests := []struct {
		name string
		cfg  client.Config
		want string
	}{
		{"http", client.Config{BaseURL: "http://127.0.0.1:1", TLS: good}, "expected https"},
		{"no TLS", client.Config{BaseURL: "https://127.0.0.1:1"}, "TLS is required"},
		{"system roots", client.Config{BaseURL: "https://127.0.0.1:1", TLS: noRoots}, "no CA pinned"},
		{"negative attempts", client.Config{BaseURL: "https://127.0.0.1:1", TLS: good, Attempts: -1}, "Attempts"},
	}
	for _, tt := range tests {
		_, err := client.New(tt.cfg)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: got %v, want error containing %q", tt.name, err, tt.want)
		}
	}
	if _, err := client.ClientTLSConfig(p.Client.TLS, nil, ""); !errors.Is(err, client.ErrNoRoots) {
		t.Errorf("ClientTLSConfig without roots: got %v, want ErrNoRoots", err)
	}
}

// bodyCheckServer is a TLS server that checks length and SHA-256 of every
// attempt's body, answers the first `fail` attempts with 500 and then a
// receipt.
type bodyCheckServer struct {
	t        *testing.T
	wantSize int64
	wantSum  [32]byte
	fail     int

	mu       sync.Mutex
	attempts []string // per attempt: "" when the body was whole, else the problem
}

func (b *bodyCheckServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := sha256.New()
	n, err := io.Copy(h, r.Body)
	var problem string
	switch {
	case err != nil:
		problem = "read: " + err.Error()
	case len(r.TransferEncoding) > 0:
		problem = "chunked transfer encoding"
	case r.ContentLength != b.wantSize:
		problem = "Content-Length " + r.Header.Get("Content-Length")
	case n != b.wantSize:
		problem = "short body"
	case !bytes.Equal(h.Sum(nil), b.wantSum[:]):
		problem = "SHA-256 differs"
	case r.Header.Get(baapi.HeaderDigest) != baapi.FormatDigest(b.wantSum):
		problem = "Content-Digest header " + r.Header.Get(baapi.HeaderDigest)
	case r.Header.Get(baapi.HeaderMessageID) != "m-1":
		problem = "message ID header " + r.Header.Get(baapi.HeaderMessageID)
	}
	b.mu.Lock()
	b.attempts = append(b.attempts, problem)
	i := len(b.attempts)
	b.mu.Unlock()
	if i <= b.fail {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusAccepted)
	json.NewEncoder(w).Encode(baapi.Receipt{MessageID: "m-1", Channel: baapi.ChannelEmaw, Status: baapi.ReceiptAccepted,
		Size: n, SHA256: hex.EncodeToString(h.Sum(nil))})
}

// TestEveryAttemptSendsTheWholeBody: a server checks length and hash of
// every attempt; file and byte bodies both go out whole, with
// Content-Length, on each of several attempts.
func TestEveryAttemptSendsTheWholeBody(t *testing.T) {
	t.Parallel()
	p := simtest.NewPKI(t)
	data := randomBytes(t, 3<<20+17)
	path := filepath.Join(t.TempDir(), "payload.zip")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	fileBody, err := client.FileBody(path)
	if err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]*client.Body{"file": fileBody, "bytes": client.BytesBody(data)} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			bs := &bodyCheckServer{t: t, wantSize: int64(len(data)), wantSum: sha256.Sum256(data), fail: 3}
			srv := httptest.NewUnstartedServer(bs)
			srv.TLS = p.ServerTLS(t)
			srv.StartTLS()
			defer srv.Close()
			c, log := newClient(t, srv.URL, p.ClientTLS(t), nil)
			rec, err := c.Upload(context.Background(), baapi.ChannelEmaw, "m-1", client.ContentTypeSealed, body)
			if err != nil {
				t.Fatal(err)
			}
			if rec.Status != baapi.ReceiptAccepted {
				t.Errorf("receipt status: got %q, want accepted", rec.Status)
			}
			bs.mu.Lock()
			defer bs.mu.Unlock()
			if len(bs.attempts) != 4 || log.n() != 4 {
				t.Fatalf("attempts: server saw %d, client made %d, want 4", len(bs.attempts), log.n())
			}
			for i, p := range bs.attempts {
				if p != "" {
					t.Errorf("attempt %d: %s", i+1, p)
				}
			}
		})
	}
}

func TestRetryAfterCapped(t *testing.T) {
	t.Parallel()
	p := simtest.NewPKI(t)
	s := simtest.Start(t, p, basim.Config{Faults: basim.Faults{Unavailable: 2, RetryAfter: time.Hour}})
	capped := fastRetry
	capped.RetryAfterCap = 50 * time.Millisecond
	c, log := newClient(t, s.URL, p.ClientTLS(t), func(c *client.Config) { c.RetryPolicy = capped })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := c.Upload(ctx, baapi.ChannelEmaw, "m-cap", client.ContentTypeSealed, client.BytesBody([]byte("x"))); err != nil {
		t.Fatal(err)
	}
	if log.n() != 3 {
		t.Fatalf("attempts: got %d, want 3", log.n())
	}
	for i := 1; i < 3; i++ {
		if g := log.gap(i); g < 50*time.Millisecond || g > 5*time.Second {
			t.Errorf("wait before attempt %d: got %v, want the 50ms cap (server asked for 1h)", i+1, g)
		}
	}
}

// TestRetryAfterHonoured: an HTTP-date Retry-After is measured against the
// injected clock, so a 1h date one hour minus 300ms ahead waits 300ms.
func TestRetryAfterHonoured(t *testing.T) {
	t.Parallel()
	p := simtest.NewPKI(t)
	simNow := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	s := simtest.Start(t, p, basim.Config{Now: func() time.Time { return simNow },
		Faults: basim.Faults{Unavailable: 1, RetryAfter: time.Hour, RetryAfterDate: true}})
	pol := fastRetry
	pol.RetryAfterCap = 2 * time.Hour
	pol.Now = func() time.Time { return simNow.Add(time.Hour - 300*time.Millisecond) }
	c, log := newClient(t, s.URL, p.ClientTLS(t), func(c *client.Config) { c.RetryPolicy = pol })
	if _, err := c.Upload(context.Background(), baapi.ChannelEmaw, "m-date", client.ContentTypeSealed, client.BytesBody([]byte("x"))); err != nil {
		t.Fatal(err)
	}
	if log.n() != 2 {
		t.Fatalf("attempts: got %d, want 2", log.n())
	}
	if g := log.gap(1); g < 300*time.Millisecond || g > 5*time.Second {
		t.Errorf("wait: got %v, want the 300ms Retry-After left on the injected clock", g)
	}
}

func TestUnavailableGivesUp(t *testing.T) {
	t.Parallel()
	p := simtest.NewPKI(t)
	s := simtest.Start(t, p, basim.Config{Faults: basim.Faults{Unavailable: 100}})
	c, log := newClient(t, s.URL, p.ClientTLS(t), func(c *client.Config) { c.Attempts = 3 })
	_, err := c.Upload(context.Background(), baapi.ChannelEmaw, "m-down", client.ContentTypeSealed, client.BytesBody([]byte("x")))
	var se *client.StatusError
	if !errors.As(err, &se) || se.StatusCode != 503 || se.Attempts != 3 || se.Problem.Code != baapi.ProblemUnavailable {
		t.Fatalf("got %v, want a 503 StatusError after 3 attempts", err)
	}
	if log.n() != 3 || len(s.Accepted()) != 0 {
		t.Fatalf("attempts %d, accepted %d: want 3 and 0", log.n(), len(s.Accepted()))
	}
}

// TestResetDuringUpload: the connection is reset mid-body twice; the third
// attempt goes through and the simulator stored the exact bytes once.
func TestResetDuringUpload(t *testing.T) {
	t.Parallel()
	p := simtest.NewPKI(t)
	s := simtest.Start(t, p, basim.Config{Faults: basim.Faults{ResetUploads: 2}})
	c, log := newClient(t, s.URL, p.ClientTLS(t), nil)
	data := randomBytes(t, 1<<20)
	rec, err := c.Upload(context.Background(), baapi.ChannelEmaw, "m-reset", client.ContentTypeSealed, client.BytesBody(data))
	if err != nil {
		t.Fatal(err)
	}
	if log.n() != 3 || s.Stats().Resets != 2 {
		t.Errorf("attempts %d, resets %d: want 3 and 2", log.n(), s.Stats().Resets)
	}
	stored, err := os.ReadFile(filepath.Join(s.Dir, "uploads", "emaw", "m-reset"))
	if err != nil || !bytes.Equal(stored, data) {
		t.Fatalf("stored upload differs from what was sent (err %v)", err)
	}
	acc, err := basim.ReadAccepted(s.Dir)
	if err != nil || len(acc) != 1 || acc[0].SHA256 != rec.SHA256 {
		t.Fatalf("accepted.jsonl: %v, %+v: want one record with the receipt's hash", err, acc)
	}
}

func TestSlowResponses(t *testing.T) {
	t.Parallel()
	p := simtest.NewPKI(t)
	s := simtest.Start(t, p, basim.Config{Faults: basim.Faults{Slow: 400 * time.Millisecond}})
	tests := []struct {
		name    string
		header  time.Duration
		wantErr bool
	}{
		{"header timeout shorter than the delay", 100 * time.Millisecond, true},
		{"header timeout longer than the delay", 5 * time.Second, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, log := newClient(t, s.URL, p.ClientTLS(t), func(c *client.Config) {
				c.Attempts = 2
				c.Timeouts.ResponseHeader = tt.header
			})
			_, err := c.List(context.Background(), baapi.ChannelEmaw)
			if (err != nil) != tt.wantErr {
				t.Fatalf("got %v, wantErr %v", err, tt.wantErr)
			}
			if tt.wantErr && (log.n() != 2 || !strings.Contains(err.Error(), "timeout")) {
				t.Errorf("got %v after %d attempts, want a timeout after 2", err, log.n())
			}
		})
	}
}

// TestCorruptResponses: a garbled receipt and garbled downloads are
// retried; the message is still accepted once and the downloaded bytes
// are the right ones.
func TestCorruptResponses(t *testing.T) {
	t.Parallel()
	p := simtest.NewPKI(t)
	s := simtest.Start(t, p, basim.Config{Faults: basim.Faults{CorruptResponses: 1}})
	c, log := newClient(t, s.URL, p.ClientTLS(t), nil)
	ctx := context.Background()
	zip := minimalZip(t)
	rec, err := c.Upload(ctx, baapi.ChannelEmaw, "m-corrupt", client.ContentTypeSealed, client.BytesBody(zip))
	if err != nil {
		t.Fatal(err)
	}
	if rec.Status != baapi.ReceiptDuplicate || log.n() != 2 {
		t.Errorf("receipt %q after %d attempts: want duplicate after 2 (the first answer was garbled)", rec.Status, log.n())
	}
	if n := len(s.Accepted()); n != 1 {
		t.Errorf("accepted: got %d, want 1", n)
	}
	ack, f, err := c.Reply(ctx, baapi.ChannelEmaw, "m-corrupt")
	if err != nil {
		t.Fatal(err)
	}
	if f.SHA256 != sha256.Sum256(ack) || !bytes.Contains(ack, []byte("<Ergebnis>OK</Ergebnis>")) || f.Outcome != baapi.OutcomeOK {
		t.Errorf("ack: outcome %q, %q", f.Outcome, ack)
	}
	l, err := c.List(ctx, baapi.ChannelEmaw)
	if err != nil || len(l.Files) != 1 {
		t.Fatalf("List: %v %+v", err, l)
	}
	dst := filepath.Join(t.TempDir(), "ack.xml")
	if _, err := (client.EmawMailbox{C: c}).Download(ctx, l.Files[0], dst); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(dst); !bytes.Equal(got, ack) {
		t.Errorf("downloaded file differs from the reply")
	}
	if st := s.Stats(); st.Corrupted != 3 {
		t.Errorf("corrupted answers: got %d, want 3 (receipt, reply, download)", st.Corrupted)
	}
}

func TestDuplicatesDropped(t *testing.T) {
	t.Parallel()
	p := simtest.NewPKI(t)
	s := simtest.Start(t, p, basim.Config{})
	c, _ := newClient(t, s.URL, p.ClientTLS(t), nil)
	ctx := context.Background()
	sealed := append([]byte{0x30, 0x80}, randomBytes(t, 100)...)
	portal := client.XSozialPortal{C: c}
	for i, want := range []baapi.ReceiptStatus{baapi.ReceiptAccepted, baapi.ReceiptDuplicate, baapi.ReceiptDuplicate} {
		rec, err := portal.Upload(ctx, "d-1", client.BytesBody(sealed))
		if err != nil || rec.Status != want {
			t.Fatalf("upload %d: %v, status %q, want %q", i+1, err, rec.Status, want)
		}
	}
	_, err := portal.Upload(ctx, "d-1", client.BytesBody([]byte("different")))
	if !errors.Is(err, client.ErrConflict) {
		t.Fatalf("same ID, other body: got %v, want ErrConflict", err)
	}
	acc, _ := basim.ReadAccepted(s.Dir)
	if len(acc) != 1 {
		t.Fatalf("accepted.jsonl: got %d lines, want 1", len(acc))
	}
	fb, f, err := portal.Feedback(ctx, "d-1")
	if err != nil || f.Outcome != baapi.OutcomeOK || !bytes.Contains(fb, []byte("angenommen")) {
		t.Fatalf("feedback: %v %q %s", err, f.Outcome, fb)
	}
	if _, _, err := portal.Feedback(ctx, "unknown"); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("feedback for an unknown ID: got %v, want ErrNotFound", err)
	}
}

func TestDuplicateRepliesAndInbox(t *testing.T) {
	t.Parallel()
	p := simtest.NewPKI(t)
	s := simtest.Start(t, p, basim.Config{Faults: basim.Faults{DuplicateReplies: true}})
	anm := []byte("<Anmeldung/>")
	fid := s.Offer(baapi.ChannelEmaw, "AGHAnmeldung_1.xml", anm)
	c, _ := newClient(t, s.URL, p.ClientTLS(t), nil)
	mb := client.EmawMailbox{C: c}
	ctx := context.Background()
	if _, err := mb.Upload(ctx, "m-dup", client.BytesBody(minimalZip(t))); err != nil {
		t.Fatal(err)
	}
	if _, _, err := mb.Ack(ctx, "m-dup"); err != nil { // waits until the check is done
		t.Fatal(err)
	}
	l, err := mb.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var replies []baapi.FileInfo
	for _, f := range l.Files {
		if f.Kind == baapi.KindReply {
			replies = append(replies, f)
		}
	}
	if len(l.Files) != 3 || len(replies) != 2 || replies[0].Ref != "m-dup" || replies[0].SHA256 != replies[1].SHA256 || replies[0].ID == replies[1].ID {
		t.Fatalf("listing: got %+v, want the Anmeldung and the same reply twice under two IDs", l.Files)
	}
	dst := filepath.Join(t.TempDir(), "anm.xml")
	if _, err := mb.Download(ctx, l.Files[0], dst); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(dst); !bytes.Equal(got, anm) {
		t.Errorf("download: got %q, want %q", got, anm)
	}
	for i := 0; i < 2; i++ { // removing twice is fine
		if err := mb.Remove(ctx, fid); err != nil {
			t.Fatal(err)
		}
	}
	if l, _ := mb.List(ctx); len(l.Files) != 2 {
		t.Errorf("after remove: %d files, want 2", len(l.Files))
	}
}

func TestReplyNotReady(t *testing.T) {
	t.Parallel()
	p := simtest.NewPKI(t)
	release := make(chan struct{})
	checker := basim.CheckerFunc(func(ctx context.Context, ch baapi.Channel, id baapi.MessageID, payload string) (basim.Reply, error) {
		select {
		case <-release:
		case <-ctx.Done():
		}
		return basim.StructuralChecker{}.Check(ctx, ch, id, payload)
	})
	s := simtest.Start(t, p, basim.Config{Checker: checker, ReplyWait: 20 * time.Millisecond})
	c, _ := newClient(t, s.URL, p.ClientTLS(t), nil)
	mb := client.EmawMailbox{C: c}
	ctx := context.Background()
	if _, err := mb.Upload(ctx, "m-wait", client.BytesBody([]byte("not a zip"))); err != nil {
		t.Fatal(err)
	}
	if _, _, err := mb.Ack(ctx, "m-wait"); !errors.Is(err, client.ErrNotReady) {
		t.Fatalf("got %v, want ErrNotReady", err)
	}
	close(release)
	var ack []byte
	var f client.Fetched
	var err error
	for range 100 {
		if ack, f, err = mb.Ack(ctx, "m-wait"); !errors.Is(err, client.ErrNotReady) {
			break
		}
	}
	if err != nil || f.Outcome != baapi.OutcomeNOK || !bytes.Contains(ack, []byte("not a readable ZIP")) {
		t.Fatalf("ack: %v %q %s", err, f.Outcome, ack)
	}
}

// TestReaderBodyOpensOncePerAttempt: a ReaderBody is opened once for each
// attempt and never for anything else (go-retryablehttp probes a body
// function once when the request is built; that probe must not open a
// kept payload), and every reader opened is closed.
func TestReaderBodyOpensOncePerAttempt(t *testing.T) {
	t.Parallel()
	p := simtest.NewPKI(t)
	s := simtest.Start(t, p, basim.Config{Faults: basim.Faults{ResetUploads: 2}})
	c, log := newClient(t, s.URL, p.ClientTLS(t), nil)
	data := randomBytes(t, 256<<10)
	var mu sync.Mutex
	opened, closed := 0, 0
	body := client.ReaderBody(int64(len(data)), sha256.Sum256(data), func() (io.Reader, error) {
		mu.Lock()
		opened++
		mu.Unlock()
		return &closeCounter{Reader: bytes.NewReader(data), close: func() { mu.Lock(); closed++; mu.Unlock() }}, nil
	})
	if _, err := c.Upload(context.Background(), baapi.ChannelEmaw, "m-lazy", client.ContentTypeSealed, body); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if log.n() != 3 || opened != 3 || closed != 3 {
		t.Fatalf("attempts %d, opened %d, closed %d: want 3 each (two resets, then success)", log.n(), opened, closed)
	}
}

// TestReaderBodyOpenFails: a body that cannot be opened ends the upload at
// once (retrying cannot help), with the cause in the error, and nothing is
// accepted.
func TestReaderBodyOpenFails(t *testing.T) {
	t.Parallel()
	p := simtest.NewPKI(t)
	s := simtest.Start(t, p, basim.Config{})
	c, log := newClient(t, s.URL, p.ClientTLS(t), nil)
	gone := errors.New("payload gone")
	body := client.ReaderBody(10, sha256.Sum256([]byte("0123456789")), func() (io.Reader, error) { return nil, gone })
	_, err := c.Upload(context.Background(), baapi.ChannelEmaw, "m-gone", client.ContentTypeSealed, body)
	if !errors.Is(err, gone) || !strings.Contains(err.Error(), "opening the upload body") {
		t.Fatalf("got %v, want an error wrapping the open failure", err)
	}
	if log.n() != 1 || len(s.Accepted()) != 0 {
		t.Fatalf("attempts %d, accepted %d: want 1 and 0", log.n(), len(s.Accepted()))
	}
}

type closeCounter struct {
	io.Reader
	close func()
}

func (c *closeCounter) Close() error { c.close(); return nil }

// TestReaderBodyReadFails: a body whose source fails while it is read (a
// kept payload that fails authentication half-way) ends the upload at
// once: sending again cannot repair the source. The error wraps
// ErrUploadBody and the source's own error, and nothing is accepted.
func TestReaderBodyReadFails(t *testing.T) {
	t.Parallel()
	p := simtest.NewPKI(t)
	s := simtest.Start(t, p, basim.Config{})
	c, log := newClient(t, s.URL, p.ClientTLS(t), nil)
	tampered := errors.New("chunk 3 fails authentication")
	data := randomBytes(t, 512<<10)
	body := client.ReaderBody(int64(len(data)), sha256.Sum256(data), func() (io.Reader, error) {
		return io.MultiReader(bytes.NewReader(data[:200<<10]), iotestErrReader{tampered}), nil
	})
	_, err := c.Upload(context.Background(), baapi.ChannelEmaw, "m-tampered", client.ContentTypeSealed, body)
	if !errors.Is(err, tampered) || !errors.Is(err, client.ErrUploadBody) {
		t.Fatalf("got %v, want an error wrapping ErrUploadBody and the source's error", err)
	}
	if log.n() != 1 || len(s.Accepted()) != 0 {
		t.Fatalf("attempts %d, accepted %d: want 1 and 0", log.n(), len(s.Accepted()))
	}
}

type iotestErrReader struct{ err error }

func (r iotestErrReader) Read([]byte) (int, error) { return 0, r.err }
