package pki

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"software.sslmate.com/src/go-pkcs12"
)

// ErrWrongPassword: the PKCS#12 file's password is wrong.
var ErrWrongPassword = errors.New("wrong password")

// ErrKeyMismatch: the private key does not belong to the certificate.
var ErrKeyMismatch = errors.New("private key does not belong to the certificate")

// Password names where a key password comes from. At most one field is
// set; the zero Password is the empty password.
type Password struct {
	// Env is the name of an environment variable holding the password.
	Env string
	// File is a file whose content is the password; one trailing newline
	// is removed. It must be accessible by its owner only (chmod 600),
	// else Value returns a *FileModeError.
	File string
}

// Value returns the password. An unset environment variable is an error,
// an empty one is the empty password.
func (p Password) Value() (string, error) {
	switch {
	case p.Env != "" && p.File != "":
		return "", errors.New("password: give an environment variable or a file, not both")
	case p.Env != "":
		v, ok := os.LookupEnv(p.Env)
		if !ok {
			return "", fmt.Errorf("password: environment variable %s is not set", p.Env)
		}
		return v, nil
	case p.File != "":
		b, err := readSecret(p.File, "password file")
		if err != nil {
			return "", fmt.Errorf("password: %w", err)
		}
		s := strings.TrimSuffix(string(b), "\n")
		return strings.TrimSuffix(s, "\r"), nil
	}
	return "", nil
}

// Identity is a private key with its certificate and chain.
type Identity struct {
	Key  crypto.Signer
	Cert *x509.Certificate
	// Chain holds the other certificates found with it (intermediates,
	// possibly the root), leaf excluded.
	Chain []*x509.Certificate
}

// IsPKCS12 tells by the file name whether path is a PKCS#12 file.
func IsPKCS12(path string) bool {
	ext := strings.ToLower(filepath.Ext(path))
	return ext == ".p12" || ext == ".pfx"
}

// LoadIdentity loads a key and its certificate. With a PKCS#12 file as
// certPath (or keyPath), the other path may be empty and pw unlocks it.
// With PEM, keyPath may be empty when the key is in certPath. The key must
// belong to the certificate (ErrKeyMismatch otherwise). A file that holds
// the key (PEM key file, or a PKCS#12 file) must be accessible by its
// owner only, as ssh demands of its keys: one that group or others may
// read or write gives a *FileModeError naming the file and the chmod that
// fixes it. Certificate files may be readable by all.
func LoadIdentity(certPath, keyPath string, pw Password) (*Identity, error) {
	p12 := ""
	switch {
	case IsPKCS12(certPath):
		p12 = certPath
	case IsPKCS12(keyPath):
		p12 = keyPath
	}
	if p12 != "" {
		return loadPKCS12(p12, pw)
	}
	if certPath == "" {
		return nil, errors.New("no certificate file given")
	}
	certs, err := LoadCertificates(certPath)
	if err != nil {
		return nil, err
	}
	if keyPath == "" {
		keyPath = certPath
	}
	key, err := loadPEMKey(keyPath)
	if err != nil {
		return nil, err
	}
	// The leaf is the certificate the key belongs to, wherever it stands.
	for i, c := range certs {
		if publicKeysEqual(key.Public(), c.PublicKey) {
			chain := append(append([]*x509.Certificate(nil), certs[:i]...), certs[i+1:]...)
			return &Identity{Key: key, Cert: c, Chain: chain}, nil
		}
	}
	return nil, fmt.Errorf("%s and %s: %w", keyPath, certPath, ErrKeyMismatch)
}

func loadPKCS12(path string, pw Password) (*Identity, error) {
	data, err := readSecret(path, "PKCS#12 file")
	if err != nil {
		return nil, err
	}
	pass, err := pw.Value()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	key, cert, chain, err := pkcs12.DecodeChain(data, pass)
	if errors.Is(err, pkcs12.ErrIncorrectPassword) {
		return nil, fmt.Errorf("%s: %w", path, ErrWrongPassword)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: not a readable PKCS#12 file: %w", path, err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%s: unsupported key type %T", path, key)
	}
	if !publicKeysEqual(signer.Public(), cert.PublicKey) {
		return nil, fmt.Errorf("%s: %w", path, ErrKeyMismatch)
	}
	return &Identity{Key: signer, Cert: cert, Chain: chain}, nil
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	k, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && k.Equal(b)
}

