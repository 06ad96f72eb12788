package exchange_test

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"meldeweg.dev/meldeweg/basim"
	"meldeweg.dev/meldeweg/basim/bacheck"
	"meldeweg.dev/meldeweg/basim/simtest"
	"meldeweg.dev/meldeweg/emaw/ack"
	"meldeweg.dev/meldeweg/emaw/msg"
	"meldeweg.dev/meldeweg/emaw/pack"
	"meldeweg.dev/meldeweg/flow/exchange"
	"meldeweg.dev/meldeweg/flow/outbox"
	"meldeweg.dev/meldeweg/schemas"
	"meldeweg.dev/meldeweg/transport/baapi"
	"meldeweg.dev/meldeweg/transport/client"
	"meldeweg.dev/meldeweg/transport/register"
	"meldeweg.dev/meldeweg/transport/register/payload"
	"meldeweg.dev/meldeweg/transport/register/sqlitestore"
)

// provider is the Kennung of the msg.Example events (their Absender).
const provider = "T4711"

// kundennummer is the participant of msg.Example's events; it must never
// appear in the register's plain fields.
const kundennummer = "123A456789"

// testBundle is the simulator as the BA with the real checker
// (simtest.StartBA), offering the provider's Anmeldungen, and a fresh
// register with its payload store.
type testBundle struct {
	ba    *simtest.BA
	store register.Store
	ob    *outbox.Outbox
	ep    *outbox.Endpoint
	codec *msg.Codec
	ps    *register.Pseudonymizer
}

func setup(t *testing.T, cfg bacheck.Config) *testBundle {
	t.Helper()
	reg, err := schemas.Load(schemas.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Registry = reg
	cfg.Providers = []string{provider}
	tb := &testBundle{ba: simtest.StartBA(t, cfg, basim.Faults{DuplicateReplies: true}), codec: msg.NewCodec(reg)}
	dir := t.TempDir()
	tb.store, err = sqlitestore.Open(context.Background(), filepath.Join(dir, "register.db"), sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tb.store.Close() })
	ps, err := payload.Open(filepath.Join(dir, "register.db.payloads"), tb.store)
	if err != nil {
		t.Fatal(err)
	}
	tb.ob = &outbox.Outbox{Store: tb.store, Payloads: ps, Actor: register.System("test"), Worker: "test-1"}
	tb.ep = tb.ba.Endpoint(t, baapi.ChannelEmaw)
	if tb.ps, err = exchange.Pseudonyms(tb.ob); err != nil {
		t.Fatal(err)
	}
	return tb
}

// send packs the events into one upload, keeps its plain copy and
// delivers it, then waits until the BA has answered it.
func (tb *testBundle) send(t *testing.T, id register.MessageID, ms ...msg.Message) {
	t.Helper()
	ctx := context.Background()
	var evs []pack.Event
	for _, m := range ms {
		xml, _, err := tb.codec.Marshal(ctx, m)
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, pack.Event{ID: m.Header().NachrichtID, Parts: []pack.Part{{Name: m.Header().NachrichtID + ".xml", Data: xml}}})
	}
	var zb bytes.Buffer
	if _, err := pack.Write(&zb, evs); err != nil {
		t.Fatal(err)
	}
	m, _, err := tb.ob.Send(ctx, tb.ep, outbox.SubmitParams{ID: id, Plain: string(id) + ".zip", Data: zb.Bytes(), KeepPlain: true})
	if err != nil || m.State != register.MessageSent {
		t.Fatalf("send %s: %s, %v", id, m.State, err)
	}
	tb.awaitReply(t, id)
}

// awaitReply waits until the BA has answered upload id, so that a poll
// that follows finds the acknowledgement in the mailbox.
func (tb *testBundle) awaitReply(t *testing.T, id register.MessageID) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for {
		_, _, err := tb.ep.Client.Reply(ctx, baapi.ChannelEmaw, baapi.MessageID(id))
		if err == nil {
			return
		}
		if !errors.Is(err, client.ErrNotReady) {
			t.Fatalf("reply to %s: %v", id, err)
		}
	}
}

