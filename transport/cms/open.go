package cms

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"hash"
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

func (o *opener) open(ctx context.Context, dst io.Writer, src io.Reader) (SignerInfo, error) {
	b := newBERReader(src, "message", &o.s)
	if _, err := b.open(tagSequence, "ContentInfo"); err != nil {
		return o.info, err
	}
	ct, err := readOID(b, "contentType")
	if err != nil {
		return o.info, err
	}
	var auth bool
	switch {
	case ct.Equal(oidEnvelopedData):
	case ct.Equal(oidAuthEnvelopedData):
		auth = true
	case ct.Equal(oidSignedData):
		return o.info, fmt.Errorf("%w: the message is SignedData only", ErrNotEncrypted)
	default:
		return o.info, fmt.Errorf("%w: content type %s", ErrNotEncrypted, ct)
	}
	if _, err := b.open(tagCtx0, "content"); err != nil {
		return o.info, err
	}
	if _, err := b.open(tagSequence, "EnvelopedData"); err != nil {
		return o.info, err
	}
	if _, err := b.element("version"); err != nil {
		return o.info, err
	}
	t, err := b.peek()
	if err != nil {
		return o.info, err
	}
	if t == tagCtx0 {
		if err := b.skip("originatorInfo"); err != nil {
			return o.info, err
		}
	}
	ris, err := b.element("recipientInfos")
	if err != nil {
		return o.info, err
	}
	if _, err := b.open(tagSequence, "EncryptedContentInfo"); err != nil {
		return o.info, err
	}
	innerType, err := readOID(b, "contentType")
	if err != nil {
		return o.info, err
	}
	algDER, err := b.element("contentEncryptionAlgorithm")
	if err != nil {
		return o.info, err
	}
	h, err := b.header()
	if err != nil {
		return o.info, err
	}
	if h.tag != tagCtx0Prim && h.tag != tagCtx0 {
		return o.info, b.errorf(ErrMalformed, "expected encryptedContent [0], found tag 0x%02x", h.tag)
	}
	ciphertext, err := b.octets(h, "encryptedContent")
	if err != nil {
		return o.info, err
	}

	var plain io.Reader
	var gcm *gcmStream
	var alg pkix.AlgorithmIdentifier
	if _, err := asn1.Unmarshal(algDER, &alg); err != nil {
		return o.info, b.errorf(ErrMalformed, "contentEncryptionAlgorithm: %v", err)
	}
	// The content algorithm is judged before any key is unwrapped.
	if !(alg.Algorithm.Equal(oidAES256CBC) && !auth) && !(alg.Algorithm.Equal(oidAES256GCM) && auth) {
		if n, ok := weakOIDs[alg.Algorithm.String()]; ok {
			return o.info, &AlgorithmError{Role: "content encryption", OID: alg.Algorithm.String(), Name: n, Reason: "weak algorithms are refused by every profile"}
		}
		return o.info, &AlgorithmError{Role: "content encryption", OID: alg.Algorithm.String(),
			Reason: "expected AES-256-CBC in EnvelopedData or AES-256-GCM in AuthEnvelopedData"}
	}
	if alg.Algorithm.Equal(oidAES256CBC) && o.opts.Profile == ProfileBSI {
		return o.info, &AlgorithmError{Role: "content encryption", Name: "AES-256-CBC", Profile: o.opts.Profile, Reason: "the bsi profile requires AES-256-GCM"}
	}
	key, err := o.contentKey(ris)
	if err != nil {
		return o.info, err
	}
	switch {
	case alg.Algorithm.Equal(oidAES256CBC):
		var iv []byte
		if _, err := asn1.Unmarshal(alg.Parameters.FullBytes, &iv); err != nil {
			return o.info, b.errorf(ErrMalformed, "AES-CBC IV: %v", err)
		}
		d, err := newCBCDecrypter(ciphertext, key, iv, o.s.buf())
		if err != nil {
			return o.info, err
		}
		plain = d
		o.info.ContentEncryption = "AES-256-CBC"
	default: // AES-256-GCM, checked above
		var p struct {
			Nonce  []byte
			ICVLen int `asn1:"optional,default:12"`
		}
		if _, err := asn1.Unmarshal(alg.Parameters.FullBytes, &p); err != nil {
			return o.info, b.errorf(ErrMalformed, "GCMParameters: %v", err)
		}
		if p.ICVLen < 12 || p.ICVLen > 16 {
			return o.info, &AlgorithmError{Role: "content encryption", Name: "AES-256-GCM", Reason: fmt.Sprintf("tag length %d (12 to 16 accepted)", p.ICVLen)}
		}
		if gcm, err = newGCMStream(key, p.Nonce); err != nil {
			return o.info, err
		}
		plain = &gcmReader{r: ciphertext, s: gcm}
		o.info.ContentEncryption = "AES-256-GCM"
	}

	// The signed layer, read from the decrypted stream.
	rec := &recordingReader{r: plain}
	innerErr := o.signed(ctx, dst, rec, innerType)
	if innerErr == nil {
		// Anything after the SignedData in the plaintext is an error, and
		// reading to EOF is what checks the CBC padding.
		var extra [1]byte
		n, err := io.ReadFull(rec, extra[:])
		if n > 0 {
			innerErr = fmt.Errorf("%w: data after the signed content in the decrypted stream", ErrMalformed)
		} else if err != io.EOF {
			innerErr = err
		}
	}
	if rec.err != nil && !errors.Is(innerErr, rec.err) {
		innerErr = rec.err
	}
	// Drain the ciphertext so the tag and the structure's end are checked
	// whatever happened inside: a damaged ciphertext is reported as such,
	// not as the parse error it caused.
	if innerErr != nil && rec.err == nil {
		if _, err := io.Copy(io.Discard, rec); err != nil && rec.err != nil {
			innerErr = rec.err
		}
	}
	if errors.Is(innerErr, ErrTruncated) || errors.Is(innerErr, ErrCiphertext) || errors.Is(innerErr, context.Canceled) {
		return o.info, innerErr
	}
	if err := b.close(); err != nil { // EncryptedContentInfo
		return o.info, err
	}
	if auth {
		t, err := b.peek()
		if err != nil {
			return o.info, err
		}
		if t == tagCtx1 {
			return o.info, b.errorf(ErrMalformed, "authAttrs in AuthEnvelopedData are not supported")
		}
		macDER, err := b.element("mac")
		if err != nil {
			return o.info, err
		}
		var mac []byte
		if _, err := asn1.Unmarshal(macDER, &mac); err != nil {
			return o.info, b.errorf(ErrMalformed, "mac: %v", err)
		}
		if !gcm.verify(mac) {
			return o.info, fmt.Errorf("%w: the AES-GCM tag does not match", ErrCiphertext)
		}
	}
	for more, err := b.more(); more || err != nil; more, err = b.more() {
		if err != nil {
			return o.info, err
		}
		if err := b.skip("unprotected attributes"); err != nil {
			return o.info, err
		}
	}
	for i := 0; i < 3; i++ { // EnvelopedData, [0], ContentInfo
		if err := b.close(); err != nil {
			return o.info, err
		}
	}
	if err := b.expectEnd(); err != nil {
		return o.info, err
	}
	return o.info, innerErr
}

