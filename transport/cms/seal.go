package cms

import (
	"bytes"
	"compress/zlib"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"hash"
	"io"
	"math/big"
	"sort"
	"sync"
	"time"
)

// Signer is the sender's signing identity.
type Signer struct {
	// Key signs; its public key must be Cert's.
	Key crypto.Signer
	// Cert is the signing certificate. If it has a key usage extension,
	// it must allow digitalSignature or contentCommitment.
	Cert *x509.Certificate
	// Chain are intermediate certificates to include after Cert, so the
	// receiver can build the path to its trust anchor. May be empty.
	Chain []*x509.Certificate
}

// SealOptions configures Seal.
type SealOptions struct {
	// Signer signs the content. Required.
	Signer Signer
	// Recipients are the certificates (RSA keys) the content is encrypted
	// for; each of them can open the message. At least one is required.
	Recipients []*x509.Certificate
	// Profile chooses the algorithms. Defaults to ProfileCompat.
	Profile Profile
	// Uncompressed turns off compression, for counterparts without zlib
	// support (Debian's openssl, for one, is built without it). Defaults
	// to false: the content is compressed.
	Uncompressed bool
	// CompressionLevel is the zlib level, 1 (fastest) to 9 (smallest).
	// Defaults to 1: XML still shrinks five- to tenfold and throughput
	// stays close to openssl's uncompressed rate.
	CompressionLevel int
	// SigningTime is put into the signingTime attribute. Defaults to
	// time.Now().
	SigningTime time.Time
	// Rand is the source of randomness. Defaults to crypto/rand.Reader.
	Rand io.Reader
}

// withDefaults returns a copy with defaults filled in.
func (o SealOptions) withDefaults() SealOptions {
	if o.Profile == "" {
		o.Profile = ProfileCompat
	}
	if o.CompressionLevel == 0 {
		o.CompressionLevel = zlib.BestSpeed
	}
	if o.SigningTime.IsZero() {
		o.SigningTime = time.Now()
	}
	if o.Rand == nil {
		o.Rand = rand.Reader
	}
	return o
}

// validate checks the options without side effects; messages name the field.
func (o SealOptions) validate() error {
	if _, err := ParseProfile(string(o.Profile)); err != nil {
		return fmt.Errorf("SealOptions.Profile: %w", err)
	}
	if o.Signer.Key == nil || o.Signer.Cert == nil {
		return errors.New("SealOptions.Signer: key and certificate are required")
	}
	if !publicKeysEqual(o.Signer.Key.Public(), o.Signer.Cert.PublicKey) {
		return errors.New("SealOptions.Signer: the key does not belong to the certificate")
	}
	if ku := o.Signer.Cert.KeyUsage; ku != 0 && ku&(x509.KeyUsageDigitalSignature|x509.KeyUsageContentCommitment) == 0 {
		return fmt.Errorf("SealOptions.Signer: %w: certificate %q allows neither digitalSignature nor contentCommitment", ErrKeyUsage, o.Signer.Cert.Subject)
	}
	switch k := o.Signer.Key.Public().(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return fmt.Errorf("SealOptions.Signer: RSA key of %d bits; at least 2048 are required", k.N.BitLen())
		}
	case *ecdsa.PublicKey:
	default:
		return fmt.Errorf("SealOptions.Signer: unsupported key type %T (RSA or ECDSA)", k)
	}
	if len(o.Recipients) == 0 {
		return errors.New("SealOptions.Recipients: at least one recipient certificate is required")
	}
	for i, c := range o.Recipients {
		k, ok := c.PublicKey.(*rsa.PublicKey)
		if !ok {
			return fmt.Errorf("SealOptions.Recipients[%d] %q: key transport needs an RSA key, found %T", i, c.Subject, c.PublicKey)
		}
		if k.N.BitLen() < 2048 {
			return fmt.Errorf("SealOptions.Recipients[%d] %q: RSA key of %d bits; at least 2048 are required", i, c.Subject, k.N.BitLen())
		}
		if c.KeyUsage != 0 && c.KeyUsage&x509.KeyUsageKeyEncipherment == 0 {
			return fmt.Errorf("SealOptions.Recipients[%d]: %w: certificate %q does not allow keyEncipherment", i, ErrKeyUsage, c.Subject)
		}
	}
	if o.CompressionLevel < zlib.BestSpeed || o.CompressionLevel > zlib.BestCompression {
		return fmt.Errorf("SealOptions.CompressionLevel %d: expected 1 to 9", o.CompressionLevel)
	}
	return nil
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	k, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && k.Equal(b)
}

