package pack

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
)

// manyEntries is an archive of n empty stored entries (78 bytes each).
func manyEntries(t *testing.T, n int) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for i := 0; i < n; i++ {
		if _, err := zw.CreateHeader(&zip.FileHeader{Name: fmt.Sprintf("e%06d", i), Method: zip.Store}); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestOpenRefusesManyEntriesBeforeParsing: archive/zip builds a File for
// every directory record before Open could count them, so 200,000 entries
// cost tens of MB before ErrTooMany. The directory is counted first now,
// at the top and in an event archive.
func TestOpenRefusesManyEntriesBeforeParsing(t *testing.T) {
	const n = 200_000
	many := manyEntries(t, n)
	tests := []struct {
		name, archive string
		data          []byte
		// maxAlloc: the event archive itself is read (it is an entry of
		// the upload), its directory is not parsed.
		maxAlloc uint64
	}{
		{"upload", "upload.zip", many, 1 << 20},
		{"event archive", "upload.zip!E1.zip", makeZip(t, entry{name: "E1.zip", data: many, method: zip.Store}), uint64(len(many)) + 1<<20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			var up *Upload
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			up, err = Open(tt.data, "upload.zip", Limits{})
			runtime.ReadMemStats(&after)
			var ue *UnsafeError
			if up != nil || !errors.Is(err, ErrTooMany) || !errors.As(err, &ue) || ue.Archive != tt.archive {
				t.Fatalf("Open = %v, %v; want ErrTooMany in %s", up, err, tt.archive)
			}
			if !strings.Contains(err.Error(), "limit 10000") {
				t.Errorf("message %q does not name the limit", err)
			}
			if a := after.TotalAlloc - before.TotalAlloc; a > tt.maxAlloc {
				t.Errorf("refusing %d entries allocated %d bytes, want at most %d", n, a, tt.maxAlloc)
			}
		})
	}
}

// TestOpenRefusesDeepZipNesting: archives nested 20 deep (the shape of
// 42.zip) end at the second level, where the layout allows XML and PDF
// only, with the path of archives in the message.
func TestOpenRefusesDeepZipNesting(t *testing.T) {
	e := inner(t, "E20")
	for i := 19; i >= 1; i-- {
		e = inner(t, fmt.Sprintf("E%d", i), e)
	}
	_, err := Open(makeZip(t, e), "upload.zip", Limits{})
	if !errors.Is(err, ErrLayout) || !strings.Contains(err.Error(), `upload.zip!E1.zip: entry "E2.zip"`) {
		t.Fatalf("err = %v, want ErrLayout naming upload.zip!E1.zip and E2.zip", err)
	}
}

// TestCountEntriesAgreesWithArchiveZip: the count Open trusts is the one
// archive/zip reads, for archives with comments, prepended data and none.
func TestCountEntriesAgreesWithArchiveZip(t *testing.T) {
	withComment := func() []byte {
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		zw.SetComment(strings.Repeat("a comment ", 200))
		w, _ := zw.Create("a.xml")
		w.Write([]byte("<a/>"))
		zw.Close()
		return buf.Bytes()
	}()
	tests := map[string][]byte{
		"empty":          manyEntries(t, 0),
		"sample upload":  build(t, sampleEvents()),
		"3000 entries":   manyEntries(t, 3000),
		"comment":        withComment,
		"prepended data": append([]byte(strings.Repeat("#!/bin/sh\n", 50)), manyEntries(t, 7)...),
		"event archive":  inner(t, "E1").data,
	}
	for name, data := range tests {
		zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got := countEntries(data, 1<<30); got != len(zr.File) {
			t.Errorf("%s: countEntries = %d, archive/zip reads %d", name, got, len(zr.File))
		}
	}
	if got := countEntries(manyEntries(t, 3000), 10); got != 11 {
		t.Errorf("countEntries stops at limit+1: got %d, want 11", got)
	}
	for _, junk := range [][]byte{nil, []byte("PK\x05\x06"), bytes.Repeat([]byte("PK\x01\x02"), 100)} {
		if got := countEntries(junk, 10); got != 0 {
			t.Errorf("countEntries(% x…) = %d, want 0", junk[:min(len(junk), 8)], got)
		}
	}
}
