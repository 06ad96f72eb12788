package cms

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"io"
	"os/exec"
	"testing"
	"time"

	"meldeweg.dev/meldeweg/transport/pki"
)

var allConditions = []error{ErrMalformed, ErrTruncated, ErrNotRecipient, ErrKeyDecrypt, ErrCiphertext, ErrContentAltered,
	ErrBadSignature, ErrSignerExpired, ErrSignerNotYetValid, ErrUntrustedSigner, ErrKeyUsage, ErrAlgorithm, ErrNotSigned, ErrNotEncrypted}

// otherKeySigner claims one certificate's public key but signs with
// another key: a "signature by another key".
type otherKeySigner struct {
	public crypto.PublicKey
	signer crypto.Signer
}

func (o otherKeySigner) Public() crypto.PublicKey { return o.public }
func (o otherKeySigner) Sign(r io.Reader, d []byte, opts crypto.SignerOpts) ([]byte, error) {
	return o.signer.Sign(r, d, opts)
}

func TestOpenFailures(t *testing.T) {
	in := xmlPayload(300_000)
	seal := func(t *testing.T, so SealOptions) []byte {
		t.Helper()
		var msg bytes.Buffer
		if err := Seal(context.Background(), &msg, bytes.NewReader(in), so); err != nil {
			t.Fatal(err)
		}
		return msg.Bytes()
	}
	rk, _ := testKeys(t)
	tests := []struct {
		name string
		// build returns the message and the options to open it with.
		build func(t *testing.T, p *testPKI) ([]byte, OpenOptions)
		want  error
	}{
		{"flipped ciphertext bit, compat", func(t *testing.T, p *testPKI) ([]byte, OpenOptions) {
			m := seal(t, p.sealOptions(ProfileCompat))
			m[len(m)/2] ^= 0x04
			return m, p.openOptions(ProfileCompat)
		}, ErrContentAltered},
		{"flipped ciphertext bit, bsi", func(t *testing.T, p *testPKI) ([]byte, OpenOptions) {
			m := seal(t, p.sealOptions(ProfileBSI))
			m[len(m)/2] ^= 0x04
			return m, p.openOptions(ProfileBSI)
		}, ErrCiphertext},
		{"flipped bit in the GCM tag", func(t *testing.T, p *testPKI) ([]byte, OpenOptions) {
			m := seal(t, p.sealOptions(ProfileBSI))
			m[len(m)-8-3] ^= 0x01 // the tag ends 8 bytes (four end-of-contents) before the end
			return m, p.openOptions(ProfileBSI)
		}, ErrCiphertext},
		{"wrong recipient", func(t *testing.T, p *testPKI) ([]byte, OpenOptions) {
			m := seal(t, p.sealOptions(ProfileBSI))
			other, err := p.ca.Issue(pki.Spec{CommonName: "someone else", Usage: pki.UsageEncrypt, Key: rk[3]})
			if err != nil {
				t.Fatal(err)
			}
			o := p.openOptions(ProfileBSI)
			o.Key, o.Cert = other.Key.(crypto.Decrypter), other.Cert
			return m, o
		}, ErrNotRecipient},
		{"expired signer", func(t *testing.T, p *testPKI) ([]byte, OpenOptions) {
			s, err := p.ca.Issue(pki.Spec{CommonName: "expired", Usage: pki.UsageSign, Key: rk[1],
				NotBefore: time.Now().AddDate(-2, 0, 0), NotAfter: time.Now().AddDate(-1, 0, 0)})
			if err != nil {
				t.Fatal(err)
			}
			so := p.sealOptions(ProfileCompat)
			so.Signer.Cert = s.Cert
			return seal(t, so), p.openOptions(ProfileCompat)
		}, ErrSignerExpired},
		{"not yet valid signer", func(t *testing.T, p *testPKI) ([]byte, OpenOptions) {
			s, err := p.ca.Issue(pki.Spec{CommonName: "future", Usage: pki.UsageSign, Key: rk[1],
				NotBefore: time.Now().Add(days(2)), NotAfter: time.Now().Add(days(400))})
			if err != nil {
				t.Fatal(err)
			}
			so := p.sealOptions(ProfileCompat)
			so.Signer.Cert = s.Cert
			return seal(t, so), p.openOptions(ProfileCompat)
		}, ErrSignerNotYetValid},
		{"untrusted CA", func(t *testing.T, p *testPKI) ([]byte, OpenOptions) {
			rogue, err := pki.NewCA(pki.Spec{CommonName: "Rogue CA", Key: rk[4]})
			if err != nil {
				t.Fatal(err)
			}
			s, err := rogue.Issue(pki.Spec{CommonName: "Traeger signer", Usage: pki.UsageSign, Key: rk[1]})
			if err != nil {
				t.Fatal(err)
			}
			so := p.sealOptions(ProfileBSI)
			so.Signer.Cert = s.Cert
			return seal(t, so), p.openOptions(ProfileBSI)
		}, ErrUntrustedSigner},
		{"signature by another key", func(t *testing.T, p *testPKI) ([]byte, OpenOptions) {
			so := p.sealOptions(ProfileBSI)
			so.Signer.Key = otherKeySigner{public: p.signer.Cert.PublicKey, signer: rk[3]}
			return seal(t, so), p.openOptions(ProfileBSI)
		}, ErrBadSignature},
		{"signer certificate without signing key usage", func(t *testing.T, p *testPKI) ([]byte, OpenOptions) {
			so := p.sealOptions(ProfileCompat)
			// The TLS client certificate has digitalSignature; an
			// encryption-only certificate does not.
			enc, err := p.ca.Issue(pki.Spec{CommonName: "encrypt only", Usage: pki.UsageEncrypt, Key: rk[1]})
			if err != nil {
				t.Fatal(err)
			}
			so.Signer.Cert = enc.Cert
			if err := Seal(context.Background(), io.Discard, bytes.NewReader(in), so); !errors.Is(err, ErrKeyUsage) {
				t.Fatalf("Seal with an encryption certificate: err = %v, want ErrKeyUsage", err)
			}
			return seal(t, p.sealOptions(ProfileCompat)), p.openOptions(ProfileCompat)
		}, nil},
		{"truncated in the middle", func(t *testing.T, p *testPKI) ([]byte, OpenOptions) {
			m := seal(t, p.sealOptions(ProfileCompat))
			return m[:len(m)/2], p.openOptions(ProfileCompat)
		}, ErrTruncated},
		{"truncated by one byte", func(t *testing.T, p *testPKI) ([]byte, OpenOptions) {
			m := seal(t, p.sealOptions(ProfileBSI))
			return m[:len(m)-1], p.openOptions(ProfileBSI)
		}, ErrTruncated},
		{"truncated after the ciphertext", func(t *testing.T, p *testPKI) ([]byte, OpenOptions) {
			m := seal(t, p.sealOptions(ProfileBSI))
			return m[:len(m)-30], p.openOptions(ProfileBSI)
		}, ErrTruncated},
		{"trailing garbage", func(t *testing.T, p *testPKI) ([]byte, OpenOptions) {
			m := seal(t, p.sealOptions(ProfileCompat))
			return append(m, 0x30, 0x00), p.openOptions(ProfileCompat)
		}, ErrMalformed},
		{"bsi refuses a compat message", func(t *testing.T, p *testPKI) ([]byte, OpenOptions) {
			return seal(t, p.sealOptions(ProfileCompat)), p.openOptions(ProfileBSI)
		}, ErrAlgorithm},
		{"compat accepts a bsi message", func(t *testing.T, p *testPKI) ([]byte, OpenOptions) {
			return seal(t, p.sealOptions(ProfileBSI)), p.openOptions(ProfileCompat)
		}, nil},
		{"not a CMS message", func(t *testing.T, p *testPKI) ([]byte, OpenOptions) {
			return []byte("<xml>plain</xml>"), p.openOptions(ProfileCompat)
		}, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newTestPKI(t, "rsa")
			msg, opts := tt.build(t, p)
			var out bytes.Buffer
			_, err := Open(context.Background(), &out, bytes.NewReader(msg), opts)
			checkCondition(t, err, tt.want)
			if tt.want == nil && !bytes.Equal(out.Bytes(), in) {
				t.Error("content differs")
			}
		})
	}
}

