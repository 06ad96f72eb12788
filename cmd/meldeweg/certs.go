package main

import (
	"crypto/x509"
	"flag"
	"fmt"
	"path/filepath"
	"text/tabwriter"
	"time"

	"meldeweg.dev/meldeweg/cmd/meldeweg/internal/settings"
	"meldeweg.dev/meldeweg/transport/pki"
)

// certsCheckOptions are the flags of "certs check".
type certsCheckOptions struct {
	warnDays int
	password passwordOptions
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
	o := &certsCheckOptions{}
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
			fs.IntVar(&o.warnDays, "warn-days", 0, "warn this many `DAYS` before expiry (overrides cert_warn_days; default 60)")
			o.password.bind(fs)
		},
		settingsFlags: func() []settings.Flag {
			return []settings.Flag{{Name: "--warn-days", Field: "cert_warn_days", Value: intFlag(o.warnDays)}}
		},
		run: func(e *env, args []string) int { return runCertsCheck(e, o, args) },
	}
}

func runCertsCheck(e *env, o *certsCheckOptions, args []string) int {
	c, err := e.settings()
	if err != nil {
		return e.failf(exitError, "%v", err)
	}
	warnDays := c.CertWarnDays
	entries := append(make([]settings.Certificate, 0, len(c.Certificates)+len(args)), c.Certificates...)
	for _, a := range args {
		entries = append(entries, settings.Certificate{Name: filepath.Base(a), Path: a, Password: o.password.value()})
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

func loadForCheck(cc settings.Certificate) ([]*x509.Certificate, error) {
	if pki.IsPKCS12(cc.Path) {
		id, err := pki.LoadIdentity(cc.Path, "", cc.Password)
		if err != nil {
			return nil, err
		}
		return append([]*x509.Certificate{id.Cert}, id.Chain...), nil
	}
	return pki.LoadCertificates(cc.Path)
}
