package outbox_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"meldeweg.dev/meldeweg/basim"
	"meldeweg.dev/meldeweg/basim/bacheck"
	"meldeweg.dev/meldeweg/basim/simtest"
	"meldeweg.dev/meldeweg/flow/outbox"
	"meldeweg.dev/meldeweg/transport/baapi"
	"meldeweg.dev/meldeweg/transport/client"
	"meldeweg.dev/meldeweg/transport/register"
	"meldeweg.dev/meldeweg/transport/register/payload"
	"meldeweg.dev/meldeweg/transport/register/sqlitestore"
)

// fastRetry keeps the client's and the outbox's waits short.
var fastRetry = client.BackoffPolicy{Min: 10 * time.Millisecond, Max: 50 * time.Millisecond, RetryAfterCap: 20 * time.Millisecond,
	Jitter: func(d time.Duration) time.Duration { return d }}

// syncBuffer is a bytes.Buffer safe for a logger and a test to share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// deliveryBundle is the simulator as the BA on loopback (real TLS, the
// real BA checker), a fresh SQLite register with its payload store, an
// outbox with short waits and an eM@w endpoint.
type deliveryBundle struct {
	ba       *simtest.BA
	dbFile   string
	ob       *outbox.Outbox
	ep       *outbox.Endpoint
	log      *syncBuffer
	mu       sync.Mutex
	failures []outbox.SendResult // told to Outbox.Attempt
}

func deliverySetup(t *testing.T, faults basim.Faults) *deliveryBundle {
	t.Helper()
	b := &deliveryBundle{ba: simtest.StartBA(t, bacheck.Config{}, faults), log: &syncBuffer{}}
	b.dbFile = filepath.Join(t.TempDir(), "register.db")
	store, err := sqlitestore.Open(context.Background(), b.dbFile, sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	ps, err := payload.Open(b.dbFile+".payloads", store)
	if err != nil {
		t.Fatal(err)
	}
	b.ob = &outbox.Outbox{Store: store, Payloads: ps, Actor: register.System("test"), Worker: fmt.Sprintf("testhost-%d", os.Getpid()),
		Backoff: fastRetry, Logger: slog.New(slog.NewTextHandler(b.log, nil)),
		Attempt: func(r outbox.SendResult) { b.mu.Lock(); b.failures = append(b.failures, r); b.mu.Unlock() }}
	b.ep = b.ba.Endpoint(t, baapi.ChannelEmaw)
	b.useClient(t, b.ba.ClientTLS(t, baapi.ChannelEmaw))
	return b
}

// useClient gives the endpoint a client with tlsCfg and short retries.
func (b *deliveryBundle) useClient(t *testing.T, tlsCfg *tls.Config) {
	t.Helper()
	c, err := client.New(client.Config{BaseURL: b.ba.URL, TLS: tlsCfg, RetryPolicy: fastRetry})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	b.ep.Client = c
}

// submit queues a small upload (the payload need not be a valid eM@w
// package: only its delivery is tested) and returns the message.
func (b *deliveryBundle) submit(t *testing.T, id register.MessageID) register.Message {
	t.Helper()
	m, created, err := b.ob.Submit(context.Background(), b.ep, outbox.SubmitParams{ID: id, Plain: string(id) + ".zip",
		Data: bytes.Repeat([]byte("upload "), 3000), Detail: "test upload"})
	if err != nil || !created {
		t.Fatalf("Submit: created=%v, %v", created, err)
	}
	return m
}

// deliver runs Deliver with a deadline, so that a message that is waited
// for ends the test instead of hanging it.
func (b *deliveryBundle) deliver(t *testing.T, id register.MessageID, within time.Duration) (register.Message, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	return b.ob.Deliver(ctx, b.ep, id)
}

// entries lists message id's entries as "event#attempt detail" lines.
func entries(t *testing.T, s register.Store, id register.MessageID) []string {
	t.Helper()
	var out []string
	for e, err := range register.All(context.Background(), s, id) {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%s#%d %s", e.Event(), e.Attempt(), e.Detail()))
	}
	return out
}

// only keeps the lines of event ev.
func only(lines []string, ev string) []string {
	var out []string
	for _, l := range lines {
		if strings.HasPrefix(l, ev+"#") {
			out = append(out, l)
		}
	}
	return out
}

// TestEveryHTTPAttemptIsAnEntry: the BA answers the first upload attempt
// with 503, resets the connection during the second and confirms the
// third; the register holds one "attempt" entry per HTTP attempt with its
// outcome, in order, before the receipt, and still verifies.
func TestEveryHTTPAttemptIsAnEntry(t *testing.T) {
	t.Parallel()
	b := deliverySetup(t, basim.Faults{Unavailable: 1, RetryAfter: time.Millisecond, ResetUploads: 1})
	m := b.submit(t, "u-attempts")
	got, err := b.deliver(t, m.ID, 30*time.Second)
	if err != nil || got.State != register.MessageSent || got.Attempt != 1 {
		t.Fatalf("Deliver: %s attempt %d, %v; want sent in one claim", got.State, got.Attempt, err)
	}
	lines := entries(t, b.ob.Store, m.ID)
	attempts := only(lines, "attempt")
	want := []string{"attempt#1 HTTP attempt 1: HTTP 503; retrying", "attempt#1 HTTP attempt 2: connection reset; retrying", "attempt#1 HTTP attempt 3: HTTP 202"}
	if len(attempts) == 3 && attempts[1] == "attempt#1 HTTP attempt 2: connection closed; retrying" {
		attempts[1] = want[1] // the transport may only say that the connection it saw reset is closed
	}
	if strings.Join(attempts, "\n") != strings.Join(want, "\n") {
		t.Fatalf("attempt entries:\n%s\nwant:\n%s\nall entries:\n%s", strings.Join(attempts, "\n"), strings.Join(want, "\n"), strings.Join(lines, "\n"))
	}
	var events []string
	for _, l := range lines {
		events = append(events, l[:strings.IndexByte(l, '#')])
	}
	if got, want := strings.Join(events, " "), "sealed queued sending attempt attempt attempt receipt sent"; got != want {
		t.Errorf("events %q, want %q", got, want)
	}
	if _, err := b.ob.Store.Verify(context.Background(), register.VerifyParams{}); err != nil {
		t.Fatal(err)
	}
}

// corruptStoredPayload flips a byte in the middle of the first stored
// chunk of payload sum, as someone with write access to the database
// could.
func corruptStoredPayload(t *testing.T, dbFile string, sum register.Hash) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+dbFile+"?_busy_timeout=5000")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var data []byte
	if err := db.QueryRow(`SELECT data FROM register_payload_chunks WHERE sha256 = ? AND n = 0`, sum[:]).Scan(&data); err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0x01
	if _, err := db.Exec(`UPDATE register_payload_chunks SET data = ? WHERE sha256 = ? AND n = 0`, data, sum[:]); err != nil {
		t.Fatal(err)
	}
}

