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
//	"MWSEAL2\n" | key ID (8 bytes) | salt (32 random bytes) | chunk … | final chunk
//
// The key ID is the first 8 bytes of SHA-256("meldeweg payload key id
// v1\x00" | instance key): it names the key without revealing it, so a
// payload read with the wrong key is refused with both key IDs instead of
// failing authentication as if it were corrupt. Payloads sealed before
// key IDs were recorded start "MWSEAL1\n" and have no key ID.
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
// The instance key lives in <dir>/payload.key (32 random bytes, mode 0600,
// in a 0700 directory), created at first use — but never for a register
// that already keeps payloads: a missing or wrong key (a wrong directory)
// is a *KeyError naming the key ID the payloads want and the file looked
// at. Losing the key loses every payload; back it up apart from the
// register. Registers from before payloads moved into the
// database kept them as files, <dir>/<first two hex digits>/<sha256>.sealed
// in the same format; Open still reads those.
//
// # Tenants and the key hierarchy
//
// Payloads of a store bound to a tenant (register.Store.Tenant) are
// sealed "MWSEAL3\n" (same layout as MWSEAL2), with the tenant and key
// ID as associated data of every chunk and HKDF info "meldeweg payload
// v3": a payload copied into another tenant's store does not open there,
// even under the same key.
//
// With a key-encryption key (Options.KEK), payloads are sealed with data
// keys: one per tenant × data class (register.DataClasses) × month, 32
// random bytes, made on first use and kept in the register wrapped under
// the KEK (AES-256-GCM, bound to tenant, class, month and key ID). Every
// payload names its data key's ID in its header. The KEK itself is never
// stored by Meldeweg: it comes from a file of mode 0400 away from the
// register, an environment variable or a command (LoadKEK).
//
// Rotating the KEK (RotateKEK) re-wraps the data keys and touches no
// payload. Destroying a data key (DestroyDataKey) overwrites its wrapped
// form: exactly the payloads sealed with it become unreadable.
//
// The instance key (payload.key) stays a legacy data key: payloads sealed
// with it before the hierarchy keep opening as long as the file is there;
// no new payload is sealed with it once a KEK is configured.
//
// # Limits
//
// Open checks the key against a few kept payloads (the first by SHA-256),
// not all: a register that holds payloads sealed under two keys (made by
// the defect this check fixes) opens with either, and reading a payload of
// the other key is refused with both key IDs. Payloads sealed before key
// IDs were recorded cannot tell a wrong key from damage.
//
// Destroying a data key clears its wrapped form in the register; SQLite
// runs with secure_delete, so the freed bytes are zeroed, but a copy may
// live on in the write-ahead log until the next checkpoint, in PostgreSQL
// in the old row version until VACUUM, and in every backup taken before.
// Verify with a payload checker reports the payloads of a destroyed key
// as unreadable. A key-encryption key from a command is read once per
// process; the command is trusted not to log it.
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
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"meldeweg.dev/meldeweg/transport/register"
	"meldeweg.dev/meldeweg/transport/register/internal/keyfile"
)

const (
	magicV1   = "MWSEAL1\n" // no key ID
	magic     = "MWSEAL2\n" // key ID, no tenant
	magicV3   = "MWSEAL3\n" // key ID, bound to the tenant
	keyIDSize = 8
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
	dir    string
	key    []byte // the instance key (legacy data key with a KEK); nil if there is none
	keyID  KeyID
	reg    register.Store
	tenant register.TenantID // reg's; empty: seal as before tenant binding (MWSEAL2)
	kek    *KEK              // nil: no key hierarchy, seal with the instance key
	now    func() time.Time
	keys   dataKeys
}

// KeyID names an instance key without revealing it.
type KeyID [keyIDSize]byte

// String is 16 hex digits.
func (k KeyID) String() string { return hex.EncodeToString(k[:]) }

func keyIDOf(key []byte) KeyID {
	h := sha256.New()
	h.Write([]byte("meldeweg payload key id v1\x00"))
	h.Write(key)
	var id KeyID
	copy(id[:], h.Sum(nil))
	return id
}

