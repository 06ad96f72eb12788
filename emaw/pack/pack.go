// Package pack writes the nested ZIP container eM@w uploads travel in, and
// unpacks inbound ZIPs safely.
//
// # Layout
//
// One upload archive holds a manifest and one archive per event; each
// event archive holds the event's XML and its PDFs:
//
//	upload.zip
//	├── manifest.json          SHA-256 and size of every part, see Manifest
//	├── EV-0001.zip            stored (it is compressed already)
//	│   └── EV-0001.xml        deflated
//	└── EV-0002.zip
//	    ├── EV-0002.xml
//	    └── EV-0002.pdf
//
// The layout is a model assumption: the BA's container specification is
// not public beyond "nested ZIP files".
//
// # Deterministic bytes
//
// [Write] gives the same bytes for the same events, whatever their order:
// events are sorted by ID, an event's XML comes first and its other parts
// by name, every entry carries the same fixed time (1980-01-01 00:00 UTC),
// file modes are fixed, and compression is deflate at one fixed level for
// XML and the manifest (PDFs and event archives are stored). (The
// deflate output is that of the Go release that built the binary; two
// builds with the same binary are byte-identical.)
//
// # Safe unpacking
//
// [Open] checks the whole archive, nested archives included, before it
// hands out a single byte, and [Upload.Extract] writes only a fully
// checked upload, through a temporary directory renamed into place. Path
// traversal, absolute paths, duplicate names (also differing only in case),
// links and directories, too many entries, oversized entries, a total size
// or a compression ratio above the limits (zip bombs), deeper nesting and
// input that is not a ZIP each give a clear error, and nothing is
// extracted. Nesting ends at the second level (an event archive holds XML
// and PDF files only); entries are counted from the central directory
// before archive/zip builds a record for each, so an archive listing
// millions of entries costs no more memory than its bytes.
package pack

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"
)

// ManifestName is the manifest's entry name in the upload archive.
const ManifestName = "manifest.json"

// Format names the manifest format.
const Format = "meldeweg-emaw-upload/1"

// fixedTime is the modification time of every entry written.
var fixedTime = time.Date(1980, time.January, 1, 0, 0, 0, 0, time.UTC)

// Part is one file of an event: its XML or a PDF.
type Part struct {
	Name string
	Data []byte
}

// Event is one event's files. The XML part is named ID + ".xml".
type Event struct {
	ID    string
	Parts []Part
}

// XML returns the event's XML part, or nil.
func (e Event) XML() []byte {
	for _, p := range e.Parts {
		if p.Name == e.ID+".xml" {
			return p.Data
		}
	}
	return nil
}

// Part returns the part called name and whether it exists.
func (e Event) Part(name string) ([]byte, bool) {
	for _, p := range e.Parts {
		if p.Name == name {
			return p.Data, true
		}
	}
	return nil, false
}

// Manifest lists every part of an upload with its SHA-256.
type Manifest struct {
	Format string          `json:"format"`
	Events []ManifestEvent `json:"events"`
}

// ManifestEvent describes one event archive and its parts.
type ManifestEvent struct {
	ID      string         `json:"id"`
	Archive string         `json:"archive"`
	Size    int64          `json:"size"`
	SHA256  string         `json:"sha256"`
	Parts   []ManifestPart `json:"parts"`
}

// ManifestPart describes one file inside an event archive.
type ManifestPart struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

