// Package payload seals message payloads for rest (encrypts them with this
// instance's key) and keeps them in the register, addressed by the SHA-256
// of their plaintext, so a register entry's payload hash names the payload
// it concerns.
//
// A payload is kept with the entry that first names it: Seal encrypts it,
// and the caller attaches the result (Sealed.Entry) to that entry's
// AppendParams — a "sealed" entry in an Enqueue, a "feedback" entry in a
// Transition — so the bytes and the entry commit in one transaction. No
// entry can name a payload that was not kept, a crash leaves no orphan
// files behind, and a delivery waits for one commit (one fsync) where a
// file per payload cost two more each (see BenchmarkDelivery).
//
// # Format and why it is hand-written
//
// The bytes kept for a payload are
//
//	"MWSEAL1\n" | salt (32 random bytes) | chunk … | final chunk
//
// Chunks are AES-256-GCM over 64 KiB of plaintext with a 16-byte tag; the
// final chunk holds less than 64 KiB (possibly nothing). The key is
// HKDF-SHA256(instance key, salt), so no two payloads share a key; the
// nonce is an 11-byte chunk counter and a final-chunk flag (the STREAM
// construction), so chunks cannot be reordered, dropped or truncated
// unnoticed. Reading checks every tag and, at the end, that the plaintext
// hashes to the payload's address.
//
// None of the chosen dependencies does this: the PKCS#7 libraries do not
// stream (peak memory 2–6× the payload, see libraries.md) and their AES-GCM
// output is not interoperable anyway, and the CMS package (transport/cms)
// seals for the BA's certificate, not for local storage at rest. The
// construction is the standard library's AES-GCM and HKDF arranged as
// above; it is small enough to review.
//
// The instance key lives in <dir>/payload.key (32 random bytes, mode 0600),
// created at first use. Losing it loses every payload; back it up apart
// from the register. Registers from before payloads moved into the
// database kept them as files, <dir>/<first two hex digits>/<sha256>.sealed
// in the same format; Open still reads those.
package payload

import (
	"bufio"
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"meldeweg.dev/meldeweg/transport/register"
	"meldeweg.dev/meldeweg/transport/register/internal/keyfile"
)

const (
	magic     = "MWSEAL1\n"
	saltSize  = 32
	chunkSize = 64 << 10
	tagSize   = 16
	keySize   = 32
)

// ErrCorrupt: a sealed file failed authentication or does not hash to its
// address. Its contents must not be used.
var ErrCorrupt = errors.New("sealed payload is corrupt or was tampered with")

// Store seals payloads for rest and reads them back from the register. It
// is safe for concurrent use, also by several processes.
type Store struct {
	dir string
	key []byte
	reg register.Store
}

// Open opens (creating it, mode 0700) the directory dir that holds the
// instance key, dir/payload.key (created on first use, mode 0600), and
// keeps payloads in reg.
func Open(dir string, reg register.Store) (*Store, error) {
	if reg == nil {
		return nil, errors.New("payload store: no register to keep payloads in")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("payload store: %w", err)
	}
	key, err := keyfile.LoadOrCreate(filepath.Join(dir, "payload.key"), keySize)
	if err != nil {
		return nil, fmt.Errorf("payload store: %w", err)
	}
	return &Store{dir: dir, key: key, reg: reg}, nil
}

// Dir returns the key directory.
func (s *Store) Dir() string { return s.dir }