// recordingReader remembers the first error other than io.EOF, so errors
// from below (truncation, bad padding) can be told from parse errors above.
type recordingReader struct {
	r   io.Reader
	err error
}

func (r *recordingReader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	n, err := r.r.Read(p)
	if err != nil && err != io.EOF {
		r.err = err
	}
	return n, err
}

// gcmReader decrypts AES-GCM ciphertext; the tag is checked by the caller.
type gcmReader struct {
	r io.Reader
	s *gcmStream
}

func (g *gcmReader) Read(p []byte) (int, error) {
	n, err := g.r.Read(p)
	if n > 0 {
		if e := g.s.open(p[:n]); e != nil {
			return 0, e
		}
	}
	return n, err
}

func readOID(b *berReader, name string) (asn1.ObjectIdentifier, error) {
	der, err := b.element(name)
	if err != nil {
		return nil, err
	}
	var oid asn1.ObjectIdentifier
	if rest, err := asn1.Unmarshal(der, &oid); err != nil || len(rest) > 0 {
		return nil, b.errorf(ErrMalformed, "%s is not an OBJECT IDENTIFIER", name)
	}
	return oid, nil
}

// contentKey finds our RecipientInfo and unwraps the content key.
func (o *opener) contentKey(risDER []byte) ([]byte, error) {
	var ris []asn1.RawValue
	if _, err := asn1.UnmarshalWithParams(risDER, &ris, "set"); err != nil {
		return nil, fmt.Errorf("%w: recipientInfos: %v", ErrMalformed, err)
	}
	var names []string
	for _, raw := range ris {
		if raw.Class != asn1.ClassUniversal || raw.Tag != asn1.TagSequence {
			continue // kari, kekri, pwri, ori: not ours (RSA key transport only)
		}
		var ri keyTransRecipientInfo
		if _, err := asn1.Unmarshal(raw.FullBytes, &ri); err != nil {
			return nil, fmt.Errorf("%w: KeyTransRecipientInfo: %v", ErrMalformed, err)
		}
		match, name := ridMatches(ri.RID, o.opts.Cert)
		names = append(names, name)
		if !match {
			continue
		}
		var key []byte
		var err error
		switch {
		case ri.KeyEncAlg.Algorithm.Equal(oidRSAEncryption):
			if o.opts.Profile == ProfileBSI {
				return nil, &AlgorithmError{Role: "key transport", Name: "RSA PKCS#1 v1.5", Profile: o.opts.Profile, Reason: "the bsi profile requires RSAES-OAEP"}
			}
			o.info.KeyTransport = "RSA-PKCS1v15"
			key, err = o.opts.Key.Decrypt(rand.Reader, ri.EncryptedKey, nil)
		case ri.KeyEncAlg.Algorithm.Equal(oidRSAESOAEP):
			var p rsaOAEPParams
			if _, err := asn1.Unmarshal(ri.KeyEncAlg.Parameters.FullBytes, &p); err != nil && len(ri.KeyEncAlg.Parameters.FullBytes) > 0 {
				return nil, fmt.Errorf("%w: RSAES-OAEP parameters: %v", ErrMalformed, err)
			}
			if len(p.PSourceFunc.FullBytes) > 0 {
				return nil, &AlgorithmError{Role: "key transport", Name: "RSAES-OAEP", Reason: "a pSourceFunc label is not supported"}
			}
			h, herr := hashFromParams("key transport", p.Hash, p.MGF)
			if herr != nil {
				return nil, herr
			}
			o.info.KeyTransport = "RSAES-OAEP-" + hashName(h)
			key, err = o.opts.Key.Decrypt(rand.Reader, ri.EncryptedKey, &rsa.OAEPOptions{Hash: h, MGFHash: h})
		default:
			return nil, algRefused("key transport", ri.KeyEncAlg.Algorithm)
		}
		if err != nil {
			return nil, fmt.Errorf("%w for %s: %v", ErrKeyDecrypt, name, err)
		}
		if len(key) != 32 {
			return nil, fmt.Errorf("%w for %s: key of %d bytes, AES-256 needs 32", ErrKeyDecrypt, name, len(key))
		}
		return key, nil
	}
	return nil, fmt.Errorf("%w: ours is serial %s issued by %q; the message names %v",
		ErrNotRecipient, o.opts.Cert.SerialNumber, o.opts.Cert.Issuer.String(), names)
}

