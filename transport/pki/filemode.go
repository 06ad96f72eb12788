package pki

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"runtime"
)

// ErrFileMode: a file holding a private key or a password may be read or
// written by group or others. The concrete error is a *FileModeError.
var ErrFileMode = errors.New("secret file accessible by group or others")

// FileModeError names a key or password file that group or others may
// access, its mode, and the command that fixes it. Like ssh, Meldeweg
// refuses such a file rather than use a secret others may have read.
type FileModeError struct {
	Path string
	Mode fs.FileMode
	// What is "private key", "PKCS#12 file" or "password file".
	What string
}

func (e *FileModeError) Error() string {
	return fmt.Sprintf("%s %s is accessible by group or others (mode %04o); refusing to use it: run chmod 600 %s",
		e.What, e.Path, e.Mode.Perm(), e.Path)
}

// Unwrap makes errors.Is(err, ErrFileMode) true.
func (e *FileModeError) Unwrap() error { return ErrFileMode }

// readSecret reads a file that holds a private key or a password, after
// checking that only its owner may access it (no bit of 0077 set). On
// Windows, where file modes do not describe access, it only reads.
func readSecret(path, what string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if runtime.GOOS != "windows" {
		st, err := f.Stat()
		if err != nil {
			return nil, err
		}
		if st.Mode().Perm()&0o077 != 0 {
			return nil, &FileModeError{Path: path, Mode: st.Mode(), What: what}
		}
	}
	return io.ReadAll(f)
}
