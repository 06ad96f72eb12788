// Package pki loads keys and certificates (PEM and PKCS#12), reads key
// passwords from an environment variable or a file, checks certificate
// expiry, and mints the test PKI that the demo and the tests use.
//
// # Loading
//
// LoadIdentity reads a private key with its certificate and chain, from a
// PKCS#12 file (.p12/.pfx, the form in which the BA issues certificates) or
// from PEM files (the key may sit in the certificate file or in its own).
// Private keys in PEM must be unencrypted PKCS#8, PKCS#1 or SEC 1: Go's
// standard library cannot decrypt PKCS#8 "ENCRYPTED PRIVATE KEY" and the
// legacy PEM encryption is insecure, so protected keys belong in PKCS#12.
// Passwords never come from the command line: a Password names an
// environment variable or a file.
//
// A file that holds a private key or a password (a PEM key, a PKCS#12
// file, a password file) must be accessible by its owner only, as ssh
// demands of its keys: one with any of the mode bits 0077 set is refused
// with a *FileModeError (errors.Is ErrFileMode) that names the file, its
// mode and the fix ("chmod 600 FILE"). Certificate files may be readable
// by all.
//
// # The test PKI
//
// Init(dir, InitOptions{}) writes a complete test PKI into dir (created
// with mode 0700). Every certificate
// has O="MELDEWEG TEST PKI - NOT FOR PRODUCTION" in its subject, and the
// directory holds a README.txt saying so. Keys are RSA (2048 bits by
// default, for speed; test only). Layout:
//
//	ca.pem, ca.key                  the test root CA (the trust anchor)
//	traeger-client.{pem,key,p12}    Träger TLS client certificate (clientAuth)
//	traeger-sign.{pem,key,p12}      Träger CMS signing certificate
//	traeger-encrypt.{pem,key,p12}   Träger CMS encryption certificate (BA responses)
//	emaw-client.{pem,key,p12}       eM@w provider TLS client certificate
//	emaw-sign.{pem,key,p12}         eM@w provider CMS signing certificate
//	emaw-encrypt.{pem,key,p12}      eM@w provider CMS encryption certificate
//	ba-server.{pem,key,p12}         BA server certificate, SANs localhost, 127.0.0.1, ::1
//	ba-sign.{pem,key,p12}           BA CMS signing certificate (responses)
//	ba-encrypt.{pem,key,p12}        BA CMS encryption certificate (uploads)
//	p12-password.txt                the password of every .p12 file
//	README.txt                      what this is, and that it is test-only
//
// Each .pem holds the certificate followed by the CA certificate; each .key
// the unencrypted PKCS#8 key (mode 0600); each .p12 key, certificate and CA
// (AES-256/PBKDF2, openssl-readable; mode 0600, as is the password file).
// Signing certificates carry key usage digitalSignature+contentCommitment and extended key usage
// emailProtection (what "openssl cms -verify" checks by default);
// encryption certificates keyEncipherment; client and server certificates
// digitalSignature+keyEncipherment with clientAuth/serverAuth.
//
// # Limits
//
// On Windows file modes do not describe who may read a file, and the mode
// check is skipped. Encrypted PEM keys are not supported (see Loading).
package pki
