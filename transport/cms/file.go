package cms

import (
	"context"
	"io"
	"os"

	"meldeweg.dev/meldeweg/transport/atomicfile"
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
	return atomicfile.Write(out, 0o600, func(w io.Writer) error {
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
	err = atomicfile.Write(out, 0o600, func(w io.Writer) error {
		var err error
		info, err = Open(ctx, w, f, opts)
		return err
	})
	return info, err
}
