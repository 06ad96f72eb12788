package checkpoint

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"meldeweg.dev/meldeweg/transport/atomicfile"
	"meldeweg.dev/meldeweg/transport/register"
)

// The directory layout of kept checkpoints: every signed checkpoint as
// checkpoint-<size>, and a copy of the newest as latest. Files are
// written whole (atomicfile) and a checkpoint-<size> is never replaced: a
// second, different checkpoint of one size is a fork and refused.
const (
	// LatestName is the newest checkpoint's file name.
	LatestName = "latest"
	filePrefix = "checkpoint-"
)

// FileName is the name of the checkpoint of size in a checkpoint
// directory.
func FileName(size int64) string { return filePrefix + strconv.FormatInt(size, 10) }

// ErrFork: a checkpoint directory already holds a different checkpoint of
// the same size.
var ErrFork = errors.New("a different checkpoint of this size is kept already: the register forked")

// WriteDir keeps the signed checkpoint of size in dir (created 0700) as
// FileName(size) and as LatestName, both 0600. Writing the same
// checkpoint again is no error.
func WriteDir(dir string, size int64, signed []byte) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	path := filepath.Join(dir, FileName(size))
	err := atomicfile.WriteNew(path, 0o600, func(w io.Writer) error {
		_, err := w.Write(signed)
		return err
	})
	if errors.Is(err, atomicfile.ErrExists) {
		old, rerr := os.ReadFile(path)
		if rerr != nil {
			return rerr
		}
		if !bytes.Equal(old, signed) {
			return fmt.Errorf("%s: %w", path, ErrFork)
		}
		err = nil
	}
	if err != nil {
		return err
	}
	return atomicfile.WriteBytes(filepath.Join(dir, LatestName), 0o600, signed)
}

// Kept lists the checkpoint files of dir by size, smallest first. A
// missing directory gives an empty list.
func Kept(dir string) ([]string, error) {
	des, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	type kept struct {
		size int64
		path string
	}
	var ks []kept
	for _, de := range des {
		n, ok := strings.CutPrefix(de.Name(), filePrefix)
		if !ok || de.IsDir() {
			continue
		}
		size, err := strconv.ParseInt(n, 10, 64)
		if err != nil || size < 0 {
			continue
		}
		ks = append(ks, kept{size, filepath.Join(dir, de.Name())})
	}
	slices.SortFunc(ks, func(a, b kept) int { return int(min(max(a.size-b.size, -1), 1)) })
	out := make([]string, len(ks))
	for i, k := range ks {
		out[i] = k.path
	}
	return out, nil
}

// ReadFile reads and opens the signed checkpoint at path with the
// verifier key vkey; errors name the file.
func ReadFile(path, vkey string) (Checkpoint, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Checkpoint{}, err
	}
	c, err := Open(b, vkey)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// Entry is the register entry that records c: event "checkpoint", Detail
// "size=N head=HEX". Appending it moves the head, so c covers the
// register before this entry (entries 1 to c.Size); the entry itself is
// covered by the next checkpoint.
func (c Checkpoint) Entry(actor register.Actor) register.AppendParams {
	return register.AppendParams{Event: register.EventCheckpoint, Actor: actor, Detail: fmt.Sprintf("size=%d head=%s", c.Size, c.Head)}
}
