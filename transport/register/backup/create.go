package backup

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"meldeweg.dev/meldeweg/transport/atomicfile"
	"meldeweg.dev/meldeweg/transport/register"
	"meldeweg.dev/meldeweg/transport/register/checkpoint"
)

// Options says what to back up and where.
type Options struct {
	// Register is a SQLite file or a postgres:// URL; it must exist.
	Register string
	// Payloads is the payload key directory, copied whole; "" or a
	// directory that does not exist (no payload kept yet) for none.
	Payloads string
	// CheckpointDir is the checkpoint directory; its latest checkpoint
	// goes into the manifest. "" for none.
	CheckpointDir string
	// Out is the backup directory: it must not exist or be empty.
	Out string
	// Tool names the program and version, e.g. "meldeweg 1.4.0".
	Tool string
	// Now defaults to time.Now.
	Now func() time.Time
}

// IsPostgres tells whether a register location is a PostgreSQL URL.
func IsPostgres(loc string) bool {
	return strings.HasPrefix(loc, "postgres://") || strings.HasPrefix(loc, "postgresql://")
}

// Create writes a backup of o.Register to o.Out and returns its
// manifest. On failure it removes what it wrote.
func Create(ctx context.Context, o Options) (_ *Manifest, err error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if err := emptyDir(o.Out); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(o.Out, 0o700); err != nil {
		return nil, err
	}
	if err := os.Chmod(o.Out, 0o700); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			clearDir(o.Out)
		}
	}()
	m := &Manifest{Format: FormatVersion, Tool: o.Tool, Created: o.Now().UTC().Truncate(time.Second)}
	if IsPostgres(o.Register) {
		m.Backend = BackendPostgres
		m.Entries, m.Head, err = dumpPostgres(ctx, o.Register, filepath.Join(o.Out, postgresFile))
	} else {
		m.Backend = BackendSQLite
		m.Entries, m.Head, err = vacuumInto(ctx, o.Register, filepath.Join(o.Out, sqliteFile))
	}
	if err != nil {
		return nil, err
	}
	if _, serr := os.Stat(o.Payloads); o.Payloads != "" && !errors.Is(serr, fs.ErrNotExist) {
		if err := copyDir(o.Payloads, filepath.Join(o.Out, payloadsDir)); err != nil {
			return nil, fmt.Errorf("copying the payload key directory: %w", err)
		}
	}
	if o.CheckpointDir != "" {
		b, err := os.ReadFile(filepath.Join(o.CheckpointDir, checkpoint.LatestName))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		m.Checkpoint = string(b)
	}
	err = filepath.WalkDir(o.Out, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		n, sum, err := hashFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(o.Out, path)
		m.Files = append(m.Files, File{Name: filepath.ToSlash(rel), Size: n, SHA256: sum})
		return nil
	})
	if err != nil {
		return nil, err
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := atomicfile.WriteBytes(filepath.Join(o.Out, ManifestName), 0o600, append(b, '\n')); err != nil {
		return nil, err
	}
	return m, nil
}

// emptyDir checks that dir does not exist or is empty.
func emptyDir(dir string) error {
	des, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if len(des) > 0 {
		return fmt.Errorf("%s is not empty: a backup or restore goes into an empty place", dir)
	}
	return nil
}

// clearDir removes what dir holds, not dir itself.
func clearDir(dir string) {
	des, _ := os.ReadDir(dir)
	for _, de := range des {
		os.RemoveAll(filepath.Join(dir, de.Name()))
	}
}

// copyDir copies the regular files of from (recursively) to to: files
// 0600, directories 0700.
func copyDir(from, to string) error {
	return filepath.WalkDir(from, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, path)
		dst := filepath.Join(to, rel)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o700)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		in, err := os.Open(path)
		if err != nil {
			return err
		}
		defer in.Close()
		return atomicfile.WriteNew(dst, 0o600, func(w io.Writer) error {
			_, err := io.Copy(w, in)
			return err
		})
	})
}

