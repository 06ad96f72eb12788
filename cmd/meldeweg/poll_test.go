package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"meldeweg.dev/meldeweg/basim"
	"meldeweg.dev/meldeweg/basim/bacheck"
	"meldeweg.dev/meldeweg/basim/simtest"
	"meldeweg.dev/meldeweg/emaw"
	"meldeweg.dev/meldeweg/emaw/msg"
	"meldeweg.dev/meldeweg/emaw/pack"
	"meldeweg.dev/meldeweg/flow/outbox"
	"meldeweg.dev/meldeweg/schemas"
	"meldeweg.dev/meldeweg/transport/baapi"
	"meldeweg.dev/meldeweg/transport/client"
	"meldeweg.dev/meldeweg/transport/cms"
	"meldeweg.dev/meldeweg/transport/register"
	"meldeweg.dev/meldeweg/transport/register/payload"
	"meldeweg.dev/meldeweg/transport/register/sqlitestore"
)

// provider is the Kennung of the msg.Example events (their Absender).
const provider = "T4711"

// baBundle is a test PKI (pki.Init, minted per test) and the BA simulator
// on loopback judging uploads with the real BA checker (basim/
// bacheck): it opens every upload, checks the events and answers with
// sealed acknowledgements, and offers the provider's sealed Anmeldungen.
type baBundle struct {
	dir, pkiDir, simDir, url string
	server                   *basim.Server
	ba                       *simtest.BA
}

// startBA starts the simulator. cfg's PKI fields are filled from the
// test PKI; Providers defaults to the example provider.
func startBA(t testing.TB, cfg bacheck.Config, faults basim.Faults) *baBundle {
	t.Helper()
	if cfg.Providers == nil {
		cfg.Providers = []string{provider}
	}
	ba := simtest.StartBA(t, cfg, faults)
	return &baBundle{dir: ba.Dir, pkiDir: ba.PKIDir, simDir: ba.SimDir, url: ba.URL, server: ba.Server, ba: ba}
}

