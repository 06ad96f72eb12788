package cms

import (
	"bufio"
	"encoding/asn1"
	"fmt"
	"io"
	"slices"
)

// This file holds the streaming BER layer: a writer for indefinite-length
// constructed encodings with the content cut into OCTET STRING chunks, and a
// pull reader that walks BER (definite and indefinite lengths) without ever
// holding more than one small element or one chunk in memory.

// Single-byte identifier octets used by CMS.
const (
	tagInteger     = 0x02
	tagOctetString = 0x04
	tagNull        = 0x05
	tagOID         = 0x06
	tagSequence    = 0x30
	tagSet         = 0x31
	tagCtx0        = 0xa0 // [0] constructed
	tagCtx1        = 0xa1 // [1] constructed
	tagCtx2        = 0xa2 // [2] constructed
	tagCtx0Prim    = 0x80 // [0] primitive
	tagConstructed = 0x20
)

// chunkSize is the size of the OCTET STRING chunks written for streamed
// content. It bounds the memory each layer holds.
const chunkSize = 64 << 10

// maxElement caps a non-streamed element (certificates, RecipientInfos,
// SignerInfos): they are read whole, and a hostile length must not make us
// allocate without bound.
const maxElement = 16 << 20

// maxDepth caps how deeply constructed elements nest in one BER layer (the
// message, the decrypted content, the compressed content), counting the
// layer's own structure, the elements read whole and the chunks of a
// constructed OCTET STRING. The deepest real CMS goes is about 20 (a
// signed attribute naming a certificate by issuer: SignedData, SignerInfo,
// signedAttrs, Attribute, SET, SigningCertificateV2, ESSCertIDv2,
// IssuerSerial, GeneralNames, Name, RDN, AttributeTypeAndValue). Without
// the cap, "30 80" repeated drove the reader's recursion into a fatal
// stack overflow (2.6 million frames for 6 MB).
const maxDepth = 64

// appendHeader appends a BER identifier and a definite length.
func appendHeader(b []byte, tag byte, n int) []byte {
	b = append(b, tag)
	switch {
	case n < 0x80:
		return append(b, byte(n))
	case n < 1<<8:
		return append(b, 0x81, byte(n))
	case n < 1<<16:
		return append(b, 0x82, byte(n>>8), byte(n))
	case n < 1<<24:
		return append(b, 0x83, byte(n>>16), byte(n>>8), byte(n))
	}
	return append(b, 0x84, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
}

// tlv encodes one definite-length element.
func tlv(tag byte, content ...[]byte) []byte {
	n := 0
	for _, c := range content {
		n += len(c)
	}
	b := appendHeader(make([]byte, 0, n+6), tag, n)
	for _, c := range content {
		b = append(b, c...)
	}
	return b
}

// indef is the header of an indefinite-length constructed element.
func indef(tag byte) []byte { return []byte{tag | tagConstructed, 0x80} }

// eoc is the end-of-contents marker closing an indefinite-length element.
var eoc = []byte{0, 0}

// chunkWriter cuts what is written to it into primitive OCTET STRINGs of at
// most chunkSize bytes, the form both openssl and RFC 5652 streaming use
// inside an indefinite-length constructed string.
type chunkWriter struct {
	w   io.Writer
	buf []byte
	hdr []byte
}

// newChunkWriter cuts into buf's first chunkSize bytes.
func newChunkWriter(w io.Writer, buf []byte) *chunkWriter {
	return &chunkWriter{w: w, buf: buf[:0:chunkSize]}
}

func (c *chunkWriter) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		if len(c.buf) == 0 && len(p) >= chunkSize {
			// Whole chunks go straight through without a copy.
			if err := c.emit(p[:chunkSize]); err != nil {
				return n, err
			}
			p, n = p[chunkSize:], n+chunkSize
			continue
		}
		k := copy(c.buf[len(c.buf):cap(c.buf)], p)
		c.buf = c.buf[:len(c.buf)+k]
		p, n = p[k:], n+k
		if len(c.buf) == cap(c.buf) {
			if err := c.flush(); err != nil {
				return n, err
			}
		}
	}
	return n, nil
}