// ridMatches tells whether a RecipientIdentifier or SignerIdentifier
// (IssuerAndSerialNumber or [0] SubjectKeyIdentifier) names c.
func ridMatches(rid asn1.RawValue, c *x509.Certificate) (bool, string) {
	if rid.Class == asn1.ClassContextSpecific && rid.Tag == 0 {
		return len(c.SubjectKeyId) > 0 && bytes.Equal(rid.Bytes, c.SubjectKeyId), fmt.Sprintf("key id %x", rid.Bytes)
	}
	var ias issuerAndSerial
	if _, err := asn1.Unmarshal(rid.FullBytes, &ias); err != nil || ias.Serial == nil {
		return false, "(unreadable identifier)"
	}
	var issuer pkix.RDNSequence
	name := fmt.Sprintf("serial %s", ias.Serial)
	if _, err := asn1.Unmarshal(ias.Issuer.FullBytes, &issuer); err == nil {
		var n pkix.Name
		n.FillFromRDNSequence(&issuer)
		name += fmt.Sprintf(" issued by %q", n.String())
	}
	return bytes.Equal(ias.Issuer.FullBytes, c.RawIssuer) && ias.Serial.Cmp(c.SerialNumber) == 0, name
}

func hashName(h crypto.Hash) string {
	switch h {
	case crypto.SHA256:
		return "SHA256"
	case crypto.SHA384:
		return "SHA384"
	case crypto.SHA512:
		return "SHA512"
	}
	return h.String()
}

