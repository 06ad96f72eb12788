package cms

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math/big"
	"time"
)

// OpenOptions configures Open.
type OpenOptions struct {
	// Key is the recipient's private key (RSA). Required.
	Key crypto.Decrypter
	// Cert is the recipient's certificate; Open looks for the
	// RecipientInfo that names it. Required.
	Cert *x509.Certificate
	// Trust holds the trust anchors the signer's chain must lead to.
	// Required: Open never accepts a signature it cannot anchor.
	Trust *x509.CertPool
	// Profile is the floor of algorithms accepted. ProfileCompat accepts
	// the algorithms of both profiles; ProfileBSI refuses AES-CBC, RSA
	// PKCS#1 v1.5 key transport and PKCS#1 v1.5 signatures. Defaults to
	// ProfileCompat. No profile accepts SHA-1, MD5, DES, 3DES or RC2.
	Profile Profile
	// Now is the time certificates are checked at. Defaults to time.Now().
	Now time.Time
}

// SignerInfo describes the verified signer of an opened message.
type SignerInfo struct {
	// Certificate is the signer's certificate; Chains the verified paths
	// to a trust anchor.
	Certificate *x509.Certificate
	Chains      [][]*x509.Certificate
	// SigningTime is the signed signingTime attribute; zero if absent.
	SigningTime time.Time
	// ContentEncryption, KeyTransport and Signature name the algorithms
	// the message used, e.g. "AES-256-GCM", "RSAES-OAEP-SHA256",
	// "RSASSA-PSS-SHA256".
	ContentEncryption, KeyTransport, Signature string
	// Compressed tells whether the content was CompressedData.
	Compressed bool
	// Bytes is the number of content bytes written to dst.
	Bytes int64
}

// Subject returns the signer certificate's subject.
func (s SignerInfo) Subject() string { return s.Certificate.Subject.String() }

// Serial returns the signer certificate's serial number.
func (s SignerInfo) Serial() *big.Int { return s.Certificate.SerialNumber }

func (o OpenOptions) validate() error {
	if _, err := ParseProfile(string(o.Profile)); err != nil {
		return fmt.Errorf("OpenOptions.Profile: %w", err)
	}
	if o.Key == nil || o.Cert == nil {
		return errors.New("OpenOptions: Key and Cert are required")
	}
	if !publicKeysEqual(o.Key.Public(), o.Cert.PublicKey) {
		return errors.New("OpenOptions: Key does not belong to Cert")
	}
	if o.Trust == nil {
		return errors.New("OpenOptions.Trust: trust anchors are required")
	}
	return nil
}

// Open decrypts a message made by Seal or by openssl cms (sign, then
// encrypt; DER or indefinite-length BER, e.g. from -stream), verifies the
// signature and the signer's chain to opts.Trust at opts.Now (validity
// period, key usage), and writes the content to dst, uncompressing
// CompressedData.
//
// Accepted nesting: EnvelopedData or AuthEnvelopedData whose content is
// either id-data holding a ContentInfo(SignedData) (Seal, openssl) or
// SignedData directly; the SignedData's eContent is id-data or
// CompressedData (zlib).
//
// Open streams, so the content reaches dst BEFORE the GCM tag and the
// signature (both at the end of the message) are checked. On error, dst
// holds unauthenticated bytes and MUST be discarded; OpenFile writes to a
// temporary file and renames it only on success. Every error wraps one of
// the Err* conditions of this package.
func Open(ctx context.Context, dst io.Writer, src io.Reader, opts OpenOptions) (SignerInfo, error) {
	if opts.Profile == "" {
		opts.Profile = ProfileCompat
	}
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	if err := opts.validate(); err != nil {
		return SignerInfo{}, err
	}
	o := &opener{opts: opts}
	defer o.s.release()
	return o.open(ctx, dst, ctxReader{ctx, src})
}

type opener struct {
	opts OpenOptions
	info SignerInfo
	s    scratch // the call's buffers
}
