// Package keyfile loads a secret key from a file, creating it with fresh
// random bytes on first use. It is shared by the payload store (sealing
// key) and the pseudonymizer (HMAC key).
package keyfile

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// LoadOrCreate returns the size-byte key in path. If path does not exist it
// is created atomically with mode 0600 (written to a temporary file, synced,
// hard-linked into place, directory synced), so concurrent first uses agree
// on one key. An existing file must be exactly size bytes and readable by
// its owner only; anything else is an error naming the file, never the key.
func LoadOrCreate(path string, size int) ([]byte, error) {
	key, err := load(path, size)
	if !errors.Is(err, fs.ErrNotExist) {
		return key, err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	key = make([]byte, size)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("key file %s: no randomness: %w", path, err)
	}
	// Written by hand rather than with transport/atomicfile: the register
	// is a leaf that depends on no other Meldeweg package (the layers
	// test), and a new key must be linked, not renamed, so that of two
	// processes racing to create it both end up with the winner's key.
	tmp, err := os.CreateTemp(dir, ".key-*")
	if err != nil {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	if _, err := tmp.Write(key); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) { // someone else won the race: use theirs
			return load(path, size)
		}
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return key, nil
}

func load(path string, size int) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("key file %s: mode %04o lets others read it; expected 0600 (chmod 600 %s)", path, fi.Mode().Perm(), path)
	}
	key, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	if len(key) != size {
		return nil, fmt.Errorf("key file %s: expected %d bytes, found %d", path, size, len(key))
	}
	return key, nil
}