// signed reads the signed layer from the decrypted stream, writes the
// content to dst and verifies it.
func (o *opener) signed(ctx context.Context, dst io.Writer, plain io.Reader, innerType asn1.ObjectIdentifier) error {
	b := newBERReader(plain, "decrypted content", &o.s)
	wrapped := innerType.Equal(oidData)
	switch {
	case wrapped:
		if _, err := b.open(tagSequence, "ContentInfo"); err != nil {
			return notSigned(err)
		}
		ct, err := readOID(b, "contentType")
		if err != nil {
			return notSigned(err)
		}
		if !ct.Equal(oidSignedData) {
			return fmt.Errorf("%w: the decrypted content is %s, expected SignedData", ErrNotSigned, ct)
		}
		if _, err := b.open(tagCtx0, "content"); err != nil {
			return err
		}
	case innerType.Equal(oidSignedData):
	default:
		return fmt.Errorf("%w: the encrypted content type is %s, expected SignedData", ErrNotSigned, innerType)
	}
	if _, err := b.open(tagSequence, "SignedData"); err != nil {
		return err
	}
	if _, err := b.element("version"); err != nil {
		return err
	}
	if _, err := b.element("digestAlgorithms"); err != nil {
		return err
	}
	if _, err := b.open(tagSequence, "EncapsulatedContentInfo"); err != nil {
		return err
	}
	eType, err := readOID(b, "eContentType")
	if err != nil {
		return err
	}
	more, err := b.more()
	if err != nil {
		return err
	}
	if !more {
		return fmt.Errorf("%w: detached signature, the message carries no content", ErrNotSigned)
	}
	if _, err := b.open(tagCtx0, "eContent"); err != nil {
		return err
	}
	h, err := b.header()
	if err != nil {
		return err
	}
	if h.tag&^tagConstructed != tagOctetString {
		return b.errorf(ErrMalformed, "eContent is not an OCTET STRING (tag 0x%02x)", h.tag)
	}
	// Every digest SHA-2 offers is computed on the fly; the SignerInfo
	// (read after the content) says which one it needs.
	hs := map[crypto.Hash]hash.Hash{crypto.SHA256: crypto.SHA256.New(), crypto.SHA384: crypto.SHA384.New(), crypto.SHA512: crypto.SHA512.New()}
	eContent, err := b.octets(h, "eContent")
	if err != nil {
		return err
	}
	content := &recordingReader{r: io.TeeReader(eContent, multiHash(hs))}
	cw := &countingWriter{w: dst}
	var contentErr error
	switch {
	case eType.Equal(oidData):
		_, contentErr = io.CopyBuffer(cw, content, o.s.buf())
	case eType.Equal(oidCompressedData):
		o.info.Compressed = true
		contentErr = o.uncompress(cw, content)
	default:
		return fmt.Errorf("%w: eContentType %s (expected id-data or id-ct-compressedData)", ErrMalformed, eType)
	}
	o.info.Bytes = cw.n
	if content.err != nil {
		return content.err
	}
	if cw.err != nil {
		return fmt.Errorf("writing the content: %w", cw.err)
	}
	if contentErr != nil {
		// Keep hashing: if the digest does not match, that is the cause.
		if _, err := io.Copy(io.Discard, content); err != nil {
			return err
		}
	}
	for i := 0; i < 2; i++ { // [0] eContent, EncapsulatedContentInfo
		if err := b.close(); err != nil {
			return err
		}
	}
	var certs []*x509.Certificate
	var sis []byte
	for {
		t, err := b.peek()
		if err != nil {
			return err
		}
		switch t {
		case tagCtx0:
			der, err := b.element("certificates")
			if err != nil {
				return err
			}
			if certs, err = parseCertSet(der); err != nil {
				return err
			}
			continue
		case tagCtx1:
			if err := b.skip("crls"); err != nil {
				return err
			}
			continue
		case tagSet:
			if sis, err = b.element("signerInfos"); err != nil {
				return err
			}
		default:
			return b.errorf(ErrMalformed, "unexpected tag 0x%02x in SignedData", t)
		}
		break
	}
	if err := b.close(); err != nil { // SignedData
		return err
	}
	if wrapped {
		for i := 0; i < 2; i++ {
			if err := b.close(); err != nil {
				return err
			}
		}
	}
	if err := o.verify(sis, certs, eType, hs); err != nil {
		return err
	}
	if contentErr != nil {
		return fmt.Errorf("%w: the signed content cannot be uncompressed: %v", ErrMalformed, contentErr)
	}
	return nil
}

