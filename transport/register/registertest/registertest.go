// Package registertest is the conformance suite every register.Store
// backend must pass. A backend's test calls Exercise once with a function
// that opens a fresh, empty store:
//
//	func TestConformance(t *testing.T) {
//		registertest.Exercise(t, func(t *testing.T, clock register.Clock) (register.Store, registertest.Tamper) {
//			file := filepath.Join(t.TempDir(), "r.db")
//			s, err := sqlitestore.Open(ctx, file, sqlitestore.Options{Clock: clock})
//			…
//			t.Cleanup(func() { s.Close() })
//			return s, sqliteTamper{file}
//		})
//	}
//
// The suite uses the public Store API, so it tests behaviour, not backend
// internals; the verification tests change the database through the
// backend's Tamper (raw SQL) and expect Verify to report each change.
package registertest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"meldeweg.dev/meldeweg/transport/register"
)

// OpenFunc opens a fresh, empty store whose times come from clock, and
// returns it with a Tamper on its database. It registers its own cleanup
// with t.
type OpenFunc func(t *testing.T, clock register.Clock) (register.Store, Tamper)

// Tamper changes a store's database behind its back, as someone with
// write access to the database could; each backend's test implements it
// with raw SQL. The verification tests use it.
type Tamper interface {
	// DropGuards removes or disables the append-only triggers on the
	// entries.
	DropGuards(t testing.TB)
	// FlipPayloadByte flips one bit in the middle of the bytes kept for
	// payload sum.
	FlipPayloadByte(t testing.TB, sum register.Hash)
	// DeletePayloads removes every kept payload.
	DeletePayloads(t testing.TB)
	// SetMessageState overwrites the outbox state and attempt of id.
	SetMessageState(t testing.TB, id register.MessageID, state register.MessageState, attempt int)
	// DeleteMessage removes message id from the outbox.
	DeleteMessage(t testing.TB, id register.MessageID)
}

// clock is a settable clock for tests; safe for concurrent use.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

// newClock returns a clock standing at start.
func newClock(start time.Time) *clock { return &clock{now: start} }

// Now returns the clock's time.
func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

var start = time.Date(2026, 3, 9, 23, 59, 30, 123456789, time.UTC)

type bundle struct {
	ctx    context.Context
	store  register.Store
	tamper Tamper
	clock  *clock
}

func setup(t *testing.T, open OpenFunc) *bundle {
	t.Helper()
	c := newClock(start)
	s, tm := open(t, c.Now)
	return &bundle{ctx: context.Background(), store: s, tamper: tm, clock: c}
}

func payload(s string) register.PayloadRef {
	return register.PayloadRef{SHA256: sha256.Sum256([]byte(s)), Size: int64(len(s))}
}

