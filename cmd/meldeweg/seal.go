package main

import (
	"context"
	"crypto/x509"
	"flag"
	"fmt"

	"meldeweg.dev/meldeweg/transport/cms"
	"meldeweg.dev/meldeweg/transport/pki"
)

func sealCommand() *command {
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
The default is "cms_profile" from the configuration, else compat.

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
			fs.String("sign-key", "", "signing key `FILE` (PEM, or .p12 holding key and certificate)")
			fs.String("sign-cert", "", "signing certificate `FILE` (PEM, with chain); not needed with a .p12")
			fs.Var(new(stringList), "to", "recipient certificate `FILE` (PEM or DER); repeatable")
			fs.String("profile", "", "algorithm `PROFILE`: compat or bsi (default: configuration, else compat)")
			fs.Bool("no-compress", false, "do not compress (for counterparts without zlib, such as Debian's openssl)")
			passwordFlags(fs)
		},
		run: runSeal,
	}
}

// passwordFlags declares where a .p12 password comes from.
func passwordFlags(fs *flag.FlagSet) {
	fs.String("password-env", "", "read the .p12 password from environment variable `VAR`")
	fs.String("password-file", "", "read the .p12 password from `FILE`")
}

func passwordFrom(fs *flag.FlagSet) pki.Password {
	return pki.Password{Env: fs.Lookup("password-env").Value.String(), File: fs.Lookup("password-file").Value.String()}
}

// cmsProfile resolves --profile against the configuration.
func (e *env) cmsProfile(flagValue string) (cms.Profile, error) {
	if flagValue == "" {
		c, err := e.config()
		if err != nil {
			return "", err
		}
		flagValue = c.CMSProfile
	}
	return cms.ParseProfile(flagValue)
}

func runSeal(e *env, fs *flag.FlagSet, args []string) int {
	signKey := fs.Lookup("sign-key").Value.String()
	signCert := fs.Lookup("sign-cert").Value.String()
	to := *fs.Lookup("to").Value.(*stringList)
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
	profile, err := e.cmsProfile(fs.Lookup("profile").Value.String())
	if err != nil {
		return e.usageErrorf("%v", err)
	}
	id, err := pki.LoadIdentity(signCert, signKey, passwordFrom(fs))
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
		Uncompressed: fs.Lookup("no-compress").Value.String() == "true",
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
