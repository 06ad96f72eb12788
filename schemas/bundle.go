// Package schemas holds the schema bundles Meldeweg validates against and
// picks the one in force for a standard and reporting month.
//
// A bundle is a set of XSD files with an entry point, identified by
// standard and version, valid from a first reporting month (Stichtag), and
// a map from absolute schema URLs (http://xoev.de/...) to files inside the
// bundle, so that a schema set which imports by URL loads fully offline.
//
// Bundles shipped with Meldeweg are embedded in the binary (see
// bundles/*/bundle.json). They are models built from public facts, not the
// BA's schemas, and say so (Bundle.Model). An operator adds an official
// bundle, unchanged, by putting it in a schema directory next to a small
// manifest; see [Manifest] and [LoadDir].
package schemas

import (
	"archive/zip"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"meldeweg.dev/meldeweg/schemas/xsd"
)

// ManifestName is the file name of a bundle manifest inside a bundle
// directory. A manifest next to a zip or directory is named
// NAME.bundle.json instead.
const ManifestName = "bundle.json"

// Manifest describes a bundle. It is the only file an operator writes: the
// XSDs stay exactly as shipped.
//
//	{
//	  "standard": "xsozial-ba-sgb2",
//	  "version": "4.3.0",
//	  "valid_from": "2026-01",
//	  "entry": "XSozial-BA-SGB-II_4.3.0/xsozial.xsd",
//	  "source": "XSozial-BA-SGB-II_4.3.0.zip",
//	  "urls": {"http://xoev.de/schemata/": "remote/xoev.de/schemata/"}
//	}
type Manifest struct {
	// Standard names the standard, lower case: "xsozial-ba-sgb2", "emaw".
	Standard string `json:"standard"`
	// Version is the schema version, e.g. "4.3.0" or "2.18".
	Version string `json:"version"`
	// ValidFrom is the first reporting month (Stichtag) the bundle applies
	// to, "YYYY-MM". It applies until the next bundle of the standard.
	ValidFrom Month `json:"valid_from"`
	// Entry is the path of the entry schema inside the bundle.
	Entry string `json:"entry"`
	// Source is the directory or .zip holding the XSDs, relative to the
	// manifest. Defaults to the directory the manifest is in.
	Source string `json:"source,omitempty"`
	// URLs maps absolute schema locations to paths inside the bundle. A key
	// ending in "/" maps every URL it prefixes (like an XML catalog's
	// rewriteURI); any other key maps exactly one URL.
	URLs map[string]string `json:"urls,omitempty"`
	// Catalog is the path, inside the bundle, of an OASIS XML catalog whose
	// uri, rewriteURI, system and rewriteSystem entries are added to URLs.
	Catalog string `json:"catalog,omitempty"`
	// Model marks a bundle built by the Meldeweg project from public facts,
	// not an official schema.
	Model bool `json:"model,omitempty"`
	// Title is a one-line description.
	Title string `json:"title,omitempty"`
}

func (m *Manifest) validate() error {
	switch {
	case m.Standard == "":
		return errors.New(`"standard" is missing`)
	case strings.ToLower(m.Standard) != m.Standard || strings.ContainsAny(m.Standard, "@ /"):
		return fmt.Errorf(`"standard" %q: expected lower case without spaces, "@" or "/"`, m.Standard)
	case m.Version == "":
		return errors.New(`"version" is missing`)
	case strings.ContainsAny(m.Version, "@ /"):
		return fmt.Errorf(`"version" %q: expected no spaces, "@" or "/"`, m.Version)
	case m.ValidFrom.IsZero():
		return errors.New(`"valid_from" is missing: expected the first reporting month, YYYY-MM`)
	case m.Entry == "":
		return errors.New(`"entry" is missing: expected the path of the entry XSD inside the bundle`)
	}
	return nil
}