func (c *chunkWriter) emit(p []byte) error {
	c.hdr = appendHeader(c.hdr[:0], tagOctetString, len(p))
	if _, err := c.w.Write(c.hdr); err != nil {
		return err
	}
	_, err := c.w.Write(p)
	return err
}

// flush writes what is buffered as one chunk (nothing if empty).
func (c *chunkWriter) flush() error {
	if len(c.buf) == 0 {
		return nil
	}
	err := c.emit(c.buf)
	c.buf = c.buf[:0]
	return err
}

// header is a parsed BER identifier and length.
type header struct {
	tag         byte // the identifier octet (class, constructed bit, number < 31)
	length      int64
	indefinite  bool
	headerBytes int
}

func (h header) constructed() bool { return h.tag&tagConstructed != 0 }

// berReader is a pull parser over a byte stream. It tracks the offset for
// error messages and a stack of open constructed elements so that the end
// of each (end-of-contents or exhausted definite length) is checked.
type berReader struct {
	r     *bufio.Reader
	off   int64
	stack []frame
	what  string // the layer's name in error messages, e.g. "EnvelopedData"
}

type frame struct {
	indefinite bool
	end        int64 // for definite lengths: offset of the first byte after
	name       string
}

func newBERReader(r io.Reader, what string, s *scratch) *berReader {
	br, ok := r.(*bufio.Reader)
	if !ok {
		br = s.reader(r)
	}
	return &berReader{r: br, what: what}
}

// errorf returns a *FormatError at the current offset.
func (b *berReader) errorf(kind error, format string, args ...any) error {
	return &FormatError{Layer: b.what, Offset: b.off, Msg: fmt.Sprintf(format, args...), Err: kind}
}

// eof maps a short read to ErrTruncated, keeping errors from lower layers.
func (b *berReader) eof(err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return b.errorf(ErrTruncated, "input ends early")
	}
	return err
}

func (b *berReader) readByte() (byte, error) {
	c, err := b.r.ReadByte()
	if err != nil {
		return 0, b.eof(err)
	}
	b.off++
	return c, nil
}

// more tells whether another element follows inside the innermost open
// element: false at its end-of-contents or at the end of its length.
func (b *berReader) more() (bool, error) {
	if len(b.stack) > 0 {
		f := b.stack[len(b.stack)-1]
		if !f.indefinite {
			if b.off > f.end {
				return false, b.errorf(ErrMalformed, "element overruns the end of %s", f.name)
			}
			return b.off < f.end, nil
		}
	}
	p, err := b.r.Peek(2)
	if err != nil {
		if len(b.stack) == 0 && err == io.EOF && len(p) == 0 {
			return false, nil
		}
		return false, b.eof(err)
	}
	return !(p[0] == 0 && p[1] == 0), nil
}

// peek returns the next identifier octet without consuming it.
func (b *berReader) peek() (byte, error) {
	p, err := b.r.Peek(1)
	if err != nil {
		return 0, b.eof(err)
	}
	return p[0], nil
}