func (s *Store) aead(salt []byte) (cipher.AEAD, error) {
	k, err := hkdf.Key(sha256.New, s.key, salt, "meldeweg payload v1", keySize)
	if err != nil {
		return nil, err
	}
	b, err := aes.NewCipher(k)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

func nonce(counter uint64, final bool) []byte {
	n := make([]byte, 12)
	binary.BigEndian.PutUint64(n[3:11], counter)
	if final {
		n[11] = 1
	}
	return n
}

// spillAt is how many sealed bytes Seal holds in memory before it moves
// them to a temporary file: eM@w uploads and answers (kilobytes) never
// touch the disk twice, a monthly XSozial dataset does not fill memory.
const spillAt = 8 << 20

// Sealed is a payload sealed for rest, not yet kept: attach it to the
// entry that names it (Entry) and append that entry. Close releases it.
type Sealed struct {
	// Ref is the plaintext's SHA-256 and size: the payload's address.
	Ref  register.PayloadRef
	mem  []byte
	file *os.File // past spillAt: an unlinked temporary file
	size int64
}

// Data returns a reader of the sealed bytes from the start; each call
// gives a new one.
func (p *Sealed) Data() io.Reader {
	if p.file != nil {
		return io.NewSectionReader(p.file, 0, p.size)
	}
	return bytes.NewReader(p.mem)
}

// Entry returns ap naming this payload and carrying its sealed bytes, so
// that appending it keeps the payload in the same transaction.
func (p *Sealed) Entry(ap register.AppendParams) register.AppendParams {
	ap.Payload, ap.Data = p.Ref, p.Data()
	return ap
}

// Close releases the temporary file, if any.
func (p *Sealed) Close() error {
	if p.file != nil {
		return p.file.Close()
	}
	return nil
}

// spillWriter collects sealed bytes in memory and moves them to an
// unlinked temporary file in dir once they pass spillAt. The file is not
// synced: the register's commit is what makes a payload durable.
type spillWriter struct {
	dir  string
	mem  []byte
	file *os.File
	w    *bufio.Writer
	size int64
}

func (w *spillWriter) Write(b []byte) (int, error) {
	w.size += int64(len(b))
	if w.file == nil && len(w.mem)+len(b) <= spillAt {
		w.mem = append(w.mem, b...)
		return len(b), nil
	}
	if w.file == nil {
		if err := os.MkdirAll(w.dir, 0o700); err != nil {
			return 0, err
		}
		f, err := os.CreateTemp(w.dir, "seal-*")
		if err != nil {
			return 0, err
		}
		os.Remove(f.Name()) // nothing to clean up after a crash
		w.file, w.w = f, bufio.NewWriterSize(f, 1<<20)
		if _, err := w.w.Write(w.mem); err != nil {
			return 0, err
		}
		w.mem = nil
	}
	return w.w.Write(b)
}

// Seal reads r to the end and seals it for rest under the SHA-256 of what
// it read. Nothing is kept until the returned payload is appended with
// its entry (Sealed.Entry).
func (s *Store) Seal(ctx context.Context, r io.Reader) (*Sealed, error) {
	salt := make([]byte, saltSize)
	if _, err := rand.Read(salt); err != nil {
		return nil, err
	}
	aead, err := s.aead(salt)
	if err != nil {
		return nil, err
	}
	w := &spillWriter{dir: filepath.Join(s.dir, "tmp")}
	fail := func(err error) (*Sealed, error) {
		if w.file != nil {
			w.file.Close()
		}
		return nil, err
	}
	w.Write([]byte(magic))
	w.Write(salt)
	h := sha256.New()
	in, sealed := getChunk(), getChunk()
	defer putChunk(in)
	defer putChunk(sealed)
	buf, out := in[:chunkSize], sealed[:0]
	var size int64
	for counter := uint64(0); ; counter++ {
		if err := ctx.Err(); err != nil {
			return fail(err)
		}
		n, err := io.ReadFull(r, buf)
		final := false
		switch {
		case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
			final = true
		case err != nil:
			return fail(fmt.Errorf("reading payload: %w", err))
		}
		h.Write(buf[:n])
		size += int64(n)
		out = aead.Seal(out[:0], nonce(counter, final), buf[:n], nil)
		if _, err := w.Write(out); err != nil {
			return fail(fmt.Errorf("sealing payload for rest: %w", err))
		}
		if final {
			break
		}
	}
	if w.w != nil {
		if err := w.w.Flush(); err != nil {
			return fail(fmt.Errorf("sealing payload for rest: %w", err))
		}
	}
	p := &Sealed{mem: w.mem, file: w.file, size: w.size}
	h.Sum(p.Ref.SHA256[:0])
	p.Ref.Size = size
	return p, nil
}

// legacyPath is where registers before schema version 2 kept payload sum.
func (s *Store) legacyPath(sum register.Hash) string {
	h := sum.String()
	return filepath.Join(s.dir, h[:2], h+".sealed")
}

// kept returns the kept bytes of sum: from the register, or from a file
// an older Meldeweg wrote.
func (s *Store) kept(ctx context.Context, sum register.Hash) (io.ReadCloser, error) {
	rc, err := s.reg.Payload(ctx, sum)
	if !errors.Is(err, register.ErrNotFound) {
		return rc, err
	}
	f, ferr := os.Open(s.legacyPath(sum))
	if ferr != nil {
		if errors.Is(ferr, fs.ErrNotExist) {
			return nil, fmt.Errorf("payload %s: not kept (never stored, or deleted): %w", sum, register.ErrNotFound)
		}
		return nil, fmt.Errorf("payload %s: %w", sum, ferr)
	}
	return f, nil
}

// Open returns a reader of the plaintext of payload sum. Every chunk is
// authenticated before it is returned; tampered, truncated or misplaced
// bytes make Read return an error wrapping ErrCorrupt (at the latest at
// the end, where the plaintext hash is checked against sum). A payload
// that is not kept gives an error wrapping register.ErrNotFound.
func (s *Store) Open(ctx context.Context, sum register.Hash) (io.ReadCloser, error) {
	src, err := s.kept(ctx, sum)
	if err != nil {
		return nil, err
	}
	// The chunks are read whole with io.ReadFull, so src needs no buffer
	// of its own.
	head := make([]byte, len(magic)+saltSize)
	if _, err := io.ReadFull(src, head); err != nil || string(head[:len(magic)]) != magic {
		src.Close()
		if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("payload %s: %w", sum, err)
		}
		return nil, fmt.Errorf("payload %s: no sealed-payload header: %w", sum, ErrCorrupt)
	}
	aead, err := s.aead(head[len(magic):])
	if err != nil {
		src.Close()
		return nil, err
	}
	buf := getChunk()
	return &reader{src: src, aead: aead, want: sum, h: sha256.New(), buf: buf, in: buf[:]}, nil
}

