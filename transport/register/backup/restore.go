package backup

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/jackc/pgx/v5"

	"meldeweg.dev/meldeweg/transport/register"
	"meldeweg.dev/meldeweg/transport/register/checkpoint"
	"meldeweg.dev/meldeweg/transport/register/payload"
	"meldeweg.dev/meldeweg/transport/register/pgstore"
	"meldeweg.dev/meldeweg/transport/register/sqlitestore"
)

// RestoreOptions says which backup to restore where.
type RestoreOptions struct {
	// Backup is the backup directory.
	Backup string
	// Into is an empty (or missing) directory for a SQLite backup, or
	// the postgres:// URL of an empty database for a PostgreSQL one.
	Into string
	// Payloads is the payload key directory to open payloads with.
	// Defaults to the backup's copy.
	Payloads string
	// VerifierKey is the checkpoint verifier key (its text); "" leaves
	// the manifest's checkpoint unchecked (the report says so).
	VerifierKey string
}

// Report is what a restore checked.
type Report struct {
	Manifest *Manifest
	// Register is where the register was restored: a SQLite file or the
	// postgres:// URL as given.
	Register string
	// Verify is the restored register's verification, payload contents
	// included when the key opened.
	Verify register.VerifyReport
	// Checkpoint is the manifest's checkpoint, proved; zero when not
	// checked.
	Checkpoint checkpoint.Checkpoint
	// NotChecked says what was not checked and why.
	NotChecked []string
}

// Restore restores the backup o.Backup into o.Into and proves it: every
// file matches the manifest (else a *DamageError, errors.Is ErrDamaged),
// and the restored register verifies, holds the manifest's size and
// head, and the checkpoint's prefix (else an error wrapping ErrMismatch).
func Restore(ctx context.Context, o RestoreOptions) (*Report, error) {
	m, err := ReadManifest(o.Backup)
	if err != nil {
		return nil, err
	}
	if err := m.CheckFiles(o.Backup); err != nil {
		return nil, err
	}
	rep := &Report{Manifest: m}
	keys := o.Payloads
	if keys == "" {
		keys = filepath.Join(o.Backup, payloadsDir)
	}
	var s register.Store
	switch m.Backend {
	case BackendSQLite:
		if IsPostgres(o.Into) {
			return nil, fmt.Errorf("the backup is of a SQLite register: --into must be a directory")
		}
		if err := emptyDir(o.Into); err != nil {
			return nil, err
		}
		if err := os.MkdirAll(o.Into, 0o700); err != nil {
			return nil, err
		}
		rep.Register = filepath.Join(o.Into, sqliteFile)
		if err := copyDir(filepath.Join(o.Backup, sqliteFile), rep.Register); err != nil {
			return nil, err
		}
		if _, err := os.Stat(filepath.Join(o.Backup, payloadsDir)); err == nil {
			if err := copyDir(filepath.Join(o.Backup, payloadsDir), rep.Register+".payloads"); err != nil {
				return nil, err
			}
			if o.Payloads == "" {
				keys = rep.Register + ".payloads"
			}
		}
		s, err = sqlitestore.Open(ctx, rep.Register, sqlitestore.Options{})
	case BackendPostgres:
		if !IsPostgres(o.Into) {
			return nil, fmt.Errorf("the backup is of a PostgreSQL register: --into must be the postgres:// URL of an empty database")
		}
		rep.Register = o.Into
		if err := pgRestore(ctx, filepath.Join(o.Backup, postgresFile), o.Into); err != nil {
			return nil, err
		}
		s, err = pgstore.Open(ctx, o.Into, pgstore.Options{})
	}
	if err != nil {
		return nil, fmt.Errorf("opening the restored register: %w", err)
	}
	defer s.Close()

	var p register.VerifyParams
	ps, err := payload.Load(keys, s)
	switch {
	case errors.Is(err, payload.ErrNoKey) || errors.Is(err, payload.ErrWrongKey):
		rep.NotChecked = append(rep.NotChecked, "payload contents: "+err.Error())
	case err != nil:
		return nil, err
	default:
		p.Payloads = ps
	}
	rep.Verify, err = s.Verify(ctx, p)
	if err != nil {
		return rep, fmt.Errorf("%w: %w", ErrMismatch, err)
	}
	if rep.Verify.Entries != m.Entries || rep.Verify.Head != m.Head {
		return rep, fmt.Errorf("%w: the manifest says %d entries, head %s; the restored register has %d, head %s",
			ErrMismatch, m.Entries, m.Head, rep.Verify.Entries, rep.Verify.Head)
	}
	switch {
	case m.Checkpoint == "":
		rep.NotChecked = append(rep.NotChecked, "checkpoint (none kept at backup time)")
	case o.VerifierKey == "":
		rep.NotChecked = append(rep.NotChecked, "the manifest's checkpoint (no verifier key configured)")
	default:
		cp, err := checkpoint.Open([]byte(m.Checkpoint), o.VerifierKey)
		if err != nil {
			return rep, fmt.Errorf("%w: the manifest's checkpoint: %w", ErrMismatch, err)
		}
		if _, err := checkpoint.Verify(ctx, s, cp); err != nil {
			return rep, fmt.Errorf("%w: %w", ErrMismatch, err)
		}
		rep.Checkpoint = cp
	}
	return rep, nil
}

// pgRestore restores a pg_dump file into the empty database at dsn.
func pgRestore(ctx context.Context, file, dsn string) error {
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	var n int
	err = c.QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')`).Scan(&n)
	c.Close(ctx)
	if err != nil {
		return err
	}
	if n > 0 {
		return fmt.Errorf("the database to restore into holds %d tables: a restore goes into an empty database", n)
	}
	bin, err := pgTool("pg_restore")
	if err != nil {
		return err
	}
	conn, env, err := pgConn(dsn)
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, bin, "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction", "--dbname="+conn, file)
	cmd.Env = append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("pg_restore: %v: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}
