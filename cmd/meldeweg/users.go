package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"golang.org/x/term"

	"meldeweg.dev/meldeweg/console"
)

// usersFileOptions is --users, the console's users file.
type usersFileOptions struct{ path string }

func (o *usersFileOptions) bind(fs *flag.FlagSet) {
	fs.StringVar(&o.path, "users", "", "console users `FILE` (default $MELDEWEG_USERS, else meldeweg-users.json)")
}

func (o *usersFileOptions) file() string {
	switch {
	case o.path != "":
		return o.path
	case os.Getenv("MELDEWEG_USERS") != "":
		return os.Getenv("MELDEWEG_USERS")
	}
	return "meldeweg-users.json"
}

func usersCommand() *command {
	return &command{
		name:    "users",
		summary: "manage the web console's users (add, passwd, disable, enable, list)",
		usage:   `users add|passwd|disable|enable|list [--users FILE] ...`,
		help: `Manages the local users of the web console ("meldeweg console"). They live
in a users file (JSON, mode 0600, rewritten atomically on every change):
--users FILE, else $MELDEWEG_USERS, else meldeweg-users.json. Passwords are
stored as argon2id hashes (RFC 9106, second recommendation: t=3, 64 MiB,
p=4) and are read from --password-file or, without it, prompted for (or
read as the first line of standard input when it is not a terminal);
never from a flag's value.

Roles: operator, auditor, caseworker, admin. A case worker sees the eM@w
inbox of the Maßnahmen given with --massnahme (e.g. 12321114/01; a
trailing "*" matches a prefix, "*" alone every measure).

A running console reads the file at each login, so changes apply to the
next login; disabling a user in the console also ends their sessions.

EXIT CODES
  0  success
  2  usage error, unknown user, or the file cannot be read or written

EXAMPLES
  meldeweg users add anna --role operator --password-file anna.pw
  meldeweg users add ben --role caseworker --massnahme 12321114/01
  meldeweg users passwd anna
  meldeweg users disable ben
  meldeweg users list`,
		sub: []*command{usersAddCommand(), usersPasswdCommand(), usersDisableCommand(true), usersDisableCommand(false), usersListCommand()},
	}
}

type usersAddOptions struct {
	file         usersFileOptions
	role         string
	massnahmen   stringList
	passwordFile string
}

func usersAddCommand() *command {
	o := &usersAddOptions{}
	return &command{
		name:    "add",
		summary: "add a console user",
		usage:   `users add LOGIN --role ROLE [--massnahme M]... [--password-file FILE] [--users FILE]`,
		help: `Adds LOGIN with ROLE and a password (at least 12 characters).

POSITIONAL ARGUMENTS
  LOGIN  1 to 64 characters from [A-Za-z0-9._@-]

EXIT CODES
  0  added
  2  usage error, the login exists, or the file cannot be written

EXAMPLES
  meldeweg users add anna --role auditor --password-file anna.pw`,
		setFlags: func(fs *flag.FlagSet) {
			o.file.bind(fs)
			fs.StringVar(&o.role, "role", "", "`ROLE`: operator, auditor, caseworker or admin")
			fs.Var(&o.massnahmen, "massnahme", "Maßnahmeschlüssel `M` a case worker works (repeatable)")
			fs.StringVar(&o.passwordFile, "password-file", "", "read the password from the first line of `FILE`")
		},
		run: func(e *env, args []string) int {
			if len(args) != 1 {
				return e.usageErrorf("expected one LOGIN")
			}
			if !console.Role(o.role).Valid() {
				return e.usageErrorf("--role %q: expected operator, auditor, caseworker or admin", o.role)
			}
			us, err := console.OpenUsers(o.file.file())
			if err != nil {
				return e.failf(exitError, "%v", err)
			}
			pw, err := readNewPassword(e, o.passwordFile)
			if err != nil {
				return e.failf(exitError, "%v", err)
			}
			if err := us.Add(args[0], console.Role(o.role), o.massnahmen, pw); err != nil {
				return e.failf(exitError, "%v", err)
			}
			fmt.Fprintf(e.stdout, "added %s (%s) to %s\n", args[0], o.role, o.file.file())
			return exitOK
		},
	}
}

type usersPasswdOptions struct {
	file         usersFileOptions
	passwordFile string
}

