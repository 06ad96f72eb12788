package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"

	"meldeweg.dev/meldeweg/transport/atomicfile"

	"software.sslmate.com/src/go-pkcs12"
)

// TestOrganization marks every certificate minted here as test-only.
const TestOrganization = "MELDEWEG TEST PKI - NOT FOR PRODUCTION"

// Usage is what a minted certificate is for.
type Usage string

const (
	// UsageCA: a root CA (keyCertSign, cRLSign, CA:TRUE).
	UsageCA Usage = "ca"
	// UsageClient: a TLS client certificate.
	UsageClient Usage = "client"
	// UsageServer: a TLS server certificate.
	UsageServer Usage = "server"
	// UsageSign: a CMS signing certificate.
	UsageSign Usage = "sign"
	// UsageEncrypt: a CMS encryption (key transport) certificate.
	UsageEncrypt Usage = "encrypt"
)

// Spec describes a certificate to mint.
type Spec struct {
	// CommonName of the subject; O is always TestOrganization.
	CommonName string
	Usage      Usage
	// DNSNames and IPs are SANs (server certificates).
	DNSNames []string
	IPs      []net.IP
	// NotBefore and NotAfter default to one hour ago and one year on.
	NotBefore, NotAfter time.Time
	// Key is the key to certify. Defaults to a fresh key of KeyType.
	Key crypto.Signer
	// KeyType is "rsa" (default) or "ecdsa" (P-256).
	KeyType string
	// RSABits defaults to 2048.
	RSABits int
}

// CA is a certificate authority that can mint test certificates.
type CA struct {
	Cert *x509.Certificate
	Key  crypto.Signer
}

