package settings

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"meldeweg.dev/meldeweg/transport/baapi"
	"meldeweg.dev/meldeweg/transport/pki"
)

// The rules for the paths the settings name. A file that can hold a key
// or a password, and a directory that can hold personal data, must not be
// open to group or others: keys and password files 0600 (or 0400),
// directories 0700 (or 0500).
type pathRule int

const (
	// mustExist: a file or directory that is read, such as a certificate.
	mustExist pathRule = iota
	// secretFile: a key or password file; also a PKCS#12 file, and a PEM
	// certificate file that holds its key.
	secretFile
	// certFile: a certificate, which is a secretFile when it is PKCS#12
	// or holds a private key.
	certFile
	// privateDir: a directory holding personal data or keys; it may not
	// exist yet (Meldeweg creates it, 0700).
	privateDir
	// privateDirMustExist: as privateDir, and it must exist.
	privateDirMustExist
	// dirMustExist: a directory that is read.
	dirMustExist
)

// checkPaths checks every path the settings name against its rule. Each
// error names the field and where its value came from.
func (s *Settings) checkPaths() []error {
	var errs []error
	missing := map[string]bool{} // directories found missing, reported once
	check := func(field, path string, r pathRule) {
		if path == "" || missing[filepath.Dir(path)] {
			return
		}
		err := checkPath(path, r)
		if errors.Is(err, fs.ErrNotExist) {
			if dir := filepath.Dir(path); !exists(dir) {
				missing[dir] = true
				err = fmt.Errorf("%s: the directory %s does not exist: %w", path, dir, fs.ErrNotExist)
			}
		}
		if err != nil {
			errs = append(errs, s.errorf(field, "%w", err))
		}
	}
	for i, d := range s.SchemaDirs {
		check(fmt.Sprintf("schema_dirs[%d]", i), d, dirMustExist)
	}
	check("xsozial_source", s.XSozialSource, privateDirMustExist)
	check("work_dir", s.WorkDir, privateDir)
	check("payloads", s.Payloads, privateDir)
	check("checkpoint_signer_key", s.Checkpoints.SignerKey, secretFile)
	check("checkpoint_verifier_key", s.Checkpoints.VerifierKey, mustExist)
	check("checkpoint_dir", s.Checkpoints.Dir, privateDir)
	for _, ch := range baapi.Channels() {
		e, ok := s.Endpoints[ch]
		if !ok {
			continue
		}
		f := func(k string) string { return endpointField(ch, k) }
		check(f("ca_cert"), e.CACert, mustExist)
		check(f("ba_encrypt_cert"), e.BAEncryptCert, mustExist)
		for _, id := range []struct{ cert, key, certPath, keyPath string }{
			{"client_cert", "client_key", e.ClientCert, e.ClientKey},
			{"sign_cert", "sign_key", e.SignCert, e.SignKey},
			{"encrypt_cert", "encrypt_key", e.EncryptCert, e.EncryptKey},
		} {
			if id.keyPath == "" {
				check(f(id.cert), id.certPath, certFile)
			} else {
				check(f(id.cert), id.certPath, mustExist)
				check(f(id.key), id.keyPath, secretFile)
			}
		}
		check(f("password_file"), e.Password.File, secretFile)
	}
	for i, c := range s.Certificates {
		f := fmt.Sprintf("certificates[%d]", i)
		r := mustExist
		if pki.IsPKCS12(c.Path) {
			r = secretFile
		}
		check(f+".path", c.Path, r)
		check(f+".password_file", c.Password.File, secretFile)
	}
	return errs
}

// checkPath checks one path against its rule.
func checkPath(path string, r pathRule) error {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) && r == privateDir {
		return nil
	}
	if err != nil {
		return err
	}
	switch r {
	case privateDir, privateDirMustExist, dirMustExist:
		if !fi.IsDir() {
			return fmt.Errorf("%s is not a directory", path)
		}
		if r != dirMustExist && fi.Mode().Perm()&0o077 != 0 {
			return fmt.Errorf("%w: %s is %04o; a directory holding personal data or keys must be open to its owner only (chmod 700 %s)",
				ErrUnsafeMode, path, fi.Mode().Perm(), path)
		}
		return nil
	}
	if fi.IsDir() {
		return fmt.Errorf("%s is a directory, want a file", path)
	}
	if r == certFile {
		r = mustExist
		if pki.IsPKCS12(path) || holdsPrivateKey(path) {
			r = secretFile
		}
	}
	if r == secretFile && fi.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("%w: %s is %04o; a key or password file must be readable by its owner only (chmod 600 %s)",
			ErrUnsafeMode, path, fi.Mode().Perm(), path)
	}
	return nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// holdsPrivateKey tells whether a PEM file holds a private key block.
func holdsPrivateKey(path string) bool {
	b, err := os.ReadFile(path)
	return err == nil && bytes.Contains(b, []byte("PRIVATE KEY-----"))
}
