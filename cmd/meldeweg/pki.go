package main

import (
	"errors"
	"flag"
	"fmt"

	"meldeweg.dev/meldeweg/transport/pki"
)

func pkiCommand() *command {
	return &command{
		name:    "pki",
		summary: "test PKI for the demo and the tests",
		usage:   `pki init [--force] [--rsa-bits N] DIR`,
		help:    `Commands for the test PKI. Its certificates are plainly marked test-only.`,
		sub:     []*command{pkiInitCommand()},
	}
}

// pkiInitOptions are the flags of "pki init".
type pkiInitOptions struct {
	force   bool
	rsaBits int
}

func pkiInitCommand() *command {
	o := &pkiInitOptions{}
	return &command{
		name:    "init",
		summary: "create a test PKI (CA, Träger/provider/BA certificates)",
		usage:   `pki init [--force] [--rsa-bits N] DIR`,
		help: `Creates a test PKI in DIR: a root CA; TLS client, CMS signing and CMS
encryption certificates for a Träger (traeger-*) and an eM@w provider
(emaw-*); the BA server certificate (ba-server, for localhost, 127.0.0.1 and
::1); BA signing and encryption certificates (ba-sign, ba-encrypt). Each
comes as NAME.pem (certificate and CA), NAME.key (unencrypted PKCS#8) and
NAME.p12 (password in p12-password.txt). Every subject carries
O="` + pki.TestOrganization + `".
Do not use these files for anything but tests and the demo.

POSITIONAL ARGUMENTS
  DIR   directory to create (or fill); an existing test PKI is kept unless --force

EXIT CODES
  0  the test PKI was written
  2  usage error, DIR already holds a test PKI, or an I/O error

EXAMPLES
  meldeweg pki init ./pki
  meldeweg seal --sign-key pki/traeger-sign.p12 --password-file pki/p12-password.txt \
      --to pki/ba-encrypt.pem in.xml in.xml.p7m`,
		setFlags: func(fs *flag.FlagSet) {
			fs.BoolVar(&o.force, "force", false, "replace an existing test PKI in DIR")
			fs.IntVar(&o.rsaBits, "rsa-bits", 2048, "RSA key size in `BITS` (2048, 3072 or 4096)")
		},
		run: func(e *env, args []string) int { return runPKIInit(e, o, args) },
	}
}

func runPKIInit(e *env, o *pkiInitOptions, args []string) int {
	if len(args) != 1 {
		return e.usageErrorf("expected one DIR, got %d arguments", len(args))
	}
	bits := o.rsaBits
	if bits != 2048 && bits != 3072 && bits != 4096 {
		return e.usageErrorf("--rsa-bits %d: expected 2048, 3072 or 4096", bits)
	}
	err := pki.Init(args[0], pki.InitOptions{RSABits: bits, Force: o.force})
	if errors.Is(err, pki.ErrExists) {
		return e.failf(exitError, "%v; pass --force to replace it", err)
	}
	if err != nil {
		return e.failf(exitError, "%v", err)
	}
	fmt.Fprintf(e.stdout, "test PKI written to %s (TEST ONLY - NOT FOR PRODUCTION)\n", args[0])
	fmt.Fprintf(e.stdout, "  trust anchor:  %s/ca.pem\n", args[0])
	for _, f := range pki.TestPKIFiles {
		fmt.Fprintf(e.stdout, "  %-16s %s/%s.{pem,key,p12}\n", f.Stem+":", args[0], f.Stem)
	}
	fmt.Fprintf(e.stdout, "  .p12 password:  %s/p12-password.txt\n", args[0])
	return exitOK
}
