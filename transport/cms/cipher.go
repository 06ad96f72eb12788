package cms

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"io"
)

// Streaming content encryption. Go's cipher.AEAD needs the whole plaintext
// in memory (one Seal/Open call per message) and AuthEnvelopedData has one
// GCM tag over the whole content, so AES-GCM is composed here from AES-CTR
// and a streaming GHASH. The GHASH itself is computed by Go's
// hardware-accelerated GCM: sealing an empty plaintext with the data as
// additional data yields E_K(J0) xor GHASH(data || lengths), and GHASH is
// linear, so per-chunk results are combined with a few multiplications in
// GF(2^128). cipher_test.go checks the result against cipher.NewGCM and the
// interop tests against openssl.

// gf128 is an element of GCM's field, bytes 0..7 in hi (big-endian).
type gf128 struct{ hi, lo uint64 }

func gfLoad(b []byte) gf128 {
	return gf128{binary.BigEndian.Uint64(b), binary.BigEndian.Uint64(b[8:])}
}

func (x gf128) store(b []byte) {
	binary.BigEndian.PutUint64(b, x.hi)
	binary.BigEndian.PutUint64(b[8:], x.lo)
}

func (x gf128) xor(y gf128) gf128 { return gf128{x.hi ^ y.hi, x.lo ^ y.lo} }

// gfMul is the multiplication of NIST SP 800-38D, algorithm 1. It is
// called a few times per 64 KiB chunk, so clarity beats speed.
func gfMul(x, y gf128) gf128 {
	var z gf128
	v := y
	for i := 0; i < 128; i++ {
		var bit uint64
		if i < 64 {
			bit = x.hi >> (63 - i) & 1
		} else {
			bit = x.lo >> (127 - i) & 1
		}
		mask := -bit
		z.hi ^= v.hi & mask
		z.lo ^= v.lo & mask
		lsb := v.lo & 1
		v.lo = v.lo>>1 | v.hi<<63
		v.hi >>= 1
		v.hi ^= (0xe1 << 56) & -lsb
	}
	return z
}

// gfPow returns h^n.
func gfPow(h gf128, n int) gf128 {
	r := gf128{1 << 63, 0} // the field's one: bit 0 set
	for ; n > 0; n >>= 1 {
		if n&1 == 1 {
			r = gfMul(r, h)
		}
		h = gfMul(h, h)
	}
	return r
}

// ghashChunk is the chunk size the streaming GHASH hands to Go's GCM.
const ghashChunk = 64 << 10

// ghash computes GHASH_H(C || pad || [0]_64 || [len(C)]_64) over a stream
// C written in any pieces, for AuthEnvelopedData without authAttrs.
type ghash struct {
	aead    cipher.AEAD
	ej0     gf128 // E_K(0^96 || 1), for the all-zero helper nonce
	h       gf128
	hChunk  gf128 // H^(ghashChunk/16)
	lChunkH gf128 // length block of a full chunk, times H
	w       gf128 // H * GHASH(blocks so far)
	buf     []byte
	total   uint64
	scratch [16]byte
}

func newGHASH(block cipher.Block) (*ghash, error) {
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	var b [16]byte
	block.Encrypt(b[:], b[:])
	g := &ghash{aead: aead, h: gfLoad(b[:]), buf: make([]byte, 0, ghashChunk)}
	b = [16]byte{15: 1}
	block.Encrypt(b[:], b[:])
	g.ej0 = gfLoad(b[:])
	g.hChunk = gfPow(g.h, ghashChunk/16)
	g.lChunkH = gfMul(gf128{uint64(ghashChunk) * 8, 0}, g.h)
	return g, nil
}

func (g *ghash) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		if len(g.buf) == 0 && len(p) >= ghashChunk {
			g.absorb(p[:ghashChunk])
			p = p[ghashChunk:]
			continue
		}
		k := copy(g.buf[len(g.buf):cap(g.buf)], p)
		g.buf = g.buf[:len(g.buf)+k]
		p = p[k:]
		if len(g.buf) == cap(g.buf) {
			g.absorb(g.buf)
			g.buf = g.buf[:0]
		}
	}
	return n, nil
}

