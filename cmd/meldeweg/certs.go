package main

import (
	"crypto/x509"
	"flag"
	"fmt"
	"path/filepath"
	"strconv"
	"text/tabwriter"
	"time"

	"meldeweg.dev/meldeweg/transport/pki"
)

// certConfig is one certificate "meldeweg certs check" watches (config
// key "certificates").
type certConfig struct {
	// Name labels the certificate in the listing. Defaults to the file name.
	Name string `json:"name,omitempty"`
	// Path is a PEM, DER or PKCS#12 file, relative to the configuration
	// file's directory. Every certificate in it is checked.
	Path string `json:"path"`
	// PasswordEnv or PasswordFile unlock a .p12 (one of them, or neither
	// for a password-less file); PasswordFile is relative like Path.
	PasswordEnv  string `json:"password_env,omitempty"`
	PasswordFile string `json:"password_file,omitempty"`
}

func certsCommand() *command {
	return &command{
		name:    "certs",
		summary: "certificate housekeeping (expiry)",
		usage:   `certs check [--warn-days N] [FILE...]`,
		help:    `Commands for the configured certificates.`,
		sub:     []*command{certsCheckCommand()},
	}
}

func certsCheckCommand() *command {
	return &command{
		name:    "check",
		summary: "list certificates with days to expiry; warn from 60 days",
		usage:   `certs check [--warn-days N] [--password-env VAR | --password-file FILE] [FILE...]`,
		help: `Lists every certificate in the configuration ("certificates") and in the
FILEs given, with its expiry date, the days left and a status: valid,
expiring (within --warn-days), expired or not-yet-valid. Every certificate in
a file is listed, CA certificates included. The BA renews certificates on
request; start before "expiring" turns into "expired".

Configuration:
  {"certificates": [{"name": "traeger-sign", "path": "pki/traeger-sign.p12",
                     "password_file": "pki/p12-password.txt"}],
   "cert_warn_days": 60}

POSITIONAL ARGUMENTS
  FILE  a certificate file (PEM, DER, or .p12 with --password-env/--password-file)

EXIT CODES
  0  every certificate is valid for longer than the warning period
  1  at least one certificate is expiring, expired or not yet valid
  2  usage error, no certificate given or configured, or a file that cannot be read

EXAMPLES
  meldeweg certs check
  meldeweg --config /etc/meldeweg/config.json certs check --warn-days 90
  meldeweg certs check pki/ca.pem pki/ba-server.pem`,
		setFlags: func(fs *flag.FlagSet) {
			fs.Int("warn-days", 0, "warn this many `DAYS` before expiry (default: configuration, else 60)")
			passwordFlags(fs)
		},
		run: runCertsCheck,
	}
}

func runCertsCheck(e *env, fs *flag.FlagSet, args []string) int {
	c, err := e.config()
	if err != nil {
		return e.failf(exitError, "%v", err)
	}
	warnDays, _ := strconv.Atoi(fs.Lookup("warn-days").Value.String())
	if warnDays == 0 {
		warnDays = c.CertWarnDays
	}
	if warnDays == 0 {
		warnDays = int(pki.DefaultWarn / (24 * time.Hour))
	}
	if warnDays < 0 {
		return e.usageErrorf("--warn-days %d: expected a positive number", warnDays)
	}
	entries := make([]certConfig, 0, len(c.Certificates)+len(args))
	for _, cc := range c.Certificates {
		cc.Path = c.abs(cc.Path)
		cc.PasswordFile = c.abs(cc.PasswordFile)
		entries = append(entries, cc)
	}
	pw := passwordFrom(fs)
	for _, a := range args {
		entries = append(entries, certConfig{Path: a, PasswordEnv: pw.Env, PasswordFile: pw.File})
	}
	if len(entries) == 0 {
		return e.usageErrorf("no certificates configured and no FILE given")
	}

	now := time.Now()
	warn := time.Duration(warnDays) * 24 * time.Hour
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "STATUS\tDAYS\tNOT AFTER\tNAME\tSUBJECT")
	code := exitOK
	var problems []string
	for _, cc := range entries {
		name := cc.Name
		if name == "" {
			name = filepath.Base(cc.Path)
		}
		certs, err := loadForCheck(cc)
		if err != nil {
			code = exitError
			problems = append(problems, fmt.Sprintf("%s: %v", name, err))
			continue
		}
		for _, cert := range certs {
			x := pki.CheckExpiry(cert, now, warn)
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\n", x.Status, x.DaysLeft, cert.NotAfter.UTC().Format("2006-01-02"), name, cert.Subject.CommonName)
			if x.Status != pki.StatusValid {
				if code == exitOK {
					code = exitFindings
				}
				problems = append(problems, expiryMessage(name, cert, x))
			}
		}
	}
	tw.Flush()
	for _, p := range problems {
		fmt.Fprintf(e.stderr, "%s: %s\n", e.name, p)
	}
	return code
}

func expiryMessage(name string, c *x509.Certificate, x pki.Expiry) string {
	switch x.Status {
	case pki.StatusExpired:
		return fmt.Sprintf("%s: %q expired %d days ago (%s)", name, c.Subject.CommonName, -x.DaysLeft, c.NotAfter.UTC().Format(time.RFC3339))
	case pki.StatusNotYetValid:
		return fmt.Sprintf("%s: %q is not valid before %s", name, c.Subject.CommonName, c.NotBefore.UTC().Format(time.RFC3339))
	}
	return fmt.Sprintf("warning: %s: %q expires in %d days (%s); renew it", name, c.Subject.CommonName, x.DaysLeft, c.NotAfter.UTC().Format(time.RFC3339))
}

func loadForCheck(cc certConfig) ([]*x509.Certificate, error) {
	if pki.IsPKCS12(cc.Path) {
		id, err := pki.LoadIdentity(cc.Path, "", pki.Password{Env: cc.PasswordEnv, File: cc.PasswordFile})
		if err != nil {
			return nil, err
		}
		return append([]*x509.Certificate{id.Cert}, id.Chain...), nil
	}
	return pki.LoadCertificates(cc.Path)
}
