package atomicfile_test

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"meldeweg.dev/meldeweg/transport/atomicfile"
)

func TestWriteReplacesOnlyOnSuccess(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	if err := atomicfile.WriteBytes(p, 0o640, []byte("one")); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	err := atomicfile.Write(p, 0o640, func(w io.Writer) error {
		w.Write([]byte("half"))
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want the writer's error", err)
	}
	if got, _ := os.ReadFile(p); string(got) != "one" {
		t.Fatalf("a failed write changed the file to %q", got)
	}
	if err := atomicfile.WriteBytes(p, 0o600, []byte("two")); err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(p)
	if got, _ := os.ReadFile(p); string(got) != "two" || st.Mode().Perm() != 0o600 {
		t.Fatalf("file %q mode %v, want \"two\" 0600", got, st.Mode().Perm())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("temporary files left behind: %v", entries)
	}
}

func TestWriteNewRefusesToReplace(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	if err := atomicfile.WriteNew(p, 0o644, func(w io.Writer) error { _, err := w.Write([]byte("a")); return err }); err != nil {
		t.Fatal(err)
	}
	err := atomicfile.WriteNew(p, 0o644, func(w io.Writer) error { _, err := w.Write([]byte("b")); return err })
	if !errors.Is(err, atomicfile.ErrExists) {
		t.Fatalf("err = %v, want ErrExists", err)
	}
	if got, _ := os.ReadFile(p); string(got) != "a" {
		t.Fatalf("file replaced: %q", got)
	}
}
