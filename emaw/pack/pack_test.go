package pack

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func sampleEvents() []Event {
	return []Event{
		{ID: "EV-0002", Parts: []Part{
			{Name: "EV-0002.pdf", Data: []byte("%PDF-1.4 luv\n%%EOF\n")},
			{Name: "EV-0002.xml", Data: []byte("<Nachricht>2</Nachricht>\n")},
		}},
		{ID: "EV-0001", Parts: []Part{{Name: "EV-0001.xml", Data: []byte("<Nachricht>1</Nachricht>\n")}}},
	}
}

func build(t *testing.T, evs []Event) []byte {
	t.Helper()
	var buf bytes.Buffer
	if _, err := Write(&buf, evs); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestWriteDeterministic(t *testing.T) {
	a := build(t, sampleEvents())
	evs := sampleEvents()
	evs[0], evs[1] = evs[1], evs[0]
	evs[1].Parts[0], evs[1].Parts[1] = evs[1].Parts[1], evs[1].Parts[0]
	b := build(t, evs)
	if !bytes.Equal(a, b) {
		t.Fatalf("two builds of the same events differ (%d vs %d bytes)", len(a), len(b))
	}
}

// TestWriteUnzipReferee has Info-ZIP's unzip, an independent reader, test
// the outer and inner archives and list them in the expected order.
func TestWriteUnzipReferee(t *testing.T) {
	unzip, err := exec.LookPath("unzip")
	if err != nil {
		t.Skip("unzip not installed")
	}
	dir := t.TempDir()
	up := filepath.Join(dir, "upload.zip")
	if err := os.WriteFile(up, build(t, sampleEvents()), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(unzip, "-Z1", up).CombinedOutput()
	if err != nil {
		t.Fatalf("unzip -Z1: %v\n%s", err, out)
	}
	if got, want := string(out), "manifest.json\nEV-0001.zip\nEV-0002.zip\n"; got != want {
		t.Errorf("outer entries:\n%s\nwant:\n%s", got, want)
	}
	if out, err := exec.Command(unzip, "-tq", up).CombinedOutput(); err != nil {
		t.Fatalf("unzip -t upload: %v\n%s", err, out)
	}
	if out, err := exec.Command(unzip, "-q", up, "-d", filepath.Join(dir, "x")).CombinedOutput(); err != nil {
		t.Fatalf("unzip: %v\n%s", err, out)
	}
	out, err = exec.Command(unzip, "-Z1", filepath.Join(dir, "x", "EV-0002.zip")).CombinedOutput()
	if err != nil {
		t.Fatalf("unzip inner: %v\n%s", err, out)
	}
	if got, want := string(out), "EV-0002.xml\nEV-0002.pdf\n"; got != want {
		t.Errorf("inner entries:\n%s\nwant:\n%s", got, want)
	}
	out, err = exec.Command(unzip, "-p", filepath.Join(dir, "x", "EV-0002.zip"), "EV-0002.pdf").Output()
	if err != nil || string(out) != "%PDF-1.4 luv\n%%EOF\n" {
		t.Errorf("unzip -p EV-0002.pdf = %q, %v", out, err)
	}
}

func TestRoundTrip(t *testing.T) {
	data := build(t, sampleEvents())
	up, err := Open(data, "upload.zip", Limits{RequireManifest: true})
	if err != nil {
		t.Fatal(err)
	}
	if up.Manifest == nil || len(up.Manifest.Events) != 2 {
		t.Fatalf("manifest = %+v", up.Manifest)
	}
	var ids []string
	for _, ev := range up.Events {
		ids = append(ids, ev.ID)
	}
	if want := []string{"EV-0001", "EV-0002"}; !reflect.DeepEqual(ids, want) {
		t.Errorf("events %v, want %v", ids, want)
	}
	if got := string(up.Events[1].XML()); got != "<Nachricht>2</Nachricht>\n" {
		t.Errorf("EV-0002 XML = %q", got)
	}
	m := up.Manifest.Events[1]
	if m.Parts[0].Name != "EV-0002.xml" || m.Parts[1].SHA256 != sum([]byte("%PDF-1.4 luv\n%%EOF\n")) {
		t.Errorf("manifest parts = %+v", m.Parts)
	}

	dir := filepath.Join(t.TempDir(), "in")
	if err := up.Extract(dir); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dir, "EV-0002", "EV-0002.pdf"))
	if err != nil || string(got) != "%PDF-1.4 luv\n%%EOF\n" {
		t.Errorf("extracted PDF = %q, %v", got, err)
	}
	if err := up.Extract(dir); !errors.Is(err, ErrExists) {
		t.Errorf("second Extract = %v, want ErrExists", err)
	}
}

