package bacheck_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"meldeweg.dev/meldeweg/basim"
	"meldeweg.dev/meldeweg/basim/bacheck"
	"meldeweg.dev/meldeweg/basim/simtest"
	"meldeweg.dev/meldeweg/emaw/msg"
	"meldeweg.dev/meldeweg/emaw/pack"
	"meldeweg.dev/meldeweg/schemas"
	"meldeweg.dev/meldeweg/transport/baapi"
	"meldeweg.dev/meldeweg/transport/client"
	"meldeweg.dev/meldeweg/transport/cms"
	"meldeweg.dev/meldeweg/transport/pki"
)

// testPKI mints the project's test PKI (transport/pki layout) for one
// test. The CMS layer uses it; the TLS layer uses simtest's PKI.
func testPKI(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	if err := pki.Init(dir, pki.InitOptions{}); err != nil {
		t.Fatal(err)
	}
	return dir
}

func registry(t testing.TB) *schemas.Registry {
	t.Helper()
	reg, err := schemas.Load(schemas.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

// bench is one running simulator with the BA checker and a client.
type bench struct {
	pkiDir string
	reg    *schemas.Registry
	sim    *simtest.Sim
	check  *bacheck.Checker
	xs     client.XSozialPortal
	em     client.EmawMailbox
}

// start runs a simulator on loopback whose checker is the BA checker
// built from the test PKI in pkiDir and cfg.
func start(t *testing.T, pkiDir string, cfg bacheck.Config) *bench {
	t.Helper()
	b := &bench{pkiDir: pkiDir, reg: registry(t)}
	cfg.Registry = b.reg
	cfg, err := bacheck.LoadTestPKI(pkiDir, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if b.check, err = bacheck.New(cfg); err != nil {
		t.Fatal(err)
	}
	// As meldeweg sim does: the inbound Anmeldungen first, then the
	// simulator, which offers what it finds in Dir/inbox/emaw.
	simDir := t.TempDir()
	if _, err := b.check.WriteInbound(context.Background(), filepath.Join(simDir, "inbox", "emaw")); err != nil {
		t.Fatal(err)
	}
	tp := simtest.NewPKI(t)
	b.sim = simtest.Start(t, tp, basim.Config{Checker: b.check, Dir: simDir, ReplyWait: 30 * time.Second})
	c, err := client.New(client.Config{BaseURL: b.sim.URL, TLS: tp.ClientTLS(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	b.xs, b.em = client.XSozialPortal{C: c}, client.EmawMailbox{C: c}
	return b
}

func identity(t testing.TB, dir, stem string) *pki.Identity {
	t.Helper()
	id, err := pki.LoadIdentity(filepath.Join(dir, stem+".pem"), filepath.Join(dir, stem+".key"), pki.Password{})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// seal seals plain as the sender: signed by signerDir's sign identity,
// encrypted to the BA's encryption certificate in baDir.
func seal(t testing.TB, plain []byte, signerDir, signStem, baDir string, profile cms.Profile) []byte {
	t.Helper()
	signer := identity(t, signerDir, signStem)
	ba := identity(t, baDir, "ba-encrypt")
	var out bytes.Buffer
	err := cms.Seal(context.Background(), &out, bytes.NewReader(plain), cms.SealOptions{
		Signer: cms.Signer{Key: signer.Key, Cert: signer.Cert}, Recipients: []*x509.Certificate{ba.Cert}, Profile: profile,
	})
	if err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// openReply opens a reply as the receiver (stem: traeger-encrypt or
// emaw-encrypt) and checks it is signed by ba-sign under the test CA.
func openReply(t testing.TB, pkiDir, stem string, sealed []byte) []byte {
	t.Helper()
	rcpt := identity(t, pkiDir, stem)
	pool, err := pki.CertPool(filepath.Join(pkiDir, "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	info, err := cms.Open(context.Background(), &out, bytes.NewReader(sealed), cms.OpenOptions{
		Key: rcpt.Key.(crypto.Decrypter), Cert: rcpt.Cert, Trust: pool, Profile: cms.ProfileCompat,
	})
	if err != nil {
		t.Fatalf("opening the reply with %s: %v", stem, err)
	}
	if got, want := info.Certificate.Subject.CommonName, "BA CMS signing (test)"; got != want {
		t.Fatalf("reply signed by %q, want %q", got, want)
	}
	return out.Bytes()
}

// reply uploads sealed on ch under id and waits for the reply.
func (b *bench) reply(t *testing.T, ch baapi.Channel, id baapi.MessageID, sealed []byte) ([]byte, client.Fetched) {
	t.Helper()
	ctx := context.Background()
	upload, fetch := b.xs.Upload, b.xs.Feedback
	if ch == baapi.ChannelEmaw {
		upload, fetch = b.em.Upload, b.em.Ack
	}
	rec, err := upload(ctx, id, client.BytesBody(sealed))
	if err != nil || rec.Status != baapi.ReceiptAccepted {
		t.Fatalf("upload %s: %v %q", id, err, rec.Status)
	}
	for deadline := time.Now().Add(60 * time.Second); ; {
		data, f, err := fetch(ctx, id)
		if errors.Is(err, client.ErrNotReady) && time.Now().Before(deadline) {
			continue
		}
		if err != nil {
			t.Fatalf("reply to %s: %v", id, err)
		}
		return data, f
	}
}

// emawZIP marshals msgs (validated against the bundle in force) and packs
// them into an upload ZIP, attachments included.
func emawZIP(t testing.TB, reg *schemas.Registry, msgs ...msg.Message) []byte {
	t.Helper()
	codec := msg.NewCodec(reg)
	var evs []pack.Event
	for _, m := range msgs {
		data, _, err := codec.Marshal(context.Background(), m)
		if err != nil {
			t.Fatal(err)
		}
		id := m.Header().NachrichtID
		ev := pack.Event{ID: id, Parts: []pack.Part{{Name: id + ".xml", Data: data}}}
		if a, ok := m.(msg.WithAttachment); ok {
			ev.Parts = append(ev.Parts, pack.Part{Name: a.Attachment().Dateiname, Data: msg.ExamplePDF()})
		}
		evs = append(evs, ev)
	}
	var buf bytes.Buffer
	if _, err := pack.Write(&buf, evs); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// example returns msg.Example(typ) under a new NachrichtID.
func example(typ msg.Type, id string) msg.Message {
	m := msg.Example(typ)
	m.Header().NachrichtID = id
	return m
}