// Seal signs src and encrypts the signed message for every recipient,
// writing one CMS message to dst:
//
//	ContentInfo(EnvelopedData | AuthEnvelopedData,   // compat | bsi
//	  id-data: ContentInfo(SignedData,
//	    eContentType id-ct-compressedData: CompressedData(zlib, id-data: src)))
//
// The signed layer is a complete ContentInfo carried as id-data, the way
// "openssl cms -sign | openssl cms -encrypt" nests them, so
// "openssl cms -decrypt | openssl cms -verify" accepts the result. See the
// package documentation for the compression decision.
//
// Seal streams: memory stays flat whatever the size of src, and every layer
// uses indefinite-length BER. It reads src to EOF; on error the bytes
// already written to dst are not a valid message (SealFile removes them).
func Seal(ctx context.Context, dst io.Writer, src io.Reader, opts SealOptions) error {
	o := opts.withDefaults()
	if err := o.validate(); err != nil {
		return err
	}
	var s scratch
	defer s.release()
	bw := s.bufWriter(dst)
	env, err := newEnvelopeWriter(bw, o, &s)
	if err != nil {
		return err
	}
	contentType := oidCompressedData
	if o.Uncompressed {
		contentType = oidData
	}
	sig, err := newSignedWriter(env, o, contentType, s.buf())
	if err != nil {
		return err
	}
	var payload io.Writer = sig
	var comp *compressWriter
	if !o.Uncompressed {
		if comp, err = newCompressWriter(sig, o.CompressionLevel, s.buf()); err != nil {
			return err
		}
		payload = comp
	}
	if _, err := io.CopyBuffer(payload, ctxReader{ctx, src}, s.buf()[:chunkSize]); err != nil {
		return err
	}
	if comp != nil {
		if err := comp.Close(); err != nil {
			return err
		}
	}
	if err := sig.Close(); err != nil {
		return err
	}
	if err := env.Close(); err != nil {
		return err
	}
	return bw.Flush()
}

// ctxReader stops a copy when the context ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

type issuerAndSerial struct {
	Issuer asn1.RawValue
	Serial *big.Int
}

func ridOf(c *x509.Certificate) []byte {
	b, _ := asn1.Marshal(issuerAndSerial{Issuer: asn1.RawValue{FullBytes: c.RawIssuer}, Serial: c.SerialNumber})
	return b
}

type keyTransRecipientInfo struct {
	Version      int
	RID          asn1.RawValue
	KeyEncAlg    pkix.AlgorithmIdentifier
	EncryptedKey []byte
}

// envelopeWriter writes EnvelopedData (AES-256-CBC) or AuthEnvelopedData
// (AES-256-GCM) around what is written to it.
type envelopeWriter struct {
	w    io.Writer
	cw   *chunkWriter
	cbc  *cbcEncrypter
	gcm  *gcmStream
	buf  []byte
	auth bool
}

func newEnvelopeWriter(w io.Writer, o SealOptions, s *scratch) (*envelopeWriter, error) {
	key := make([]byte, 32)
	if _, err := io.ReadFull(o.Rand, key); err != nil {
		return nil, err
	}
	e := &envelopeWriter{w: w, cw: newChunkWriter(w, s.buf()), auth: o.Profile == ProfileBSI}
	var ris [][]byte
	for _, c := range o.Recipients {
		pub := c.PublicKey.(*rsa.PublicKey)
		ri := keyTransRecipientInfo{RID: asn1.RawValue{FullBytes: ridOf(c)}}
		var err error
		if e.auth {
			ri.KeyEncAlg = oaepAlgID()
			ri.EncryptedKey, err = rsa.EncryptOAEP(sha256.New(), o.Rand, pub, key, nil)
		} else {
			ri.KeyEncAlg = pkix.AlgorithmIdentifier{Algorithm: oidRSAEncryption, Parameters: asn1Null}
			ri.EncryptedKey, err = rsa.EncryptPKCS1v15(o.Rand, pub, key)
		}
		if err != nil {
			return nil, fmt.Errorf("encrypting the content key for %q: %w", c.Subject, err)
		}
		der, err := asn1.Marshal(ri)
		if err != nil {
			return nil, err
		}
		ris = append(ris, der)
	}
	var alg []byte
	var err error
	if e.auth {
		nonce := make([]byte, 12)
		if _, err := io.ReadFull(o.Rand, nonce); err != nil {
			return nil, err
		}
		params := tlv(tagSequence, tlv(tagOctetString, nonce), tlv(tagInteger, []byte{16}))
		alg = tlv(tagSequence, mustMarshal(oidAES256GCM), params)
		e.gcm, err = newGCMStream(key, nonce)
		e.buf = s.buf()[:chunkSize]
	} else {
		iv := make([]byte, 16)
		if _, err := io.ReadFull(o.Rand, iv); err != nil {
			return nil, err
		}
		alg = tlv(tagSequence, mustMarshal(oidAES256CBC), tlv(tagOctetString, iv))
		e.cbc, err = newCBCEncrypter(e.cw, key, iv, s.buf())
	}
	if err != nil {
		return nil, err
	}
	outer := oidEnvelopedData
	if e.auth {
		outer = oidAuthEnvelopedData
	}
	var h []byte
	h = append(h, indef(tagSequence)...)
	h = append(h, mustMarshal(outer)...)
	h = append(h, indef(tagCtx0)...)
	h = append(h, indef(tagSequence)...)
	h = append(h, tlv(tagInteger, []byte{0})...) // version 0: ktri v0 only
	h = append(h, derSet(ris)...)
	h = append(h, indef(tagSequence)...) // EncryptedContentInfo
	h = append(h, mustMarshal(oidData)...)
	h = append(h, alg...)
	h = append(h, tagCtx0, 0x80) // encryptedContent [0] IMPLICIT, constructed
	_, err = w.Write(h)
	return e, err
}