func TestWriteRefuses(t *testing.T) {
	tests := []struct {
		name string
		evs  []Event
	}{
		{"no events", nil},
		{"no XML", []Event{{ID: "E1", Parts: []Part{{Name: "E1.pdf", Data: []byte("%PDF")}}}}},
		{"unsafe ID", []Event{{ID: "../E1", Parts: []Part{{Name: "../E1.xml"}}}}},
		{"duplicate part", []Event{{ID: "E1", Parts: []Part{{Name: "E1.xml"}, {Name: "e1.XML"}}}}},
		{"duplicate event", []Event{{ID: "E1", Parts: []Part{{Name: "E1.xml"}}}, {ID: "E1", Parts: []Part{{Name: "E1.xml"}}}}},
	}
	for _, tt := range tests {
		if _, err := Write(&bytes.Buffer{}, tt.evs); !errors.Is(err, ErrBadEvent) {
			t.Errorf("%s: err = %v, want ErrBadEvent", tt.name, err)
		}
	}
}

// entry is one entry of a hand-made archive.
type entry struct {
	name   string
	data   []byte
	method uint16
	mode   os.FileMode
	// raw: write data as already-compressed bytes with this declared size.
	raw     bool
	rawSize uint64
}

func makeZip(t *testing.T, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		fh := &zip.FileHeader{Name: e.name, Method: e.method}
		if e.mode != 0 {
			fh.SetMode(e.mode)
		}
		if e.raw {
			fh.UncompressedSize64 = e.rawSize
			fh.CompressedSize64 = uint64(len(e.data))
			w, err := zw.CreateRaw(fh)
			if err != nil {
				t.Fatal(err)
			}
			w.Write(e.data)
			continue
		}
		w, err := zw.CreateHeader(fh)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(e.data)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func inner(t *testing.T, id string, extra ...entry) entry {
	es := append([]entry{{name: id + ".xml", data: []byte("<x/>"), method: zip.Deflate}}, extra...)
	return entry{name: id + ".zip", data: makeZip(t, es...), method: zip.Store}
}

func deflated(t *testing.T, data []byte) []byte {
	var buf bytes.Buffer
	w, _ := flate.NewWriter(&buf, flate.BestCompression)
	w.Write(data)
	w.Close()
	return buf.Bytes()
}

func TestOpenRefuses(t *testing.T) {
	good := build(t, sampleEvents())
	// A part changed after packing: the manifest no longer fits.
	tampered := func() []byte {
		up, err := Open(good, "u", Limits{})
		if err != nil {
			t.Fatal(err)
		}
		var man []byte
		r, _ := zip.NewReader(bytes.NewReader(good), int64(len(good)))
		for _, f := range r.File {
			if f.Name == ManifestName {
				rc, _ := f.Open()
				man, _ = readAll(rc)
			}
		}
		ev := up.Events[0]
		ev.Parts[0].Data = []byte("<Nachricht>changed</Nachricht>\n")
		a, _ := eventArchive(ev)
		return makeZip(t, entry{name: ManifestName, data: man, method: zip.Deflate}, entry{name: "EV-0001.zip", data: a}, entry{name: "EV-0002.zip", data: func() []byte { b, _ := eventArchive(up.Events[1]); return b }()})
	}()
	zeros := bytes.Repeat([]byte{0}, 4<<20)
	tests := []struct {
		name string
		data []byte
		lim  Limits
		want error
		in   string // part of the message
	}{
		{name: "not a zip", data: []byte("<Nachricht/>"), want: ErrNotZip},
		{name: "empty", data: nil, want: ErrNotZip},
		{name: "truncated", data: good[:len(good)/2], want: ErrNotZip},
		{name: "traversal", data: makeZip(t, inner(t, "E1"), entry{name: "../../etc/cron.d/x", data: []byte("x")}), want: ErrTraversal, in: `"../../etc/cron.d/x"`},
		{name: "traversal with backslashes", data: makeZip(t, entry{name: `..\..\x.zip`, data: []byte("x")}), want: ErrTraversal},
		{name: "traversal inside an event archive", data: makeZip(t, inner(t, "E1", entry{name: "../E1.pdf", data: []byte("%PDF")})), want: ErrTraversal, in: "upload.zip!E1.zip"},
		{name: "absolute path", data: makeZip(t, entry{name: "/etc/passwd", data: []byte("x")}), want: ErrAbsolutePath},
		{name: "drive path", data: makeZip(t, entry{name: `C:\x.zip`, data: []byte("x")}), want: ErrAbsolutePath},
		{name: "directory", data: makeZip(t, entry{name: "E1/", data: nil}), want: ErrUnsafeName},
		{name: "symlink", data: makeZip(t, entry{name: "E1.zip", data: []byte("/etc/passwd"), mode: os.ModeSymlink | 0o777}), want: ErrNotFile},
		{name: "duplicate names", data: makeZip(t, inner(t, "E1"), inner(t, "E1")), want: ErrDuplicate},
		{name: "names differing in case", data: makeZip(t, inner(t, "E1"), inner(t, "e1")), want: ErrDuplicate},
		{name: "duplicate inside an event archive", data: makeZip(t, inner(t, "E1", entry{name: "E1.xml", data: []byte("<y/>")})), want: ErrDuplicate},
		{name: "compression ratio", data: makeZip(t, inner(t, "E1", entry{name: "E1.pdf", data: zeros, method: zip.Deflate})), want: ErrRatio, in: "E1.pdf"},
		{name: "entry too large", data: makeZip(t, inner(t, "E1", entry{name: "E1.pdf", data: bytes.Repeat([]byte("%PDF"), 1000)})), lim: Limits{MaxEntryBytes: 1000}, want: ErrTooLarge},
		{name: "total too large", data: good, lim: Limits{MaxTotalBytes: 500}, want: ErrTooLarge},
		{name: "header lies about the size", data: makeZip(t, inner(t, "E1", entry{name: "E1.pdf", data: deflated(t, bytes.Repeat([]byte("%PDF-1.4 "), 300)), method: zip.Deflate, raw: true, rawSize: 10})), want: ErrCorrupt},
		{name: "too many entries", data: good, lim: Limits{MaxEntries: 3}, want: ErrTooMany},
		{name: "stray file at the top", data: makeZip(t, inner(t, "E1"), entry{name: "readme.txt", data: []byte("hi")}), want: ErrLayout},
		{name: "archive in an event archive", data: makeZip(t, inner(t, "E1", inner(t, "E2"))), want: ErrLayout},
		{name: "event archive without its XML", data: makeZip(t, entry{name: "E1.zip", data: makeZip(t, entry{name: "E2.xml", data: []byte("<x/>")})}), want: ErrLayout},
		{name: "manifest missing when required", data: makeZip(t, inner(t, "E1")), lim: Limits{RequireManifest: true}, want: ErrManifest},
		{name: "part changed after packing", data: tampered, want: ErrManifest, in: `"EV-0001.zip"`},
		{name: "event not in the manifest", data: func() []byte {
			r, _ := zip.NewReader(bytes.NewReader(good), int64(len(good)))
			var es []entry
			for _, f := range r.File {
				rc, _ := f.Open()
				b, _ := readAll(rc)
				es = append(es, entry{name: f.Name, data: b})
			}
			return makeZip(t, append(es, inner(t, "EV-0003"))...)
		}(), want: ErrManifest, in: "not listed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up, err := Open(tt.data, "upload.zip", tt.lim)
			if up != nil {
				t.Errorf("Open returned an upload with %d events", len(up.Events))
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			var ue *UnsafeError
			if !errors.As(err, &ue) {
				t.Fatalf("err is %T, want *UnsafeError", err)
			}
			msg := err.Error()
			if !strings.Contains(msg, "nothing was extracted") || !strings.Contains(msg, "upload.zip") || !strings.Contains(msg, tt.in) {
				t.Errorf("message %q: want archive name, %q and \"nothing was extracted\"", msg, tt.in)
			}
		})
	}
}

func readAll(rc interface{ Read([]byte) (int, error) }) ([]byte, error) {
	var buf bytes.Buffer
	_, err := buf.ReadFrom(rc)
	return buf.Bytes(), err
}

func FuzzOpen(f *testing.F) {
	var buf bytes.Buffer
	Write(&buf, sampleEvents())
	f.Add(buf.Bytes())
	f.Add([]byte("PK\x03\x04"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		lim := Limits{MaxEntries: 50, MaxEntryBytes: 1 << 20, MaxTotalBytes: 4 << 20}
		up, err := Open(data, "fuzz.zip", lim)
		if err != nil {
			var ue *UnsafeError
			if up != nil || !errors.As(err, &ue) {
				t.Fatalf("Open = %v, %v; want nil and an *UnsafeError", up, err)
			}
			return
		}
		var total int
		for _, ev := range up.Events {
			if checkName(ev.ID) != nil {
				t.Fatalf("accepted unsafe event ID %q", ev.ID)
			}
			for _, p := range ev.Parts {
				if checkName(p.Name) != nil {
					t.Fatalf("accepted unsafe part name %q", p.Name)
				}
				total += len(p.Data)
			}
		}
		if int64(total) > lim.MaxTotalBytes {
			t.Fatalf("accepted %d bytes, limit %d", total, lim.MaxTotalBytes)
		}
	})
}
