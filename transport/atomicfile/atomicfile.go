// Package atomicfile writes files so that a reader never sees part of one
// and a crash never leaves one that looks finished: the content goes to a
// temporary file in the same directory, is synced, and only then takes the
// final name (rename, or link when an existing file must not be replaced),
// after which the directory is synced too (tessera's storage/posix
// createEx pattern). If writing fails, nothing is left behind.
package atomicfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// ErrExists is returned (wrapped) by WriteNew when path already exists.
var ErrExists = errors.New("already exists; not overwritten")

// Write runs write on a temporary file next to path and gives it the name
// path (replacing any file there) with permissions perm, only if write
// succeeded and the data reached the disk.
func Write(path string, perm fs.FileMode, write func(io.Writer) error) error {
	return place(path, perm, write, false)
}

// WriteNew is Write that refuses to replace an existing file: the error
// wraps ErrExists and path is left as it was.
func WriteNew(path string, perm fs.FileMode, write func(io.Writer) error) error {
	return place(path, perm, write, true)
}

// WriteBytes writes data to path; see Write.
func WriteBytes(path string, perm fs.FileMode, data []byte) error {
	return Write(path, perm, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

func place(path string, perm fs.FileMode, write func(io.Writer) error, exclusive bool) (err error) {
	dir := filepath.Dir(path)
	if exclusive {
		if _, err := os.Lstat(path); err == nil {
			return fmt.Errorf("%s %w", path, ErrExists)
		}
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		tmp.Close()
		os.Remove(tmp.Name())
	}()
	if err := write(tmp); err != nil {
		return err
	}
	if err := tmp.Chmod(perm); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("syncing %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if exclusive {
		// A link fails if path appeared meanwhile; the deferred Remove
		// then drops only the temporary name.
		if err := os.Link(tmp.Name(), path); err != nil {
			if errors.Is(err, fs.ErrExist) {
				return fmt.Errorf("%s %w", path, ErrExists)
			}
			return err
		}
	} else if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
