package cms

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"io"
)

// This file holds the decompression layer of Open: CompressedData (RFC
// 3274, zlib) inside the signed content.

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
