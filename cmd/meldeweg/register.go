package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"meldeweg.dev/meldeweg/transport/register"
	"meldeweg.dev/meldeweg/transport/register/pgstore"
	"meldeweg.dev/meldeweg/transport/register/sqlitestore"
)

func registerCommand() *command {
	return &command{
		name:    "register",
		summary: "list, show, verify and export the tamper-evident register",
		usage:   `register list|show|verify|export [OPTIONS]`,
		help: `The register records everything that happens to a message (built, checked,
sealed, queued, each send attempt, sent, acknowledgement or rejection,
received, payload deleted) as a hash chain. These commands read it; none can
change it.

The register is --register LOCATION, else $MELDEWEG_REGISTER, else the
configuration's "register", else meldeweg-register.db in the working
directory. LOCATION is a SQLite file or a postgres:// URL.

EXIT CODES
  0  success
  1  verify found a broken chain
  2  usage, configuration or I/O error

EXAMPLES
  meldeweg register list --limit 20
  meldeweg register show 17
  meldeweg register verify --register /var/lib/meldeweg/register.db
  meldeweg register export --format csv --output audit-2026.csv`,
		sub: []*command{
			registerListCommand(),
			registerShowCommand(),
			registerVerifyCommand(),
			registerExportCommand(),
		},
	}
}

// addRegisterFlag declares --register for the register commands.
func addRegisterFlag(fs *flag.FlagSet) {
	fs.String("register", "", "register `LOCATION`: a SQLite file or a postgres:// URL (default: $MELDEWEG_REGISTER, else configuration \"register\", else meldeweg-register.db)")
}

// registerLocation resolves where the register is: the flag, else
// $MELDEWEG_REGISTER, else the configuration's "register" (relative to the
// configuration file), else meldeweg-register.db in the working directory.
func registerLocation(e *env, flagValue string) (string, error) {
	if flagValue != "" {
		return flagValue, nil
	}
	if p := os.Getenv("MELDEWEG_REGISTER"); p != "" {
		return p, nil
	}
	c, err := e.config()
	if err != nil {
		return "", err
	}
	if c.Register != "" {
		if isPostgresURL(c.Register) {
			return c.Register, nil
		}
		return c.abs(c.Register), nil
	}
	return "meldeweg-register.db", nil
}

func isPostgresURL(s string) bool {
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
}

// openRegister opens the register at loc. With mustExist, a SQLite file
// that does not exist is an error instead of a new, empty register (the
// read-only commands must not create one by a typo).
func openRegister(ctx context.Context, loc string, mustExist bool) (register.Store, error) {
	if isPostgresURL(loc) {
		return pgstore.Open(ctx, loc, pgstore.Options{})
	}
	if mustExist {
		if _, err := os.Stat(loc); errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("register %s does not exist (give --register, $MELDEWEG_REGISTER or \"register\" in the configuration)", loc)
		}
	}
	return sqlitestore.Open(ctx, loc, sqlitestore.Options{})
}

// registerFromFlags resolves --register and opens the existing register.
func registerFromFlags(e *env, fs *flag.FlagSet) (register.Store, string, error) {
	loc, err := registerLocation(e, fs.Lookup("register").Value.String())
	if err != nil {
		return nil, "", err
	}
	s, err := openRegister(context.Background(), loc, true)
	if err != nil {
		return nil, "", err
	}
	return s, displayLocation(loc), nil
}

// displayLocation hides a password in a postgres:// URL.
func displayLocation(loc string) string {
	if !isPostgresURL(loc) {
		return loc
	}
	scheme, rest, _ := strings.Cut(loc, "://")
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		if user, _, hasPw := strings.Cut(rest[:at], ":"); hasPw {
			rest = user + ":xxxxx" + rest[at:]
		}
	}
	return scheme + "://" + rest
}
