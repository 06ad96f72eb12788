// Package backup makes consistent copies of a register with the keys its
// payloads need, and proves a copy restores: "meldeweg backup" and
// "meldeweg restore --verify".
//
// A backup is a directory (0700, files 0600):
//
//	manifest.json     Manifest: size, head, latest checkpoint, file SHA-256s
//	register.db       SQLite: a snapshot made with VACUUM INTO
//	register.pgdump   PostgreSQL: pg_dump --format=custom in one snapshot
//	payloads/...      a copy of the payload key directory
//
// The snapshot is consistent while the service keeps appending: SQLite's
// VACUUM INTO reads in one transaction; for PostgreSQL, a repeatable-read
// transaction exports its snapshot, reads the head in it and pg_dump dumps
// exactly that snapshot (--snapshot). The manifest's size and head are
// the snapshot's.
//
// Restore copies a backup into an empty place (a directory, or an empty
// PostgreSQL database), after checking every file against the manifest
// (a flipped byte is "corrupted", a short file "truncated"), then
// verifies the restored chain, compares its size and head with the
// manifest, proves the prefix of the checkpoint the manifest carries, and
// decrypts and checks kept payloads with the backed-up key.
//
// # Limits
//
//   - The manifest is not signed: a forger who rewrites the register and
//     the manifest together is caught only by the checkpoint, whose
//     signature the restore checks with a verifier key kept elsewhere.
//   - The payload key directory is copied as it is: the backup is as
//     secret as the key, so keep it as the register itself (0600/0700,
//     encrypted media). A key-encryption key, once there is one, is never
//     copied: it does not lie in the payload key directory.
//   - PostgreSQL needs pg_dump and pg_restore of at least the server's
//     version (PATH or /usr/lib/postgresql/*/bin).
//   - Restore checks every kept payload, so it reads the whole backup.
package backup

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"meldeweg.dev/meldeweg/transport/register"
)

// ManifestName is the manifest's file name in a backup directory.
const ManifestName = "manifest.json"

// FormatVersion is the backup layout this package writes and reads.
const FormatVersion = 1

// Backends.
const (
	BackendSQLite   = "sqlite"
	BackendPostgres = "postgres"
	sqliteFile      = "register.db"
	postgresFile    = "register.pgdump"
	payloadsDir     = "payloads"
)

// Manifest describes one backup.
type Manifest struct {
	Format  int       `json:"format"`
	Tool    string    `json:"tool"`
	Created time.Time `json:"created"`
	Backend string    `json:"backend"`
	// Entries and Head are the register's size and head hash in the
	// snapshot.
	Entries int64         `json:"entries"`
	Head    register.Hash `json:"head"`
	// Checkpoint is the newest signed checkpoint kept at backup time
	// (its text, a C2SP signed note); "" when none is configured.
	Checkpoint string `json:"checkpoint,omitempty"`
	// Files are every file of the backup but the manifest, by path
	// relative to the backup directory.
	Files []File `json:"files"`
}

// File is one file of a backup.
type File struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// ErrDamaged: a backup's file does not match its manifest, or the
// manifest cannot be read.
var ErrDamaged = errors.New("backup damaged")

// ErrMismatch: the restored register does not agree with the manifest or
// the checkpoint.
var ErrMismatch = errors.New("restored register does not match the backup's manifest")

// DamageError names a damaged file and how.
type DamageError struct {
	File string
	// Kind is "corrupted", "truncated", "missing" or "unreadable".
	Kind            string
	Expected, Found string
}

func (e *DamageError) Error() string {
	if e.Expected == "" {
		return fmt.Sprintf("%s: %s: %s", e.File, e.Kind, e.Found)
	}
	return fmt.Sprintf("%s: %s: expected %s, found %s", e.File, e.Kind, e.Expected, e.Found)
}

// Unwrap makes errors.Is(err, ErrDamaged) true.
func (e *DamageError) Unwrap() error { return ErrDamaged }

// hashFile returns a file's size and SHA-256.
func hashFile(path string) (int64, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, "", err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return 0, "", err
	}
	return n, hex.EncodeToString(h.Sum(nil)), nil
}

// ReadManifest reads dir's manifest; a missing or malformed one is a
// *DamageError.
func ReadManifest(dir string) (*Manifest, error) {
	path := filepath.Join(dir, ManifestName)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, &DamageError{File: path, Kind: "missing", Found: "no manifest: not a backup, or an incomplete one"}
	}
	if err != nil {
		return nil, &DamageError{File: path, Kind: "unreadable", Found: err.Error()}
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, &DamageError{File: path, Kind: "corrupted", Found: err.Error()}
	}
	if m.Format != FormatVersion || (m.Backend != BackendSQLite && m.Backend != BackendPostgres) {
		return nil, &DamageError{File: path, Kind: "corrupted", Expected: fmt.Sprintf("format %d, backend sqlite or postgres", FormatVersion),
			Found: fmt.Sprintf("format %d, backend %q", m.Format, m.Backend)}
	}
	return &m, nil
}

// CheckFiles checks every file the manifest lists against its size and
// SHA-256; the first damaged one is a *DamageError.
func (m *Manifest) CheckFiles(dir string) error {
	for _, f := range m.Files {
		path := filepath.Join(dir, filepath.FromSlash(f.Name))
		n, sum, err := hashFile(path)
		switch {
		case errors.Is(err, os.ErrNotExist):
			return &DamageError{File: path, Kind: "missing", Found: "listed in the manifest, not in the backup"}
		case err != nil:
			return &DamageError{File: path, Kind: "unreadable", Found: err.Error()}
		case n < f.Size:
			return &DamageError{File: path, Kind: "truncated", Expected: fmt.Sprintf("%d bytes", f.Size), Found: fmt.Sprintf("%d bytes", n)}
		case n != f.Size || sum != f.SHA256:
			return &DamageError{File: path, Kind: "corrupted", Expected: "SHA-256 " + f.SHA256, Found: fmt.Sprintf("SHA-256 %s (%d bytes)", sum, n)}
		}
	}
	return nil
}
