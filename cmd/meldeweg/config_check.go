package main

import (
	"context"
	"flag"
	"fmt"
	"time"

	"meldeweg.dev/meldeweg/cmd/meldeweg/internal/settings"
)

// configCheckOptions are the flags of "config check".
type configCheckOptions struct {
	online  bool
	timeout time.Duration
}

func configCommand() *command {
	return &command{
		name:    "config",
		summary: "check the configuration",
		usage:   `config check [--online] [--timeout DURATION]`,
		help:    `Commands for the configuration file (--config FILE, else $MELDEWEG_CONFIG).`,
		sub:     []*command{configCheckCommand()},
	}
}

func configCheckCommand() *command {
	o := &configCheckOptions{}
	return &command{
		name:    "check",
		summary: "load and check the whole configuration: keys, certificates, modes, bundles; --online: TLS handshakes",
		usage:   `config check [--online] [--timeout DURATION]`,
		help: `Loads the configuration (file, environment, flags) as every command does, and
then checks what a command would find only when it needs it:

  - every key and certificate loads, with its password (password_file,
    password_env), and each key belongs to its certificate;
  - keys, password files and private directories are open to their owner
    only (0600, 0700);
  - no certificate has expired or is not yet valid; one that expires
    within cert_warn_days is a warning;
  - each configured channel (endpoints.xsozial, endpoints.emaw) has every
    field it needs to deliver;
  - a schema bundle is in force for each standard in use this month and
    the next two;
  - the register, the payload keys, the work directory and the source
    directory are places of their own, and a configuration file holding
    the register's password is open to its owner only.

With --online it also makes a mutual TLS handshake with each configured
endpoint (url), with the channel's CA certificate as the only root and its
TLS client identity, and sends one HEAD request, so that a server that
refuses the client certificate is found too. Nothing is uploaded.

Every problem names the field and where its value came from (file and
line, $VARIABLE, --flag or default).

EXIT CODES
  0  all is well (warnings may be printed)
  1  something needs fixing
  2  usage error

EXAMPLES
  meldeweg --config /etc/meldeweg/meldeweg.json config check
  meldeweg --config /etc/meldeweg/meldeweg.json config check --online`,
		setFlags: func(fs *flag.FlagSet) {
			fs.BoolVar(&o.online, "online", false, "also make a TLS handshake with each configured endpoint")
			fs.DurationVar(&o.timeout, "timeout", 10*time.Second, "give each handshake at most `DURATION`")
		},
		run: func(e *env, args []string) int { return runConfigCheck(e, o, args) },
	}
}

func runConfigCheck(e *env, o *configCheckOptions, args []string) int {
	if len(args) > 0 {
		return e.usageErrorf("unexpected argument %q", args[0])
	}
	if o.timeout <= 0 {
		return e.usageErrorf("--timeout must be a positive duration")
	}
	s, err := e.settings()
	if err != nil {
		errs := []error{err}
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			errs = j.Unwrap()
		}
		for _, x := range errs {
			fmt.Fprintln(e.stdout, x)
		}
		fmt.Fprintf(e.stdout, "%s: %d problem(s); the configuration does not load\n", configName(e), len(errs))
		return exitFindings
	}
	problems := s.Check(context.Background(), settings.CheckOptions{Online: o.online, DialTimeout: o.timeout})
	failed, warnings := 0, 0
	for _, p := range problems {
		fmt.Fprintln(e.stdout, p)
		if p.Warning {
			warnings++
		} else {
			failed++
		}
	}
	how := "offline"
	if o.online {
		how = "online"
	}
	if failed > 0 {
		fmt.Fprintf(e.stdout, "%s: %d problem(s), %d warning(s) (checked %s)\n", configName(e), failed, warnings, how)
		return exitFindings
	}
	fmt.Fprintf(e.stdout, "%s: good, %d warning(s) (checked %s)\n", configName(e), warnings, how)
	return exitOK
}

// configName names the configuration checked.
func configName(e *env) string {
	if e.set != nil && e.set.File != "" {
		return "configuration " + e.set.File
	}
	if e.configPath != "" {
		return "configuration " + e.configPath
	}
	return "configuration (no file; environment and defaults)"
}