// emawClient is an mTLS client with the provider's eM@w identity.
func (b *baBundle) emawClient(t testing.TB) *client.Client {
	t.Helper()
	c, err := client.New(client.Config{BaseURL: b.url, TLS: b.ba.ClientTLS(t, baapi.ChannelEmaw)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// awaitReplies waits until the BA has answered every upload in ids, so a
// poll that follows finds the acknowledgements in the mailbox.
func (b *baBundle) awaitReplies(t testing.TB, ids ...register.MessageID) {
	t.Helper()
	c := b.emawClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, id := range ids {
		for {
			_, _, err := c.Reply(ctx, baapi.ChannelEmaw, baapi.MessageID(id))
			if err == nil {
				break
			}
			if !errors.Is(err, client.ErrNotReady) {
				t.Fatalf("reply to %s: %v", id, err)
			}
		}
	}
}

// reader is the provider's eM@w identity for opening kept files.
func (b *baBundle) reader(t testing.TB) *outbox.Endpoint {
	t.Helper()
	return &outbox.Endpoint{Channel: baapi.ChannelEmaw, Reply: b.ba.Identity(t, "emaw-encrypt"),
		Trust: b.ba.ClientTLS(t, baapi.ChannelEmaw).RootCAs, Profile: cms.ProfileCompat}
}

// writeUpload packs the events (built with the embedded bundles, schema
// checked, rules not) into an upload ZIP at path.
func writeUpload(t testing.TB, path string, ms ...msg.Message) {
	t.Helper()
	reg, err := schemas.Load(schemas.Options{})
	if err != nil {
		t.Fatal(err)
	}
	codec := msg.NewCodec(reg)
	var evs []pack.Event
	for _, m := range ms {
		xml, _, err := codec.Marshal(context.Background(), m)
		if err != nil {
			t.Fatal(err)
		}
		id := m.Header().NachrichtID
		ev := pack.Event{ID: id, Parts: []pack.Part{{Name: id + ".xml", Data: xml}}}
		if a, ok := m.(msg.WithAttachment); ok {
			ev.Parts = append(ev.Parts, pack.Part{Name: a.Attachment().Dateiname, Data: attachments[a.Attachment().SHA256]})
		}
		evs = append(evs, ev)
	}
	var zb bytes.Buffer
	if _, err := pack.Write(&zb, evs); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, zb.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
}

// attachments holds the PDFs of events built by the tests, by SHA-256.
var attachments = map[string][]byte{}

// example returns msg.Example(typ) under NachrichtID id.
func example(typ msg.Type, id string) msg.Message {
	m := msg.Example(typ)
	m.Header().NachrichtID = id
	return m
}

// runOK runs meldeweg in-process and fails unless it exits with want and
// stdout contains wantOut; it returns stdout and stderr.
func runOK(t *testing.T, want int, wantOut string, args ...string) (string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(args, strings.NewReader(""), &stdout, &stderr)
	if code != want || !strings.Contains(stdout.String(), wantOut) {
		t.Fatalf("meldeweg %s: exit %d, stdout %q, stderr %q; want exit %d and %q",
			strings.Join(args, " "), code, stdout.String(), stderr.String(), want, wantOut)
	}
	return stdout.String(), stderr.String()
}

// openRegisterT opens the SQLite register of a test and verifies it.
func openRegisterT(t *testing.T, file string) register.Store {
	t.Helper()
	store, err := sqlitestore.Open(context.Background(), file, sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	if _, err := store.Verify(context.Background(), register.VerifyParams{}); err != nil {
		t.Fatalf("register does not verify: %v", err)
	}
	return store
}

// eventsOf lists the events recorded for message id (as MessageID), in
// order, and the entries.
func eventsOf(t *testing.T, s register.Store, id register.MessageID) (string, []register.Entry) {
	t.Helper()
	var names []string
	var out []register.Entry
	for e, err := range register.All(context.Background(), s, id) {
		if err != nil {
			t.Fatal(err)
		}
		if e.MessageID() == id {
			names = append(names, string(e.Event()))
			out = append(out, e)
		}
	}
	return strings.Join(names, " "), out
}

// assertNothingUnsealed checks that every payload an entry names is kept
// in the register, sealed at rest (the payload store's format), that the
// payload directory holds nothing but the keys, and that no file next to
// the register holds a personal value or plain message XML in the clear.
func assertNothingUnsealed(t *testing.T, regFile string, secrets ...string) {
	t.Helper()
	ctx := context.Background()
	payloads := regFile + ".payloads"
	err := filepath.WalkDir(payloads, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() == "payload.key" || d.Name() == "pseudonym.key" {
			return err
		}
		t.Errorf("payload directory holds %s; payloads belong in the register", path)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	store, err := sqlitestore.Open(ctx, regFile, sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	n := 0
	for e, err := range register.All(ctx, store, "") {
		if err != nil {
			t.Fatal(err)
		}
		if e.Payload().IsZero() || e.Event() == register.EventPayloadDeleted {
			continue
		}
		rc, err := store.Payload(ctx, e.Payload().SHA256)
		if err != nil {
			t.Errorf("entry %d (%s) names payload %s: %v", e.Seq(), e.Event(), e.Payload().SHA256, err)
			continue
		}
		head := make([]byte, 8)
		_, err = io.ReadFull(rc, head)
		rc.Close()
		if err != nil || (string(head) != "MWSEAL2\n" && string(head) != "MWSEAL3\n") {
			t.Errorf("payload %s of entry %d is not sealed at rest", e.Payload().SHA256, e.Seq())
		}
		n++
	}
	if n == 0 {
		t.Errorf("register %s names no payload", regFile)
	}
	matches, _ := filepath.Glob(regFile + "*")
	keys, _ := filepath.Glob(filepath.Join(payloads, "*"))
	matches = append(matches, keys...)
	for _, f := range matches {
		st, err := os.Stat(f)
		if err != nil || st.IsDir() {
			continue
		}
		data, _ := os.ReadFile(f)
		for _, s := range append([]string{"<Nachricht", "<Quittung", "Mustermann"}, secrets...) {
			if bytes.Contains(data, []byte(s)) {
				t.Errorf("%s holds %q in the clear", f, s)
			}
		}
	}
}

// TestSendThenPoll sends an eM@w upload (Eintritt and AnwesenheitMonat)
// through the simulator with the real BA checker, and polls twice: the
// acknowledgement (offered twice) settles the upload once, with one
// feedback entry per event; the three inbound Anmeldungen are opened,
// validated and recorded as received, kept sealed to the provider and
// readable again with its identity; the second poll finds nothing new; the
// deadlines follow from the register; the simulator accepted the upload
// exactly once; nothing unsealed is stored.
func TestSendThenPoll(t *testing.T) {
	ba := startBA(t, bacheck.Config{}, basim.Faults{DuplicateReplies: true})
	dir := t.TempDir()
	pkg := filepath.Join(dir, "upload.zip")
	writeUpload(t, pkg, example(msg.TypeEintritt, "EV-1"), example(msg.TypeAnwesenheitMonat, "EV-2"))
	regFile := filepath.Join(dir, "register.db")
	conn := []string{"--pki", ba.pkiDir, "--url", ba.url, "--register", regFile}

	out, _ := runOK(t, 0, "sent emaw-", append([]string{"send", pkg, "--channel", "emaw"}, conn...)...)
	id := register.MessageID(strings.TrimSuffix(strings.Fields(out)[2], ","))
	ba.awaitReplies(t, id)
	runOK(t, 0, "acknowledged 1, rejected 0, received 3 (0 invalid), duplicates skipped 1, BA errors 0 (re-delivered 0)",
		append([]string{"poll", "--channel", "emaw"}, conn...)...)
	out, _ = runOK(t, 0, "acknowledged 0, rejected 0, received 0 (0 invalid), duplicates skipped 0",
		append([]string{"poll", "--channel", "emaw"}, conn...)...)
	if !strings.Contains(out, "eM@w deadlines from the register (1 uploads, 3 inbound messages)") {
		t.Errorf("poll does not print the deadlines from the register:\n%s", out)
	}
	runOK(t, 0, "acknowledged "+string(id), append([]string{"send", pkg, "--channel", "emaw"}, conn...)...)

	// Deadlines from the register: the participant entered on 2026-03-02,
	// so March's attendance was due by 2026-04-09; February's was sent.
	out, dueErr := runOK(t, 1, "AnwesenheitMonat", "emaw", "due", "--register", regFile, "--pki", ba.pkiDir, "--date", "2026-04-10")
	t.Logf("emaw due --register:\n%s%s", out, dueErr)
	if !strings.Contains(out, "overdue  AnwesenheitMonat  12321126-01") || !strings.Contains(out, "2026-03") ||
		strings.Contains(out, "2026-02 ") || strings.Contains(out, "123A456789") {
		t.Errorf("emaw due --register:\n%s", out)
	}

	store := openRegisterT(t, regFile)
	got, entries := eventsOf(t, store, id)
	if want := "built sealed queued sending attempt receipt sent feedback feedback acknowledged"; got != want {
		t.Errorf("upload events: got %q, want %q", got, want)
	}
	var details []string
	for _, e := range entries {
		if e.Event() == register.EventFeedback {
			details = append(details, e.Detail())
		}
	}
	for _, want := range []string{"event EV-1: acknowledged", "event EV-2: acknowledged"} {
		if !slices.Contains(details, want) {
			t.Errorf("feedback entries %q lack %q", details, want)
		}
	}

	// Inbound: recorded once each, valid, sealed to the provider, and
	// they open again with the provider's identity.
	ps, err := payload.Open(regFile+".payloads", store)
	if err != nil {
		t.Fatal(err)
	}
	ob := &outbox.Outbox{Store: store, Payloads: ps, Actor: register.System("test")}
	reg, _ := schemas.Load(schemas.Options{})
	codec := msg.NewCodec(reg)
	var types []string
	for e, err := range register.All(context.Background(), store, "") {
		if err != nil {
			t.Fatal(err)
		}
		if e.Event() != register.EventReceived {
			continue
		}
		if !strings.Contains(e.Detail(), ": valid Nachricht (emaw@") {
			t.Errorf("received entry detail %q, want a valid message", e.Detail())
		}
		r, err := ob.Reopen(context.Background(), ba.reader(t), e.Payload())
		if err != nil {
			t.Fatalf("inbound %s does not open again: %v", e.MessageID(), err)
		}
		m, _, err := codec.Unmarshal(context.Background(), r.Plain, "inbound")
		if err != nil {
			t.Fatal(err)
		}
		types = append(types, string(m.Type()))
	}
	slices.Sort(types)
	if got, want := strings.Join(types, " "), "AGHAnmeldung AnmeldungBAE AnmeldungKontakt"; got != want {
		t.Errorf("inbound messages recorded: got %q, want %q", got, want)
	}

	acc, err := basim.ReadAccepted(ba.simDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(acc) != 1 || acc[0].MessageID != baapi.MessageID(id) {
		t.Errorf("simulator accepted %+v, want %s exactly once", acc, id)
	}
	assertNothingUnsealed(t, regFile, "123A456789", "C0000001")
}

// sendUnchecked delivers the upload at pkg through the outbox of the
// register at regFile as "send" would, but without its checks, and returns
// its message ID.
func sendUnchecked(t *testing.T, ba *baBundle, regFile, pkg string) register.MessageID {
	t.Helper()
	ctx := context.Background()
	data, err := os.ReadFile(pkg)
	if err != nil {
		t.Fatal(err)
	}
	store, err := sqlitestore.Open(ctx, regFile, sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	ps, err := payload.Open(regFile+".payloads", store)
	if err != nil {
		t.Fatal(err)
	}
	ob := &outbox.Outbox{Store: store, Payloads: ps, Actor: register.System("test"), Worker: "test-1"}
	id := register.MessageID(baapi.ContentMessageID(baapi.ChannelEmaw, sha256.Sum256(data)))
	m, _, err := ob.Send(ctx, ba.ba.Endpoint(t, baapi.ChannelEmaw), outbox.SubmitParams{ID: id, Plain: pkg, Data: data, KeepPlain: true})
	if err != nil || m.State != register.MessageSent {
		t.Fatalf("sending %s past the checks: %s, %v", pkg, m.State, err)
	}
	return id
}

// TestEmawAckOutcomes sends one upload whose four events meet the four
// NOK outcomes of the BA checker: a BA-internal error (the first delivery
// of every event), provider not assigned, participant unknown, rejected
// as faulty. poll reports each with upload, event, code and what to do,
// records one feedback entry per event, and re-delivers the event with
// the BA error as a new upload linked to the original, which the BA then
// acknowledges.
func TestEmawAckOutcomes(t *testing.T) {
	known := &bacheck.Directory{
		Measures:     []bacheck.Assignment{{Provider: provider, Massnahme: "123/21/1/26", Verfahrenszweig: "01"}},
		Participants: []bacheck.Participant{{Kundennummer: "123A456789", Cosachid: "C0000001"}},
	}
	ba := startBA(t, bacheck.Config{Known: known, BAErrors: 1}, basim.Faults{})
	dir := t.TempDir()

	ok := example(msg.TypeEintritt, "EV-BA")
	notAssigned := example(msg.TypeEintritt, "EV-NA")
	notAssigned.Header().Massnahme.Nummer = "124/21/1/26"
	unknown := example(msg.TypeEintritt, "EV-PU").(*msg.Eintritt)
	unknown.Teilnehmer = msg.Teilnehmer{Kundennummer: "123A999999", Cosachid: "C0000009"}
	faulty := example(msg.TypeAustritt, "EV-REJ").(*msg.Austritt)
	faulty.Grund = "" // required by the rules, optional in the schema
	faulty.Austrittsdatum = emaw.MustDate("2026-03-20")
	pkg := filepath.Join(dir, "upload.zip")
	writeUpload(t, pkg, ok, notAssigned, unknown, faulty)
	regFile := filepath.Join(dir, "register.db")
	conn := []string{"--pki", ba.pkiDir, "--url", ba.url, "--register", regFile}

	// "send" refuses the faulty event (it breaks a business rule); the BA
	// must still be seen to answer one, so this upload goes out past the
	// check, as from a sender that does not check.
	id := sendUnchecked(t, ba, regFile, pkg)
	ba.awaitReplies(t, id)
	_, stderr := runOK(t, 1, "acknowledged 0, rejected 1, received 3 (0 invalid), duplicates skipped 0, BA errors 0 (re-delivered 1)",
		append([]string{"poll", "--channel", "emaw"}, conn...)...)
	resend := register.MessageID(string(id) + ".r1")
	for _, want := range []string{
		"upload " + string(id) + " event EV-BA failed inside the BA (9001): it is re-delivered unchanged as a new upload",
		"upload " + string(id) + " event EV-NA: provider not assigned to the measure (2001): clarify the measure assignment with the Agentur, then build a new event",
		"upload " + string(id) + " event EV-PU: participant unknown to the BA (2002): check Kundennummer and cosachid with the Agentur, then build a new event",
		"upload " + string(id) + " event EV-REJ: rejected as faulty (1002): a person must build a new event",
		"upload " + string(id) + ": event(s) EV-BA re-delivered as upload " + string(resend) + " (sent)",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("poll stderr lacks %q:\n%s", want, stderr)
		}
	}
	if strings.Contains(stderr, "123A999999") {
		t.Errorf("poll stderr names a Kundennummer:\n%s", stderr)
	}
	t.Logf("poll:\n%s", stderr)
	ba.awaitReplies(t, resend)
	runOK(t, 0, "acknowledged 1, rejected 0, received 0 (0 invalid), duplicates skipped 0, BA errors 0 (re-delivered 0)",
		append([]string{"poll", "--channel", "emaw"}, conn...)...)
	// A third poll re-delivers nothing more.
	runOK(t, 0, "acknowledged 0, rejected 0, received 0 (0 invalid), duplicates skipped 0, BA errors 0 (re-delivered 0)",
		append([]string{"poll", "--channel", "emaw"}, conn...)...)

	store := openRegisterT(t, regFile)
	tests := []struct {
		id         register.MessageID
		wantState  register.MessageState
		wantResend register.MessageID
		wantDetail []string
	}{
		{id, register.MessageRejected, "", []string{"event EV-BA: ba-error (9001)", "event EV-NA: provider-not-assigned (2001)",
			"event EV-PU: participant-unknown (2002)", "event EV-REJ: rejected (1002)"}},
		{resend, register.MessageAcknowledged, id, []string{"event EV-BA: acknowledged"}},
	}
	for _, tt := range tests {
		m, err := store.Message(context.Background(), tt.id)
		if err != nil {
			t.Fatal(err)
		}
		if m.State != tt.wantState || m.ResendOf != tt.wantResend {
			t.Errorf("message %s: state %s, resend of %q; want %s, %q", tt.id, m.State, m.ResendOf, tt.wantState, tt.wantResend)
		}
		_, entries := eventsOf(t, store, tt.id)
		var details []string
		for _, e := range entries {
			if e.Event() == register.EventFeedback {
				details = append(details, e.Detail())
			}
		}
		for _, want := range tt.wantDetail {
			if !slices.Contains(details, want) {
				t.Errorf("message %s: feedback entries %q lack %q", tt.id, details, want)
			}
		}
	}
	acc, err := basim.ReadAccepted(ba.simDir)
	if err != nil {
		t.Fatal(err)
	}
	var accepted []string
	for _, r := range acc {
		accepted = append(accepted, string(r.MessageID))
	}
	if got, want := strings.Join(accepted, " "), string(id)+" "+string(resend); got != want {
		t.Errorf("simulator accepted %q, want %q (each once)", got, want)
	}
	assertNothingUnsealed(t, regFile, "123A456789", "123A999999")
}