func usersPasswdCommand() *command {
	o := &usersPasswdOptions{}
	return &command{
		name:    "passwd",
		summary: "set a console user's password",
		usage:   `users passwd LOGIN [--password-file FILE] [--users FILE]`,
		help: `Sets a new password for LOGIN.

POSITIONAL ARGUMENTS
  LOGIN  an existing user

EXIT CODES
  0  changed
  2  usage error, unknown user, or the file cannot be written

EXAMPLES
  meldeweg users passwd anna`,
		setFlags: func(fs *flag.FlagSet) {
			o.file.bind(fs)
			fs.StringVar(&o.passwordFile, "password-file", "", "read the password from the first line of `FILE`")
		},
		run: func(e *env, args []string) int {
			if len(args) != 1 {
				return e.usageErrorf("expected one LOGIN")
			}
			us, err := console.OpenUsers(o.file.file())
			if err != nil {
				return e.failf(exitError, "%v", err)
			}
			if _, err := us.Get(args[0]); err != nil {
				return e.failf(exitError, "%v", err)
			}
			pw, err := readNewPassword(e, o.passwordFile)
			if err != nil {
				return e.failf(exitError, "%v", err)
			}
			if err := us.SetPassword(args[0], pw); err != nil {
				return e.failf(exitError, "%v", err)
			}
			fmt.Fprintf(e.stdout, "password of %s changed\n", args[0])
			return exitOK
		},
	}
}

func usersDisableCommand(disable bool) *command {
	o := &usersFileOptions{}
	name, verb := "disable", "disabled"
	if !disable {
		name, verb = "enable", "enabled"
	}
	return &command{
		name:    name,
		summary: name + " a console user's login",
		usage:   `users ` + name + ` LOGIN [--users FILE]`,
		help: `Marks LOGIN as ` + verb + `; the user stays in the file.

POSITIONAL ARGUMENTS
  LOGIN  an existing user

EXIT CODES
  0  done
  2  usage error, unknown user, or the file cannot be written

EXAMPLES
  meldeweg users ` + name + ` ben`,
		setFlags: o.bind,
		run: func(e *env, args []string) int {
			if len(args) != 1 {
				return e.usageErrorf("expected one LOGIN")
			}
			us, err := console.OpenUsers(o.file())
			if err != nil {
				return e.failf(exitError, "%v", err)
			}
			if err := us.SetDisabled(args[0], disable); err != nil {
				return e.failf(exitError, "%v", err)
			}
			fmt.Fprintf(e.stdout, "%s %s\n", verb, args[0])
			return exitOK
		},
	}
}

func usersListCommand() *command {
	o := &usersFileOptions{}
	return &command{
		name:    "list",
		summary: "list the console users",
		usage:   `users list [--users FILE]`,
		help: `Prints every user with role, Maßnahmen, status and the time of the last
change. Hashes are not printed.

EXIT CODES
  0  listed (an absent file lists nobody)
  2  the file cannot be read

EXAMPLES
  meldeweg users list --users /etc/meldeweg/users.json`,
		setFlags: o.bind,
		run: func(e *env, args []string) int {
			if len(args) != 0 {
				return e.usageErrorf("list takes no arguments")
			}
			us, err := console.OpenUsers(o.file())
			if err != nil {
				return e.failf(exitError, "%v", err)
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "LOGIN\tROLE\tSTATUS\tMASSNAHMEN\tCHANGED")
			for _, u := range us.List() {
				st := "active"
				if u.Disabled {
					st = "disabled"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", u.Login, u.Role, st, orDash(strings.Join(u.Massnahmen, ",")), u.Changed.Format("2006-01-02T15:04:05Z"))
			}
			tw.Flush()
			return exitOK
		},
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// readNewPassword reads a password from file (its first line), else
// prompts twice on a terminal, else reads the first line of stdin.
func readNewPassword(e *env, file string) (string, error) {
	if file != "" {
		data, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("--password-file: %w", err)
		}
		line, _, _ := strings.Cut(string(data), "\n")
		return strings.TrimSuffix(line, "\r"), nil
	}
	if f, ok := e.stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(e.stderr, "New password: ")
		a, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(e.stderr)
		if err != nil {
			return "", err
		}
		fmt.Fprint(e.stderr, "Again: ")
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(e.stderr)
		if err != nil {
			return "", err
		}
		if string(a) != string(b) {
			return "", errors.New("the passwords differ")
		}
		return string(a), nil
	}
	sc := bufio.NewScanner(e.stdin)
	if !sc.Scan() {
		return "", errors.New("no password: give --password-file, or type it at the prompt")
	}
	return strings.TrimSuffix(sc.Text(), "\r"), nil
}