type reader struct {
	mu      sync.Mutex // Close may come from another goroutine (an HTTP transport does that)
	src     io.ReadCloser
	aead    cipher.AEAD
	want    register.Hash
	h       hash.Hash
	buf     *chunkBuf // returned to the pool by Close
	in      []byte    // one sealed chunk, decrypted in place
	plain   []byte    // decrypted, not yet returned
	counter uint64
	done    bool
	err     error
}

func (r *reader) Read(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for len(r.plain) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		if r.done {
			return 0, io.EOF
		}
		r.err = r.next()
	}
	n := copy(p, r.plain)
	r.plain = r.plain[n:]
	return n, nil
}

// next decrypts one chunk; a short chunk is the final one.
func (r *reader) next() error {
	n, err := io.ReadFull(r.src, r.in)
	final := false
	switch {
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		final = true
	case err != nil:
		return fmt.Errorf("payload %s: %w", r.want, err)
	}
	if n < tagSize {
		return fmt.Errorf("payload %s: chunk %d truncated: %w", r.want, r.counter, ErrCorrupt)
	}
	plain, err := r.aead.Open(r.in[:0], nonce(r.counter, final), r.in[:n], nil)
	if err != nil {
		return fmt.Errorf("payload %s: chunk %d fails authentication: %w", r.want, r.counter, ErrCorrupt)
	}
	r.counter++
	r.h.Write(plain)
	r.plain = plain
	if final {
		var got register.Hash
		r.h.Sum(got[:0])
		if got != r.want {
			return fmt.Errorf("payload %s: plaintext hashes to %s: %w", r.want, got, ErrCorrupt)
		}
		r.done = true
	}
	return nil
}

// Close closes the source and gives the buffers back; Read after Close
// fails.
func (r *reader) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.buf == nil {
		return nil
	}
	putChunk(r.buf)
	r.buf, r.in, r.plain, r.err = nil, nil, nil, errClosed
	return r.src.Close()
}

var errClosed = errors.New("payload: read after Close")

// chunkBuf holds one sealed chunk: Seal works in two, an open payload in
// one. They are pooled: a stream of small eM@w messages would otherwise
// allocate and clear 64 to 128 KiB per payload (three payloads per
// message).
type chunkBuf [chunkSize + tagSize]byte

var chunkPool = sync.Pool{New: func() any { return new(chunkBuf) }}

func getChunk() *chunkBuf  { return chunkPool.Get().(*chunkBuf) }
func putChunk(b *chunkBuf) { chunkPool.Put(b) }

// Has reports whether payload sum is kept.
func (s *Store) Has(ctx context.Context, sum register.Hash) (bool, error) {
	rc, err := s.kept(ctx, sum)
	if errors.Is(err, register.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	rc.Close()
	return true, nil
}

// DeleteParams describes a retention deletion.
type DeleteParams struct {
	Payload   register.PayloadRef // required
	Direction register.Direction  // required, as in the register
	Channel   register.Channel    // required
	MessageID register.MessageID  // the message the payload belonged to, if any
	Actor     register.Actor      // required: who decided the deletion
	Reason    string              // e.g. "retention: 8 years after delivery"; no personal data
}

// Delete removes a payload under a retention rule: the "payload-deleted"
// entry and the removal commit together (register.Store.DeletePayload),
// so a deletion is never unrecorded. The register keeps the payload's
// hash and size, so the chain still verifies. Deleting a payload that is
// already gone still records the decision and returns no error.
func (s *Store) Delete(ctx context.Context, p DeleteParams) (register.Entry, error) {
	e, err := s.reg.DeletePayload(ctx, register.AppendParams{
		Direction: p.Direction, Channel: p.Channel, Event: register.EventPayloadDeleted, Actor: p.Actor,
		MessageID: p.MessageID, Payload: p.Payload, Detail: p.Reason,
	})
	if err != nil {
		return register.Entry{}, err
	}
	// A file from an older Meldeweg goes too.
	path := s.legacyPath(p.Payload.SHA256)
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return e, fmt.Errorf("payload %s: deletion recorded as entry %d, but removing the file an older Meldeweg kept failed: %w", p.Payload.SHA256, e.Seq(), err)
	}
	return e, nil
}