func (e *envelopeWriter) Write(p []byte) (int, error) {
	if e.cbc != nil {
		return e.cbc.Write(p)
	}
	n := len(p)
	for len(p) > 0 {
		k := copy(e.buf, p)
		if err := e.gcm.seal(e.buf[:k]); err != nil {
			return n - len(p), err
		}
		if _, err := e.cw.Write(e.buf[:k]); err != nil {
			return n - len(p), err
		}
		p = p[k:]
	}
	return n, nil
}

// Close ends the ciphertext and writes the trailer (the GCM tag as mac).
func (e *envelopeWriter) Close() error {
	if e.cbc != nil {
		if err := e.cbc.Close(); err != nil {
			return err
		}
	}
	if err := e.cw.flush(); err != nil {
		return err
	}
	t := append([]byte(nil), eoc...) // [0]
	t = append(t, eoc...)            // EncryptedContentInfo
	if e.auth {
		t = append(t, tlv(tagOctetString, e.gcm.tag())...)
	}
	t = append(t, eoc...) // EnvelopedData
	t = append(t, eoc...) // [0]
	t = append(t, eoc...) // ContentInfo
	_, err := e.w.Write(t)
	return err
}

func oaepAlgID() pkix.AlgorithmIdentifier {
	p, _ := asn1.Marshal(rsaOAEPParams{Hash: hashAlgID(crypto.SHA256), MGF: mgf1AlgID(crypto.SHA256)})
	return pkix.AlgorithmIdentifier{Algorithm: oidRSAESOAEP, Parameters: asn1.RawValue{FullBytes: p}}
}