func notSigned(err error) error {
	if errors.Is(err, ErrMalformed) {
		return fmt.Errorf("%w: the decrypted content is not a ContentInfo: %v", ErrNotSigned, err)
	}
	return err
}

// countingWriter counts what reaches dst and remembers a write error, so
// a full disk is not mistaken for bad input.
type countingWriter struct {
	w   io.Writer
	n   int64
	err error
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	if err != nil && c.err == nil {
		c.err = err
	}
	return n, err
}

func multiHash(hs map[crypto.Hash]hash.Hash) io.Writer {
	ws := make([]io.Writer, 0, len(hs))
	for _, h := range hs {
		ws = append(ws, h)
	}
	return io.MultiWriter(ws...)
}

// uncompress reads CompressedData (RFC 3274, zlib) from r.
func (o *opener) uncompress(dst io.Writer, r io.Reader) error {
	b := newBERReader(r, "compressed content", &o.s)
	if _, err := b.open(tagSequence, "CompressedData"); err != nil {
		return err
	}
	if _, err := b.element("version"); err != nil {
		return err
	}
	algDER, err := b.element("compressionAlgorithm")
	if err != nil {
		return err
	}
	var alg pkix.AlgorithmIdentifier
	if _, err := asn1.Unmarshal(algDER, &alg); err != nil || !alg.Algorithm.Equal(oidZlibCompress) {
		return &AlgorithmError{Role: "compression", OID: alg.Algorithm.String(), Reason: "only zlib (RFC 3274) is supported"}
	}
	if _, err := b.open(tagSequence, "EncapsulatedContentInfo"); err != nil {
		return err
	}
	ct, err := readOID(b, "eContentType")
	if err != nil {
		return err
	}
	if !ct.Equal(oidData) {
		return b.errorf(ErrMalformed, "compressed content type %s, expected id-data", ct)
	}
	if _, err := b.open(tagCtx0, "eContent"); err != nil {
		return err
	}
	h, err := b.header()
	if err != nil {
		return err
	}
	if h.tag&^tagConstructed != tagOctetString {
		return b.errorf(ErrMalformed, "compressed eContent is not an OCTET STRING")
	}
	// zlib reads through our bufio.Reader (an io.ByteReader, so it adds no
	// buffer of its own): whatever is left in it after the zlib stream is
	// data the stream does not account for.
	zcontent, err := b.octets(h, "compressed eContent")
	if err != nil {
		return err
	}
	zin := o.s.reader(zcontent)
	zr, err := o.s.zlibReader(zin)
	if err != nil {
		return err
	}
	if _, err := io.CopyBuffer(dst, zr, o.s.buf()); err != nil {
		return err
	}
	if err := zr.Close(); err != nil {
		return err
	}
	if n, err := io.Copy(io.Discard, zin); err != nil {
		return err
	} else if n > 0 {
		return b.errorf(ErrMalformed, "%d bytes after the end of the zlib stream", n)
	}
	for i := 0; i < 3; i++ { // [0], EncapsulatedContentInfo, CompressedData
		if err := b.close(); err != nil {
			return err
		}
	}
	return b.expectEnd()
}

func parseCertSet(der []byte) ([]*x509.Certificate, error) {
	var raw asn1.RawValue
	if _, err := asn1.Unmarshal(der, &raw); err != nil {
		return nil, fmt.Errorf("%w: certificates: %v", ErrMalformed, err)
	}
	var certs []*x509.Certificate
	rest := raw.Bytes
	for len(rest) > 0 {
		var c asn1.RawValue
		var err error
		if rest, err = asn1.Unmarshal(rest, &c); err != nil {
			return nil, fmt.Errorf("%w: certificates: %v", ErrMalformed, err)
		}
		if c.Class != asn1.ClassUniversal || c.Tag != asn1.TagSequence {
			continue // attribute and other certificate formats
		}
		cert, err := x509.ParseCertificate(c.FullBytes)
		if err != nil {
			return nil, fmt.Errorf("%w: certificate in SignedData: %v", ErrMalformed, err)
		}
		certs = append(certs, cert)
	}
	return certs, nil
}