// absorb folds one chunk in; only the last chunk may be short.
func (g *ghash) absorb(c []byte) {
	var nonce [12]byte
	tag := g.aead.Seal(g.scratch[:0], nonce[:], nil, c)
	s := gfLoad(tag).xor(g.ej0) // = H*GHASH(c) xor L_c*H
	hm, lh := g.hChunk, g.lChunkH
	if len(c) != ghashChunk {
		hm = gfPow(g.h, (len(c)+15)/16)
		lh = gfMul(gf128{uint64(len(c)) * 8, 0}, g.h)
	}
	g.w = gfMul(g.w, hm).xor(s).xor(lh)
	g.total += uint64(len(c))
}

// sum returns GHASH over everything written plus the length block.
func (g *ghash) sum() gf128 {
	if len(g.buf) > 0 {
		g.absorb(g.buf)
		g.buf = g.buf[:0]
	}
	return g.w.xor(gfMul(gf128{0, g.total * 8}, g.h))
}

// gcmStream encrypts or decrypts AES-GCM content with a 12-byte nonce.
type gcmStream struct {
	ctr   cipher.Stream
	gh    *ghash
	tagJ0 gf128 // E_K(J0) for the message nonce
	n     uint64
}

// maxGCMBytes keeps the 32-bit GCM counter from wrapping (NIST limit).
const maxGCMBytes = (1<<32 - 2) * 16

var errGCMTooLong = errors.New("content exceeds the AES-GCM limit of 64 GiB")

func newGCMStream(key, nonce []byte) (*gcmStream, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	if len(nonce) != 12 {
		return nil, &AlgorithmError{Role: "content encryption", Name: "AES-GCM", Reason: "only 12-byte nonces are supported"}
	}
	gh, err := newGHASH(block)
	if err != nil {
		return nil, err
	}
	var j [16]byte
	copy(j[:], nonce)
	j[15] = 1
	var ej [16]byte
	block.Encrypt(ej[:], j[:])
	j[15] = 2
	return &gcmStream{ctr: cipher.NewCTR(block, j[:]), gh: gh, tagJ0: gfLoad(ej[:])}, nil
}

// seal encrypts p in place and feeds the ciphertext to GHASH.
func (s *gcmStream) seal(p []byte) error {
	if s.n += uint64(len(p)); s.n > maxGCMBytes {
		return errGCMTooLong
	}
	s.ctr.XORKeyStream(p, p)
	s.gh.Write(p)
	return nil
}

// open feeds ciphertext p to GHASH and decrypts it in place.
func (s *gcmStream) open(p []byte) error {
	if s.n += uint64(len(p)); s.n > maxGCMBytes {
		return errGCMTooLong
	}
	s.gh.Write(p)
	s.ctr.XORKeyStream(p, p)
	return nil
}

// tag returns the full 16-byte tag; call once, after all content.
func (s *gcmStream) tag() []byte {
	t := make([]byte, 16)
	s.gh.sum().xor(s.tagJ0).store(t)
	return t
}

// verify compares a received tag (12 to 16 bytes) in constant time.
func (s *gcmStream) verify(mac []byte) bool {
	t := s.tag()
	return len(mac) >= 12 && len(mac) <= 16 && subtle.ConstantTimeCompare(t[:len(mac)], mac) == 1
}

// cbcEncrypter is a streaming AES-CBC encrypter with PKCS#7 padding.
type cbcEncrypter struct {
	w    io.Writer
	mode cipher.BlockMode
	buf  []byte
}

// newCBCEncrypter works in buf (at least chunkSize+aes.BlockSize bytes).
func newCBCEncrypter(w io.Writer, key, iv, buf []byte) (*cbcEncrypter, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return &cbcEncrypter{w: w, mode: cipher.NewCBCEncrypter(block, iv), buf: buf[: 0 : chunkSize+aes.BlockSize]}, nil
}