// header reads one identifier and length.
func (b *berReader) header() (header, error) {
	start := b.off
	t, err := b.readByte()
	if err != nil {
		return header{}, err
	}
	if t&0x1f == 0x1f {
		return header{}, b.errorf(ErrMalformed, "multi-byte tags are not used by CMS")
	}
	l, err := b.readByte()
	if err != nil {
		return header{}, err
	}
	h := header{tag: t}
	switch {
	case l < 0x80:
		h.length = int64(l)
	case l == 0x80:
		if t&tagConstructed == 0 {
			return header{}, b.errorf(ErrMalformed, "indefinite length on a primitive element (tag 0x%02x)", t)
		}
		h.indefinite = true
	default:
		n := int(l & 0x7f)
		if n > 8 {
			return header{}, b.errorf(ErrMalformed, "length of %d octets", n)
		}
		var v int64
		for i := 0; i < n; i++ {
			c, err := b.readByte()
			if err != nil {
				return header{}, err
			}
			v = v<<8 | int64(c)
		}
		if v < 0 || v > 1<<50 {
			return header{}, b.errorf(ErrMalformed, "implausible length %d", v)
		}
		h.length = v
	}
	h.headerBytes = int(b.off - start)
	if n := len(b.stack); n > 0 && !h.indefinite {
		if f := b.stack[n-1]; !f.indefinite && b.off+h.length > f.end {
			return header{}, &FormatError{Layer: b.what, Offset: start, Err: ErrMalformed,
				Msg: fmt.Sprintf("element of %d bytes overruns the end of %s", h.length, f.name)}
		}
	}
	return h, nil
}

// open reads a constructed element with the given tag and enters it.
func (b *berReader) open(tag byte, name string) (header, error) {
	h, err := b.header()
	if err != nil {
		return h, err
	}
	if h.tag != tag {
		return h, b.errorf(ErrMalformed, "expected %s (tag 0x%02x), found tag 0x%02x", name, tag, h.tag)
	}
	return h, b.push(h, name)
}

// push enters the constructed element whose header h was just read. It
// refuses to nest deeper than maxDepth, so neither the stack nor the
// recursion of element grows with the input.
func (b *berReader) push(h header, name string) error {
	if len(b.stack) >= maxDepth {
		return &FormatError{Layer: b.what, Offset: b.off - int64(h.headerBytes), Err: ErrTooDeep,
			Msg: fmt.Sprintf("constructed elements nest deeper than %d (the limit) in %s", maxDepth, name)}
	}
	b.stack = append(b.stack, frame{indefinite: h.indefinite, end: b.off + h.length, name: name})
	return nil
}

// close leaves the innermost element, checking that it ends here.
func (b *berReader) close() error {
	f := b.stack[len(b.stack)-1]
	if f.indefinite {
		p, err := b.r.Peek(2)
		if err != nil {
			return b.eof(err)
		}
		if p[0] != 0 || p[1] != 0 {
			return b.errorf(ErrMalformed, "unexpected data at the end of %s", f.name)
		}
		b.r.Discard(2)
		b.off += 2
	} else if b.off != f.end {
		return b.errorf(ErrMalformed, "unexpected data at the end of %s", f.name)
	}
	b.stack = b.stack[:len(b.stack)-1]
	return nil
}

// element reads one whole element and returns it DER-shaped: indefinite
// lengths are replaced by definite ones so encoding/asn1 can parse it.
// Primitive content is kept byte for byte. The element is built in one
// buffer of at most maxElement bytes (plus its headers); each byte is moved
// at most once per enclosing constructed element, so at most maxDepth
// times.
func (b *berReader) element(name string) ([]byte, error) {
	h, err := b.header()
	if err != nil {
		return nil, err
	}
	return b.elementBody(h, name)
}

func (b *berReader) elementBody(h header, name string) ([]byte, error) {
	return b.appendElement(nil, h, name)
}

// longHeader is the room appendElement keeps for a constructed element's
// header until its length is known: the tag and a four-octet length.
const longHeader = 6

