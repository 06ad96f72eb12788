package main

import (
	"context"

	"meldeweg.dev/meldeweg/transport/register"
)

func registerCommand() *command {
	return &command{
		name:    "register",
		summary: "list, show, verify and export the tamper-evident register",
		usage:   `register list|show|verify|export|checkpoint [OPTIONS]`,
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
			registerCheckpointCommand(),
		},
	}
}

// openExistingRegister resolves the settings with --register and opens
// the register, which must exist; it returns the location to print (a
// postgres:// URL's password hidden).
func openExistingRegister(e *env) (register.Store, string, error) {
	set, err := e.settings()
	if err != nil {
		return nil, "", err
	}
	s, err := openRegister(context.Background(), set, true)
	if err != nil {
		return nil, "", err
	}
	return s, set.Register.String(), nil
}
