// Package payload stores message payloads sealed (encrypted) next to the
// register, addressed by the SHA-256 of their plaintext, so a register
// entry's payload hash names the file that holds it.
//
// # Format and why it is hand-written
//
// Each payload is one file, <dir>/<first two hex digits>/<sha256>.sealed:
//
//	"MWSEAL1\n" | salt (32 random bytes) | chunk … | final chunk
//
// Chunks are AES-256-GCM over 64 KiB of plaintext with a 16-byte tag; the
// final chunk holds less than 64 KiB (possibly nothing). The file key is
// HKDF-SHA256(instance key, salt), so no two files share a key; the nonce
// is an 11-byte chunk counter and a final-chunk flag (the STREAM
// construction), so chunks cannot be reordered, dropped or truncated
// unnoticed. Reading checks every tag and, at the end, that the plaintext
// hashes to the file's address.
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
// from the payloads.
package payload

import (
	"bufio"
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

// Store is a directory of sealed payloads. It is safe for concurrent use,
// also by several processes.
type Store struct {
	dir string
	key []byte
}

// Open opens (creating it, mode 0700) the payload directory dir, and its
// key file dir/payload.key (creating it on first use, mode 0600).
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("payload store: %w", err)
	}
	key, err := keyfile.LoadOrCreate(filepath.Join(dir, "payload.key"), keySize)
	if err != nil {
		return nil, fmt.Errorf("payload store: %w", err)
	}
	return &Store{dir: dir, key: key}, nil
}

// Dir returns the store's directory.
func (s *Store) Dir() string { return s.dir }

// Path returns where the sealed file for sum lives (whether or not it
// exists).
func (s *Store) Path(sum register.Hash) string {
	h := sum.String()
	return filepath.Join(s.dir, h[:2], h+".sealed")
}

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

// Put reads r to the end, seals it and stores it under the SHA-256 of what
// it read. Storing the same plaintext twice keeps one file. The file is
// synced and renamed into place before Put returns, so a returned
// PayloadRef always names a durable file.
func (s *Store) Put(ctx context.Context, r io.Reader) (register.PayloadRef, error) {
	tmpDir := filepath.Join(s.dir, "tmp")
	if err := os.MkdirAll(tmpDir, 0o700); err != nil {
		return register.PayloadRef{}, err
	}
	tmp, err := os.CreateTemp(tmpDir, "put-*")
	if err != nil {
		return register.PayloadRef{}, err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()

	salt := make([]byte, saltSize)
	if _, err := rand.Read(salt); err != nil {
		return register.PayloadRef{}, err
	}
	aead, err := s.aead(salt)
	if err != nil {
		return register.PayloadRef{}, err
	}
	w := bufio.NewWriterSize(tmp, chunkSize+tagSize)
	w.WriteString(magic)
	w.Write(salt)
	h := sha256.New()
	buf := make([]byte, chunkSize)
	out := make([]byte, 0, chunkSize+tagSize)
	var size int64
	for counter := uint64(0); ; counter++ {
		if err := ctx.Err(); err != nil {
			return register.PayloadRef{}, err
		}
		n, err := io.ReadFull(r, buf)
		final := false
		switch {
		case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
			final = true
		case err != nil:
			return register.PayloadRef{}, fmt.Errorf("reading payload: %w", err)
		}
		h.Write(buf[:n])
		size += int64(n)
		out = aead.Seal(out[:0], nonce(counter, final), buf[:n], nil)
		if _, err := w.Write(out); err != nil {
			return register.PayloadRef{}, err
		}
		if final {
			break
		}
	}
	if err := w.Flush(); err != nil {
		return register.PayloadRef{}, err
	}
	if err := tmp.Sync(); err != nil {
		return register.PayloadRef{}, err
	}
	if err := tmp.Close(); err != nil {
		return register.PayloadRef{}, err
	}
	var ref register.PayloadRef
	h.Sum(ref.SHA256[:0])
	ref.Size = size
	final := s.Path(ref.SHA256)
	if err := os.MkdirAll(filepath.Dir(final), 0o700); err != nil {
		return register.PayloadRef{}, err
	}
	if err := os.Link(tmp.Name(), final); err != nil && !errors.Is(err, fs.ErrExist) {
		return register.PayloadRef{}, err
	}
	syncDir(filepath.Dir(final))
	return ref, nil
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// Open returns a reader of the plaintext stored under sum. Every chunk is
// authenticated before it is returned; a tampered, truncated or misplaced
// file makes Read return an error wrapping ErrCorrupt (at the latest at
// the end, where the plaintext hash is checked against sum). A missing
// payload gives an error wrapping fs.ErrNotExist.
func (s *Store) Open(sum register.Hash) (io.ReadCloser, error) {
	f, err := os.Open(s.Path(sum))
	if err != nil {
		return nil, fmt.Errorf("payload %s: %w", sum, err)
	}
	br := bufio.NewReaderSize(f, chunkSize+tagSize)
	head := make([]byte, len(magic)+saltSize)
	if _, err := io.ReadFull(br, head); err != nil || string(head[:len(magic)]) != magic {
		f.Close()
		return nil, fmt.Errorf("payload %s: no sealed-payload header: %w", sum, ErrCorrupt)
	}
	aead, err := s.aead(head[len(magic):])
	if err != nil {
		f.Close()
		return nil, err
	}
	return &reader{f: f, r: br, aead: aead, want: sum, h: sha256.New(), in: make([]byte, chunkSize+tagSize)}, nil
}

type reader struct {
	f       *os.File
	r       io.Reader
	aead    cipher.AEAD
	want    register.Hash
	h       hash.Hash
	in      []byte
	plain   []byte // decrypted, not yet returned
	counter uint64
	done    bool
	err     error
}

func (r *reader) Read(p []byte) (int, error) {
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
	n, err := io.ReadFull(r.r, r.in)
	final := false
	switch {
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		final = true
	case err != nil:
		return err
	}
	if n < tagSize {
		return fmt.Errorf("payload %s: chunk %d truncated: %w", r.want, r.counter, ErrCorrupt)
	}
	plain, err := r.aead.Open(r.in[:0:0], nonce(r.counter, final), r.in[:n], nil)
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

func (r *reader) Close() error { return r.f.Close() }

// Has reports whether a sealed file for sum exists.
func (s *Store) Has(sum register.Hash) (bool, error) {
	_, err := os.Stat(s.Path(sum))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
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

// Delete removes a payload under a retention rule. It first appends a
// "payload-deleted" entry to reg (so a deletion is never unrecorded), then
// removes the file. The register keeps the payload's hash and size, so
// the chain still verifies. Deleting a payload that is already gone still
// records the decision and returns no error.
func (s *Store) Delete(ctx context.Context, reg register.Store, p DeleteParams) (register.Entry, error) {
	if p.Payload.IsZero() {
		return register.Entry{}, &register.FieldError{Field: "Payload", Expected: "the SHA-256 and size of the payload to delete"}
	}
	e, err := reg.Append(ctx, register.AppendParams{
		Direction: p.Direction, Channel: p.Channel, Event: register.EventPayloadDeleted, Actor: p.Actor,
		MessageID: p.MessageID, Payload: p.Payload, Detail: p.Reason,
	})
	if err != nil {
		return register.Entry{}, err
	}
	path := s.Path(p.Payload.SHA256)
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return e, fmt.Errorf("payload %s: deletion recorded as entry %d, but removing the file failed: %w", p.Payload.SHA256, e.Seq(), err)
	}
	syncDir(filepath.Dir(path))
	return e, nil
}