// vacuumInto snapshots the SQLite register file into dst and returns the
// snapshot's size and head.
func vacuumInto(ctx context.Context, file, dst string) (int64, register.Hash, error) {
	if _, err := os.Stat(file); err != nil {
		return 0, register.Hash{}, fmt.Errorf("register %s: %w", file, err)
	}
	db, err := sql.Open("sqlite", "file:"+file+"?_busy_timeout=10000")
	if err != nil {
		return 0, register.Hash{}, err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "VACUUM INTO ?", dst); err != nil {
		return 0, register.Hash{}, fmt.Errorf("snapshot of %s: %w", file, err)
	}
	if err := os.Chmod(dst, 0o600); err != nil {
		return 0, register.Hash{}, err
	}
	snap, err := sql.Open("sqlite", "file:"+dst+"?mode=ro")
	if err != nil {
		return 0, register.Hash{}, err
	}
	defer snap.Close()
	var seq int64
	var hash []byte
	if err := snap.QueryRowContext(ctx, "SELECT seq, hash FROM register_head WHERE id = 1").Scan(&seq, &hash); err != nil {
		return 0, register.Hash{}, fmt.Errorf("reading the snapshot's head: %w", err)
	}
	h, ok := register.HashFromBytes(hash)
	if !ok {
		return 0, register.Hash{}, fmt.Errorf("the snapshot's head hash is %d bytes", len(hash))
	}
	return seq, h, nil
}

// dumpPostgres dumps the database at dsn to dst with pg_dump, in the
// snapshot in which it reads the head.
func dumpPostgres(ctx context.Context, dsn, dst string) (int64, register.Hash, error) {
	bin, err := pgTool("pg_dump")
	if err != nil {
		return 0, register.Hash{}, err
	}
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return 0, register.Hash{}, err
	}
	defer c.Close(ctx)
	tx, err := c.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return 0, register.Hash{}, err
	}
	defer tx.Rollback(ctx)
	var snapshot string
	if err := tx.QueryRow(ctx, "SELECT pg_export_snapshot()").Scan(&snapshot); err != nil {
		return 0, register.Hash{}, err
	}
	var seq int64
	var hash []byte
	if err := tx.QueryRow(ctx, "SELECT seq, hash FROM register_head WHERE id = 1").Scan(&seq, &hash); err != nil {
		return 0, register.Hash{}, fmt.Errorf("reading the register head: %w", err)
	}
	h, ok := register.HashFromBytes(hash)
	if !ok {
		return 0, register.Hash{}, fmt.Errorf("the head hash is %d bytes", len(hash))
	}
	conn, env, err := pgConn(dsn)
	if err != nil {
		return 0, register.Hash{}, err
	}
	cmd := exec.CommandContext(ctx, bin, "--format=custom", "--no-owner", "--no-privileges", "--snapshot="+snapshot, "--file="+dst, "--dbname="+conn)
	cmd.Env = append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return 0, register.Hash{}, fmt.Errorf("pg_dump: %v: %s", err, strings.TrimSpace(string(out)))
	}
	if err := os.Chmod(dst, 0o600); err != nil {
		return 0, register.Hash{}, err
	}
	return seq, h, nil
}

// pgConn returns dsn without its password, and the password as PGPASSWORD
// for the tool's environment, so that it does not show in the process
// list.
func pgConn(dsn string) (string, []string, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return "", nil, errors.New("register: not a valid postgres:// URL")
	}
	var env []string
	if u.User != nil {
		if pw, ok := u.User.Password(); ok {
			env = append(env, "PGPASSWORD="+pw)
			u.User = url.User(u.User.Username())
		}
	}
	return u.String(), env, nil
}

// pgTool finds a PostgreSQL client program on PATH or in
// /usr/lib/postgresql/*/bin (the newest version).
func pgTool(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	ms, _ := filepath.Glob(filepath.Join("/usr/lib/postgresql", "*", "bin", name))
	if len(ms) > 0 {
		slices.SortStableFunc(ms, func(a, b string) int {
			if len(a) != len(b) {
				return len(a) - len(b)
			}
			return strings.Compare(a, b)
		})
		return ms[len(ms)-1], nil
	}
	return "", fmt.Errorf("%s not found on PATH or in /usr/lib/postgresql/*/bin", name)
}