type signerInfo struct {
	Version     int
	SID         asn1.RawValue
	DigestAlg   pkix.AlgorithmIdentifier
	SignedAttrs asn1.RawValue `asn1:"optional,tag:0"`
	SigAlg      pkix.AlgorithmIdentifier
	Signature   []byte
	Unsigned    asn1.RawValue `asn1:"optional,tag:1"`
}

// verify checks every SignerInfo: digest, signature, certificate.
func (o *opener) verify(sisDER []byte, certs []*x509.Certificate, eType asn1.ObjectIdentifier, hs map[crypto.Hash]hash.Hash) error {
	var sis []asn1.RawValue
	if _, err := asn1.UnmarshalWithParams(sisDER, &sis, "set"); err != nil {
		return fmt.Errorf("%w: signerInfos: %v", ErrMalformed, err)
	}
	if len(sis) == 0 {
		return fmt.Errorf("%w: SignedData has no SignerInfo", ErrNotSigned)
	}
	for i, raw := range sis {
		var si signerInfo
		if _, err := asn1.Unmarshal(raw.FullBytes, &si); err != nil {
			return fmt.Errorf("%w: SignerInfo: %v", ErrMalformed, err)
		}
		if err := o.verifyOne(si, certs, eType, hs, i == 0); err != nil {
			return err
		}
	}
	return nil
}

func (o *opener) verifyOne(si signerInfo, certs []*x509.Certificate, eType asn1.ObjectIdentifier, hs map[crypto.Hash]hash.Hash, first bool) error {
	var cert *x509.Certificate
	var name string
	for _, c := range certs {
		var ok bool
		if ok, name = ridMatches(si.SID, c); ok {
			cert = c
			break
		}
	}
	if cert == nil {
		_, name = ridMatches(si.SID, &x509.Certificate{})
		return fmt.Errorf("%w: the signer certificate (%s) is not in the message", ErrNotSigned, name)
	}
	dh, ok := hashes[si.DigestAlg.Algorithm.String()]
	if !ok {
		return algRefused("digest", si.DigestAlg.Algorithm)
	}
	digest := hs[dh].Sum(nil)

	// What the signature covers: the DER SET OF signed attributes, or the
	// content digest when there are none.
	signedHash := digest
	var signingTime time.Time
	if len(si.SignedAttrs.FullBytes) > 0 {
		var attrs []attribute
		if _, err := asn1.UnmarshalWithParams(si.SignedAttrs.FullBytes, &attrs, "tag:0,set"); err != nil {
			return fmt.Errorf("%w: signedAttrs: %v", ErrMalformed, err)
		}
		var gotDigest []byte
		var gotType asn1.ObjectIdentifier
		for _, a := range attrs {
			switch {
			case a.Type.Equal(oidAttrMessageDigest):
				asn1.Unmarshal(a.Values.Bytes, &gotDigest)
			case a.Type.Equal(oidAttrContentType):
				asn1.Unmarshal(a.Values.Bytes, &gotType)
			case a.Type.Equal(oidAttrSigningTime):
				asn1.Unmarshal(a.Values.Bytes, &signingTime)
			}
		}
		if !gotType.Equal(eType) {
			return fmt.Errorf("%w: signed contentType %s differs from eContentType %s", ErrMalformed, gotType, eType)
		}
		if !bytes.Equal(gotDigest, digest) {
			return fmt.Errorf("%w: %s digest of the content is %x, the signature says %x", ErrContentAltered, hashName(dh), digest, gotDigest)
		}
		set := append([]byte{tagSet}, si.SignedAttrs.FullBytes[1:]...)
		h := dh.New()
		h.Write(set)
		signedHash = h.Sum(nil)
	}
	sigName, err := o.checkSignature(si, cert, dh, signedHash)
	if err != nil {
		return err
	}
	chains, err := o.checkCertificate(cert, certs)
	if err != nil {
		return err
	}
	if first {
		o.info.Certificate, o.info.Chains, o.info.SigningTime, o.info.Signature = cert, chains, signingTime, sigName
	}
	return nil
}

