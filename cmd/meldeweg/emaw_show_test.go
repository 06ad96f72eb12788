package main

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestEmawShowRefusesLargeNonXML: "emaw show" on a 48 MB text file took
// 335 MB and said "not an eM@w document: EOF" (issue 17). It is refused
// after its first bytes, naming the file, what was found and what was
// expected, in constant memory.
func TestEmawShowRefusesLargeNonXML(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "server.log")
	if err := os.WriteFile(file, bytes.Repeat([]byte("2026-12-03 not XML at all, a log line\n"), 48<<20/38), 0o600); err != nil {
		t.Fatal(err)
	}
	var code int
	var stdout, stderr string
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	code, stdout, stderr = runEmawCLI(t, "emaw", "show", file)
	runtime.ReadMemStats(&after)
	if code != exitFindings || stdout != "" {
		t.Fatalf("exit %d, stdout %q; want %d and nothing printed", code, stdout, exitFindings)
	}
	want := file + ": not an eM@w document: not XML: found text that is not XML at byte 0; expected an XML document (an eM@w Nachricht or Quittung) beginning with '<'"
	if !strings.Contains(stderr, want) {
		t.Errorf("stderr %q, want %q", stderr, want)
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > 1<<20 {
		t.Errorf("refusing 48 MB allocated %d bytes, want at most 1 MiB", n)
	}
}