func xsKey(t *testing.T, month string) register.CorrelationKey {
	t.Helper()
	k, err := register.XSozialKey("12345", month)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func appendParams(i int) register.AppendParams {
	return register.AppendParams{
		Direction: register.DirectionIn, Channel: register.ChannelEmaw, Event: register.EventReceived,
		Actor: register.System("poll"), Endpoint: "https://ba.example/emaw/mailbox",
		MessageID: register.MessageID(fmt.Sprintf("in-%03d", i)), Payload: payload(fmt.Sprint(i)),
		Detail: fmt.Sprintf("file %d", i),
	}
}

func mustVerify(t *testing.T, s register.Store, want int64) {
	t.Helper()
	rep, err := s.Verify(context.Background(), register.VerifyParams{})
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if rep.Entries != want {
		t.Fatalf("Verify counted %d entries, want %d", rep.Entries, want)
	}
}

func mustRead(t *testing.T, s register.Store, sum register.Hash, want []byte) {
	t.Helper()
	rc, err := s.Payload(context.Background(), sum)
	if err != nil {
		t.Fatalf("Payload %s: %v", sum, err)
	}
	defer rc.Close()
	got, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("reading payload %s: %v", sum, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("payload %s: read %d bytes, want %d (first difference at %d)", sum, len(got), len(want), firstDiff(got, want))
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func events(t *testing.T, s register.Store, id register.MessageID) []string {
	t.Helper()
	var out []string
	for e, err := range register.All(context.Background(), s, id) {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%s#%d", e.Event(), e.Attempt()))
	}
	return out
}

// Exercise runs the conformance suite against the backend that open
// creates.
func Exercise(t *testing.T, open OpenFunc) {
	exerciseVerify(t, open)
	exerciseKeys(t, open)

	t.Run("AppendGetList", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		var want []register.Entry
		for i := range 5 {
			b.clock.Advance(time.Second)
			e, err := b.store.Append(b.ctx, appendParams(i))
			if err != nil {
				t.Fatalf("Append %d: %v", i, err)
			}
			if e.Seq() != int64(i+1) {
				t.Fatalf("entry %d got seq %d", i, e.Seq())
			}
			if got, wantT := e.Time(), b.clock.Now().Truncate(time.Microsecond); !got.Equal(wantT) || got.Location() != time.UTC {
				t.Fatalf("entry time %v, want %v in UTC", got, wantT)
			}
			want = append(want, e)
		}
		if want[0].PrevHash() != (register.Hash{}) || want[1].PrevHash() != want[0].Hash() {
			t.Fatal("entries are not chained")
		}
		for _, w := range want {
			got, err := b.store.Get(b.ctx, w.Seq())
			if err != nil {
				t.Fatal(err)
			}
			if got.Record() != w.Record() {
				t.Fatalf("Get(%d):\ngot  %+v\nwant %+v", w.Seq(), got.Record(), w.Record())
			}
		}
		page, err := b.store.List(b.ctx, register.ListParams{After: 2, Limit: 2})
		if err != nil {
			t.Fatal(err)
		}
		if len(page) != 2 || page[0].Seq() != 3 || page[1].Seq() != 4 {
			t.Fatalf("List(After 2, Limit 2) gave %d entries", len(page))
		}
		byID, err := b.store.List(b.ctx, register.ListParams{MessageID: "in-003"})
		if err != nil || len(byID) != 1 || byID[0].Seq() != 4 {
			t.Fatalf("List(MessageID in-003) = %d entries, %v", len(byID), err)
		}
		mustVerify(t, b.store, 5)
	})

	t.Run("EmptyRegisterVerifies", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		mustVerify(t, b.store, 0)
		if page, err := b.store.List(b.ctx, register.ListParams{}); err != nil || len(page) != 0 {
			t.Fatalf("List on empty register = %d, %v", len(page), err)
		}
	})

	t.Run("InvalidAppendWritesNothing", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		p := appendParams(1)
		p.Endpoint = "https://ba.example/upload?kundennummer=123D456789"
		_, err := b.store.Append(b.ctx, p)
		var fe *register.FieldError
		if !errors.As(err, &fe) || fe.Field != "Endpoint" || strings.Contains(err.Error(), "123D456789") {
			t.Fatalf("got %v, want a FieldError for Endpoint that does not echo the value", err)
		}
		mustVerify(t, b.store, 0)
	})

	t.Run("GetMissing", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		if _, err := b.store.Get(b.ctx, 1); !errors.Is(err, register.ErrNotFound) {
			t.Fatalf("got %v, want ErrNotFound", err)
		}
		if _, err := b.store.Message(b.ctx, "nope"); !errors.Is(err, register.ErrNotFound) {
			t.Fatalf("Message: got %v, want ErrNotFound", err)
		}
		if _, err := b.store.Transition(b.ctx, register.MarkDead("nope", "x", register.System("t"))); !errors.Is(err, register.ErrNotFound) {
			t.Fatalf("Transition: got %v, want ErrNotFound", err)
		}
	})

	t.Run("ConcurrentAppends", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		const workers, each = 4, 25
		var wg sync.WaitGroup
		errs := make(chan error, workers*each)
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range each {
					if _, err := b.store.Append(b.ctx, appendParams(w*each+i)); err != nil {
						errs <- err
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		mustVerify(t, b.store, workers*each)
	})

	t.Run("EnqueueAndLink", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		op := register.Operator("alice")
		m, err := b.store.Enqueue(b.ctx, register.EnqueueParams{ID: "orig-1", Channel: register.ChannelXSozial,
			Endpoint: "xsozial-portal", Correlation: xsKey(t, "2026-02"), Payload: payload("a"), Actor: op})
		if err != nil {
			t.Fatal(err)
		}
		if m.State != register.MessageQueued || m.Attempt != 0 || m.MaxAttempts != register.DefaultMaxAttempts {
			t.Fatalf("new message %+v", m)
		}
		got, err := b.store.Message(b.ctx, "orig-1")
		if err != nil {
			t.Fatal(err)
		}
		if got != m {
			t.Fatalf("Message:\ngot  %+v\nwant %+v", got, m)
		}
		if _, err := b.store.Enqueue(b.ctx, register.EnqueueParams{ID: "orig-1", Channel: register.ChannelXSozial, Payload: payload("b"), Actor: op}); !errors.Is(err, register.ErrDuplicateMessage) {
			t.Fatalf("duplicate ID: got %v, want ErrDuplicateMessage", err)
		}
		if _, err := b.store.Enqueue(b.ctx, register.EnqueueParams{ID: "r-1", ResendOf: "missing", Channel: register.ChannelXSozial, Payload: payload("b"), Actor: op}); !errors.Is(err, register.ErrNotFound) {
			t.Fatalf("resend of unknown message: got %v, want ErrNotFound", err)
		}
		r, err := b.store.Enqueue(b.ctx, register.EnqueueParams{ID: "corr-1", ResendOf: "orig-1", Channel: register.ChannelXSozial,
			Correlation: xsKey(t, "2026-02"), Payload: payload("b"), Actor: op, Detail: "correction"})
		if err != nil {
			t.Fatal(err)
		}
		if r.ResendOf != "orig-1" {
			t.Fatalf("ResendOf = %q", r.ResendOf)
		}
		linked, err := b.store.List(b.ctx, register.ListParams{MessageID: "orig-1"})
		if err != nil {
			t.Fatal(err)
		}
		if len(linked) != 2 || linked[1].MessageID() != "corr-1" || linked[1].Related() != "orig-1" {
			t.Fatalf("entries for orig-1 do not include the linked correction: %d entries", len(linked))
		}
		if _, err := b.store.Enqueue(b.ctx, register.EnqueueParams{Channel: register.ChannelXSozial, Actor: op}); !errors.Is(err, register.ErrInvalidParams) {
			t.Fatalf("no payload: got %v, want ErrInvalidParams", err)
		}
		mustVerify(t, b.store, 2)
	})

	t.Run("Lifecycle", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		sys := register.System("send")
		m, err := b.store.Enqueue(b.ctx, register.EnqueueParams{ID: "m-1", Channel: register.ChannelEmaw, Payload: payload("x"), Actor: sys})
		if err != nil {
			t.Fatal(err)
		}
		claimed, err := b.store.Claim(b.ctx, register.ClaimParams{Worker: "w1", Limit: 5})
		if err != nil || len(claimed) != 1 || claimed[0].Attempt != 1 || claimed[0].State != register.MessageSending || claimed[0].ClaimedBy != "w1" {
			t.Fatalf("first Claim = %+v, %v", claimed, err)
		}
		retryAt := b.clock.Now().Add(time.Minute)
		r, err := b.store.Transition(b.ctx, register.MarkRetry(m.ID, 1, retryAt, "HTTP 503", sys))
		if err != nil || r.State != register.MessageRetryWait || !r.NextAttemptAt.Equal(retryAt.Truncate(time.Microsecond)) || r.LastError != "HTTP 503" {
			t.Fatalf("MarkRetry = %+v, %v", r, err)
		}
		if c, err := b.store.Claim(b.ctx, register.ClaimParams{Worker: "w1"}); err != nil || len(c) != 0 {
			t.Fatalf("Claim before the retry is due = %d messages, %v", len(c), err)
		}
		b.clock.Advance(time.Minute)
		c, err := b.store.Claim(b.ctx, register.ClaimParams{Worker: "w2"})
		if err != nil || len(c) != 1 || c[0].Attempt != 2 {
			t.Fatalf("Claim when due = %+v, %v", c, err)
		}
		if _, err := b.store.Transition(b.ctx, register.MarkSent(m.ID, 2, sys)); err != nil {
			t.Fatal(err)
		}
		ack := payload("OK")
		a, err := b.store.Transition(b.ctx, register.MarkAcknowledged(m.ID, ack, sys))
		if err != nil || a.State != register.MessageAcknowledged {
			t.Fatalf("MarkAcknowledged = %+v, %v", a, err)
		}
		if _, err := b.store.Transition(b.ctx, register.MarkAcknowledged(m.ID, ack, sys)); !errors.Is(err, register.ErrStateConflict) {
			t.Fatalf("second acknowledgement: got %v, want ErrStateConflict", err)
		}
		got := strings.Join(events(t, b.store, m.ID), " ")
		want := "queued#0 sending#1 retry-wait#1 sending#2 sent#2 acknowledged#2"
		if got != want {
			t.Fatalf("events:\ngot  %s\nwant %s", got, want)
		}
		last, _ := b.store.List(b.ctx, register.ListParams{After: 5})
		if len(last) != 1 || last[0].Payload() != ack {
			t.Fatal("the acknowledgement entry does not name the acknowledgement payload")
		}
		mustVerify(t, b.store, 6)
	})

	t.Run("DeadAfterMaxAttempts", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		sys := register.System("send")
		m, err := b.store.Enqueue(b.ctx, register.EnqueueParams{Channel: register.ChannelEmaw, Payload: payload("x"), MaxAttempts: 2, Actor: sys})
		if err != nil {
			t.Fatal(err)
		}
		var last register.Message
		for attempt := 1; attempt <= 2; attempt++ {
			if c, err := b.store.Claim(b.ctx, register.ClaimParams{Worker: "w"}); err != nil || len(c) != 1 || c[0].Attempt != attempt {
				t.Fatalf("Claim for attempt %d = %+v, %v", attempt, c, err)
			}
			if last, err = b.store.Transition(b.ctx, register.MarkRetry(m.ID, attempt, b.clock.Now(), "connection reset", sys)); err != nil {
				t.Fatal(err)
			}
		}
		if last.State != register.MessageDead {
			t.Fatalf("after %d failed attempts the state is %s, want dead", 2, last.State)
		}
		if c, err := b.store.Claim(b.ctx, register.ClaimParams{Worker: "w"}); err != nil || len(c) != 0 {
			t.Fatalf("a dead message was claimed again: %+v, %v", c, err)
		}
		got := strings.Join(events(t, b.store, m.ID), " ")
		if want := "queued#0 sending#1 retry-wait#1 sending#2 dead#2"; got != want {
			t.Fatalf("events:\ngot  %s\nwant %s", got, want)
		}
	})

	t.Run("GuardedTransitionsChangeNothing", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		sys := register.System("send")
		m, _ := b.store.Enqueue(b.ctx, register.EnqueueParams{Channel: register.ChannelEmaw, Payload: payload("x"), Actor: sys})
		if _, err := b.store.Transition(b.ctx, register.MarkSent(m.ID, 1, sys)); !errors.Is(err, register.ErrStateConflict) {
			t.Fatalf("MarkSent on a queued message: got %v, want ErrStateConflict", err)
		}
		var sc *register.StateConflictError
		_, err := b.store.Transition(b.ctx, register.MarkAcknowledged(m.ID, register.PayloadRef{}, sys))
		if !errors.As(err, &sc) || sc.Found != register.MessageQueued {
			t.Fatalf("got %v, want a StateConflictError that found queued", err)
		}
		got, _ := b.store.Message(b.ctx, m.ID)
		if got != m {
			t.Fatalf("a refused transition changed the message:\ngot  %+v\nwant %+v", got, m)
		}
		mustVerify(t, b.store, 1)
	})

	t.Run("LeaseExpiryReclaims", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		sys := register.System("send")
		m, _ := b.store.Enqueue(b.ctx, register.EnqueueParams{Channel: register.ChannelXSozial, Payload: payload("x"), Actor: sys})
		lease := 5 * time.Minute
		if c, _ := b.store.Claim(b.ctx, register.ClaimParams{Worker: "dying", Lease: lease}); len(c) != 1 {
			t.Fatal("first claim failed")
		}
		b.clock.Advance(lease - time.Second)
		if c, _ := b.store.Claim(b.ctx, register.ClaimParams{Worker: "other", Lease: lease}); len(c) != 0 {
			t.Fatal("a message was reclaimed before its lease expired")
		}
		b.clock.Advance(time.Second)
		c, err := b.store.Claim(b.ctx, register.ClaimParams{Worker: "other", Lease: lease})
		if err != nil || len(c) != 1 || c[0].Attempt != 2 || c[0].ClaimedBy != "other" || c[0].ID != m.ID {
			t.Fatalf("reclaim = %+v, %v", c, err)
		}
		if _, err := b.store.Transition(b.ctx, register.MarkSent(m.ID, 1, sys)); !errors.Is(err, register.ErrStateConflict) {
			t.Fatalf("the stale worker's MarkSent: got %v, want ErrStateConflict", err)
		}
		if _, err := b.store.Transition(b.ctx, register.MarkSent(m.ID, 2, sys)); err != nil {
			t.Fatal(err)
		}
		es, _ := b.store.List(b.ctx, register.ListParams{After: 2, Limit: 1})
		if len(es) != 1 || !strings.Contains(es[0].Detail(), "reclaimed by other") {
			t.Fatalf("the reclaim entry does not say so")
		}
	})

	t.Run("ConcurrentClaimsNeverDouble", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		ConcurrentWorkers(t, []register.Store{b.store, b.store, b.store}, 60)
	})

	t.Run("EntriesCommitWithTheStateChange", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		sys := register.System("run")
		note := func(ev register.Event, detail string) register.AppendParams {
			return register.AppendParams{Direction: register.DirectionOut, Channel: register.ChannelEmaw, Event: ev,
				Actor: sys, MessageID: "w1", Detail: detail}
		}
		if _, err := b.store.Enqueue(b.ctx, register.EnqueueParams{ID: "w1", Channel: register.ChannelEmaw, Payload: payload("w1"),
			Actor: sys, Before: []register.AppendParams{note(register.EventBuilt, "b"), note(register.EventSealed, "s")}}); err != nil {
			t.Fatal(err)
		}
		if _, err := b.store.Claim(b.ctx, register.ClaimParams{Worker: "w"}); err != nil {
			t.Fatal(err)
		}
		receipt := note(register.EventReceipt, "r")
		receipt.Direction = register.DirectionIn
		// A transition that does not apply appends none of its entries.
		if _, err := b.store.Transition(b.ctx, register.MarkSent("w1", 7, sys).With(receipt)); !errors.Is(err, register.ErrStateConflict) {
			t.Fatalf("MarkSent of the wrong attempt: %v, want ErrStateConflict", err)
		}
		if got, want := strings.Join(events(t, b.store, "w1"), " "), "built#0 sealed#0 queued#0 sending#1"; got != want {
			t.Fatalf("after a refused transition: %s, want %s", got, want)
		}
		// An invalid entry refuses the whole transition.
		bad := receipt
		bad.Channel = "fax"
		if _, err := b.store.Transition(b.ctx, register.MarkSent("w1", 1, sys).With(bad)); !errors.Is(err, register.ErrInvalidParams) {
			t.Fatalf("MarkSent with an invalid entry: %v, want ErrInvalidParams", err)
		}
		if m, _ := b.store.Message(b.ctx, "w1"); m.State != register.MessageSending {
			t.Fatalf("state %s after a refused transition, want sending", m.State)
		}
		if _, err := b.store.Transition(b.ctx, register.MarkSent("w1", 1, sys).With(receipt)); err != nil {
			t.Fatal(err)
		}
		if got, want := strings.Join(events(t, b.store, "w1"), " "), "built#0 sealed#0 queued#0 sending#1 receipt#0 sent#1"; got != want {
			t.Fatalf("entries %s, want %s", got, want)
		}
		mustVerify(t, b.store, 6)
	})

	t.Run("AccessLoggedWithTheRead", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		ap := appendParams(1)
		ap.Data = strings.NewReader("sealed bytes")
		if _, err := b.store.Append(b.ctx, ap); err != nil {
			t.Fatal(err)
		}
		p := &register.AccessParams{Actor: register.User("dpo.meier"), View: "payload", Purpose: "Auskunft nach Art. 15 DSGVO, Vorgang 7",
			Channel: register.ChannelEmaw, MessageID: ap.MessageID, Payload: ap.Payload, ReadKept: true}
		var got []byte
		e, err := b.store.Access(b.ctx, p, func(kept io.Reader) error {
			var err error
			got, err = io.ReadAll(kept)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != "sealed bytes" {
			t.Errorf("read %q", got)
		}
		view, purpose, ok := register.AccessOf(e)
		if e.Seq() != 2 || e.Event() != register.EventAccessed || e.Actor().String() != "user:dpo.meier" || !ok ||
			view != "payload" || purpose != p.Purpose || e.Payload() != ap.Payload || e.MessageID() != ap.MessageID || e.Direction() != "" {
			t.Errorf("accessed entry %d %s %s %q %q %v", e.Seq(), e.Event(), e.Actor(), view, purpose, e.Payload())
		}
		// A read that fails appends nothing; neither do params without a
		// purpose or with a system actor, which are refused before reading.
		_, err = b.store.Access(b.ctx, p, func(io.Reader) error { return errors.New("disk gone") })
		if err == nil || err.Error() != "disk gone" {
			t.Errorf("failed read: %v", err)
		}
		for _, bad := range []register.AccessParams{
			{Actor: register.Operator("alice"), View: "x"},
			{Actor: register.System("send"), View: "x", Purpose: "p"},
			{Actor: register.Operator("alice"), View: "x", Purpose: "two\nlines"},
		} {
			_, err := b.store.Access(b.ctx, &bad, func(io.Reader) error { t.Error("read without a valid access"); return nil })
			if !errors.Is(err, register.ErrInvalidParams) {
				t.Errorf("%+v: %v, want ErrInvalidParams", bad, err)
			}
		}
		missing := *p
		missing.Payload = payload("never kept")
		if _, err := b.store.Access(b.ctx, &missing, func(io.Reader) error { return nil }); !errors.Is(err, register.ErrNotFound) {
			t.Errorf("access to a payload not kept: %v", err)
		}
		mustVerify(t, b.store, 2)
	})

	t.Run("PayloadsKeptWithTheirEntry", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		// 2.5 chunks of bytes (the store never looks inside them).
		big := make([]byte, register.PayloadChunkSize*5/2)
		for i := range big {
			big[i] = byte(i * 7)
		}
		ref := register.PayloadRef{SHA256: sha256.Sum256([]byte("big")), Size: int64(len(big))}
		ap := appendParams(1)
		ap.Payload, ap.Data = ref, bytes.NewReader(big)
		if _, err := b.store.Append(b.ctx, ap); err != nil {
			t.Fatal(err)
		}
		mustRead(t, b.store, ref.SHA256, big)
		// A second entry naming the same payload keeps the first bytes.
		ap = appendParams(2)
		ap.Payload, ap.Data = ref, strings.NewReader("other bytes")
		if _, err := b.store.Append(b.ctx, ap); err != nil {
			t.Fatal(err)
		}
		mustRead(t, b.store, ref.SHA256, big)
		// Empty data is kept as empty, not as missing.
		empty := payload("")
		ap = appendParams(3)
		ap.Payload, ap.Data = empty, strings.NewReader("")
		if _, err := b.store.Append(b.ctx, ap); err != nil {
			t.Fatal(err)
		}
		mustRead(t, b.store, empty.SHA256, nil)

		if _, err := b.store.Payload(b.ctx, payload("never stored").SHA256); !errors.Is(err, register.ErrNotFound) {
			t.Fatalf("Payload of an unknown hash: %v, want ErrNotFound", err)
		}
		// Data without the payload it is kept under is refused.
		ap = appendParams(4)
		ap.Payload, ap.Data = register.PayloadRef{}, strings.NewReader("x")
		if _, err := b.store.Append(b.ctx, ap); !errors.Is(err, register.ErrInvalidParams) {
			t.Fatalf("Data without Payload: %v, want ErrInvalidParams", err)
		}
		// Data that cannot be read fails the append; nothing is kept.
		lost := payload("unreadable")
		ap = appendParams(5)
		ap.Payload, ap.Data = lost, io.MultiReader(strings.NewReader("part"), iotest.ErrReader(errors.New("disk gone")))
		if _, err := b.store.Append(b.ctx, ap); err == nil {
			t.Fatal("Append with unreadable data succeeded")
		}
		if _, err := b.store.Payload(b.ctx, lost.SHA256); !errors.Is(err, register.ErrNotFound) {
			t.Fatalf("payload of a failed append: %v, want ErrNotFound", err)
		}
		mustVerify(t, b.store, 3)
	})

	t.Run("PayloadsCommitWithTheStateChange", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		sys := register.System("run")
		sealed, ack := payload("sealed"), payload("ack")
		sealedEntry := register.AppendParams{Direction: register.DirectionOut, Channel: register.ChannelEmaw, Event: register.EventSealed,
			Actor: sys, MessageID: "p1", Payload: sealed, Data: strings.NewReader("sealed bytes")}
		if _, err := b.store.Enqueue(b.ctx, register.EnqueueParams{ID: "p1", Channel: register.ChannelEmaw, Payload: sealed,
			Actor: sys, Before: []register.AppendParams{sealedEntry}}); err != nil {
			t.Fatal(err)
		}
		mustRead(t, b.store, sealed.SHA256, []byte("sealed bytes"))
		// A refused enqueue (the ID exists) keeps none of its data.
		other := payload("other")
		if _, err := b.store.Enqueue(b.ctx, register.EnqueueParams{ID: "p1", Channel: register.ChannelEmaw, Payload: other, Actor: sys,
			Before: []register.AppendParams{{Direction: register.DirectionOut, Channel: register.ChannelEmaw, Event: register.EventSealed,
				Actor: sys, MessageID: "p1", Payload: other, Data: strings.NewReader("other bytes")}}}); !errors.Is(err, register.ErrDuplicateMessage) {
			t.Fatalf("second Enqueue of p1: %v, want ErrDuplicateMessage", err)
		}
		if _, err := b.store.Payload(b.ctx, other.SHA256); !errors.Is(err, register.ErrNotFound) {
			t.Fatalf("payload of a refused enqueue: %v, want ErrNotFound", err)
		}
		if _, err := b.store.Claim(b.ctx, register.ClaimParams{Worker: "w"}); err != nil {
			t.Fatal(err)
		}
		if _, err := b.store.Transition(b.ctx, register.MarkSent("p1", 1, sys)); err != nil {
			t.Fatal(err)
		}
		feedback := register.AppendParams{Direction: register.DirectionIn, Channel: register.ChannelEmaw, Event: register.EventFeedback,
			Actor: sys, MessageID: "p1", Payload: ack, Data: strings.NewReader("ack bytes")}
		if _, err := b.store.Transition(b.ctx, register.MarkAcknowledged("p1", ack, sys).With(feedback)); err != nil {
			t.Fatal(err)
		}
		// A refused transition keeps none of its data.
		if _, err := b.store.Transition(b.ctx, register.MarkRejected("p1", "late", payload("nak"), sys).With(func() register.AppendParams {
			f := feedback
			f.Payload, f.Data = payload("nak"), strings.NewReader("nak bytes")
			return f
		}())); !errors.Is(err, register.ErrStateConflict) {
			t.Fatalf("MarkRejected of an acknowledged message: %v, want ErrStateConflict", err)
		}
		if _, err := b.store.Payload(b.ctx, payload("nak").SHA256); !errors.Is(err, register.ErrNotFound) {
			t.Fatalf("payload of a refused transition: %v, want ErrNotFound", err)
		}
		mustRead(t, b.store, ack.SHA256, []byte("ack bytes"))
		mustVerify(t, b.store, 6) // sealed queued sending sent feedback acknowledged
	})

	t.Run("DeletePayload", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		ap := appendParams(1)
		ap.Data = strings.NewReader("kept")
		if _, err := b.store.Append(b.ctx, ap); err != nil {
			t.Fatal(err)
		}
		del := register.AppendParams{Direction: register.DirectionIn, Channel: register.ChannelEmaw, Event: register.EventPayloadDeleted,
			Actor: register.Operator("dpo"), MessageID: ap.MessageID, Payload: ap.Payload, Detail: "retention: 8 years"}
		bad := del
		bad.Event = register.EventReceived
		if _, err := b.store.DeletePayload(b.ctx, bad); !errors.Is(err, register.ErrInvalidParams) {
			t.Fatalf("DeletePayload with event received: %v, want ErrInvalidParams", err)
		}
		mustRead(t, b.store, ap.Payload.SHA256, []byte("kept"))
		e, err := b.store.DeletePayload(b.ctx, del)
		if err != nil {
			t.Fatal(err)
		}
		if e.Event() != register.EventPayloadDeleted || e.Payload() != ap.Payload || e.Seq() != 2 {
			t.Fatalf("deletion entry %d %s %v", e.Seq(), e.Event(), e.Payload())
		}
		if _, err := b.store.Payload(b.ctx, ap.Payload.SHA256); !errors.Is(err, register.ErrNotFound) {
			t.Fatalf("Payload after DeletePayload: %v, want ErrNotFound", err)
		}
		// Deleting again records the decision again.
		if _, err := b.store.DeletePayload(b.ctx, del); err != nil {
			t.Fatal(err)
		}
		// The same bytes arriving again are kept again.
		ap = appendParams(1)
		ap.Data = strings.NewReader("kept")
		if _, err := b.store.Append(b.ctx, ap); err != nil {
			t.Fatal(err)
		}
		mustRead(t, b.store, ap.Payload.SHA256, []byte("kept"))
		mustVerify(t, b.store, 4)
	})

	t.Run("ConcurrentPayloads", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		var wg sync.WaitGroup
		for i := range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ap := appendParams(i)
				ap.Data = strings.NewReader(fmt.Sprint("bytes of ", i))
				if _, err := b.store.Append(b.ctx, ap); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		for i := range 16 {
			mustRead(t, b.store, appendParams(i).Payload.SHA256, []byte(fmt.Sprint("bytes of ", i)))
		}
		mustVerify(t, b.store, 16)
	})

	t.Run("ClaimByChannel", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		sys := register.System("run")
		for i, ch := range []register.Channel{register.ChannelEmaw, register.ChannelXSozial, register.ChannelEmaw} {
			if _, err := b.store.Enqueue(b.ctx, register.EnqueueParams{ID: register.MessageID(fmt.Sprint("c", i)), Channel: ch,
				Payload: payload(fmt.Sprint(i)), Actor: sys}); err != nil {
				t.Fatal(err)
			}
			b.clock.Advance(time.Millisecond)
		}
		c, err := b.store.Claim(b.ctx, register.ClaimParams{Worker: "w", Limit: 10, Channel: register.ChannelXSozial})
		if err != nil || len(c) != 1 || c[0].ID != "c1" {
			t.Fatalf("Claim(xsozial) = %v, %v; want only c1", c, err)
		}
		c, err = b.store.Claim(b.ctx, register.ClaimParams{Worker: "w", Limit: 10, Channel: register.ChannelEmaw})
		if err != nil || len(c) != 2 || c[0].ID != "c0" || c[1].ID != "c2" {
			t.Fatalf("Claim(emaw) = %v, %v; want c0 and c2", c, err)
		}
		if _, err := b.store.Claim(b.ctx, register.ClaimParams{Worker: "w", Channel: "fax"}); !errors.Is(err, register.ErrInvalidParams) {
			t.Fatalf("Claim(fax): err = %v, want ErrInvalidParams", err)
		}
	})

	t.Run("EnqueueClaimed", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		sys := register.System("run")
		if _, err := b.store.Enqueue(b.ctx, register.EnqueueParams{ID: "e1", Channel: register.ChannelEmaw, Payload: payload("e1"),
			Actor: sys, ClaimBy: "bad worker"}); !errors.Is(err, register.ErrInvalidParams) {
			t.Fatalf("Enqueue with an invalid ClaimBy: %v, want ErrInvalidParams", err)
		}
		m, err := b.store.Enqueue(b.ctx, register.EnqueueParams{ID: "e1", Channel: register.ChannelEmaw, Payload: payload("e1"),
			Actor: sys, ClaimBy: "host-1"})
		if err != nil {
			t.Fatal(err)
		}
		if m.State != register.MessageSending || m.Attempt != 1 || m.ClaimedBy != "host-1" {
			t.Fatalf("claimed at enqueue: %s attempt %d by %q, want sending attempt 1 by host-1", m.State, m.Attempt, m.ClaimedBy)
		}
		if got, _ := b.store.Message(b.ctx, "e1"); got != m {
			t.Fatalf("stored %+v, returned %+v", got, m)
		}
		if got := strings.Join(events(t, b.store, "e1"), " "); got != "queued#0 sending#1" {
			t.Fatalf("entries %s, want queued#0 sending#1", got)
		}
		// Nobody else takes it within the lease; after it, another worker does.
		if c, err := b.store.Claim(b.ctx, register.ClaimParams{Worker: "w", Lease: time.Minute}); err != nil || len(c) != 0 {
			t.Fatalf("Claim within the lease = %v, %v; want nothing", c, err)
		}
		b.clock.Advance(2 * time.Minute)
		if c, err := b.store.Claim(b.ctx, register.ClaimParams{Worker: "w", Lease: time.Minute}); err != nil || len(c) != 1 || c[0].Attempt != 2 {
			t.Fatalf("Claim after the lease = %v, %v; want e1 as attempt 2", c, err)
		}
		if _, err := b.store.Transition(b.ctx, register.MarkSent("e1", 2, sys)); err != nil {
			t.Fatal(err)
		}
		mustVerify(t, b.store, 4)
	})

	t.Run("ClaimByID", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		sys := register.System("run")
		for i := range 3 {
			if _, err := b.store.Enqueue(b.ctx, register.EnqueueParams{ID: register.MessageID(fmt.Sprint("i", i)), Channel: register.ChannelEmaw,
				Payload: payload(fmt.Sprint(i)), Actor: sys}); err != nil {
				t.Fatal(err)
			}
			b.clock.Advance(time.Millisecond)
		}
		// The newest, although older ones are due.
		c, err := b.store.Claim(b.ctx, register.ClaimParams{Worker: "w", Limit: 10, ID: "i2"})
		if err != nil || len(c) != 1 || c[0].ID != "i2" || c[0].Attempt != 1 {
			t.Fatalf("Claim(i2) = %v, %v; want only i2, attempt 1", c, err)
		}
		// Not claimable now (another worker sends it): nothing.
		if c, err := b.store.Claim(b.ctx, register.ClaimParams{Worker: "v", ID: "i2"}); err != nil || len(c) != 0 {
			t.Fatalf("second Claim(i2) = %v, %v; want nothing", c, err)
		}
		if c, err := b.store.Claim(b.ctx, register.ClaimParams{Worker: "v", ID: "i0", Channel: register.ChannelXSozial}); err != nil || len(c) != 0 {
			t.Fatalf("Claim(i0 on the wrong channel) = %v, %v; want nothing", c, err)
		}
		if c, err := b.store.Claim(b.ctx, register.ClaimParams{Worker: "v", ID: "nope"}); err != nil || len(c) != 0 {
			t.Fatalf("Claim(unknown ID) = %v, %v; want nothing", c, err)
		}
		if _, err := b.store.Claim(b.ctx, register.ClaimParams{Worker: "w", ID: "bad id"}); !errors.Is(err, register.ErrInvalidParams) {
			t.Fatalf("Claim(bad id): err = %v, want ErrInvalidParams", err)
		}
		if got := strings.Join(events(t, b.store, "i0"), " "); got != "queued#0" {
			t.Fatalf("i0 after claims by ID: %s, want queued#0", got)
		}
	})

	t.Run("MessagesFilter", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		sys := register.System("run")
		for i, month := range []string{"2026-01", "2026-01", "2026-02"} {
			if _, err := b.store.Enqueue(b.ctx, register.EnqueueParams{ID: register.MessageID(fmt.Sprint("m", i)), Channel: register.ChannelXSozial,
				Correlation: xsKey(t, month), Payload: payload(month), Actor: sys}); err != nil {
				t.Fatal(err)
			}
			b.clock.Advance(time.Millisecond)
		}
		if _, err := b.store.Claim(b.ctx, register.ClaimParams{Worker: "w"}); err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			p    register.MessagesParams
			want string
		}{
			{register.MessagesParams{}, "m0 m1 m2"},
			{register.MessagesParams{State: register.MessageQueued}, "m1 m2"},
			{register.MessagesParams{Correlation: xsKey(t, "2026-01")}, "m0 m1"},
			{register.MessagesParams{State: register.MessageSending, Correlation: xsKey(t, "2026-01")}, "m0"},
			{register.MessagesParams{Limit: 1}, "m0"},
		}
		for _, tt := range tests {
			ms, err := b.store.Messages(b.ctx, tt.p)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, m := range ms {
				ids = append(ids, string(m.ID))
			}
			if got := strings.Join(ids, " "); got != tt.want {
				t.Errorf("Messages(%+v) = %q, want %q", tt.p, got, tt.want)
			}
		}
	})
}