// checkCondition asserts err wraps want and no other condition.
func checkCondition(t *testing.T, err, want error) {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Fatalf("err = %v, want success", err)
		}
		return
	}
	if !errors.Is(err, want) {
		t.Fatalf("err = %v, want %v", err, want)
	}
	for _, c := range allConditions {
		if c != want && errors.Is(err, c) {
			t.Errorf("err = %v also matches %v", err, c)
		}
	}
	t.Logf("%v", err)
}

// TestOpenRefusesWeakOpenSSLMessages: what openssl can still be told to
// produce (SHA-1 signatures, 3DES), no profile accepts.
func TestOpenRefusesWeakOpenSSLMessages(t *testing.T) {
	requireOpenSSL(t)
	p := newTestPKI(t, "rsa")
	inPath := writeTemp(t, p.dir, "in.xml", xmlPayload(10_000))
	tests := []struct {
		name       string
		md, cipher string
		want       error
	}{
		{"SHA-1 signature", "sha1", "-aes-256-cbc", ErrAlgorithm},
		{"3DES encryption", "sha256", "-des3", ErrAlgorithm},
		{"AES-128-CBC is not in a profile", "sha256", "-aes-128-cbc", ErrAlgorithm},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			signed := opensslCmd(t, nil, "cms", "-sign", "-binary", "-nodetach", "-md", tt.md, "-outform", "DER", "-in", inPath, "-signer", p.signCert, "-inkey", p.signKey)
			signedPath := writeTemp(t, p.dir, "signed.der", signed)
			msg := opensslCmd(t, nil, "cms", "-encrypt", "-binary", "-outform", "DER", tt.cipher, "-in", signedPath, p.recCert)
			_, err := Open(context.Background(), io.Discard, bytes.NewReader(msg), p.openOptions(ProfileCompat))
			checkCondition(t, err, tt.want)
		})
	}
	t.Run("signed only", func(t *testing.T) {
		signed := opensslCmd(t, nil, "cms", "-sign", "-binary", "-nodetach", "-md", "sha256", "-outform", "DER", "-in", inPath, "-signer", p.signCert, "-inkey", p.signKey)
		_, err := Open(context.Background(), io.Discard, bytes.NewReader(signed), p.openOptions(ProfileCompat))
		checkCondition(t, err, ErrNotEncrypted)
	})
	t.Run("encrypted only", func(t *testing.T) {
		msg := opensslCmd(t, nil, "cms", "-encrypt", "-binary", "-outform", "DER", "-aes-256-cbc", "-in", inPath, p.recCert)
		_, err := Open(context.Background(), io.Discard, bytes.NewReader(msg), p.openOptions(ProfileCompat))
		checkCondition(t, err, ErrNotSigned)
	})
	_ = exec.Command
	_ = x509.NewCertPool
}
