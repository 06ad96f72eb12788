package cms

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
)

// This file holds the outer layer of Open: EnvelopedData and
// AuthEnvelopedData, the RecipientInfo that names us, the content key and
// the decrypting stream the signed layer is read from.

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