// TestCorruptPayloadStopsAtOnce: a kept payload that fails authentication
// when it is about to be sent is corruption, not a network error: the
// message is dead after one HTTP attempt, its reason says "corrupt
// payload" with the payload's SHA-256, the operator is told, and the BA
// received nothing.
func TestCorruptPayloadStopsAtOnce(t *testing.T) {
	t.Parallel()
	b := deliverySetup(t, basim.Faults{})
	m := b.submit(t, "u-corrupt")
	corruptStoredPayload(t, b.dbFile, m.Payload.SHA256)
	got, err := b.deliver(t, m.ID, 20*time.Second)
	if err != nil || got.State != register.MessageDead || got.Attempt != 1 {
		t.Fatalf("Deliver: %s attempt %d, %v; want dead after attempt 1", got.State, got.Attempt, err)
	}
	for _, want := range []string{"corrupt payload", m.Payload.SHA256.String(), "fails authentication"} {
		if !strings.Contains(got.LastError, want) {
			t.Errorf("reason %q does not say %q", got.LastError, want)
		}
	}
	lines := entries(t, b.ob.Store, m.ID)
	if a := only(lines, "attempt"); len(a) != 1 || !strings.Contains(a[0], "upload body unreadable") {
		t.Errorf("attempt entries %q, want one: upload body unreadable", a)
	}
	if d := only(lines, "dead"); len(d) != 1 || !strings.Contains(d[0], "corrupt payload") {
		t.Errorf("dead entries %q, want one naming the corrupt payload", d)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.failures) != 1 || !errors.Is(b.failures[0].Err, payload.ErrCorrupt) || b.failures[0].Message.State != register.MessageDead {
		t.Errorf("operator told of %d failures (%+v), want one, wrapping payload.ErrCorrupt, now dead", len(b.failures), b.failures)
	}
	if n := len(b.ba.Server.Accepted()); n != 0 {
		t.Errorf("the BA accepted %d uploads, want none", n)
	}
}

// TestUntrustedServerIsDeadAtOnce: a TLS trust failure is permanent: the
// message is dead after one claim and one HTTP attempt (not retried
// until its attempts run out), and the reason names the server's
// certificate and the CA that was expected.
func TestUntrustedServerIsDeadAtOnce(t *testing.T) {
	t.Parallel()
	b := deliverySetup(t, basim.Faults{})
	other := simtest.NewPKI(t)
	untrusting := b.ba.ClientTLS(t, baapi.ChannelEmaw).Clone()
	untrusting.RootCAs = other.CAPool // the BA's CA is not pinned
	b.useClient(t, untrusting)
	m := b.submit(t, "u-untrusted")
	got, err := b.deliver(t, m.ID, 20*time.Second)
	if err != nil || got.State != register.MessageDead || got.Attempt != 1 {
		t.Fatalf("Deliver: %s attempt %d, %v; want dead after attempt 1", got.State, got.Attempt, err)
	}
	for _, want := range []string{"not signed by a pinned CA", "subject CN=localhost,", "issuer CN=Meldeweg Test Root CA,", "SHA-256 fingerprint ", "pinned CA CN=Meldeweg Test BA CA"} {
		if !strings.Contains(got.LastError, want) {
			t.Errorf("reason %q does not say %q", got.LastError, want)
		}
	}
	if a := only(entries(t, b.ob.Store, m.ID), "attempt"); len(a) != 1 || !strings.Contains(a[0], "TLS failure") {
		t.Errorf("attempt entries %q, want one: TLS failure", a)
	}
}
