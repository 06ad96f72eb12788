package payload

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"meldeweg.dev/meldeweg/transport/register"
)

// KEK is a tenant's key-encryption key: it wraps the tenant's data keys,
// which the register keeps, and is itself never stored next to them. Its
// String and ID name it without revealing it.
type KEK struct {
	id  string
	key []byte
	src string // where it came from, for errors
}

// ID names the key: 16 hex digits of SHA-256("meldeweg kek id v1\x00" |
// key).
func (k *KEK) ID() string { return k.id }

// String names the key and where it came from, never the key.
func (k *KEK) String() string { return "key-encryption key " + k.id + " (" + k.src + ")" }

// ParseKEK reads a key-encryption key written as text: 64 hex digits or
// the standard base64 of 32 bytes (what "openssl rand -hex 32" or
// "openssl rand -base64 32" print), surrounding white space ignored. src
// names where it came from, for errors; the text never appears in one.
func ParseKEK(text []byte, src string) (*KEK, error) {
	t := strings.TrimSpace(string(text))
	var key []byte
	if b, err := hex.DecodeString(t); err == nil && len(b) == keySize {
		key = b
	} else if b, err := base64.StdEncoding.DecodeString(t); err == nil && len(b) == keySize {
		key = b
	} else {
		return nil, fmt.Errorf("%s: not a key-encryption key: want 64 hex digits or the base64 of 32 bytes (openssl rand -hex 32)", src)
	}
	h := sha256.New()
	h.Write([]byte("meldeweg kek id v1\x00"))
	h.Write(key)
	return &KEK{id: hex.EncodeToString(h.Sum(nil)[:8]), key: key, src: src}, nil
}

// KEKSource is where LoadKEK reads a key-encryption key: exactly one of
// File, Env and Command.
type KEKSource struct {
	// File holds the key; it must be a regular file of mode 0400 outside
	// every directory in Away (the register's and the payload keys').
	File string
	// Env is an environment variable holding the key.
	Env string
	// Command prints the key (a vault or HSM client); it is run without
	// a shell, its output is read up to 4 KiB, and it must finish within
	// Timeout.
	Command []string
	// Timeout bounds Command. Defaults to 30 s.
	Timeout time.Duration
	// Away are directories the key file must not lie in.
	Away []string
}

// ErrKEKSource: a key-encryption key source is missing, ambiguous,
// unsafe or failed.
var ErrKEKSource = errors.New("key-encryption key unavailable")

// maxKEKOutput is the most a KEK command may print.
const maxKEKOutput = 4 << 10

// LoadKEK reads the key-encryption key from src. Errors name the file,
// variable or command and wrap ErrKEKSource; they never hold key bytes or
// the command's output.
func LoadKEK(ctx context.Context, src KEKSource) (*KEK, error) {
	n := 0
	for _, set := range []bool{src.File != "", src.Env != "", len(src.Command) > 0} {
		if set {
			n++
		}
	}
	if n != 1 {
		return nil, fmt.Errorf("%w: give exactly one of kek_file, kek_env and kek_command (%d given)", ErrKEKSource, n)
	}
	switch {
	case src.File != "":
		return loadKEKFile(src.File, src.Away)
	case src.Env != "":
		v := os.Getenv(src.Env)
		if v == "" {
			return nil, fmt.Errorf("%w: $%s is not set", ErrKEKSource, src.Env)
		}
		return ParseKEK([]byte(v), "$"+src.Env)
	}
	return runKEKCommand(ctx, src.Command, src.Timeout)
}

