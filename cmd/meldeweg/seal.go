package main

import (
	"context"
	"crypto/x509"
	"flag"
	"fmt"

	"meldeweg.dev/meldeweg/cmd/meldeweg/internal/settings"
	"meldeweg.dev/meldeweg/transport/cms"
	"meldeweg.dev/meldeweg/transport/pki"
)

// sealOptions are the flags of "seal".
type sealOptions struct {
	signKey, signCert, profile string
	to                         stringList
	noCompress                 bool
	password                   passwordOptions
}

func sealCommand() *command {
	o := &sealOptions{}
	return &command{
		name:    "seal",
		summary: "sign and encrypt a file (CMS, interoperable with openssl cms)",
		usage:   `seal --sign-key KEY [--sign-cert CERT] --to CERT [--to CERT...] [--profile compat|bsi] [--no-compress] IN OUT`,
		help: `Signs IN (CMS SignedData, content attached, compressed with zlib as
CompressedData) and encrypts the signed message for every --to certificate,
streaming, in constant memory. OUT appears only when complete (written to a
temporary file and renamed).

The profile chooses the algorithms:
  compat  RSA PKCS#1 v1.5 (or ECDSA) SHA-256 signature, RSA PKCS#1 v1.5 key
          transport, AES-256-CBC (EnvelopedData)
  bsi     RSASSA-PSS (or ECDSA) signature, RSAES-OAEP-SHA256 key transport,
          AES-256-GCM (AuthEnvelopedData), after BSI TR-02102
--profile overrides "cms_profile" of the configuration (default compat).

Keys and certificates are PEM files or PKCS#12 (.p12/.pfx); the password of
a .p12 comes from --password-env or --password-file, never from the command
line. A .p12 given as --sign-key needs no --sign-cert.

POSITIONAL ARGUMENTS
  IN    the file to seal
  OUT   the CMS message to write (binary DER/BER)

EXIT CODES
  0  sealed; OUT written
  2  usage error, unreadable key or certificate, wrong password, I/O error

EXAMPLES
  meldeweg seal --sign-key pki/traeger-sign.key --sign-cert pki/traeger-sign.pem \
      --to pki/ba-encrypt.pem delivery.xml delivery.xml.p7m
  MELDEWEG_P12_PASSWORD=secret meldeweg seal --profile bsi \
      --sign-key traeger-sign.p12 --password-env MELDEWEG_P12_PASSWORD \
      --to ba-encrypt.pem delivery.xml delivery.xml.p7m`,
		setFlags: func(fs *flag.FlagSet) {
			fs.StringVar(&o.signKey, "sign-key", "", "signing key `FILE` (PEM, or .p12 holding key and certificate)")
			fs.StringVar(&o.signCert, "sign-cert", "", "signing certificate `FILE` (PEM, with chain); not needed with a .p12")
			fs.Var(&o.to, "to", "recipient certificate `FILE` (PEM or DER); repeatable")
			fs.StringVar(&o.profile, "profile", "", "algorithm `PROFILE`: compat or bsi (overrides cms_profile; default compat)")
			fs.BoolVar(&o.noCompress, "no-compress", false, "do not compress (for counterparts without zlib, such as Debian's openssl)")
			o.password.bind(fs)
		},
		settingsFlags: profileFlag(&o.profile),
		run:           func(e *env, args []string) int { return runSeal(e, o, args) },
	}
}

// passwordOptions say where a .p12 password comes from.
type passwordOptions struct{ env, file string }

func (o *passwordOptions) bind(fs *flag.FlagSet) {
	fs.StringVar(&o.env, "password-env", "", "read the .p12 password from environment variable `VAR`")
	fs.StringVar(&o.file, "password-file", "", "read the .p12 password from `FILE`")
}

func (o *passwordOptions) value() pki.Password { return pki.Password{Env: o.env, File: o.file} }

// profileFlag is --profile of seal and open, which overrides cms_profile.
func profileFlag(value *string) func() []settings.Flag {
	return func() []settings.Flag {
		return []settings.Flag{{Name: "--profile", Field: "cms_profile", Value: *value}}
	}
}

// cmsProfile returns the profile of seal and open: --profile, else
// cms_profile of the configuration.
func (e *env) cmsProfile() (cms.Profile, error) {
	s, err := e.settings()
	if err != nil {
		return "", err
	}
	return s.CMSProfile, nil
}

func runSeal(e *env, o *sealOptions, args []string) int {
	signKey, signCert, to := o.signKey, o.signCert, o.to
	switch {
	case len(args) != 2:
		return e.usageErrorf("expected IN and OUT, got %d arguments", len(args))
	case signKey == "":
		return e.usageErrorf("--sign-key is required")
	case signCert == "" && !pki.IsPKCS12(signKey):
		return e.usageErrorf("--sign-cert is required unless --sign-key is a .p12 file")
	case len(to) == 0:
		return e.usageErrorf("at least one --to recipient certificate is required")
	}
	profile, err := e.cmsProfile()
	if err != nil {
		return e.usageErrorf("%v", err)
	}
	id, err := pki.LoadIdentity(signCert, signKey, o.password.value())
	if err != nil {
		return e.failf(exitError, "signing identity: %v", err)
	}
	var recips []*x509.Certificate
	for _, p := range to {
		certs, err := pki.LoadCertificates(p)
		if err != nil {
			return e.failf(exitError, "recipient: %v", err)
		}
		recips = append(recips, certs[0])
	}
	opts := cms.SealOptions{
		Signer:       cms.Signer{Key: id.Key, Cert: id.Cert, Chain: intermediates(id)},
		Recipients:   recips,
		Profile:      profile,
		Uncompressed: o.noCompress,
	}
	if err := cms.SealFile(context.Background(), args[1], args[0], opts); err != nil {
		return e.failf(exitError, "%s: %v", args[0], err)
	}
	fmt.Fprintf(e.stdout, "sealed %s -> %s (profile %s, %d %s)\n", args[0], args[1], profile, len(recips), plural(len(recips), "recipient", "recipients"))
	return exitOK
}

// intermediates drops self-signed certificates (roots) from an
// identity's chain: the receiver has its own trust anchors.
func intermediates(id *pki.Identity) []*x509.Certificate {
	var out []*x509.Certificate
	for _, c := range id.Chain {
		if c.CheckSignatureFrom(c) != nil {
			out = append(out, c)
		}
	}
	return out
}