// LoadCertificates reads every certificate in a PEM file (CERTIFICATE
// blocks, other blocks ignored) or a single DER certificate.
func LoadCertificates(path string) ([]*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if !bytes.Contains(data, []byte("-----BEGIN")) {
		c, err := x509.ParseCertificate(data)
		if err != nil {
			return nil, fmt.Errorf("%s: neither PEM nor a DER certificate: %w", path, err)
		}
		return []*x509.Certificate{c}, nil
	}
	var certs []*x509.Certificate
	for n := 1; ; n++ {
		var blk *pem.Block
		blk, data = pem.Decode(data)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: PEM block %d: %w", path, n, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("%s: no CERTIFICATE in the file", path)
	}
	return certs, nil
}

// CertPool loads the certificates in the files into a pool (trust anchors).
func CertPool(paths ...string) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	for _, p := range paths {
		certs, err := LoadCertificates(p)
		if err != nil {
			return nil, err
		}
		for _, c := range certs {
			pool.AddCert(c)
		}
	}
	return pool, nil
}

func loadPEMKey(path string) (crypto.Signer, error) {
	data, err := readSecret(path, "private key")
	if err != nil {
		return nil, err
	}
	for {
		var blk *pem.Block
		blk, data = pem.Decode(data)
		if blk == nil {
			return nil, fmt.Errorf("%s: no private key (PEM \"PRIVATE KEY\" block) in the file", path)
		}
		var key any
		switch blk.Type {
		case "PRIVATE KEY":
			key, err = x509.ParsePKCS8PrivateKey(blk.Bytes)
		case "RSA PRIVATE KEY":
			if _, enc := blk.Headers["DEK-Info"]; enc {
				return nil, fmt.Errorf("%s: encrypted PEM keys are not supported; use a PKCS#12 file with a password", path)
			}
			key, err = x509.ParsePKCS1PrivateKey(blk.Bytes)
		case "EC PRIVATE KEY":
			if _, enc := blk.Headers["DEK-Info"]; enc {
				return nil, fmt.Errorf("%s: encrypted PEM keys are not supported; use a PKCS#12 file with a password", path)
			}
			key, err = x509.ParseECPrivateKey(blk.Bytes)
		case "ENCRYPTED PRIVATE KEY":
			return nil, fmt.Errorf("%s: encrypted PKCS#8 keys are not supported; use a PKCS#12 file with a password", path)
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", path, blk.Type, err)
		}
		switch k := key.(type) {
		case *rsa.PrivateKey:
			return k, nil
		case *ecdsa.PrivateKey:
			return k, nil
		case ed25519.PrivateKey:
			return k, nil
		}
		return nil, fmt.Errorf("%s: unsupported key type %T", path, key)
	}
}

// ExpiryStatus is a certificate's standing at a point in time.
type ExpiryStatus string

const (
	// StatusValid: valid, and for longer than the warning period.
	StatusValid ExpiryStatus = "valid"
	// StatusExpiring: valid, but it expires within the warning period.
	StatusExpiring ExpiryStatus = "expiring"
	// StatusExpired: NotAfter has passed.
	StatusExpired ExpiryStatus = "expired"
	// StatusNotYetValid: NotBefore lies in the future.
	StatusNotYetValid ExpiryStatus = "not-yet-valid"
)

// ExpiryStatuses lists every ExpiryStatus.
func ExpiryStatuses() []ExpiryStatus {
	return []ExpiryStatus{StatusValid, StatusExpiring, StatusExpired, StatusNotYetValid}
}

// DefaultWarn is the warning period of "certs check": 60 days.
const DefaultWarn = 60 * 24 * time.Hour

// Expiry is the result of CheckExpiry.
type Expiry struct {
	Status ExpiryStatus
	// DaysLeft is the number of whole days until NotAfter (negative once
	// expired: -3 means expired three days ago).
	DaysLeft int
}

// CheckExpiry classifies c at now with a warning period warn.
func CheckExpiry(c *x509.Certificate, now time.Time, warn time.Duration) Expiry {
	left := c.NotAfter.Sub(now)
	days := int(left / (24 * time.Hour))
	if left < 0 {
		days = -int((-left + 24*time.Hour - 1) / (24 * time.Hour))
	}
	e := Expiry{DaysLeft: days}
	switch {
	case now.After(c.NotAfter):
		e.Status = StatusExpired
	case now.Before(c.NotBefore):
		e.Status = StatusNotYetValid
	case left <= warn:
		e.Status = StatusExpiring
	default:
		e.Status = StatusValid
	}
	return e
}
