package pack

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"unicode"
)

// Limits bound what Open accepts. The zero value of a field means its
// default.
type Limits struct {
	// MaxEntries is the most entries in all archives together. Defaults
	// to 10000.
	MaxEntries int
	// MaxEntryBytes is the largest uncompressed entry. Defaults to 64 MiB.
	MaxEntryBytes int64
	// MaxTotalBytes is the most uncompressed bytes of all entries
	// together, nested archives counted once as archives and once for
	// their content. Defaults to 256 MiB.
	MaxTotalBytes int64
	// MaxRatio is the highest uncompressed:compressed ratio of one entry.
	// Defaults to 200.
	MaxRatio int64
	// RequireManifest refuses an upload without manifest.json. Defaults to
	// false: a manifest is checked when present.
	RequireManifest bool
}

// WithDefaults returns a copy of l with defaults filled in.
func (l Limits) WithDefaults() Limits {
	if l.MaxEntries == 0 {
		l.MaxEntries = 10000
	}
	if l.MaxEntryBytes == 0 {
		l.MaxEntryBytes = 64 << 20
	}
	if l.MaxTotalBytes == 0 {
		l.MaxTotalBytes = 256 << 20
	}
	if l.MaxRatio == 0 {
		l.MaxRatio = 200
	}
	return l
}

// The conditions Open reports; every error it returns wraps one of them
// inside an *UnsafeError.
var (
	ErrNotZip       = errors.New("not a ZIP archive")
	ErrCorrupt      = errors.New("entry content does not match its header (declared size or checksum)")
	ErrTraversal    = errors.New("path leaves the extraction directory")
	ErrAbsolutePath = errors.New("absolute path")
	ErrUnsafeName   = errors.New("unsafe entry name")
	ErrNotFile      = errors.New("not a regular file")
	ErrDuplicate    = errors.New("duplicate entry name")
	ErrTooLarge     = errors.New("larger than allowed")
	ErrRatio        = errors.New("compression ratio above the limit (zip bomb?)")
	ErrTooMany      = errors.New("too many entries")
	ErrLayout       = errors.New("not the upload layout")
	ErrManifest     = errors.New("does not match the manifest")
)

// UnsafeError says why an archive was refused: which archive (nested ones
// as "upload.zip!EV-1.zip"), which entry, and the condition.
type UnsafeError struct {
	Archive string
	Entry   string
	Err     error
	Detail  string
}

func (e *UnsafeError) Error() string {
	var b strings.Builder
	b.WriteString(e.Archive)
	if e.Entry != "" {
		fmt.Fprintf(&b, ": entry %q", e.Entry)
	}
	fmt.Fprintf(&b, ": %v", e.Err)
	if e.Detail != "" {
		fmt.Fprintf(&b, " (%s)", e.Detail)
	}
	b.WriteString("; nothing was extracted")
	return b.String()
}

func (e *UnsafeError) Unwrap() error { return e.Err }

// Upload is a fully checked upload archive.
type Upload struct {
	// Manifest is nil when the archive had none.
	Manifest *Manifest
	// Events in archive order.
	Events []Event
}

type opener struct {
	lim     Limits
	entries int
	total   int64
}

// Open checks the upload archive data (name is used in errors) and returns
// its events. It returns an *UnsafeError, and no events, for any archive
// that breaks the layout or a limit.
func Open(data []byte, name string, lim Limits) (*Upload, error) {
	o := &opener{lim: lim.WithDefaults()}
	entries, err := o.read(data, name)
	if err != nil {
		return nil, err
	}
	up := &Upload{}
	var manifestData []byte
	for _, e := range entries {
		switch {
		case e.Name == ManifestName:
			manifestData = e.Data
		case strings.HasSuffix(strings.ToLower(e.Name), ".zip"):
			inner := name + "!" + e.Name
			parts, err := o.read(e.Data, inner)
			if err != nil {
				return nil, err
			}
			ev := Event{ID: strings.TrimSuffix(e.Name, e.Name[len(e.Name)-4:])}
			for _, p := range parts {
				if strings.HasSuffix(strings.ToLower(p.Name), ".zip") {
					return nil, &UnsafeError{Archive: inner, Entry: p.Name, Err: ErrLayout, Detail: "an event archive holds XML and PDF files, not further archives"}
				}
				ev.Parts = append(ev.Parts, p)
			}
			if ev.XML() == nil {
				return nil, &UnsafeError{Archive: inner, Err: ErrLayout, Detail: fmt.Sprintf("no %s.xml in the event archive", ev.ID)}
			}
			up.Events = append(up.Events, ev)
		default:
			return nil, &UnsafeError{Archive: name, Entry: e.Name, Err: ErrLayout, Detail: "expected manifest.json and one .zip per event"}
		}
	}
	if len(up.Events) == 0 {
		return nil, &UnsafeError{Archive: name, Err: ErrLayout, Detail: "no event archive"}
	}
	if manifestData == nil {
		if o.lim.RequireManifest {
			return nil, &UnsafeError{Archive: name, Entry: ManifestName, Err: ErrManifest, Detail: "the manifest is missing"}
		}
		return up, nil
	}
	man, err := checkManifest(manifestData, entries, up.Events, name)
	if err != nil {
		return nil, err
	}
	up.Manifest = man
	return up, nil
}

