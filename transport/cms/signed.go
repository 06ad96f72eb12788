package cms

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"hash"
	"io"
)

// This file holds the signed layer of Open: SignedData read from the
// decrypted stream, its content hashed on the way to dst, its certificates
// and SignerInfos collected for verify.

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