func mustMarshal(v any) []byte {
	b, err := asn1.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// derSet encodes a SET OF with its members in DER order.
func derSet(members [][]byte) []byte {
	s := append([][]byte(nil), members...)
	sort.Slice(s, func(i, j int) bool { return bytes.Compare(s[i], s[j]) < 0 })
	return tlv(tagSet, s...)
}

// signedWriter writes a ContentInfo(SignedData) whose eContent is what is
// written to it; Close computes the signature.
type signedWriter struct {
	w           io.Writer
	cw          *chunkWriter
	h           hash.Hash
	o           SealOptions
	contentType asn1.ObjectIdentifier
}

func newSignedWriter(w io.Writer, o SealOptions, contentType asn1.ObjectIdentifier, buf []byte) (*signedWriter, error) {
	s := &signedWriter{w: w, cw: newChunkWriter(w, buf), h: sha256.New(), o: o, contentType: contentType}
	version := byte(1)
	if !contentType.Equal(oidData) {
		version = 3
	}
	var h []byte
	h = append(h, indef(tagSequence)...)
	h = append(h, mustMarshal(oidSignedData)...)
	h = append(h, indef(tagCtx0)...)
	h = append(h, indef(tagSequence)...)
	h = append(h, tlv(tagInteger, []byte{version})...)
	h = append(h, tlv(tagSet, digestAlgID())...)
	h = append(h, indef(tagSequence)...) // EncapsulatedContentInfo
	h = append(h, mustMarshal(contentType)...)
	h = append(h, indef(tagCtx0)...)
	h = append(h, indef(tagOctetString)...)
	_, err := w.Write(h)
	return s, err
}

// digestAlgID is SHA-256 with absent parameters (RFC 5754).
func digestAlgID() []byte { return tlv(tagSequence, mustMarshal(oidSHA256)) }

func (s *signedWriter) Write(p []byte) (int, error) {
	s.h.Write(p)
	return s.cw.Write(p)
}

type attribute struct {
	Type   asn1.ObjectIdentifier
	Values asn1.RawValue `asn1:"set"`
}

func (s *signedWriter) Close() error {
	if err := s.cw.flush(); err != nil {
		return err
	}
	digest := s.h.Sum(nil)
	attr := func(oid asn1.ObjectIdentifier, value []byte) []byte {
		return tlv(tagSequence, mustMarshal(oid), tlv(tagSet, value))
	}
	st, err := asn1.Marshal(s.o.SigningTime.UTC())
	if err != nil {
		return err
	}
	attrs := [][]byte{
		attr(oidAttrContentType, mustMarshal(s.contentType)),
		attr(oidAttrSigningTime, st),
		attr(oidAttrMessageDigest, tlv(tagOctetString, digest)),
	}
	sort.Slice(attrs, func(i, j int) bool { return bytes.Compare(attrs[i], attrs[j]) < 0 })
	signedAttrs := tlv(tagSet, attrs...)
	ah := sha256.Sum256(signedAttrs)

	var sigAlg pkix.AlgorithmIdentifier
	var sopts crypto.SignerOpts = crypto.SHA256
	switch s.o.Signer.Key.Public().(type) {
	case *ecdsa.PublicKey:
		sigAlg = pkix.AlgorithmIdentifier{Algorithm: oidECDSAWithSHA256}
	case *rsa.PublicKey:
		if s.o.Profile == ProfileBSI {
			p, _ := asn1.Marshal(rsaPSSParams{Hash: hashAlgID(crypto.SHA256), MGF: mgf1AlgID(crypto.SHA256), SaltLength: 32, TrailerField: 1})
			sigAlg = pkix.AlgorithmIdentifier{Algorithm: oidRSASSAPSS, Parameters: asn1.RawValue{FullBytes: p}}
			sopts = &rsa.PSSOptions{SaltLength: 32, Hash: crypto.SHA256}
		} else {
			sigAlg = pkix.AlgorithmIdentifier{Algorithm: oidSHA256WithRSA, Parameters: asn1Null}
		}
	}
	sig, err := s.o.Signer.Key.Sign(s.o.Rand, ah[:], sopts)
	if err != nil {
		return fmt.Errorf("signing: %w", err)
	}
	si := tlv(tagSequence,
		tlv(tagInteger, []byte{1}),
		ridOf(s.o.Signer.Cert),
		digestAlgID(),
		tlv(tagCtx0, attrs...), // signedAttrs [0] IMPLICIT SET OF, DER order
		mustMarshal(sigAlg),
		tlv(tagOctetString, sig),
	)
	var certs [][]byte
	certs = append(certs, s.o.Signer.Cert.Raw)
	for _, c := range s.o.Signer.Chain {
		certs = append(certs, c.Raw)
	}
	t := append([]byte(nil), eoc...) // OCTET STRING
	t = append(t, eoc...)            // [0]
	t = append(t, eoc...)            // EncapsulatedContentInfo
	t = append(t, tlv(tagCtx0, certs...)...)
	t = append(t, tlv(tagSet, si)...)
	t = append(t, eoc...) // SignedData
	t = append(t, eoc...) // [0]
	t = append(t, eoc...) // ContentInfo
	_, err = s.w.Write(t)
	return err
}

// compressWriter writes CompressedData (RFC 3274, zlib) around what is
// written to it.
type compressWriter struct {
	w     io.Writer
	cw    *chunkWriter
	z     *zlib.Writer
	level int
}

// zlibWriters keeps zlib writers per level: a new one allocates about
// 1 MiB of compressor state, which was 8% of the CPU of sealing small eM@w
// uploads (BenchmarkDelivery).
var zlibWriters [zlib.BestCompression + 1]sync.Pool

func newCompressWriter(w io.Writer, level int, buf []byte) (*compressWriter, error) {
	c := &compressWriter{w: w, cw: newChunkWriter(w, buf)}
	if z, ok := zlibWriters[level].Get().(*zlib.Writer); ok {
		z.Reset(c.cw)
		c.z = z
	} else {
		var err error
		if c.z, err = zlib.NewWriterLevel(c.cw, level); err != nil {
			return nil, err
		}
	}
	c.level = level
	var err error
	var h []byte
	h = append(h, indef(tagSequence)...)
	h = append(h, tlv(tagInteger, []byte{0})...)
	h = append(h, tlv(tagSequence, mustMarshal(oidZlibCompress))...)
	h = append(h, indef(tagSequence)...)
	h = append(h, mustMarshal(oidData)...)
	h = append(h, indef(tagCtx0)...)
	h = append(h, indef(tagOctetString)...)
	_, err = w.Write(h)
	return c, err
}

func (c *compressWriter) Write(p []byte) (int, error) { return c.z.Write(p) }

func (c *compressWriter) Close() error {
	if err := c.z.Close(); err != nil {
		return err
	}
	zlibWriters[c.level].Put(c.z)
	c.z = nil
	if err := c.cw.flush(); err != nil {
		return err
	}
	_, err := c.w.Write(bytes.Repeat(eoc, 4)) // OCTET STRING, [0], EncapsulatedContentInfo, CompressedData
	return err
}