// Key errors; the concrete error is a *KeyError.
var (
	// ErrNoKey: the key file does not exist, and the register keeps
	// payloads, so a new key must not be made.
	ErrNoKey = errors.New("payload key not found")
	// ErrWrongKey: payloads were sealed under another key than the one in
	// the key file.
	ErrWrongKey = errors.New("payload sealed under another key")
)

// KeyError says which key the payloads want and which file was looked at.
type KeyError struct {
	// Path is the key file looked at.
	Path string
	// Want is the key ID the payloads were sealed with; empty for
	// payloads sealed before key IDs were recorded.
	Want string
	// Have is the key ID of the key in Path; empty if there is none.
	Have string
	// Payload is the payload that wants the key.
	Payload register.Hash
}

func (e *KeyError) Error() string {
	want := "key ID " + e.Want
	if e.Want == "" {
		want = "a key from before key IDs were recorded"
	}
	if e.Have == "" {
		return fmt.Sprintf("payload key %s does not exist, but the register keeps payloads sealed with %s (payload %s); "+
			"no new key is made for it: use the directory that holds that key, or restore it from the backup", e.Path, want, e.Payload)
	}
	return fmt.Sprintf("payload key %s has key ID %s, but payload %s is sealed with %s: wrong key directory?", e.Path, e.Have, e.Payload, want)
}

// Unwrap makes errors.Is work with ErrNoKey and ErrWrongKey.
func (e *KeyError) Unwrap() error {
	if e.Have == "" {
		return ErrNoKey
	}
	return ErrWrongKey
}

// Open opens the directory dir that holds the instance key,
// dir/payload.key, and keeps payloads in reg. If the key does not exist
// and reg keeps no payloads, it creates the key (mode 0600) and dir (mode
// 0700). If reg keeps payloads, the key must be theirs: a missing key or
// one none of them was sealed with is a *KeyError, and nothing is
// created.
func Open(dir string, reg register.Store) (*Store, error) {
	return OpenWith(dir, reg, Options{})
}

// Load is Open for commands that must change nothing: a missing key is a
// *KeyError (errors.Is ErrNoKey) also when reg keeps no payloads.
func Load(dir string, reg register.Store) (*Store, error) {
	return OpenWith(dir, reg, Options{Load: true})
}

// samples is how many kept payloads Open checks the key against.
const samples = 4

func open(dir string, reg register.Store, create bool, o Options) (*Store, error) {
	if reg == nil {
		return nil, errors.New("payload store: no register to keep payloads in")
	}
	ctx := context.Background()
	path := filepath.Join(dir, "payload.key")
	heads, err := sampleHeads(ctx, reg)
	if err != nil {
		return nil, fmt.Errorf("payload store: %w", err)
	}
	var key []byte
	_, serr := os.Stat(path)
	if o.KEK != nil && errors.Is(serr, fs.ErrNotExist) {
		// Under the key hierarchy the instance key is only a legacy data
		// key for payloads from before it: none is made.
		return newStore(dir, nil, reg, o), nil
	}
	for _, h := range heads {
		if o.KEK != nil {
			break
		}
		if !h.hasID {
			continue
		}
		if _, err := reg.DataKey(ctx, h.id.String()); err == nil {
			return nil, fmt.Errorf("payload store: payload %s is sealed with data key %s of the key hierarchy: %w (kek_file, kek_env or kek_command)",
				h.sum, h.id, ErrNoKEK)
		}
	}
	switch {
	case errors.Is(serr, fs.ErrNotExist) && (len(heads) > 0 || !create):
		ke := &KeyError{Path: path}
		if len(heads) > 0 {
			ke.Payload, ke.Want = heads[0].sum, heads[0].want()
		}
		return nil, ke
	case errors.Is(serr, fs.ErrNotExist):
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("payload store: %w", err)
		}
		key, err = keyfile.LoadOrCreate(path, keySize)
	default:
		key, err = keyfile.LoadOrCreate(path, keySize) // loads; refuses a file others can read
	}
	if err != nil {
		return nil, fmt.Errorf("payload store: %w", err)
	}
	s := newStore(dir, key, reg, o)
	var wrong *sealHead
	for i, h := range heads {
		if !h.hasID || h.id == s.keyID || (o.KEK != nil && s.isDataKey(ctx, h.id)) {
			wrong = nil
			break
		}
		if i == 0 {
			wrong = &heads[0]
		}
	}
	if wrong != nil {
		return nil, &KeyError{Path: path, Want: wrong.want(), Have: s.keyID.String(), Payload: wrong.sum}
	}
	return s, nil
}

