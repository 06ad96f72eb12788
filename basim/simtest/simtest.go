// Package simtest starts the BA simulator on loopback for tests, with
// certificates minted per test (never committed). It is for tests only.
package simtest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net"
	"net/http"
	"testing"
	"time"

	"meldeweg.dev/meldeweg/basim"
	"meldeweg.dev/meldeweg/transport/client"
)

// Cert is a minted certificate with its key.
type Cert struct {
	TLS  tls.Certificate
	Cert *x509.Certificate
	Key  *ecdsa.PrivateKey
}

// PKI is a throw-away test PKI: the BA's CA with the server certificate
// and the client (Träger/provider) certificate, plus a second, unrelated
// CA with a client certificate of its own.
type PKI struct {
	CA, OtherCA       Cert
	Server            Cert // SANs 127.0.0.1, ::1, localhost
	Client            Cert // issued by CA
	OtherClient       Cert // issued by OtherCA
	CAPool, OtherPool *x509.CertPool
}

// NewPKI mints a fresh PKI (ECDSA P-256).
func NewPKI(tb testing.TB) *PKI {
	tb.Helper()
	p := &PKI{}
	p.CA = mint(tb, "Meldeweg Test BA CA", nil, true)
	p.OtherCA = mint(tb, "Unrelated CA", nil, true)
	p.Server = mint(tb, "ba.test", &p.CA, false, "127.0.0.1", "::1", "localhost")
	p.Client = mint(tb, "Träger 12345", &p.CA, false)
	p.OtherClient = mint(tb, "Intruder", &p.OtherCA, false)
	p.CAPool = x509.NewCertPool()
	p.CAPool.AddCert(p.CA.Cert)
	p.OtherPool = x509.NewCertPool()
	p.OtherPool.AddCert(p.OtherCA.Cert)
	return p
}

func mint(tb testing.TB, cn string, parent *Cert, isCA bool, hosts ...string) Cert {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	if isCA {
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
		tmpl.KeyUsage |= x509.KeyUsageCertSign
	} else {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth}
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	signer, signCert := key, tmpl
	if parent != nil {
		signer, signCert = parent.Key, parent.Cert
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signCert, &key.PublicKey, signer)
	if err != nil {
		tb.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatal(err)
	}
	chain := [][]byte{der}
	return Cert{TLS: tls.Certificate{Certificate: chain, PrivateKey: key, Leaf: c}, Cert: c, Key: key}
}

// ClientTLS is the mTLS client configuration with the good client
// certificate and the BA CA pinned.
func (p *PKI) ClientTLS(tb testing.TB) *tls.Config {
	tb.Helper()
	c, err := client.ClientTLSConfig(p.Client.TLS, p.CAPool, "")
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// ServerTLS is the simulator's configuration: server certificate, client
// certificates required from CA.
func (p *PKI) ServerTLS(tb testing.TB) *tls.Config {
	tb.Helper()
	c, err := client.ServerTLSConfig(p.Server.TLS, p.CAPool)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// Sim is a running simulator.
type Sim struct {
	*basim.Server
	URL string // https://127.0.0.1:PORT
	Dir string
}

// Start runs a simulator on 127.0.0.1 with cfg (TLS and Dir are filled in
// when empty) and stops it when the test ends.
func Start(tb testing.TB, p *PKI, cfg basim.Config) *Sim {
	tb.Helper()
	if cfg.TLS == nil {
		cfg.TLS = p.ServerTLS(tb)
	}
	if cfg.Dir == "" {
		cfg.Dir = tb.TempDir()
	}
	s, err := basim.New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(l) }()
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			s.Close()
		}
		if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
			tb.Errorf("simulator: %v", err)
		}
	})
	return &Sim{Server: s, URL: "https://" + l.Addr().String(), Dir: cfg.Dir}
}
