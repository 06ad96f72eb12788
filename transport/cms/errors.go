package cms

import (
	"errors"
	"fmt"
	"math/big"
	"time"
)

// Conditions Open reports. Every error Open returns wraps exactly one of
// them, so callers (and the CLI) branch with errors.Is; the typed errors
// below carry the evidence.
var (
	// ErrMalformed: the input is not the CMS structure expected (bad BER,
	// wrong content type, missing field, trailing data).
	ErrMalformed = errors.New("malformed CMS message")
	// ErrTruncated: the input ends before the message does.
	ErrTruncated = errors.New("truncated CMS message")
	// ErrNotRecipient: no RecipientInfo names the certificate given to
	// Open; the message was encrypted for someone else.
	ErrNotRecipient = errors.New("message is not encrypted for this certificate")
	// ErrKeyDecrypt: a RecipientInfo names our certificate but the private
	// key cannot unwrap the content-encryption key (wrong key for the
	// certificate, or a damaged encryptedKey).
	ErrKeyDecrypt = errors.New("cannot decrypt the content-encryption key")
	// ErrCiphertext: the ciphertext failed its integrity check (AES-GCM tag
	// mismatch, or bad CBC padding): it was damaged or tampered with.
	ErrCiphertext = errors.New("ciphertext damaged or tampered with")
	// ErrContentAltered: the content's digest differs from the signed
	// messageDigest: altered after signing or damaged on the way (with the
	// compat profile a flipped ciphertext bit shows up here, because
	// AES-CBC has no integrity check of its own).
	ErrContentAltered = errors.New("content does not match its signature (altered or damaged)")
	// ErrBadSignature: the digest matches but the signature does not
	// verify with the public key of the certificate the SignerInfo names
	// (signed by another key).
	ErrBadSignature = errors.New("signature does not verify with the signer certificate's key")
	// ErrSignerExpired: the signer certificate (or a certificate in its
	// chain) was no longer valid at the verification time.
	ErrSignerExpired = errors.New("signer certificate has expired")
	// ErrSignerNotYetValid: the signer certificate (or a certificate in its
	// chain) was not yet valid at the verification time.
	ErrSignerNotYetValid = errors.New("signer certificate is not yet valid")
	// ErrUntrustedSigner: the signer's chain does not lead to any of the
	// trust anchors.
	ErrUntrustedSigner = errors.New("signer certificate is not issued by a trusted CA")
	// ErrKeyUsage: a certificate's key usage does not allow the operation
	// (signing, or key encipherment for a recipient).
	ErrKeyUsage = errors.New("certificate key usage does not allow this use")
	// ErrAlgorithm: an algorithm is unknown, weak (SHA-1, DES, RC2) or not
	// allowed by the profile.
	ErrAlgorithm = errors.New("algorithm not allowed")
	// ErrNotSigned: the decrypted content is not SignedData, or carries no
	// content (detached signature).
	ErrNotSigned = errors.New("content is not signed")
	// ErrNotEncrypted: the message is not EnvelopedData or AuthEnvelopedData.
	ErrNotEncrypted = errors.New("message is not encrypted")
)

// ErrTooDeep refines ErrMalformed (errors.Is matches both): constructed
// elements nest deeper than the reader allows (64 in one layer; real CMS
// needs about 20). It is reported as a *FormatError at the offending
// element's first byte, before that element is read.
var ErrTooDeep = fmt.Errorf("%w: nesting too deep", ErrMalformed)

// FormatError locates a structural problem in one layer of the message.
type FormatError struct {
	Layer  string // "message", "signed content", "compressed content"
	Offset int64  // byte offset within that layer's stream
	Msg    string
	Err    error // ErrMalformed (or ErrTooDeep, which wraps it) or ErrTruncated
}

func (e *FormatError) Error() string {
	return fmt.Sprintf("%v: %s at byte %d of the %s", e.Err, e.Msg, e.Offset, e.Layer)
}

func (e *FormatError) Unwrap() error { return e.Err }

// CertificateError carries the certificate a signer check failed on.
type CertificateError struct {
	Subject   string
	Serial    *big.Int
	NotBefore time.Time
	NotAfter  time.Time
	Now       time.Time // the verification time
	Detail    string
	Err       error // ErrSignerExpired, ErrSignerNotYetValid, ErrUntrustedSigner, ErrKeyUsage, ErrBadSignature
}

func (e *CertificateError) Error() string {
	s := fmt.Sprintf("%v: %q (serial %s", e.Err, e.Subject, e.Serial)
	switch e.Err {
	case ErrSignerExpired, ErrSignerNotYetValid:
		s += fmt.Sprintf(", valid %s to %s, checked at %s",
			e.NotBefore.UTC().Format(time.RFC3339), e.NotAfter.UTC().Format(time.RFC3339), e.Now.UTC().Format(time.RFC3339))
	}
	s += ")"
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

func (e *CertificateError) Unwrap() error { return e.Err }

// AlgorithmError names an algorithm that was refused and why.
type AlgorithmError struct {
	Role    string // "content encryption", "key transport", "signature", "digest"
	OID     string
	Name    string
	Profile Profile
	Reason  string
}

func (e *AlgorithmError) Error() string {
	n := e.Name
	if n == "" {
		n = e.OID
	}
	return fmt.Sprintf("%v: %s algorithm %s: %s", ErrAlgorithm, e.Role, n, e.Reason)
}

func (e *AlgorithmError) Unwrap() error { return ErrAlgorithm }