// sealHead is the start of a kept payload.
type sealHead struct {
	sum   register.Hash
	hasID bool
	id    KeyID
}

func (h sealHead) want() string {
	if !h.hasID {
		return ""
	}
	return h.id.String()
}

// sampleHeads reads the headers of the first few payloads reg keeps.
func sampleHeads(ctx context.Context, reg register.Store) ([]sealHead, error) {
	kept, err := reg.KeptPayloads(ctx, register.KeptPayloadsParams{Limit: samples})
	if err != nil {
		return nil, fmt.Errorf("listing kept payloads: %w", err)
	}
	var out []sealHead
	for _, kp := range kept {
		rc, err := reg.Payload(ctx, kp.SHA256)
		if errors.Is(err, register.ErrNotFound) {
			continue // deleted meanwhile
		}
		if err != nil {
			return nil, err
		}
		b := make([]byte, len(magic)+keyIDSize)
		n, _ := io.ReadFull(rc, b)
		rc.Close()
		h := sealHead{sum: kp.SHA256}
		if n == len(b) && (string(b[:len(magic)]) == magic || string(b[:len(magic)]) == magicV3) {
			h.hasID = true
			copy(h.id[:], b[len(magic):])
		}
		out = append(out, h)
	}
	return out, nil
}

// KeyID returns the ID of the instance key.
func (s *Store) KeyID() KeyID { return s.keyID }

// Dir returns the key directory.
func (s *Store) Dir() string { return s.dir }