func (c *cbcEncrypter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		k := copy(c.buf[len(c.buf):cap(c.buf)-aes.BlockSize], p)
		c.buf = c.buf[:len(c.buf)+k]
		p = p[k:]
		full := len(c.buf) - len(c.buf)%aes.BlockSize
		if len(c.buf) == cap(c.buf)-aes.BlockSize {
			c.mode.CryptBlocks(c.buf[:full], c.buf[:full])
			if _, err := c.w.Write(c.buf[:full]); err != nil {
				return n - len(p), err
			}
			rest := copy(c.buf, c.buf[full:])
			c.buf = c.buf[:rest]
		}
	}
	return n, nil
}

// Close pads and writes the last block(s).
func (c *cbcEncrypter) Close() error {
	pad := aes.BlockSize - len(c.buf)%aes.BlockSize
	for i := 0; i < pad; i++ {
		c.buf = append(c.buf, byte(pad))
	}
	c.mode.CryptBlocks(c.buf, c.buf)
	_, err := c.w.Write(c.buf)
	c.buf = c.buf[:0]
	return err
}

// cbcDecrypter decrypts a CBC ciphertext stream, holding back the last
// block until the end so the padding can be checked and removed.
type cbcDecrypter struct {
	r    io.Reader
	mode cipher.BlockMode
	buf  []byte // decrypted, not yet returned; the last block is held back
	out  []byte
	in   []byte
	eof  bool
	err  error
}

// newCBCDecrypter reads into buf (at least chunkSize+aes.BlockSize bytes).
func newCBCDecrypter(r io.Reader, key, iv, buf []byte) (*cbcDecrypter, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	if len(iv) != aes.BlockSize {
		return nil, &AlgorithmError{Role: "content encryption", Name: "AES-CBC", Reason: "IV is not 16 bytes"}
	}
	return &cbcDecrypter{r: r, mode: cipher.NewCBCDecrypter(block, iv), in: buf[: 0 : chunkSize+aes.BlockSize]}, nil
}

func (c *cbcDecrypter) Read(p []byte) (int, error) {
	for len(c.out) == 0 {
		if c.err != nil {
			return 0, c.err
		}
		if err := c.fill(); err != nil {
			c.err = err
		}
	}
	n := copy(p, c.out)
	c.out = c.out[n:]
	return n, nil
}

// fill reads more ciphertext and decrypts every complete block except the
// last one seen, which is kept until EOF shows it is the padded one.
func (c *cbcDecrypter) fill() error {
	// c.in holds undecrypted bytes: the held-back block and any partial.
	n, err := c.r.Read(c.in[len(c.in):cap(c.in)])
	c.in = c.in[:len(c.in)+n]
	if err == io.EOF {
		if len(c.in)%aes.BlockSize != 0 || len(c.in) == 0 {
			return ErrCiphertext
		}
		c.mode.CryptBlocks(c.in, c.in)
		pad := int(c.in[len(c.in)-1])
		if pad == 0 || pad > aes.BlockSize {
			return ErrCiphertext
		}
		for _, b := range c.in[len(c.in)-pad:] {
			if int(b) != pad {
				return ErrCiphertext
			}
		}
		c.out = append(c.buf[:0], c.in[:len(c.in)-pad]...)
		c.in = c.in[:0]
		if len(c.out) == 0 {
			return io.EOF
		}
		c.err = io.EOF
		return nil
	}
	if err != nil {
		return err
	}
	// Decrypt all complete blocks but the last.
	full := len(c.in) - len(c.in)%aes.BlockSize
	if full > aes.BlockSize {
		k := full - aes.BlockSize
		c.buf = append(c.buf[:0], c.in[:k]...)
		c.mode.CryptBlocks(c.buf, c.buf)
		c.out = c.buf
		rest := copy(c.in, c.in[k:])
		c.in = c.in[:rest]
	}
	return nil
}