// read checks and reads every entry of one archive.
func (o *opener) read(data []byte, name string) ([]Part, error) {
	// archive/zip builds a File for every directory record before a
	// single one can be judged; count them first.
	if left := o.lim.MaxEntries - o.entries; countEntries(data, left) > left {
		return nil, &UnsafeError{Archive: name, Err: ErrTooMany,
			Detail: fmt.Sprintf("its directory lists more than the %d entries left of the limit %d", left, o.lim.MaxEntries)}
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, &UnsafeError{Archive: name, Err: ErrNotZip, Detail: err.Error()}
	}
	seen := map[string]string{}
	// Check every header before reading any content.
	for _, f := range zr.File {
		if err := checkName(f.Name); err != nil {
			return nil, &UnsafeError{Archive: name, Entry: f.Name, Err: err}
		}
		if m := f.Mode(); !m.IsRegular() {
			return nil, &UnsafeError{Archive: name, Entry: f.Name, Err: ErrNotFile, Detail: "mode " + m.String()}
		}
		key := strings.ToLower(f.Name)
		if prev, dup := seen[key]; dup {
			return nil, &UnsafeError{Archive: name, Entry: f.Name, Err: ErrDuplicate, Detail: fmt.Sprintf("same name as %q", prev)}
		}
		seen[key] = f.Name
		o.entries++
		if o.entries > o.lim.MaxEntries {
			return nil, &UnsafeError{Archive: name, Entry: f.Name, Err: ErrTooMany, Detail: fmt.Sprintf("limit %d", o.lim.MaxEntries)}
		}
		if err := o.checkSize(f.Name, f.UncompressedSize64, f.CompressedSize64, name); err != nil {
			return nil, err
		}
	}
	// Read, counting real bytes: the headers may lie.
	// The total was checked on the declared sizes; no entry may unpack to
	// more than it declared, so the real total is within the limit too.
	var out []Part
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			return nil, &UnsafeError{Archive: name, Entry: f.Name, Err: ErrNotZip, Detail: err.Error()}
		}
		// The declared size was checked against the limits: read into a
		// buffer of that size (and one byte more, to see a lie).
		var buf bytes.Buffer
		buf.Grow(int(min(f.UncompressedSize64, uint64(o.lim.MaxEntryBytes))) + bytes.MinRead)
		_, err = buf.ReadFrom(io.LimitReader(rc, o.lim.MaxEntryBytes+1))
		b := buf.Bytes()
		rc.Close()
		if err != nil {
			// archive/zip stops at the declared size and checks the CRC:
			// a header that lies ends here.
			return nil, &UnsafeError{Archive: name, Entry: f.Name, Err: ErrCorrupt, Detail: err.Error()}
		}
		n := int64(len(b))
		if n > o.lim.MaxEntryBytes || n > int64(f.UncompressedSize64) {
			return nil, &UnsafeError{Archive: name, Entry: f.Name, Err: ErrTooLarge, Detail: fmt.Sprintf("unpacks to more than its declared %d bytes", f.UncompressedSize64)}
		}
		out = append(out, Part{Name: f.Name, Data: b})
	}
	return out, nil
}

func (o *opener) checkSize(entry string, size, compressed uint64, archive string) error {
	if size > uint64(o.lim.MaxEntryBytes) {
		return &UnsafeError{Archive: archive, Entry: entry, Err: ErrTooLarge, Detail: fmt.Sprintf("%d bytes; limit %d per entry", size, o.lim.MaxEntryBytes)}
	}
	o.total += int64(size)
	if o.total > o.lim.MaxTotalBytes {
		return &UnsafeError{Archive: archive, Entry: entry, Err: ErrTooLarge, Detail: fmt.Sprintf("the archive unpacks to more than %d bytes in total", o.lim.MaxTotalBytes)}
	}
	if size > 0 {
		if compressed == 0 || size/compressed >= uint64(o.lim.MaxRatio) {
			return &UnsafeError{Archive: archive, Entry: entry, Err: ErrRatio, Detail: fmt.Sprintf("%d bytes from %d compressed; limit %d:1", size, compressed, o.lim.MaxRatio)}
		}
	}
	return nil
}

