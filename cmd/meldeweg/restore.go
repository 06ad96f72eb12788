package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"

	"meldeweg.dev/meldeweg/transport/register/backup"
)

// restoreOptions are the flags of "restore".
type restoreOptions struct {
	verify, into, payloads string
}

func restoreCommand() *command {
	o := &restoreOptions{}
	return &command{
		name:    "restore",
		summary: "restore a backup into an empty place and prove it",
		usage:   "restore --verify BACKUP --into DIR|URL [--payloads DIR]",
		help: `Restores the backup BACKUP ("meldeweg backup") into an empty place — a new
or empty directory for a SQLite register (DIR/register.db, its payload keys
in DIR/register.db.payloads), the postgres:// URL of an empty database for
a PostgreSQL one — and proves it:
  - every file matches the manifest's size and SHA-256: a damaged file is
    named "corrupted", a short one "truncated", before anything is restored;
  - the restored register verifies (chain, guards, outbox) and its size
    and head hash are the manifest's;
  - the register holds the prefix of the manifest's checkpoint, signed by
    the key checkpoint_verifier_key names;
  - every kept payload decrypts with the backed-up key (or --payloads) and
    matches the size and SHA-256 its entry names.
The report says what was and was not checked.

EXIT CODES
  0  restored and proved
  1  the backup is damaged, or the restored register does not match its
     manifest or checkpoint (named)
  2  usage or configuration error, or the place is not empty

EXAMPLES
  meldeweg restore --verify /backup/meldeweg/2026-12-04 --into /tmp/restore-test
  meldeweg restore --verify /backup/meldeweg/2026-12-04 --into postgres://meldeweg@db-test.internal/restore_test`,
		setFlags: func(fs *flag.FlagSet) {
			fs.StringVar(&o.verify, "verify", "", "the backup `DIR` to restore and prove")
			fs.StringVar(&o.into, "into", "", "empty `DIR` (SQLite) or postgres:// URL of an empty database (PostgreSQL) to restore into")
			fs.StringVar(&o.payloads, "payloads", "", "payload key `DIR` to open payloads with (default: the backup's copy)")
		},
		run: func(e *env, args []string) int { return runRestore(e, o, args) },
	}
}

func runRestore(e *env, o *restoreOptions, args []string) int {
	switch {
	case len(args) != 0:
		return e.usageErrorf("unexpected argument %q", args[0])
	case o.verify == "" || o.into == "":
		return e.usageErrorf("--verify BACKUP and --into DIR|URL are required")
	}
	set, err := e.settings()
	if err != nil {
		return e.failf(exitError, "%v", err)
	}
	var vkey string
	if set.Checkpoints.VerifierKey != "" {
		if _, vkey, err = checkpointKeys(set, false); err != nil {
			return e.failf(exitError, "%v", err)
		}
	}
	rep, err := backup.Restore(context.Background(), backup.RestoreOptions{Backup: o.verify, Into: o.into, Payloads: o.payloads, VerifierKey: vkey})
	switch {
	case errors.Is(err, backup.ErrDamaged):
		fmt.Fprintf(e.stdout, "backup %s: DAMAGED: %v\n", o.verify, err)
		return exitFindings
	case errors.Is(err, backup.ErrMismatch):
		fmt.Fprintf(e.stdout, "backup %s: restored into %s, but it does NOT match: %v\n", o.verify, o.into, err)
		return exitFindings
	case err != nil:
		return e.failf(exitError, "restoring %s: %v", o.verify, err)
	}
	m := rep.Manifest
	fmt.Fprintf(e.stdout, "backup %s (%s, %s): restored into %s and proved\n", o.verify, m.Tool, m.Created.Format("2006-01-02T15:04:05Z"), rep.Register)
	fmt.Fprintf(e.stdout, "  files: %d match the manifest's SHA-256\n", len(m.Files))
	fmt.Fprintf(e.stdout, "  chain: %d %s intact, head %s as in the manifest\n", rep.Verify.Entries, plural(int(rep.Verify.Entries), "entry", "entries"), rep.Verify.Head)
	if rep.Checkpoint.Size > 0 || rep.Checkpoint.Origin != "" {
		fmt.Fprintf(e.stdout, "  checkpoint: signature of %s good, prefix of %d entries proved\n", rep.Checkpoint.Origin, rep.Checkpoint.Size)
	}
	pl := rep.Verify.Payloads
	fmt.Fprintf(e.stdout, "  payloads: %d decrypted and checked against their entries (%s)\n", pl.Checked, byteSize(pl.Bytes))
	if len(rep.NotChecked) > 0 {
		fmt.Fprintf(e.stdout, "  not checked: %s\n", strings.Join(rep.NotChecked, "; "))
	}
	return exitOK
}
