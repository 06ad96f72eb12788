package cms

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// SealFile seals the file in to the file out. out appears only complete:
// the message is written to a temporary file in out's directory, synced,
// and renamed over out on success; on any error out is left as it was.
func SealFile(ctx context.Context, out, in string, opts SealOptions) error {
	f, err := os.Open(in)
	if err != nil {
		return err
	}
	defer f.Close()
	return writeAtomically(out, func(w io.Writer) error {
		return Seal(ctx, w, f, opts)
	})
}

// OpenFile opens the message in in and writes the content to out. out
// appears only after the message decrypted, its tag and signature verified
// and the signer's chain checked; on any error out is left as it was (the
// unauthenticated plaintext goes to a temporary file next to out, which is
// removed).
func OpenFile(ctx context.Context, out, in string, opts OpenOptions) (SignerInfo, error) {
	f, err := os.Open(in)
	if err != nil {
		return SignerInfo{}, err
	}
	defer f.Close()
	var info SignerInfo
	err = writeAtomically(out, func(w io.Writer) error {
		var err error
		info, err = Open(ctx, w, f, opts)
		return err
	})
	return info, err
}

// writeAtomically runs write on a temporary file next to path and renames
// it to path only if write succeeded and the data reached the disk.
func writeAtomically(path string, write func(io.Writer) error) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err = write(tmp); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("syncing %s: %w", tmp.Name(), err)
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	if err = os.Chmod(tmp.Name(), 0o600); err != nil {
		return err
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	if d, derr := os.Open(dir); derr == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