func loadKEKFile(path string, away []string) (*KEK, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKEKSource, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %s is not a regular file", ErrKEKSource, path)
	}
	if perm := fi.Mode().Perm(); perm != 0o400 {
		return nil, fmt.Errorf("%w: %s has mode %04o; a key-encryption key file must be 0400 (chmod 0400 %s)", ErrKEKSource, path, perm, path)
	}
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKEKSource, err)
	}
	real, _ = filepath.Abs(real)
	for _, d := range away {
		if d == "" {
			continue
		}
		rd, err := filepath.EvalSymlinks(d)
		if err != nil {
			rd = d // not made yet
		}
		rd, _ = filepath.Abs(rd)
		if rel, err := filepath.Rel(rd, real); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return nil, fmt.Errorf("%w: %s lies in %s, next to the data it protects; keep it on another path", ErrKEKSource, path, d)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKEKSource, err)
	}
	return ParseKEK(b, path)
}

func runKEKCommand(ctx context.Context, argv []string, timeout time.Duration) (*KEK, error) {
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	name := "kek_command " + argv[0]
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Stdin = nil
	cmd.Stderr = nil
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrKEKSource, name, err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrKEKSource, name, err)
	}
	b, rerr := io.ReadAll(io.LimitReader(out, maxKEKOutput+1))
	tooLong := len(b) > maxKEKOutput
	if tooLong {
		cancel() // stop it; what it prints is not a key
	}
	werr := cmd.Wait()
	switch {
	case tooLong:
		return nil, fmt.Errorf("%w: %s printed more than %d bytes", ErrKEKSource, name, maxKEKOutput)
	case ctx.Err() != nil:
		return nil, fmt.Errorf("%w: %s did not finish within %s", ErrKEKSource, name, timeout)
	case werr != nil:
		return nil, fmt.Errorf("%w: %s failed: %v", ErrKEKSource, name, werr)
	case rerr != nil:
		return nil, fmt.Errorf("%w: %s: %v", ErrKEKSource, name, rerr)
	}
	return ParseKEK(bytes.TrimSpace(b), name)
}

// wrapAD is the associated data of a wrapped data key: it binds the key
// to its tenant, class, month and ID, so a wrapped key moved to another
// row or register does not unwrap.
func wrapAD(tenant register.TenantID, class register.DataClass, month, id string) []byte {
	b := []byte("meldeweg data key v1\x00")
	for _, s := range []string{string(tenant), string(class), month, id} {
		b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
		b = append(b, s...)
	}
	return b
}

func (k *KEK) gcm() (cipher.AEAD, error) {
	b, err := aes.NewCipher(k.key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

// wrap returns dk's key wrapped under k: nonce | AES-256-GCM.
func (k *KEK) wrap(tenant register.TenantID, dk register.DataKey, key []byte) ([]byte, error) {
	g, err := k.gcm()
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, g.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return g.Seal(nonce, nonce, key, wrapAD(tenant, dk.Class, dk.Month, dk.ID)), nil
}

// ErrKEKMismatch: a data key is wrapped under another key-encryption key
// than the one given, or its wrapped form does not authenticate.
var ErrKEKMismatch = errors.New("data key does not unwrap under this key-encryption key")

// unwrap returns the key of dk.
func (k *KEK) unwrap(tenant register.TenantID, dk register.DataKey) ([]byte, error) {
	if dk.KEKID != k.id {
		return nil, fmt.Errorf("data key %s is wrapped under key-encryption key %s, not %s: %w", dk.ID, dk.KEKID, k.id, ErrKEKMismatch)
	}
	g, err := k.gcm()
	if err != nil {
		return nil, err
	}
	if len(dk.Wrapped) < g.NonceSize()+g.Overhead() {
		return nil, fmt.Errorf("data key %s: wrapped form truncated: %w", dk.ID, ErrKEKMismatch)
	}
	n := g.NonceSize()
	key, err := g.Open(nil, dk.Wrapped[:n], dk.Wrapped[n:], wrapAD(tenant, dk.Class, dk.Month, dk.ID))
	if err != nil || len(key) != keySize {
		return nil, fmt.Errorf("data key %s does not authenticate under %s: %w", dk.ID, k.id, ErrKEKMismatch)
	}
	return key, nil
}