// checkName accepts a plain relative file name: no directories at all
// (the layout has none), no "..", no absolute or drive paths, no
// backslashes or control characters.
func checkName(n string) error {
	switch {
	case n == "":
		return ErrUnsafeName
	case strings.HasPrefix(n, "/") || strings.HasPrefix(n, `\`) || (len(n) >= 2 && n[1] == ':' && unicode.IsLetter(rune(n[0]))):
		return ErrAbsolutePath
	}
	for _, seg := range strings.FieldsFunc(n, func(r rune) bool { return r == '/' || r == '\\' }) {
		if seg == ".." {
			return ErrTraversal
		}
	}
	if strings.ContainsAny(n, `/\`) {
		return fmt.Errorf("%w: directories are not part of the layout", ErrUnsafeName)
	}
	if n == "." {
		return ErrUnsafeName
	}
	for _, r := range n {
		if r < 0x20 || r == 0x7f || r == ':' {
			return fmt.Errorf("%w: control character or ':'", ErrUnsafeName)
		}
	}
	return nil
}

func checkManifest(data []byte, outer []Part, events []Event, name string) (*Manifest, error) {
	bad := func(entry, detail string) error {
		return &UnsafeError{Archive: name, Entry: entry, Err: ErrManifest, Detail: detail}
	}
	var man Manifest
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&man); err != nil {
		return nil, bad(ManifestName, "unreadable: "+err.Error())
	}
	if man.Format != Format {
		return nil, bad(ManifestName, fmt.Sprintf("format %q, expected %q", man.Format, Format))
	}
	archives := map[string][]byte{}
	for _, p := range outer {
		archives[p.Name] = p.Data
	}
	byID := map[string]Event{}
	for _, ev := range events {
		byID[ev.ID] = ev
	}
	listed := map[string]bool{}
	for _, me := range man.Events {
		a, ok := archives[me.Archive]
		if !ok || me.Archive != me.ID+".zip" {
			return nil, bad(me.Archive, "listed in the manifest but not in the archive")
		}
		listed[me.Archive] = true
		if int64(len(a)) != me.Size || sum(a) != me.SHA256 {
			return nil, bad(me.Archive, fmt.Sprintf("SHA-256 %s, manifest says %s", sum(a), me.SHA256))
		}
		ev := byID[me.ID]
		if len(ev.Parts) != len(me.Parts) {
			return nil, bad(me.Archive, fmt.Sprintf("%d parts, manifest lists %d", len(ev.Parts), len(me.Parts)))
		}
		for _, mp := range me.Parts {
			d, ok := ev.Part(mp.Name)
			if !ok {
				return nil, bad(me.Archive+"!"+mp.Name, "listed in the manifest but not in the event archive")
			}
			if int64(len(d)) != mp.Size || sum(d) != mp.SHA256 {
				return nil, bad(me.Archive+"!"+mp.Name, fmt.Sprintf("SHA-256 %s, manifest says %s", sum(d), mp.SHA256))
			}
		}
	}
	for _, ev := range events {
		if !listed[ev.ID+".zip"] {
			return nil, bad(ev.ID+".zip", "not listed in the manifest")
		}
	}
	return &man, nil
}

// ErrExists is returned by Extract when the target directory exists.
var ErrExists = errors.New("target directory already exists")

// Extract writes the checked upload under dir, which must not exist:
// dir/manifest.json (when there was one) and dir/ID/PART for every part.
// It writes into a temporary directory next to dir and renames it into
// place at the end, so a failure leaves nothing behind.
func (u *Upload) Extract(dir string) error {
	if _, err := os.Lstat(dir); err == nil {
		return fmt.Errorf("%s: %w", dir, ErrExists)
	}
	parent := filepath.Dir(filepath.Clean(dir))
	tmp, err := os.MkdirTemp(parent, ".unpack-*")
	if err != nil {
		return err
	}
	ok := false
	defer func() {
		if !ok {
			os.RemoveAll(tmp)
		}
	}()
	if u.Manifest != nil {
		mj, err := json.MarshalIndent(u.Manifest, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(tmp, ManifestName), append(mj, '\n'), 0o600); err != nil {
			return err
		}
	}
	for _, ev := range u.Events {
		// Names were checked by Open; check again, as Upload may have been
		// built by hand.
		if err := checkName(ev.ID); err != nil {
			return fmt.Errorf("event %q: %w", ev.ID, err)
		}
		d := filepath.Join(tmp, ev.ID)
		// The events hold personal data: owner only (MkdirTemp made tmp 0700).
		if err := os.Mkdir(d, 0o700); err != nil {
			return err
		}
		for _, p := range ev.Parts {
			if err := checkName(p.Name); err != nil {
				return fmt.Errorf("event %s part %q: %w", ev.ID, p.Name, err)
			}
			if err := os.WriteFile(filepath.Join(d, p.Name), p.Data, 0o600); err != nil {
				return err
			}
		}
	}
	if err := os.Rename(tmp, dir); err != nil {
		return err
	}
	ok = true
	return nil
}
