package cms

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"meldeweg.dev/meldeweg/transport/pki"
)

// Key generation dominates test time, so a few keys are made once per
// process; certificates are minted per test.
var (
	keysOnce sync.Once
	rsaKeys  []crypto.Signer
	ecKey    crypto.Signer
	keysErr  error
)

func testKeys(t testing.TB) ([]crypto.Signer, crypto.Signer) {
	t.Helper()
	keysOnce.Do(func() {
		for i := 0; i < 5; i++ {
			k, err := pki.NewKey("rsa", 2048)
			if err != nil {
				keysErr = err
				return
			}
			rsaKeys = append(rsaKeys, k)
		}
		ecKey, keysErr = pki.NewKey("ecdsa", 0)
	})
	if keysErr != nil {
		t.Fatal(keysErr)
	}
	return rsaKeys, ecKey
}

// testPKI is a CA with a signer and a recipient, minted per test, with
// PEM files in a temporary directory for openssl.
type testPKI struct {
	dir      string
	ca       *pki.CA
	signer   *pki.Identity
	recip    *pki.Identity
	caPath   string
	signCert string
	signKey  string
	recCert  string
	recKey   string
}

func newTestPKI(t testing.TB, signKeyType string) *testPKI {
	t.Helper()
	rk, ek := testKeys(t)
	dir := t.TempDir()
	ca, err := pki.NewCA(pki.Spec{CommonName: "Test CA", Key: rk[0]})
	if err != nil {
		t.Fatal(err)
	}
	sk := rk[1]
	if signKeyType == "ecdsa" {
		sk = ek
	}
	signer, err := ca.Issue(pki.Spec{CommonName: "Traeger signer", Usage: pki.UsageSign, Key: sk})
	if err != nil {
		t.Fatal(err)
	}
	recip, err := ca.Issue(pki.Spec{CommonName: "BA encryption", Usage: pki.UsageEncrypt, Key: rk[2]})
	if err != nil {
		t.Fatal(err)
	}
	p := &testPKI{dir: dir, ca: ca, signer: signer, recip: recip,
		caPath: filepath.Join(dir, "ca.pem"), signCert: filepath.Join(dir, "sign.pem"), signKey: filepath.Join(dir, "sign.key"),
		recCert: filepath.Join(dir, "enc.pem"), recKey: filepath.Join(dir, "enc.key")}
	if err := pki.WritePEM(&pki.Identity{Key: ca.Key, Cert: ca.Cert}, p.caPath, filepath.Join(dir, "ca.key")); err != nil {
		t.Fatal(err)
	}
	// openssl wants the leaf alone in -signer/-recip files.
	if err := pki.WritePEM(&pki.Identity{Key: signer.Key, Cert: signer.Cert}, p.signCert, p.signKey); err != nil {
		t.Fatal(err)
	}
	if err := pki.WritePEM(&pki.Identity{Key: recip.Key, Cert: recip.Cert}, p.recCert, p.recKey); err != nil {
		t.Fatal(err)
	}
	return p
}

func (p *testPKI) sealOptions(profile Profile) SealOptions {
	return SealOptions{Signer: Signer{Key: p.signer.Key, Cert: p.signer.Cert}, Recipients: []*x509.Certificate{p.recip.Cert}, Profile: profile}
}

func (p *testPKI) openOptions(profile Profile) OpenOptions {
	pool := x509.NewCertPool()
	pool.AddCert(p.ca.Cert)
	return OpenOptions{Key: p.recip.Key.(crypto.Decrypter), Cert: p.recip.Cert, Trust: pool, Profile: profile}
}

// xmlPayload is compressible XML-like test content of about n bytes.
func xmlPayload(n int) []byte {
	var b bytes.Buffer
	b.WriteString("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Lieferung>\n")
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "<Fall nr=\"%d\"><BG>%05dBG%07d</BG><Betrag>%d.%02d</Betrag></Fall>\n", i, i%99991, i*7919%9999999, i*13%5000, i%100)
	}
	b.WriteString("</Lieferung>\n")
	return b.Bytes()
}

func writeTemp(t testing.TB, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// opensslCmd runs openssl and fails the test with its stderr.
func opensslCmd(t testing.TB, stdin io.Reader, args ...string) []byte {
	t.Helper()
	cmd := exec.Command("openssl", args...)
	cmd.Stdin = stdin
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("openssl %v: %v\n%s", args, err, errb.String())
	}
	return out.Bytes()
}

func requireOpenSSL(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl not installed")
	}
}

// anHourAgo and such keep validity tests readable.
func days(n int) time.Duration { return time.Duration(n) * 24 * time.Hour }
