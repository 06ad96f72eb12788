package outbox_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"meldeweg.dev/meldeweg/flow/outbox"
	"meldeweg.dev/meldeweg/transport/baapi"
	"meldeweg.dev/meldeweg/transport/cms"
	"meldeweg.dev/meldeweg/transport/pki"
	"meldeweg.dev/meldeweg/transport/register"
	"meldeweg.dev/meldeweg/transport/register/payload"
	"meldeweg.dev/meldeweg/transport/register/sqlitestore"
)

// setup gives an outbox on a fresh SQLite register and an endpoint with
// the test PKI's eM@w identities; no network is needed for what is tested
// here (Submit, Settle).
func setup(t *testing.T) (*outbox.Outbox, *outbox.Endpoint, string) {
	t.Helper()
	dir := t.TempDir()
	pkiDir := filepath.Join(dir, "pki")
	if err := pki.Init(pkiDir, pki.InitOptions{}); err != nil {
		t.Fatal(err)
	}
	load := func(stem string) *pki.Identity {
		id, err := pki.LoadIdentity(filepath.Join(pkiDir, stem+".pem"), filepath.Join(pkiDir, stem+".key"), pki.Password{})
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	sign, enc := load("emaw-sign"), load("emaw-encrypt")
	ba, err := pki.LoadCertificates(filepath.Join(pkiDir, "ba-encrypt.pem"))
	if err != nil {
		t.Fatal(err)
	}
	trust, err := pki.CertPool(filepath.Join(pkiDir, "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	store, err := sqlitestore.Open(context.Background(), filepath.Join(dir, "register.db"), sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	ps, err := payload.Open(filepath.Join(dir, "payloads"), store)
	if err != nil {
		t.Fatal(err)
	}
	ob := &outbox.Outbox{Store: store, Payloads: ps, Actor: register.System("test"), Worker: "test-1"}
	ep := &outbox.Endpoint{Channel: baapi.ChannelEmaw, URL: "https://127.0.0.1:1", Signer: cms.Signer{Key: sign.Key, Cert: sign.Cert},
		BA: ba[0], Reply: enc, Trust: trust}
	return ob, ep, pkiDir
}

func events(t *testing.T, s register.Store, id register.MessageID) string {
	t.Helper()
	var out []string
	for e, err := range register.All(context.Background(), s, id) {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(e.Event()))
	}
	return strings.Join(out, " ")
}

func TestSubmitSealsKeepsAndQueuesOnce(t *testing.T) {
	ob, ep, pkiDir := setup(t)
	ctx := context.Background()
	plain := filepath.Join(t.TempDir(), "upload.zip")
	secret := []byte("PLAINTEXT-MARKER " + strings.Repeat("x", 5000))
	if err := os.WriteFile(plain, secret, 0o600); err != nil {
		t.Fatal(err)
	}
	m, created, err := ob.Submit(ctx, ep, outbox.SubmitParams{ID: "u1", Plain: plain, KeepPlain: true, Detail: "test"})
	if err != nil || !created || m.State != register.MessageQueued {
		t.Fatalf("Submit: %+v created=%v err=%v", m, created, err)
	}
	if got := events(t, ob.Store, "u1"); got != "built sealed queued" {
		t.Fatalf("entries %q, want built sealed queued", got)
	}
	// Again (a rerun after a crash): nothing new.
	m2, created, err := ob.Submit(ctx, ep, outbox.SubmitParams{ID: "u1", Plain: plain, KeepPlain: true})
	if err != nil || created || m2.Payload != m.Payload {
		t.Fatalf("second Submit: created=%v err=%v payload %v vs %v", created, err, m2.Payload, m.Payload)
	}
	if got := events(t, ob.Store, "u1"); got != "built sealed queued" {
		t.Fatalf("second Submit changed the register: %q", got)
	}
	// The kept plain copy reads back; nothing plain lies on disk, in the
	// register database and its log or next to them.
	back, err := ob.ReadPlain(ctx, "u1", 1<<20)
	if err != nil || !bytes.Equal(back, secret) {
		t.Fatalf("ReadPlain: %v (equal %v)", err, bytes.Equal(back, secret))
	}
	files := 0
	filepath.Walk(filepath.Dir(ob.Payloads.Dir()), func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			files++
			data, _ := os.ReadFile(p)
			if bytes.Contains(data, []byte("PLAINTEXT-MARKER")) {
				t.Errorf("%s holds the payload in the clear", p)
			}
		}
		return nil
	})
	if files < 3 {
		t.Fatalf("looked at %d files, expected at least the database, its log and the payload key", files)
	}
	// The queued payload is a CMS message the BA can open (with its key),
	// signed by the provider.
	rc, err := ob.Payloads.Open(ctx, m.Payload.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	baKey, err := pki.LoadIdentity(filepath.Join(pkiDir, "ba-encrypt.pem"), filepath.Join(pkiDir, "ba-encrypt.key"), pki.Password{})
	if err != nil {
		t.Fatal(err)
	}
	var opened bytes.Buffer
	si, err := cms.Open(ctx, &opened, rc, cms.OpenOptions{Key: baKey.Key.(crypto.Decrypter), Cert: baKey.Cert, Trust: ep.Trust})
	if err != nil || !bytes.Equal(opened.Bytes(), secret) || si.Certificate.Subject.CommonName != ep.Signer.Cert.Subject.CommonName {
		t.Fatalf("the BA cannot open the queued payload: %v", err)
	}
}

func TestSettleOnceWithItsFeedback(t *testing.T) {
	ob, _, _ := setup(t)
	ctx := context.Background()
	sys := register.System("test")
	if _, err := ob.Store.Enqueue(ctx, register.EnqueueParams{ID: "u2", Channel: register.ChannelEmaw,
		Payload: register.PayloadRef{SHA256: register.Hash{1}, Size: 1}, Actor: sys}); err != nil {
		t.Fatal(err)
	}
	if _, err := ob.Store.Claim(ctx, register.ClaimParams{Worker: "w"}); err != nil {
		t.Fatal(err)
	}
	if _, err := ob.Store.Transition(ctx, register.MarkSent("u2", 1, sys)); err != nil {
		t.Fatal(err)
	}
	reply := &outbox.Reply{Sealed: register.PayloadRef{SHA256: register.Hash{2}, Size: 2}}
	v := outbox.Verdict{Accepted: false, Summary: "Quittung: 1 rejected", Details: []string{"event E1: OK", "event E2: NOK 1002"}}
	m, settled, err := ob.Settle(ctx, "u2", reply, v)
	if err != nil || !settled || m.State != register.MessageRejected {
		t.Fatalf("Settle: %s settled=%v err=%v", m.State, settled, err)
	}
	// A second answer (a duplicate acknowledgement) changes nothing.
	m, settled, err = ob.Settle(ctx, "u2", reply, v)
	if err != nil || settled || m.State != register.MessageRejected {
		t.Fatalf("second Settle: %s settled=%v err=%v", m.State, settled, err)
	}
	if got := events(t, ob.Store, "u2"); got != "queued sending sent feedback feedback rejected" {
		t.Fatalf("entries %q", got)
	}
	if _, err := ob.Store.Verify(ctx, register.VerifyParams{}); err != nil {
		t.Fatal(err)
	}
}

// TestAnswerInflatingPastTheLimitIsRefused: an answer's content is
// compressed inside the signature, so a small sealed answer can open to
// far more; Open and Reopen refuse to hold more than MaxAnswerBytes in
// memory, and stop inflating there.
func TestAnswerInflatingPastTheLimitIsRefused(t *testing.T) {
	ob, ep, pkiDir := setup(t)
	ctx := context.Background()
	baSign, err := pki.LoadIdentity(filepath.Join(pkiDir, "ba-sign.pem"), filepath.Join(pkiDir, "ba-sign.key"), pki.Password{})
	if err != nil {
		t.Fatal(err)
	}
	content := bytes.Repeat([]byte("<Quittung/>"), 200_000) // 2.2 MB, compresses to a few KB
	var sealed bytes.Buffer
	if err := cms.Seal(ctx, &sealed, bytes.NewReader(content), cms.SealOptions{Signer: cms.Signer{Key: baSign.Key, Cert: baSign.Cert},
		Recipients: []*x509.Certificate{ep.Reply.Cert}}); err != nil {
		t.Fatal(err)
	}
	if sealed.Len() > 64<<10 {
		t.Fatalf("sealed answer is %d bytes; the test wants a small one that inflates", sealed.Len())
	}
	r, err := ob.Open(ctx, ep, sealed.Bytes())
	if err != nil || !bytes.Equal(r.Plain, content) {
		t.Fatalf("within the default limit: %v", err)
	}
	if _, err := ob.Store.Append(ctx, r.Entry(register.AppendParams{Direction: register.DirectionIn, Channel: register.ChannelEmaw,
		Event: register.EventReceived, Actor: register.System("test"), Detail: "answer"})); err != nil {
		t.Fatal(err)
	}
	ob.MaxAnswerBytes = 1 << 20
	if _, err := ob.Reopen(ctx, ep, r.Sealed); !errors.Is(err, outbox.ErrAnswerTooLarge) {
		t.Fatalf("Reopen past the limit: %v, want ErrAnswerTooLarge", err)
	}
	r, err = ob.Open(ctx, ep, sealed.Bytes())
	if !errors.Is(err, outbox.ErrAnswerTooLarge) || !strings.Contains(err.Error(), "1048576") {
		t.Fatalf("Open past the limit: %v, want ErrAnswerTooLarge naming the limit", err)
	}
	if r == nil || r.Sealed.Size != int64(sealed.Len()) {
		t.Fatalf("the refused answer is still named for the register: %+v", r)
	}
}