// NewKey generates a key: "rsa" (bits, default 2048) or "ecdsa" (P-256).
func NewKey(keyType string, bits int) (crypto.Signer, error) {
	switch keyType {
	case "", "rsa":
		if bits == 0 {
			bits = 2048
		}
		return rsa.GenerateKey(rand.Reader, bits)
	case "ecdsa":
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	return nil, fmt.Errorf("unknown key type %q: expected rsa or ecdsa", keyType)
}

// NewCA mints a self-signed root CA.
func NewCA(s Spec) (*CA, error) {
	s.Usage = UsageCA
	id, err := mint(s, nil)
	if err != nil {
		return nil, err
	}
	return &CA{Cert: id.Cert, Key: id.Key}, nil
}

// Issue mints a certificate signed by ca.
func (ca *CA) Issue(s Spec) (*Identity, error) {
	if s.Usage == UsageCA || s.Usage == "" {
		return nil, errors.New("Issue: Spec.Usage must be client, server, sign or encrypt")
	}
	return mint(s, ca)
}

func mint(s Spec, ca *CA) (*Identity, error) {
	key := s.Key
	if key == nil {
		var err error
		if key, err = NewKey(s.KeyType, s.RSABits); err != nil {
			return nil, err
		}
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, err
	}
	now := time.Now()
	if s.NotBefore.IsZero() {
		s.NotBefore = now.Add(-time.Hour)
	}
	if s.NotAfter.IsZero() {
		s.NotAfter = now.AddDate(1, 0, 0)
	}
	t := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: s.CommonName, Organization: []string{TestOrganization}, OrganizationalUnit: []string{"test only"}},
		NotBefore:    s.NotBefore,
		NotAfter:     s.NotAfter,
		DNSNames:     s.DNSNames,
		IPAddresses:  s.IPs,
	}
	switch s.Usage {
	case UsageCA:
		t.IsCA, t.BasicConstraintsValid = true, true
		t.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign
	case UsageClient:
		t.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment
		t.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	case UsageServer:
		t.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment
		t.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	case UsageSign:
		t.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment
		t.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection}
	case UsageEncrypt:
		t.KeyUsage = x509.KeyUsageKeyEncipherment
		t.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection}
	default:
		return nil, fmt.Errorf("unknown usage %q", s.Usage)
	}
	parent, signer := t, key
	var chain []*x509.Certificate
	if ca != nil {
		parent, signer = ca.Cert, ca.Key
		chain = []*x509.Certificate{ca.Cert}
	}
	der, err := x509.CreateCertificate(rand.Reader, t, parent, key.Public(), signer)
	if err != nil {
		return nil, fmt.Errorf("minting %q: %w", s.CommonName, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &Identity{Key: key, Cert: cert, Chain: chain}, nil
}

// InitOptions configures Init.
type InitOptions struct {
	// RSABits is the size of every RSA key. Defaults to 2048.
	RSABits int
	// Password protects the .p12 files. Defaults to "meldeweg-test".
	Password string
	// Force overwrites an existing test PKI in dir. Defaults to false:
	// Init refuses a directory that already holds ca.pem.
	Force bool
}

// TestPKIFiles are the identities Init writes (file stem, common name,
// usage), in the order of the package documentation.
var TestPKIFiles = []struct {
	Stem       string
	CommonName string
	Usage      Usage
}{
	{"traeger-client", "Traeger TLS client (test)", UsageClient},
	{"traeger-sign", "Traeger CMS signing (test)", UsageSign},
	{"traeger-encrypt", "Traeger CMS encryption (test)", UsageEncrypt},
	{"emaw-client", "eMaw provider TLS client (test)", UsageClient},
	{"emaw-sign", "eMaw provider CMS signing (test)", UsageSign},
	{"emaw-encrypt", "eMaw provider CMS encryption (test)", UsageEncrypt},
	{"ba-server", "localhost", UsageServer},
	{"ba-sign", "BA CMS signing (test)", UsageSign},
	{"ba-encrypt", "BA CMS encryption (test)", UsageEncrypt},
}

const readme = `MELDEWEG TEST PKI - NOT FOR PRODUCTION

Written by "meldeweg pki init". Every key here is unprotected or protected
by the password in p12-password.txt, and every certificate names the
organisation "` + TestOrganization + `".
Use these files for the demo and the tests only; production certificates
come from the Bundesagentur für Arbeit.

ca.pem / ca.key              test root CA (the trust anchor)
*-client.{pem,key,p12}       TLS client certificates
ba-server.{pem,key,p12}      BA server certificate (localhost, 127.0.0.1, ::1)
*-sign.{pem,key,p12}         CMS signing certificates
*-encrypt.{pem,key,p12}      CMS encryption certificates
p12-password.txt             password of the .p12 files
`

// ErrExists: Init found a test PKI in the directory and Force is false.
var ErrExists = errors.New("a test PKI already exists here")

// Init writes the test PKI described in the package documentation to dir
// (created if missing). Files are written whole or not at all; an existing
// PKI is kept unless opts.Force.
func Init(dir string, opts InitOptions) error {
	if opts.Password == "" {
		opts.Password = "meldeweg-test"
	}
	if _, err := os.Stat(filepath.Join(dir, "ca.pem")); err == nil && !opts.Force {
		return fmt.Errorf("%s: %w", dir, ErrExists)
	}
	// 0700: the directory holds private keys and their password.
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	ca, err := NewCA(Spec{CommonName: "Meldeweg Test Root CA", RSABits: opts.RSABits, NotAfter: time.Now().AddDate(10, 0, 0)})
	if err != nil {
		return err
	}
	files := map[string][]byte{
		"README.txt":       []byte(readme),
		"p12-password.txt": []byte(opts.Password + "\n"),
		"ca.pem":           pemCert(ca.Cert),
	}
	caKey, err := pemKey(ca.Key)
	if err != nil {
		return err
	}
	files["ca.key"] = caKey
	for _, f := range TestPKIFiles {
		s := Spec{CommonName: f.CommonName, Usage: f.Usage, RSABits: opts.RSABits}
		if f.Usage == UsageServer {
			s.DNSNames = []string{"localhost"}
			s.IPs = []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1")}
		}
		id, err := ca.Issue(s)
		if err != nil {
			return err
		}
		files[f.Stem+".pem"] = append(pemCert(id.Cert), pemCert(ca.Cert)...)
		if files[f.Stem+".key"], err = pemKey(id.Key); err != nil {
			return err
		}
		p12, err := pkcs12.Modern.Encode(id.Key, id.Cert, []*x509.Certificate{ca.Cert}, opts.Password)
		if err != nil {
			return fmt.Errorf("%s.p12: %w", f.Stem, err)
		}
		files[f.Stem+".p12"] = p12
	}
	for name, data := range files {
		mode := os.FileMode(0o644)
		switch filepath.Ext(name) {
		case ".key", ".p12", ".txt":
			mode = 0o600
		}
		if name == "README.txt" {
			mode = 0o644
		}
		if err := atomicfile.WriteBytes(filepath.Join(dir, name), mode, data); err != nil {
			return err
		}
	}
	return nil
}

func pemCert(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

func pemKey(k crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// WritePEM writes an identity as certificate (plus chain) and key PEM
// files, for tests that mint their own certificates.
func WritePEM(id *Identity, certPath, keyPath string) error {
	c := pemCert(id.Cert)
	for _, x := range id.Chain {
		c = append(c, pemCert(x)...)
	}
	if err := atomicfile.WriteBytes(certPath, 0o644, c); err != nil {
		return err
	}
	k, err := pemKey(id.Key)
	if err != nil {
		return err
	}
	return atomicfile.WriteBytes(keyPath, 0o600, k)
}
