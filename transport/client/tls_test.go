package client_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"meldeweg.dev/meldeweg/basim"
	"meldeweg.dev/meldeweg/basim/simtest"
	"meldeweg.dev/meldeweg/transport/baapi"
	"meldeweg.dev/meldeweg/transport/client"
)

// opensslFingerprint is openssl's SHA-256 fingerprint of c, the referee
// for the one a TLSError names.
func opensslFingerprint(t *testing.T, c *x509.Certificate) string {
	t.Helper()
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl not installed")
	}
	path := filepath.Join(t.TempDir(), "cert.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("openssl", "x509", "-noout", "-fingerprint", "-sha256", "-in", path).Output()
	if err != nil {
		t.Fatalf("openssl: %v", err)
	}
	_, fp, ok := strings.Cut(strings.TrimSpace(string(out)), "=")
	if !ok {
		t.Fatalf("openssl printed %q", out)
	}
	return fp
}

// expiredServer starts a TLS server on loopback whose certificate, issued
// by the right CA for 127.0.0.1, expired an hour ago.
func expiredServer(t *testing.T, p *simtest.PKI) (*httptest.Server, *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "expired.ba.test"},
		NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.CA.Cert, &key.PublicKey, p.CA.Key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	cfg, err := client.ServerTLSConfig(tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, p.CAPool)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.NotFoundHandler())
	srv.TLS = cfg
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv, leaf
}

// TestTLSFailureNamesTheCertificate is the mTLS table for refusals: each
// is final after one attempt, and its error names the certificate
// concerned (subject, issuer, the SHA-256 fingerprint openssl computes)
// and what was expected (server name, pinned CA).
func TestTLSFailureNamesTheCertificate(t *testing.T) {
	t.Parallel()
	p := simtest.NewPKI(t)
	s := simtest.Start(t, p, basim.Config{})
	expired, expiredCert := expiredServer(t, p)

	good := p.ClientTLS(t)
	unpinned := good.Clone()
	unpinned.RootCAs = p.OtherPool
	wrongName := good.Clone()
	wrongName.ServerName = "not-the-ba.example"
	otherClient := good.Clone()
	otherClient.Certificates = []tls.Certificate{p.OtherClient.TLS}
	noCert := good.Clone()
	noCert.Certificates = nil

	serverFP := opensslFingerprint(t, p.Server.Cert)
	// list: the server's refusal of a client certificate comes, with
	// TLS 1.3, after the client's side of the handshake; an upload that
	// is already writing its body may first see the connection break
	// (retried), so those cases ask with a GET (see the package's Limits).
	tests := []struct {
		name string
		url  string
		cfg  *tls.Config
		list bool
		want []string
	}{
		{"server CA not pinned", s.URL, unpinned, false, []string{
			"server's certificate (subject CN=ba.test, issuer CN=Meldeweg Test BA CA, SHA-256 fingerprint " + serverFP + ")",
			"not signed by a pinned CA", `for "127.0.0.1" issued by the pinned CA CN=Unrelated CA`}},
		{"server name mismatch", s.URL, wrongName, false, []string{
			"SHA-256 fingerprint " + serverFP, `not valid for "not-the-ba.example" (it names localhost, 127.0.0.1, ::1)`,
			"pinned CA CN=Meldeweg Test BA CA"}},
		{"expired server certificate", expired.URL, good, false, []string{
			"subject CN=expired.ba.test, issuer CN=Meldeweg Test BA CA, SHA-256 fingerprint " + opensslFingerprint(t, expiredCert),
			"expired"}},
		{"client certificate from another CA", s.URL, otherClient, true, []string{
			"server refused the handshake", "subject CN=Intruder, issuer CN=Unrelated CA, SHA-256 fingerprint " + opensslFingerprint(t, p.OtherClient.Cert)}},
		{"no client certificate", s.URL, noCert, true, []string{"server refused the handshake", "presented no client certificate"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, log := newClient(t, tc.url, tc.cfg, nil)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			var err error
			if tc.list {
				_, err = c.List(ctx, baapi.ChannelEmaw)
			} else {
				_, err = c.Upload(ctx, baapi.ChannelEmaw, "m-tls", client.ContentTypeSealed, client.BytesBody([]byte("x")))
			}
			var te *client.TLSError
			if !errors.As(err, &te) || !errors.Is(err, client.ErrRejectedTLS) {
				t.Fatalf("got %v, want a *TLSError wrapping ErrRejectedTLS", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not say %q", err, w)
				}
			}
			if got := log.n(); got != 1 {
				t.Errorf("attempts: got %d, want 1 (TLS refusals are final)", got)
			}
		})
	}
}