func (o *opener) checkSignature(si signerInfo, cert *x509.Certificate, dh crypto.Hash, signed []byte) (string, error) {
	bsi := o.opts.Profile == ProfileBSI
	bad := func(err error) error {
		return &CertificateError{Subject: cert.Subject.String(), Serial: cert.SerialNumber, Detail: err.Error(), Err: ErrBadSignature}
	}
	alg := si.SigAlg.Algorithm
	switch pub := cert.PublicKey.(type) {
	case *rsa.PublicKey:
		switch {
		case alg.Equal(oidRSASSAPSS):
			var p rsaPSSParams
			if _, err := asn1.Unmarshal(si.SigAlg.Parameters.FullBytes, &p); err != nil {
				return "", fmt.Errorf("%w: RSASSA-PSS parameters: %v", ErrMalformed, err)
			}
			h, err := hashFromParams("signature", p.Hash, p.MGF)
			if err != nil {
				return "", err
			}
			if h != dh {
				return "", &AlgorithmError{Role: "signature", Name: "RSASSA-PSS", Reason: "PSS hash differs from the digest algorithm"}
			}
			if p.TrailerField != 1 {
				return "", &AlgorithmError{Role: "signature", Name: "RSASSA-PSS", Reason: "trailer field must be 1"}
			}
			if err := rsa.VerifyPSS(pub, dh, signed, si.Signature, &rsa.PSSOptions{SaltLength: p.SaltLength, Hash: dh}); err != nil {
				return "", bad(err)
			}
			return "RSASSA-PSS-" + hashName(dh), nil
		case alg.Equal(oidRSAEncryption), alg.Equal(oidSHA256WithRSA) && dh == crypto.SHA256,
			alg.Equal(oidSHA384WithRSA) && dh == crypto.SHA384, alg.Equal(oidSHA512WithRSA) && dh == crypto.SHA512:
			if bsi {
				return "", &AlgorithmError{Role: "signature", Name: "RSA PKCS#1 v1.5", Profile: o.opts.Profile, Reason: "the bsi profile requires RSASSA-PSS or ECDSA"}
			}
			if err := rsa.VerifyPKCS1v15(pub, dh, signed, si.Signature); err != nil {
				return "", bad(err)
			}
			return "RSA-PKCS1v15-" + hashName(dh), nil
		}
	case *ecdsa.PublicKey:
		if alg.Equal(oidECDSAWithSHA256) || alg.Equal(oidECDSAWithSHA384) || alg.Equal(oidECDSAWithSHA512) {
			if !ecdsa.VerifyASN1(pub, signed, si.Signature) {
				return "", bad(errors.New("ECDSA verification failed"))
			}
			return "ECDSA-" + hashName(dh), nil
		}
	default:
		return "", &AlgorithmError{Role: "signature", Name: fmt.Sprintf("%T key", pub), Reason: "RSA or ECDSA keys only"}
	}
	return "", algRefused("signature", alg)
}

// checkCertificate checks the signer certificate's validity, its chain
// to the trust anchors, and its key usage.
func (o *opener) checkCertificate(cert *x509.Certificate, certs []*x509.Certificate) ([][]*x509.Certificate, error) {
	now := o.opts.Now
	certErr := func(c *x509.Certificate, kind error, detail string) error {
		return &CertificateError{Subject: c.Subject.String(), Serial: c.SerialNumber, NotBefore: c.NotBefore, NotAfter: c.NotAfter, Now: now, Detail: detail, Err: kind}
	}
	if now.After(cert.NotAfter) {
		return nil, certErr(cert, ErrSignerExpired, "")
	}
	if now.Before(cert.NotBefore) {
		return nil, certErr(cert, ErrSignerNotYetValid, "")
	}
	inter := x509.NewCertPool()
	for _, c := range certs {
		if c != cert {
			inter.AddCert(c)
		}
	}
	chains, err := cert.Verify(x509.VerifyOptions{Roots: o.opts.Trust, Intermediates: inter, CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	if err != nil {
		var inv x509.CertificateInvalidError
		var ua x509.UnknownAuthorityError
		switch {
		case errors.As(err, &inv) && inv.Reason == x509.Expired:
			kind := ErrSignerExpired
			if now.Before(inv.Cert.NotBefore) {
				kind = ErrSignerNotYetValid
			}
			return nil, certErr(inv.Cert, kind, "in the chain of "+cert.Subject.String())
		case errors.As(err, &ua):
			return nil, certErr(cert, ErrUntrustedSigner, err.Error())
		}
		return nil, certErr(cert, ErrUntrustedSigner, err.Error())
	}
	if ku := cert.KeyUsage; ku != 0 && ku&(x509.KeyUsageDigitalSignature|x509.KeyUsageContentCommitment) == 0 {
		return nil, certErr(cert, ErrKeyUsage, "neither digitalSignature nor contentCommitment")
	}
	return chains, nil
}