// ConcurrentWorkers enqueues n messages through stores[0], then runs one
// worker per store concurrently, each claiming up to 3 messages at a time
// and marking them sent, until nothing is left. It fails the test if any
// message is claimed or sent twice, or not sent at all, or if the register
// does not verify afterwards. Backends pass several stores on one database
// (separate connection pools or processes) to test sharing.
func ConcurrentWorkers(t *testing.T, stores []register.Store, n int) {
	t.Helper()
	ctx := context.Background()
	sys := register.System("send")
	for i := range n {
		if _, err := stores[0].Enqueue(ctx, register.EnqueueParams{ID: register.MessageID(fmt.Sprintf("c-%04d", i)),
			Channel: register.ChannelEmaw, Payload: payload(fmt.Sprint(i)), Actor: sys}); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	sent := map[register.MessageID]string{}
	var wg sync.WaitGroup
	errs := make(chan error, len(stores))
	for w, s := range stores {
		worker := fmt.Sprintf("worker-%d", w)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				ms, err := s.Claim(ctx, register.ClaimParams{Worker: worker, Limit: 3})
				if err != nil {
					errs <- fmt.Errorf("%s: Claim: %w", worker, err)
					return
				}
				if len(ms) == 0 {
					return
				}
				for _, m := range ms {
					mu.Lock()
					if prev, dup := sent[m.ID]; dup {
						mu.Unlock()
						errs <- fmt.Errorf("message %s claimed by %s and again by %s", m.ID, prev, worker)
						return
					}
					sent[m.ID] = worker
					mu.Unlock()
					time.Sleep(time.Millisecond) // "sending": lets the other workers in
					if _, err := s.Transition(ctx, register.MarkSent(m.ID, m.Attempt, sys)); err != nil {
						errs <- fmt.Errorf("%s: MarkSent %s: %w", worker, m.ID, err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if len(sent) != n {
		t.Errorf("%d of %d messages were sent", len(sent), n)
	}
	ms, err := stores[0].Messages(ctx, register.MessagesParams{State: register.MessageSent, Limit: 10000})
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != n {
		t.Errorf("%d messages are in state sent, want %d", len(ms), n)
	}
	for _, m := range ms {
		if m.Attempt != 1 {
			t.Errorf("message %s took %d attempts, want 1", m.ID, m.Attempt)
		}
	}
	perWorker := map[string]int{}
	for _, w := range sent {
		perWorker[w]++
	}
	t.Logf("messages per worker: %v", perWorker)
	mustVerify(t, stores[0], int64(3*n))
}