func (tb *testBundle) poll(t *testing.T) exchange.PollReport {
	t.Helper()
	rep, err := exchange.Poll(context.Background(), exchange.PollParams{Outbox: tb.ob, Endpoint: tb.ep, Codec: tb.codec})
	if err != nil {
		t.Fatalf("poll: %v", err)
	}
	return rep
}

func example(typ msg.Type, id string) msg.Message {
	m := msg.Example(typ)
	m.Header().NachrichtID = id
	return m
}

// entries returns every entry of the register with event ev.
func entries(t *testing.T, s register.Store, ev register.Event) []register.Entry {
	t.Helper()
	var out []register.Entry
	for e, err := range register.All(context.Background(), s, "") {
		if err != nil {
			t.Fatal(err)
		}
		if e.Event() == ev {
			out = append(out, e)
		}
	}
	return out
}

// TestPollSettlesAndRecordsInbound: one poll settles the upload by its
// acknowledgement (offered twice: recorded once) and records the three
// inbound Anmeldungen, each with its type, Maßnahmeschlüssel and the
// participant's pseudonym, and never the Kundennummer; a second poll
// finds nothing new.
func TestPollSettlesAndRecordsInbound(t *testing.T) {
	tb := setup(t, bacheck.Config{})
	tb.send(t, "up-1", example(msg.TypeEintritt, "EV-1"), example(msg.TypeAnwesenheitMonat, "EV-2"))

	rep := tb.poll(t)
	var settled, dup int
	for _, a := range rep.Acks {
		if a.Settled {
			settled++
			if a.Upload != "up-1" || a.Message.State != register.MessageAcknowledged || len(a.Answers) != 2 {
				t.Errorf("ack: upload %s, state %s, %d answers; want up-1 acknowledged with 2", a.Upload, a.Message.State, len(a.Answers))
			}
		} else {
			dup++
		}
	}
	if settled != 1 || dup != 1 {
		t.Errorf("acknowledgements: %d settled, %d offered again; want 1 and 1", settled, dup)
	}
	if len(rep.Inbound) != 3 || len(rep.Resends) != 0 {
		t.Fatalf("inbound %d, resends %d; want 3 and 0", len(rep.Inbound), len(rep.Resends))
	}
	var types []string
	for _, in := range rep.Inbound {
		if in.Duplicate || in.Invalid != nil || in.Participant.IsZero() || in.Massnahme.String() == "" {
			t.Errorf("inbound %s: duplicate %v, invalid %v, participant %q, measure %q", in.File, in.Duplicate, in.Invalid, in.Participant, in.Massnahme)
		}
		types = append(types, string(in.Type))
	}
	slices.Sort(types)
	if got, want := strings.Join(types, " "), "AGHAnmeldung AnmeldungBAE AnmeldungKontakt"; got != want {
		t.Errorf("inbound types %q, want %q", got, want)
	}

	// The register says what arrived: type, measure and the pseudonym of
	// the participant the message names, under the measure's and
	// participant's correlation key, and never the participant's
	// identifiers.
	recv := entries(t, tb.store, register.EventReceived)
	if len(recv) != 3 {
		t.Fatalf("%d received entries, want 3", len(recv))
	}
	var secrets []string
	for _, e := range recv {
		r, err := tb.ob.Reopen(context.Background(), tb.ep, e.Payload())
		if err != nil {
			t.Fatalf("received entry %d does not open again: %v", e.Seq(), err)
		}
		m, _, err := tb.codec.Unmarshal(context.Background(), r.Plain, "inbound")
		if err != nil {
			t.Fatal(err)
		}
		p := msg.ParticipantOf(m)
		secrets = append(secrets, p.Kundennummer, p.Cosachid)
		who := tb.ps.Participant(p.Kundennummer, p.Cosachid)
		k := m.Header().Massnahme.Key()
		d := e.Detail()
		for _, want := range []string{"received " + string(m.Type()) + " for Maßnahme " + k.Nummer.Compact() + "-" + string(k.Zweig),
			"participant " + who.String(), ": valid Nachricht (emaw@"} {
			if !strings.Contains(d, want) {
				t.Errorf("received entry %d: detail %q lacks %q", e.Seq(), d, want)
			}
		}
		if !strings.HasSuffix(e.Correlation().String(), " participant="+who.String()) {
			t.Errorf("received entry %d: correlation %q, want the participant's pseudonym", e.Seq(), e.Correlation())
		}
	}
	for e, err := range register.All(context.Background(), tb.store, "") {
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range []string{e.Detail(), e.Correlation().String(), string(e.MessageID())} {
			for _, s := range append(secrets, kundennummer) {
				if s != "" && strings.Contains(f, s) {
					t.Errorf("entry %d holds a participant's identifier in the clear: %q", e.Seq(), f)
				}
			}
		}
	}

	again := tb.poll(t)
	if len(again.Acks)+len(again.Inbound)+len(again.Resends) != 0 {
		t.Errorf("second poll collected %+v, want nothing", again)
	}
	if _, err := tb.store.Verify(context.Background(), register.VerifyParams{}); err != nil {
		t.Fatal(err)
	}
}

