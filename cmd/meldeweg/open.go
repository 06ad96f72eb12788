package main

import (
	"context"
	"crypto"
	"errors"
	"flag"
	"fmt"
	"time"

	"meldeweg.dev/meldeweg/transport/cms"
	"meldeweg.dev/meldeweg/transport/pki"
)

// openOptions are the flags of "open".
type openOptions struct {
	key, cert, profile string
	trust              stringList
	password           passwordOptions
}

func openCommand() *command {
	o := &openOptions{}
	return &command{
		name:    "open",
		summary: "decrypt and verify a CMS message (from seal or openssl cms)",
		usage:   `open --key KEY [--cert CERT] --trust CA.pem [--trust CA.pem...] [--profile compat|bsi] IN OUT`,
		help: `Decrypts IN, verifies the signature and the signer's chain to the --trust
anchors (validity period, key usage), writes the content to OUT and prints
the signer's subject, serial number and signing time.

IN may come from "meldeweg seal" or from openssl (cms -sign, then
cms -encrypt; DER, including -stream indefinite-length output). OUT is
written only after every check passed: the content goes to a temporary file
next to OUT that is renamed on success and removed on failure.

With --profile bsi, messages using AES-CBC, RSA PKCS#1 v1.5 key transport or
PKCS#1 v1.5 signatures are refused; compat accepts both profiles'
algorithms. SHA-1, MD5, DES, 3DES and RC2 are refused always.

POSITIONAL ARGUMENTS
  IN    the CMS message (binary DER/BER)
  OUT   where to write the content

EXIT CODES
  0  decrypted and verified; OUT written
  1  the message was checked and refused: not for this certificate, damaged
     or tampered ciphertext, altered content, bad signature, expired, not yet
     valid or untrusted signer, weak algorithm, truncated or malformed input
  2  usage error, unreadable key or certificate, wrong password, I/O error

EXAMPLES
  meldeweg open --key pki/ba-encrypt.key --cert pki/ba-encrypt.pem \
      --trust pki/ca.pem delivery.xml.p7m delivery.xml
  meldeweg open --profile bsi --key ba-encrypt.p12 --password-file pw.txt \
      --trust ca.pem in.p7m out.xml`,
		setFlags: func(fs *flag.FlagSet) {
			fs.StringVar(&o.key, "key", "", "recipient key `FILE` (PEM, or .p12 holding key and certificate)")
			fs.StringVar(&o.cert, "cert", "", "recipient certificate `FILE` (PEM); not needed with a .p12")
			fs.Var(&o.trust, "trust", "trust anchor `FILE` (PEM CA certificates); repeatable")
			fs.StringVar(&o.profile, "profile", "", "algorithm `PROFILE`: compat or bsi (overrides cms_profile; default compat)")
			o.password.bind(fs)
		},
		settingsFlags: profileFlag(&o.profile),
		run:           func(e *env, args []string) int { return runOpen(e, o, args) },
	}
}

func runOpen(e *env, o *openOptions, args []string) int {
	key, cert, trust := o.key, o.cert, o.trust
	switch {
	case len(args) != 2:
		return e.usageErrorf("expected IN and OUT, got %d arguments", len(args))
	case key == "":
		return e.usageErrorf("--key is required")
	case cert == "" && !pki.IsPKCS12(key):
		return e.usageErrorf("--cert is required unless --key is a .p12 file")
	case len(trust) == 0:
		return e.usageErrorf("at least one --trust CA file is required")
	}
	profile, err := e.cmsProfile()
	if err != nil {
		return e.usageErrorf("%v", err)
	}
	id, err := pki.LoadIdentity(cert, key, o.password.value())
	if err != nil {
		return e.failf(exitError, "recipient identity: %v", err)
	}
	dec, ok := id.Key.(crypto.Decrypter)
	if !ok {
		return e.failf(exitError, "recipient key of type %T cannot decrypt", id.Key)
	}
	pool, err := pki.CertPool(trust...)
	if err != nil {
		return e.failf(exitError, "trust anchors: %v", err)
	}
	info, err := cms.OpenFile(context.Background(), args[1], args[0], cms.OpenOptions{Key: dec, Cert: id.Cert, Trust: pool, Profile: profile})
	if err != nil {
		if isCMSCondition(err) {
			return e.failf(exitFindings, "%s: refused: %v", args[0], err)
		}
		return e.failf(exitError, "%s: %v", args[0], err)
	}
	fmt.Fprintf(e.stdout, "signer:       %s\n", info.Subject())
	fmt.Fprintf(e.stdout, "serial:       %s (0x%X)\n", info.Serial(), info.Serial())
	if info.SigningTime.IsZero() {
		fmt.Fprintf(e.stdout, "signing time: (not given)\n")
	} else {
		fmt.Fprintf(e.stdout, "signing time: %s\n", info.SigningTime.UTC().Format(time.RFC3339))
	}
	fmt.Fprintf(e.stdout, "algorithms:   %s, %s, %s\n", info.Signature, info.KeyTransport, info.ContentEncryption)
	fmt.Fprintf(e.stdout, "content:      %d bytes -> %s\n", info.Bytes, args[1])
	return exitOK
}

// isCMSCondition tells whether err is a verdict on the message (exit 1)
// rather than a failure to do the work (exit 2).
func isCMSCondition(err error) bool {
	for _, c := range []error{cms.ErrMalformed, cms.ErrTruncated, cms.ErrNotRecipient, cms.ErrKeyDecrypt, cms.ErrCiphertext,
		cms.ErrContentAltered, cms.ErrBadSignature, cms.ErrSignerExpired, cms.ErrSignerNotYetValid, cms.ErrUntrustedSigner,
		cms.ErrKeyUsage, cms.ErrAlgorithm, cms.ErrNotSigned, cms.ErrNotEncrypted} {
		if errors.Is(err, c) {
			return true
		}
	}
	return false
}
