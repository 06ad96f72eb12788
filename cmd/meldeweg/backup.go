package main

import (
	"context"
	"flag"
	"fmt"

	"meldeweg.dev/meldeweg/cmd/meldeweg/internal/settings"
	"meldeweg.dev/meldeweg/transport/register/backup"
)

// backupOptions are the flags of "backup".
type backupOptions struct {
	registerOptions
	payloads, out string
}

func (o *backupOptions) settingsFlags() []settings.Flag {
	return append(o.registerOptions.settingsFlags(), settings.Flag{Name: "--payloads", Field: "payloads", Value: o.payloads})
}

func backupCommand() *command {
	o := &backupOptions{}
	return &command{
		name:    "backup",
		summary: "write a consistent backup of the register, its manifest and the payload keys",
		usage:   "backup --out DIR [--register LOCATION] [--payloads DIR]",
		help: `Writes a snapshot of the register to DIR while the service may keep
appending: SQLite with VACUUM INTO, PostgreSQL with pg_dump of one exported
snapshot. Next to it: a copy of the payload key directory (payloads), and
manifest.json with the snapshot's size and head hash, the newest signed
checkpoint (checkpoint_dir), each file's size and SHA-256, the tool's
version and the time. DIR must not exist or be empty; it is made 0700 and
every file 0600. A key-encryption key is never copied.

Prove a backup with "meldeweg restore --verify DIR --into EMPTY".

EXIT CODES
  0  backup written
  2  usage or configuration error, or the backup could not be written
     (nothing is left in DIR)

EXAMPLES
  meldeweg backup --out /backup/meldeweg/2026-12-04
  meldeweg backup --register postgres://meldeweg@db.internal/meldeweg --payloads /etc/meldeweg/payloads --out /backup/meldeweg/2026-12-04`,
		setFlags: func(fs *flag.FlagSet) {
			fs.StringVar(&o.out, "out", "", "empty or new `DIR` to write the backup to")
			o.registerOptions.bind(fs)
			fs.StringVar(&o.payloads, "payloads", "", payloadsUsage)
		},
		settingsFlags: o.settingsFlags,
		run:           func(e *env, args []string) int { return runBackup(e, o, args) },
	}
}

func runBackup(e *env, o *backupOptions, args []string) int {
	switch {
	case len(args) != 0:
		return e.usageErrorf("unexpected argument %q", args[0])
	case o.out == "":
		return e.usageErrorf("--out DIR is required")
	}
	set, err := e.settings()
	if err != nil {
		return e.failf(exitError, "%v", err)
	}
	m, err := backup.Create(context.Background(), backup.Options{Register: set.Register.Location, Payloads: set.Payloads,
		CheckpointDir: set.Checkpoints.Dir, Out: o.out, Tool: "meldeweg " + version})
	if err != nil {
		return e.failf(exitError, "backup of %s: %v", set.Register, err)
	}
	cp := "no checkpoint"
	if m.Checkpoint != "" {
		cp = "the newest checkpoint"
	}
	fmt.Fprintf(e.stdout, "backup of %s written to %s: %d %s, head %s, %d files, %s\n",
		set.Register, o.out, m.Entries, plural(int(m.Entries), "entry", "entries"), m.Head, len(m.Files), cp)
	return exitOK
}