// Bundle is a loaded schema bundle. It implements [xsd.Source].
type Bundle struct {
	Manifest
	// Origin says where the bundle came from: "embedded" or a path.
	Origin string

	files fs.FS
	base  string // URI prefix under which the bundle's files are addressed
	rules []urlRule

	once   sync.Once
	schema *xsd.Schema
	err    error
}

type urlRule struct {
	from   string
	to     string // path inside files
	prefix bool
}

// ID is STANDARD@VERSION, the name --bundle takes.
func (b *Bundle) ID() string { return b.Standard + "@" + b.Version }

// EntryURI implements xsd.Source.
func (b *Bundle) EntryURI() string { return b.base + b.Entry }

// Resolve implements xsd.Source: files of the bundle by their bundle URI,
// and absolute URLs through the bundle's URL map. Nothing else.
func (b *Bundle) Resolve(uri string) ([]byte, error) {
	name, ok := b.local(uri)
	if !ok {
		return nil, fmt.Errorf("%s is not part of bundle %s (%s), and Meldeweg never fetches schemas from the network; map it to a file in the bundle with \"urls\" in the manifest", uri, b.ID(), b.Origin)
	}
	data, err := fs.ReadFile(b.files, name)
	if err != nil {
		return nil, fmt.Errorf("bundle %s (%s): %s: %w", b.ID(), b.Origin, name, err)
	}
	return data, nil
}

// local maps uri to a path inside the bundle.
func (b *Bundle) local(uri string) (string, bool) {
	if rest, ok := strings.CutPrefix(uri, b.base); ok {
		return cleanInside(rest)
	}
	if rest, ok := strings.CutPrefix(uri, "file://"); ok {
		if rest, ok := strings.CutPrefix(rest, b.base); ok {
			return cleanInside(rest)
		}
	}
	for _, r := range b.rules {
		if r.prefix {
			if rest, ok := strings.CutPrefix(uri, r.from); ok {
				return cleanInside(r.to + rest)
			}
		} else if uri == r.from {
			return cleanInside(r.to)
		}
	}
	return "", false
}

// cleanInside turns p into a path inside the bundle, refusing one that
// climbs out of it.
func cleanInside(p string) (string, bool) {
	for _, seg := range strings.Split(p, "/") {
		if seg == ".." {
			return "", false
		}
	}
	c := path.Clean(strings.TrimLeft(p, "/"))
	if c == "." || !fs.ValidPath(c) {
		return "", false
	}
	return c, true
}

// Schema returns the bundle's compiled schema, compiling it on first use.
// The result is shared: concurrent validations may use it.
func (b *Bundle) Schema() (*xsd.Schema, error) {
	b.once.Do(func() {
		b.schema, b.err = xsd.Compile(b)
		if b.err != nil {
			b.err = fmt.Errorf("bundle %s (%s): %w", b.ID(), b.Origin, b.err)
		}
	})
	return b.schema, b.err
}

// Files lists the bundle's files, sorted.
func (b *Bundle) Files() ([]string, error) {
	var out []string
	err := fs.WalkDir(b.files, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			out = append(out, p)
		}
		return nil
	})
	return out, err
}

// ReadFile reads a file of the bundle by its path inside the bundle (a
// Schlüsselkatalog, a rule table).
func (b *Bundle) ReadFile(name string) ([]byte, error) { return fs.ReadFile(b.files, name) }