// appendElement appends the element whose header h has just been read to
// out (which holds only the enclosing elements' bytes, so len(out) is what
// the element read so far takes).
func (b *berReader) appendElement(out []byte, h header, name string) ([]byte, error) {
	if !h.indefinite && h.length > maxElement-int64(len(out)) {
		return nil, b.errorf(ErrMalformed, "%s of %d bytes exceeds the limit of %d", name, h.length, maxElement)
	}
	if !h.constructed() {
		out = appendHeader(out, h.tag, int(h.length))
		return b.appendContent(out, h.length)
	}
	// Constructed: walk the children so nested indefinite lengths are
	// normalised too.
	if err := b.push(h, name); err != nil {
		return nil, err
	}
	start := len(out)
	out = append(out, make([]byte, longHeader)...)
	for {
		ok, err := b.more()
		if err != nil {
			return nil, err
		}
		if !ok {
			break
		}
		ch, err := b.header()
		if err != nil {
			return nil, err
		}
		if out, err = b.appendElement(out, ch, name); err != nil {
			return nil, err
		}
		if len(out) > maxElement+maxDepth*longHeader {
			return nil, b.errorf(ErrMalformed, "%s exceeds the limit of %d bytes", name, maxElement)
		}
	}
	if err := b.close(); err != nil {
		return nil, err
	}
	// Now that the length is known, write the real header and move the
	// content up to it.
	n := len(out) - start - longHeader
	var hb [longHeader]byte
	hdr := appendHeader(hb[:0], h.tag, n)
	copy(out[start+len(hdr):], out[start+longHeader:])
	copy(out[start:], hdr)
	return out[:start+len(hdr)+n], nil
}

// appendContent appends the next n bytes of input to out. It grows out as
// the bytes arrive, so a length that lies costs no more memory than the
// input that backs it.
func (b *berReader) appendContent(out []byte, n int64) ([]byte, error) {
	for n > 0 {
		k := int(min(n, chunkSize))
		out = slices.Grow(out, k)
		m, err := io.ReadFull(b.r, out[len(out):len(out)+k])
		out = out[:len(out)+m]
		b.off += int64(m)
		if err != nil {
			return nil, b.eof(err)
		}
		n -= int64(k)
	}
	return out, nil
}

// skip reads and discards one element.
func (b *berReader) skip(name string) error {
	_, err := b.element(name)
	return err
}

// expectEnd checks that nothing follows the outermost element.
func (b *berReader) expectEnd() error {
	if _, err := b.r.Peek(1); err == io.EOF {
		return nil
	} else if err != nil {
		return err
	}
	return b.errorf(ErrMalformed, "trailing data after the CMS message")
}

// octets returns a reader over the content of an OCTET STRING whose header
// h has just been read: primitive, or constructed (definite or indefinite)
// from nested chunks, as BER allows. Reading it to io.EOF consumes the
// whole element.
func (b *berReader) octets(h header, name string) (io.Reader, error) {
	o := &octetReader{b: b, name: name, base: len(b.stack)}
	if h.constructed() {
		if err := b.push(h, name); err != nil {
			return nil, err
		}
	} else {
		o.left = h.length
	}
	return o, nil
}

type octetReader struct {
	b    *berReader
	name string
	base int   // stack depth outside the string
	left int64 // bytes left in the current primitive chunk
	done bool
}

func (o *octetReader) Read(p []byte) (int, error) {
	for o.left == 0 {
		if o.done {
			return 0, io.EOF
		}
		if len(o.b.stack) == o.base {
			o.done = true
			return 0, io.EOF
		}
		ok, err := o.b.more()
		if err != nil {
			return 0, err
		}
		if !ok {
			if err := o.b.close(); err != nil {
				return 0, err
			}
			continue
		}
		h, err := o.b.header()
		if err != nil {
			return 0, err
		}
		switch {
		case h.tag == tagOctetString:
			o.left = h.length
		case h.tag == tagOctetString|tagConstructed:
			if err := o.b.push(h, o.name); err != nil {
				return 0, err
			}
		default:
			return 0, o.b.errorf(ErrMalformed, "expected an OCTET STRING chunk in %s, found tag 0x%02x", o.name, h.tag)
		}
	}
	if int64(len(p)) > o.left {
		p = p[:o.left]
	}
	n, err := o.b.r.Read(p)
	o.b.off += int64(n)
	o.left -= int64(n)
	if err == io.EOF {
		if o.left > 0 {
			return n, o.b.eof(io.ErrUnexpectedEOF)
		}
		err = nil
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