var reName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$`) })

// ErrBadEvent is returned (wrapped) by Write for events it cannot pack.
var ErrBadEvent = errors.New("cannot pack event")

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// sortedParts returns the XML first, then the other parts by name.
func sortedParts(ev Event) []Part {
	ps := append([]Part(nil), ev.Parts...)
	xml := ev.ID + ".xml"
	sort.SliceStable(ps, func(i, j int) bool {
		if (ps[i].Name == xml) != (ps[j].Name == xml) {
			return ps[i].Name == xml
		}
		return ps[i].Name < ps[j].Name
	})
	return ps
}

func checkEvent(ev Event) error {
	if !reName().MatchString(ev.ID) {
		return fmt.Errorf("%w: ID %q: expected letters, digits, '.', '_' or '-', at most 100", ErrBadEvent, ev.ID)
	}
	if ev.XML() == nil {
		return fmt.Errorf("%w %s: no part %s.xml", ErrBadEvent, ev.ID, ev.ID)
	}
	seen := map[string]bool{}
	for _, p := range ev.Parts {
		if !reName().MatchString(p.Name) {
			return fmt.Errorf("%w %s: part name %q: expected letters, digits, '.', '_' or '-'", ErrBadEvent, ev.ID, p.Name)
		}
		if seen[strings.ToLower(p.Name)] {
			return fmt.Errorf("%w %s: part %q appears twice", ErrBadEvent, ev.ID, p.Name)
		}
		seen[strings.ToLower(p.Name)] = true
	}
	return nil
}

// flatePool reuses deflate writers: each costs about a megabyte to
// allocate and clear, which dominated packing many small events.
var flatePool sync.Pool

// pooledFlate returns its writer to the pool when closed.
type pooledFlate struct{ *flate.Writer }

func (p pooledFlate) Close() error {
	err := p.Writer.Close()
	flatePool.Put(p.Writer)
	return err
}

// newWriter returns a zip writer whose deflate level is fixed.
func newWriter(w io.Writer) *zip.Writer {
	zw := zip.NewWriter(w)
	zw.RegisterCompressor(zip.Deflate, func(out io.Writer) (io.WriteCloser, error) {
		if fw, ok := flatePool.Get().(*flate.Writer); ok {
			fw.Reset(out)
			return pooledFlate{fw}, nil
		}
		fw, err := flate.NewWriter(out, flate.DefaultCompression)
		if err != nil {
			return nil, err
		}
		return pooledFlate{fw}, nil
	})
	return zw
}

func writeEntry(zw *zip.Writer, name string, data []byte, method uint16) error {
	fh := &zip.FileHeader{Name: name, Method: method, Modified: fixedTime}
	fh.SetMode(0o644)
	w, err := zw.CreateHeader(fh)
	if err != nil {
		return err
	}
	_, err = w.Write(data)
	return err
}

// eventArchive returns the archive of one event, as it appears in the
// upload.
func eventArchive(ev Event) ([]byte, error) {
	if err := checkEvent(ev); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	zw := newWriter(&buf)
	for _, p := range sortedParts(ev) {
		// PDFs are compressed inside already; deflating them again costs
		// time and saves nothing. XML is deflated.
		method := uint16(zip.Deflate)
		if strings.HasSuffix(strings.ToLower(p.Name), ".pdf") {
			method = zip.Store
		}
		if err := writeEntry(zw, p.Name, p.Data, method); err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Write writes the upload archive for events to w and returns its
// manifest. The same events give the same bytes.
func Write(w io.Writer, events []Event) (*Manifest, error) {
	if len(events) == 0 {
		return nil, fmt.Errorf("%w: an upload needs at least one event", ErrBadEvent)
	}
	evs := append([]Event(nil), events...)
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].ID < evs[j].ID })
	man := &Manifest{Format: Format}
	archives := make([][]byte, len(evs))
	for i, ev := range evs {
		if i > 0 && strings.EqualFold(evs[i-1].ID, ev.ID) {
			return nil, fmt.Errorf("%w %s: two events with this ID", ErrBadEvent, ev.ID)
		}
		a, err := eventArchive(ev)
		if err != nil {
			return nil, err
		}
		archives[i] = a
		me := ManifestEvent{ID: ev.ID, Archive: ev.ID + ".zip", Size: int64(len(a)), SHA256: sum(a)}
		for _, p := range sortedParts(ev) {
			me.Parts = append(me.Parts, ManifestPart{Name: p.Name, Size: int64(len(p.Data)), SHA256: sum(p.Data)})
		}
		man.Events = append(man.Events, me)
	}
	mj, err := json.MarshalIndent(man, "", "  ")
	if err != nil {
		return nil, err
	}
	zw := newWriter(w)
	if err := writeEntry(zw, ManifestName, append(mj, '\n'), zip.Deflate); err != nil {
		return nil, err
	}
	for i, ev := range evs {
		if err := writeEntry(zw, ev.ID+".zip", archives[i], zip.Store); err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return man, nil
}
