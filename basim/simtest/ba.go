package simtest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"path/filepath"
	"testing"
	"time"

	"meldeweg.dev/meldeweg/basim"
	"meldeweg.dev/meldeweg/basim/bacheck"
	"meldeweg.dev/meldeweg/flow/outbox"
	"meldeweg.dev/meldeweg/schemas"
	"meldeweg.dev/meldeweg/transport/baapi"
	"meldeweg.dev/meldeweg/transport/client"
	"meldeweg.dev/meldeweg/transport/cms"
	"meldeweg.dev/meldeweg/transport/pki"
)

// BA is the simulator as the BA: a test PKI from pki.Init (the layout the
// commands and the demo use) and the simulator on loopback judging every
// upload with the real BA checker (bacheck), which opens it, checks it
// and answers with a sealed reply.
type BA struct {
	Dir    string // the test's directory; PKIDir and SimDir are in it
	PKIDir string
	SimDir string
	URL    string // https://127.0.0.1:PORT
	Server *basim.Server
}

// StartBA mints a test PKI and starts the simulator with the BA checker;
// cfg's PKI fields are filled from the test PKI and its Registry defaults
// to the embedded bundles. Inbound Anmeldungen are written for
// cfg.Providers. Everything stops at the end of the test.
func StartBA(tb testing.TB, cfg bacheck.Config, faults basim.Faults) *BA {
	tb.Helper()
	b := &BA{Dir: tb.TempDir()}
	b.PKIDir, b.SimDir = filepath.Join(b.Dir, "pki"), filepath.Join(b.Dir, "sim")
	if err := pki.Init(b.PKIDir, pki.InitOptions{}); err != nil {
		tb.Fatal(err)
	}
	if cfg.Registry == nil {
		reg, err := schemas.Load(schemas.Options{})
		if err != nil {
			tb.Fatal(err)
		}
		cfg.Registry = reg
	}
	cfg, err := bacheck.LoadTestPKI(b.PKIDir, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	checker, err := bacheck.New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	if len(cfg.Providers) > 0 {
		if _, err := checker.WriteInbound(context.Background(), filepath.Join(b.SimDir, "inbox", "emaw")); err != nil {
			tb.Fatal(err)
		}
	}
	srvTLS, err := client.ServerTLSConfig(b.tlsCert(tb, "ba-server"), b.trust(tb))
	if err != nil {
		tb.Fatal(err)
	}
	b.Server, err = basim.New(basim.Config{TLS: srvTLS, Dir: b.SimDir, Checker: checker, Faults: faults, ReplyWait: 500 * time.Millisecond})
	if err != nil {
		tb.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	done := make(chan struct{})
	go func() { b.Server.Serve(l); close(done) }()
	tb.Cleanup(func() { b.Server.Close(); <-done })
	b.URL = "https://" + l.Addr().String()
	return b
}

// Identity loads one identity of the test PKI by its stem ("emaw-sign").
func (b *BA) Identity(tb testing.TB, stem string) *pki.Identity {
	tb.Helper()
	id, err := pki.LoadIdentity(filepath.Join(b.PKIDir, stem+".pem"), filepath.Join(b.PKIDir, stem+".key"), pki.Password{})
	if err != nil {
		tb.Fatal(err)
	}
	return id
}

func (b *BA) trust(tb testing.TB) *x509.CertPool {
	tb.Helper()
	pool, err := pki.CertPool(filepath.Join(b.PKIDir, "ca.pem"))
	if err != nil {
		tb.Fatal(err)
	}
	return pool
}

func (b *BA) tlsCert(tb testing.TB, stem string) tls.Certificate {
	id := b.Identity(tb, stem)
	return tls.Certificate{Certificate: [][]byte{id.Cert.Raw}, PrivateKey: id.Key, Leaf: id.Cert}
}

// ClientTLS is the mTLS configuration of the channel's client identity
// (traeger-client for XSozial, emaw-client for eM@w).
func (b *BA) ClientTLS(tb testing.TB, ch baapi.Channel) *tls.Config {
	tb.Helper()
	c, err := client.ClientTLSConfig(b.tlsCert(tb, stems[ch].client), b.trust(tb), "")
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

var stems = map[baapi.Channel]struct{ client, sign, encrypt string }{
	baapi.ChannelXSozial: {"traeger-client", "traeger-sign", "traeger-encrypt"},
	baapi.ChannelEmaw:    {"emaw-client", "emaw-sign", "emaw-encrypt"},
}

// Endpoint is the channel's delivery endpoint with the sender's
// identities from the test PKI, talking to the simulator.
func (b *BA) Endpoint(tb testing.TB, ch baapi.Channel) *outbox.Endpoint {
	tb.Helper()
	c, err := client.New(client.Config{BaseURL: b.URL, TLS: b.ClientTLS(tb, ch), Attempts: 3})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	ba, err := pki.LoadCertificates(filepath.Join(b.PKIDir, "ba-encrypt.pem"))
	if err != nil {
		tb.Fatal(err)
	}
	sign := b.Identity(tb, stems[ch].sign)
	return &outbox.Endpoint{Channel: ch, URL: b.URL, Client: c, Signer: cms.Signer{Key: sign.Key, Cert: sign.Cert},
		BA: ba[0], Reply: b.Identity(tb, stems[ch].encrypt), Trust: b.trust(tb)}
}