// TestPollRedeliversBAErrors: the BA answers the first delivery of every
// event with a BA-internal error; the poll records the NOK, re-delivers
// the events unchanged as a linked upload, and the next poll settles it.
func TestPollRedeliversBAErrors(t *testing.T) {
	tb := setup(t, bacheck.Config{BAErrors: 1})
	tb.send(t, "up-1", example(msg.TypeEintritt, "EV-1"))

	rep := tb.poll(t)
	var got *exchange.AckResult
	for i, a := range rep.Acks {
		if a.Settled {
			got = &rep.Acks[i]
		}
	}
	if got == nil || got.Message.State != register.MessageRejected || !got.OnlyBAErrors() ||
		len(got.Answers) != 1 || got.Answers[0].Outcome != ack.OutcomeBAError {
		t.Fatalf("acknowledgement: %+v; want up-1 rejected with one BA error", got)
	}
	if len(rep.Resends) != 1 || rep.Resends[0].ID != "up-1.r1" || rep.Resends[0].Message.State != register.MessageSent ||
		rep.Resends[0].Message.ResendOf != "up-1" || !slices.Equal(rep.Resends[0].Events, []string{"EV-1"}) {
		t.Fatalf("resends %+v, want up-1.r1 sent with EV-1, linked to up-1", rep.Resends)
	}
	tb.awaitReply(t, "up-1.r1")
	rep = tb.poll(t)
	if len(rep.Resends) != 0 {
		t.Errorf("the second poll re-delivered again: %+v", rep.Resends)
	}
	m, err := tb.store.Message(context.Background(), "up-1.r1")
	if err != nil || m.State != register.MessageAcknowledged {
		t.Errorf("re-delivery: %s, %v; want acknowledged", m.State, err)
	}
}

// TestPollLeavesAFileThatDoesNotOpen: an answer sealed to someone else
// is an error naming the file; nothing is recorded and the file stays
// offered, so a poll with the right identity records it.
func TestPollLeavesAFileThatDoesNotOpen(t *testing.T) {
	tb := setup(t, bacheck.Config{})
	wrong := *tb.ep
	wrong.Reply = tb.ba.Identity(t, "traeger-encrypt")
	_, err := exchange.Poll(context.Background(), exchange.PollParams{Outbox: tb.ob, Endpoint: &wrong, Codec: tb.codec})
	if err == nil || !strings.Contains(err.Error(), "mailbox file ") {
		t.Fatalf("poll with the wrong identity: %v, want an error naming the mailbox file", err)
	}
	if n := len(entries(t, tb.store, register.EventReceived)); n != 0 {
		t.Errorf("%d received entries after a file that did not open", n)
	}
	if rep := tb.poll(t); len(rep.Inbound) != 3 {
		t.Errorf("the files were not left in the mailbox: the next poll collected %d", len(rep.Inbound))
	}
}
