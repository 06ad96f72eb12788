package main

import (
	"context"
	"flag"
	"fmt"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"meldeweg.dev/meldeweg/cmd/meldeweg/internal/settings"
	"meldeweg.dev/meldeweg/transport/register"
	"meldeweg.dev/meldeweg/transport/register/payload"
)

func keysCommand() *command {
	return &command{
		name:    "keys",
		summary: "list a tenant's data keys and rotate its key-encryption key",
		usage:   `keys list|rotate-kek [OPTIONS]`,
		help: `Payloads are sealed with data keys, one per tenant, data class and month,
kept in the tenant's register wrapped under the tenant's key-encryption key
(KEK: kek_file, kek_env or kek_command in the configuration), which never
lies next to the data. These commands list the data keys and re-wrap them
under a new KEK; payloads are not touched. See docs/security.md.

EXIT CODES
  0  success
  2  usage, configuration, key or register error

EXAMPLES
  meldeweg --tenant kreis-a keys list
  meldeweg --tenant kreis-a keys rotate-kek --new-kek-file /etc/meldeweg/kreis-a/kek.next`,
		sub: []*command{keysListCommand(), keysRotateCommand()},
	}
}

type keysOptions struct {
	registerOptions
	payloads string
}

func (o *keysOptions) bind(fs *flag.FlagSet) {
	o.registerOptions.bind(fs)
	fs.StringVar(&o.payloads, "payloads", "", payloadsUsage)
}

func (o *keysOptions) settingsFlags() []settings.Flag {
	return append(o.registerOptions.settingsFlags(), settings.Flag{Name: "--payloads", Field: "payloads", Value: o.payloads})
}

func keysListCommand() *command {
	o := &keysOptions{}
	return &command{
		name:    "list",
		summary: "list the tenant's data keys (never the keys themselves)",
		usage:   `keys list [--register LOCATION]`,
		help: `Prints one line per data key: its ID (as payload headers name it), data
class, month, the KEK it is wrapped under, when it was made, and whether it
was destroyed.

EXIT CODES
  0  listed (also when there are none)
  2  usage error, or the register cannot be opened or read

EXAMPLES
  meldeweg --tenant kreis-a keys list`,
		setFlags:      o.bind,
		settingsFlags: o.settingsFlags,
		run: func(e *env, args []string) int {
			if len(args) != 0 {
				return e.usageErrorf("unexpected argument %q", args[0])
			}
			s, _, err := openExistingRegister(e)
			if err != nil {
				return e.failf(exitError, "%v", err)
			}
			defer s.Close()
			tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "KEY ID\tCLASS\tMONTH\tKEK\tCREATED\tSTATE")
			var after string
			for {
				ks, err := s.DataKeys(context.Background(), register.DataKeysParams{After: after})
				if err != nil {
					tw.Flush()
					return e.failf(exitError, "reading the data keys: %v", err)
				}
				if len(ks) == 0 {
					break
				}
				for _, k := range ks {
					state := "live"
					if k.IsDestroyed() {
						state = "destroyed " + k.Destroyed.Format("2006-01-02T15:04:05Z")
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Class, k.Month, k.KEKID, k.Created.Format("2006-01-02T15:04:05Z"), state)
					after = k.ID
				}
			}
			tw.Flush()
			return exitOK
		},
	}
}

type keysRotateOptions struct {
	keysOptions
	file, env, command string
}

func keysRotateCommand() *command {
	o := &keysRotateOptions{}
	return &command{
		name:    "rotate-kek",
		summary: "re-wrap every data key of the tenant under a new key-encryption key",
		usage:   `keys rotate-kek --new-kek-file FILE|--new-kek-env VAR|--new-kek-command "CMD ARG…" [--register LOCATION]`,
		help: `Unwraps every live data key of the tenant with the configured KEK and wraps
it under the new one, in one transaction with a "kek-rotated" register
entry: afterwards every payload opens with the new KEK and none with the
old. Payloads are not read or rewritten. Then point kek_file, kek_env or
kek_command of the tenant at the new key; keep the old one until that is
done, then destroy it.

The new key comes from a file (mode 0400, not in the register's or the
payload keys' directory), an environment variable, or a command that
prints it (split at spaces and run without a shell; no quoting).

EXIT CODES
  0  re-wrapped (the count is printed)
  2  usage, configuration, key or register error; nothing changed

EXAMPLES
  openssl rand -hex 32 > kek.next && chmod 0400 kek.next
  meldeweg --tenant kreis-a keys rotate-kek --new-kek-file /etc/meldeweg/kreis-a/kek.next`,
		setFlags: func(fs *flag.FlagSet) {
			o.keysOptions.bind(fs)
			fs.StringVar(&o.file, "new-kek-file", "", "the new KEK in `FILE` (mode 0400)")
			fs.StringVar(&o.env, "new-kek-env", "", "the new KEK in environment variable `VAR`")
			fs.StringVar(&o.command, "new-kek-command", "", "`COMMAND` that prints the new KEK (run without a shell)")
		},
		settingsFlags: o.settingsFlags,
		run:           func(e *env, args []string) int { return runKeysRotate(e, o, args) },
	}
}

func runKeysRotate(e *env, o *keysRotateOptions, args []string) int {
	if len(args) != 0 {
		return e.usageErrorf("unexpected argument %q", args[0])
	}
	set, err := e.settings()
	if err != nil {
		return e.failf(exitError, "%v", err)
	}
	if set.KEK.IsZero() {
		return e.failf(exitError, "tenant %q has no key-encryption key configured (kek_file, kek_env or kek_command): nothing to rotate", set.Tenant)
	}
	ctx := context.Background()
	away := []string{set.Payloads}
	if !set.Register.IsPostgres() {
		away = append(away, filepath.Dir(set.Register.Location))
	}
	next, err := payload.LoadKEK(ctx, payload.KEKSource{File: o.file, Env: o.env, Command: strings.Fields(o.command), Away: away})
	if err != nil {
		return e.failf(exitError, "the new key-encryption key: %v", err)
	}
	ob, err := openOutbox(ctx, set, true)
	if err != nil {
		return e.failf(exitError, "%v", err)
	}
	defer ob.Store.Close()
	old := ob.Payloads.KEK().ID()
	n, en, err := ob.Payloads.RotateKEK(ctx, next, currentActor())
	if err != nil {
		return e.failf(exitError, "%v; nothing changed", err)
	}
	fmt.Fprintf(e.stdout, "tenant %s: %d data %s re-wrapped from key-encryption key %s to %s (register entry %d); now configure the new key\n",
		set.Tenant, n, plural(n, "key", "keys"), old, next.ID(), en.Seq())
	return exitOK
}