// aeadFor derives the payload key of salt from key (HKDF-SHA256 with
// info) and returns its AES-256-GCM.
func aeadFor(key, salt []byte, info string) (cipher.AEAD, error) {
	k, err := hkdf.Key(sha256.New, key, salt, info, keySize)
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
//
// Under a key hierarchy (Options.KEK) a payload must be sealed with its
// data class (SealClass); Seal then refuses.
func (s *Store) Seal(ctx context.Context, r io.Reader) (*Sealed, error) {
	return s.SealClass(ctx, "", r)
}

// SealClass is Seal for a payload of data class class: under a key
// hierarchy it is sealed with the tenant's data key of that class and the
// current month (made and wrapped on first use); without one, class is
// not used and the instance key seals it.
func (s *Store) SealClass(ctx context.Context, class register.DataClass, r io.Reader) (*Sealed, error) {
	key, id := s.key, s.keyID
	if s.kek != nil {
		if class == "" {
			return nil, errors.New("payload store: under a key-encryption key every payload needs its data class (SealClass)")
		}
		var err error
		if key, id, err = s.dataKeyFor(ctx, class, s.now()); err != nil {
			return nil, err
		}
	}
	salt := make([]byte, saltSize)
	if _, err := rand.Read(salt); err != nil {
		return nil, err
	}
	aead, err := aeadFor(key, salt, "meldeweg payload v1")
	var ad []byte // associated data of every chunk
	if s.tenant != "" || s.kek != nil {
		aead, err = aeadFor(key, salt, infoV3)
		ad = tenantAD(s.tenant, id)
	}
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
	if ad != nil {
		w.Write([]byte(magicV3))
	} else {
		w.Write([]byte(magic))
	}
	w.Write(id[:])
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
		out = aead.Seal(out[:0], nonce(counter, final), buf[:n], ad)
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

// infoV3 is the HKDF info of MWSEAL3 payload keys.
const infoV3 = "meldeweg payload v3"

// tenantAD is the associated data of every chunk of an MWSEAL3 payload:
// the tenant and the key ID, length-prefixed, so that a payload copied
// into another tenant's store does not open there, even under the same
// key.
func tenantAD(tenant register.TenantID, id KeyID) []byte {
	b := []byte("meldeweg payload tenant v1\x00")
	b = binary.BigEndian.AppendUint32(b, uint32(len(tenant)))
	b = append(b, tenant...)
	return append(b, id[:]...)
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
	r, err := s.newReader(ctx, src, sum)
	if err != nil {
		src.Close()
		return nil, err
	}
	return r, nil
}

// newReader reads the header of src, the kept bytes of payload sum, and
// returns a reader of the plaintext. A payload sealed under another key
// is a *KeyError.
func (s *Store) newReader(ctx context.Context, src io.ReadCloser, sum register.Hash) (*reader, error) {
	// The chunks are read whole with io.ReadFull, so src needs no buffer
	// of its own.
	head := make([]byte, len(magic)+keyIDSize+saltSize)
	n, err := io.ReadFull(src, head[:len(magic)])
	info := "meldeweg payload v1"
	var ad []byte
	key := s.key
	if err == nil {
		switch v := string(head[:len(magic)]); v {
		case magic, magicV3:
			n, err = io.ReadFull(src, head[len(magic):])
			if err != nil {
				break
			}
			var id KeyID
			copy(id[:], head[len(magic):])
			switch {
			case s.key != nil && id == s.keyID:
			case v == magicV3 && s.kek != nil:
				if key, err = s.dataKey(ctx, id, sum); err != nil {
					return nil, err
				}
			case v == magicV3 && s.isDataKey(ctx, id):
				return nil, fmt.Errorf("payload %s is sealed with data key %s of the key hierarchy, and no key-encryption key is configured (kek_file, kek_env or kek_command): %w", sum, id, ErrNoKEK)
			default:
				ke := &KeyError{Path: filepath.Join(s.dir, "payload.key"), Want: id.String(), Payload: sum}
				if s.key != nil {
					ke.Have = s.keyID.String()
				}
				return nil, ke
			}
			if v == magicV3 {
				// Bound to the tenant that sealed it: under another
				// tenant's store it fails authentication.
				info, ad = infoV3, tenantAD(s.tenant, id)
			}
			head = head[len(magic)+keyIDSize:]
		case magicV1:
			if s.key == nil {
				return nil, &KeyError{Path: filepath.Join(s.dir, "payload.key"), Payload: sum}
			}
			head = head[len(magic) : len(magic)+saltSize]
			n, err = io.ReadFull(src, head)
		default:
			err = io.ErrUnexpectedEOF
		}
	}
	if err != nil {
		if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("payload %s: %w", sum, err)
		}
		return nil, fmt.Errorf("payload %s: no sealed-payload header (%d bytes read): %w", sum, n, ErrCorrupt)
	}
	aead, err := aeadFor(key, head, info)
	if err != nil {
		return nil, err
	}
	buf := getChunk()
	return &reader{src: src, aead: aead, ad: ad, want: sum, h: sha256.New(), buf: buf, in: buf[:]}, nil
}

// CheckPayload implements register.PayloadChecker: it reads kept, the
// bytes the register keeps for the payload ref names, to the end and
// returns an error unless they authenticate under this instance's key and
// are ref's size and SHA-256. Errors name the payload and the chunk,
// never contents.
func (s *Store) CheckPayload(ctx context.Context, ref register.PayloadRef, kept io.Reader) error {
	r, err := s.newReader(ctx, io.NopCloser(kept), ref.SHA256)
	if err != nil {
		return err
	}
	defer r.Close()
	n, err := io.Copy(io.Discard, r)
	if err != nil {
		return err
	}
	if n != ref.Size {
		return fmt.Errorf("payload %s: %d bytes, the entry names %d: %w", ref.SHA256, n, ref.Size, ErrCorrupt)
	}
	return nil
}

var _ register.PayloadChecker = (*Store)(nil)

type reader struct {
	mu      sync.Mutex // Close may come from another goroutine (an HTTP transport does that)
	src     io.ReadCloser
	aead    cipher.AEAD
	ad      []byte // associated data of every chunk (MWSEAL3)
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
	plain, err := r.aead.Open(r.in[:0], nonce(r.counter, final), r.in[:n], r.ad)
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