// newBundle checks m and builds the bundle over files.
func newBundle(m Manifest, files fs.FS, base, origin string) (*Bundle, error) {
	if err := m.validate(); err != nil {
		return nil, fmt.Errorf("bundle manifest %s: %w", origin, err)
	}
	b := &Bundle{Manifest: m, Origin: origin, files: files, base: base}
	if _, ok := cleanInside(m.Entry); !ok {
		return nil, fmt.Errorf("bundle manifest %s: \"entry\" %q leaves the bundle", origin, m.Entry)
	}
	if _, err := fs.Stat(files, m.Entry); err != nil {
		return nil, fmt.Errorf("bundle %s (%s): entry schema %q not found in the bundle", b.ID(), origin, m.Entry)
	}
	for from, to := range m.URLs {
		if !strings.Contains(from, "://") {
			return nil, fmt.Errorf("bundle manifest %s: \"urls\" key %q: expected an absolute URL", origin, from)
		}
		b.rules = append(b.rules, urlRule{from: from, to: to, prefix: strings.HasSuffix(from, "/")})
	}
	if m.Catalog != "" {
		data, err := fs.ReadFile(files, m.Catalog)
		if err != nil {
			return nil, fmt.Errorf("bundle %s (%s): catalog: %w", b.ID(), origin, err)
		}
		rules, err := parseCatalog(data, bundleCatalogRef(path.Dir(m.Catalog)))
		if err != nil {
			return nil, fmt.Errorf("bundle %s (%s): catalog %s: %w", b.ID(), origin, m.Catalog, err)
		}
		b.rules = append(b.rules, rules...)
	}
	sortRules(b.rules)
	return b, nil
}

// sortRules puts the longest URL first, so the most specific mapping wins.
func sortRules(rules []urlRule) {
	sort.SliceStable(rules, func(i, j int) bool { return len(rules[i].from) > len(rules[j].from) })
}

// LoadBundle loads one bundle from a manifest file. The XSDs come from the
// manifest's Source (a directory or a zip, relative to the manifest) or, by
// default, from the directory the manifest is in.
func LoadBundle(manifestPath string) (*Bundle, error) {
	data, err := os.ReadFile(manifestPath)
	if err != nil {
		return nil, err
	}
	m, err := decodeManifest(data)
	if err != nil {
		return nil, fmt.Errorf("bundle manifest %s: %w", manifestPath, err)
	}
	return FromManifest(m, filepath.Dir(manifestPath), manifestPath)
}

// FromManifest loads the bundle m describes; a relative m.Source is taken
// relative to dir. origin names the manifest in messages.
func FromManifest(m Manifest, dir, origin string) (*Bundle, error) {
	src := dir
	if m.Source != "" {
		src = m.Source
		if !filepath.IsAbs(src) {
			src = filepath.Join(dir, src)
		}
	}
	abs, err := filepath.Abs(src)
	if err != nil {
		return nil, err
	}
	st, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("bundle manifest %s: source: %w", origin, err)
	}
	if st.IsDir() {
		return newBundle(m, os.DirFS(abs), abs+"/", abs)
	}
	files, err := openZip(abs)
	if err != nil {
		return nil, fmt.Errorf("bundle manifest %s: %w", origin, err)
	}
	return newBundle(m, files, abs+"/", abs)
}

// maxZipSchemaBytes bounds what a schema zip may unpack to.
const maxZipSchemaBytes = 256 << 20

// openZip opens a schema zip as the bundle's file system after checking its
// entries. The zip stays open for the life of the process.
func openZip(p string) (fs.FS, error) {
	zr, err := zip.OpenReader(p)
	if err != nil {
		return nil, fmt.Errorf("%s: not a readable zip: %w", p, err)
	}
	seen := map[string]bool{}
	var total uint64
	for _, f := range zr.File {
		name, ok := cleanInside(f.Name)
		if !ok || strings.HasPrefix(f.Name, "/") || strings.Contains(f.Name, "\\") {
			zr.Close()
			return nil, fmt.Errorf("%s: entry %q has an unsafe path", p, f.Name)
		}
		if seen[name] {
			zr.Close()
			return nil, fmt.Errorf("%s: entry %q appears twice", p, f.Name)
		}
		seen[name] = true
		total += f.UncompressedSize64
		if total > maxZipSchemaBytes {
			zr.Close()
			return nil, fmt.Errorf("%s: unpacks to more than %d MiB; not a schema bundle", p, maxZipSchemaBytes>>20)
		}
	}
	return &zr.Reader, nil
}
