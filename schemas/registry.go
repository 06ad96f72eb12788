package schemas

import (
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

//go:embed bundles
var embedded embed.FS

// ErrNoBundle is returned (wrapped) when no bundle fits a request.
var ErrNoBundle = errors.New("no schema bundle")

// Registry is the set of bundles one Meldeweg process knows: the embedded
// models and the operator's bundles. It is immutable after Load.
type Registry struct {
	bundles []*Bundle // sorted by standard, then ValidFrom
	// operator[standard] is true when the operator supplied bundles for it;
	// they then take precedence over the embedded models of that standard.
	operator map[string]bool
}

// Options says where Load finds bundles.
type Options struct {
	// Dirs are schema directories (--schema-dir, configuration). Each holds
	// bundle directories with a bundle.json, and NAME.bundle.json manifests
	// next to the zip or directory they describe.
	Dirs []string
	// Manifests are bundles given in the configuration; a relative Source
	// is taken relative to ManifestDir.
	Manifests []Manifest
	// ManifestDir is the directory relative Manifest sources refer to.
	ManifestDir string
	// NoEmbedded leaves out the bundles compiled into the binary.
	NoEmbedded bool
}

// Load builds the registry. It fails when a bundle cannot be loaded, when
// two bundles have the same STANDARD@VERSION, or when two bundles of one
// standard start at the same month; the error names both.
func Load(opts Options) (*Registry, error) {
	r := &Registry{operator: map[string]bool{}}
	var all []*Bundle
	if !opts.NoEmbedded {
		bs, err := loadEmbedded()
		if err != nil {
			return nil, err
		}
		all = append(all, bs...)
	}
	var ops []*Bundle
	for _, d := range opts.Dirs {
		bs, err := LoadDir(d)
		if err != nil {
			return nil, err
		}
		ops = append(ops, bs...)
	}
	for i, m := range opts.Manifests {
		b, err := FromManifest(m, opts.ManifestDir, fmt.Sprintf("configuration bundles[%d]", i))
		if err != nil {
			return nil, err
		}
		ops = append(ops, b)
	}
	for _, b := range ops {
		r.operator[b.Standard] = true
	}
	all = append(all, ops...)
	sort.SliceStable(all, func(i, j int) bool {
		a, b := all[i], all[j]
		if a.Standard != b.Standard {
			return a.Standard < b.Standard
		}
		return a.ValidFrom.Before(b.ValidFrom)
	})
	byID := map[string]*Bundle{}
	for _, b := range all {
		if o, dup := byID[b.ID()]; dup && r.tier(o) == r.tier(b) {
			return nil, fmt.Errorf("two schema bundles claim %s: %s and %s", b.ID(), o.Origin, b.Origin)
		}
		byID[b.ID()] = b
	}
	for i := 1; i < len(all); i++ {
		a, b := all[i-1], all[i]
		if a.Standard == b.Standard && a.ValidFrom == b.ValidFrom && r.tier(a) == r.tier(b) {
			return nil, fmt.Errorf("two schema bundles claim standard %s from month %s: %s (%s) and %s (%s)",
				a.Standard, a.ValidFrom, a.ID(), a.Origin, b.ID(), b.Origin)
		}
	}
	r.bundles = all
	return r, nil
}

// tier is "operator" for bundles the operator supplied, "embedded" else.
func (r *Registry) tier(b *Bundle) string {
	if b.Origin == "embedded" {
		return "embedded"
	}
	return "operator"
}

// All returns every bundle, sorted by standard and first month.
func (r *Registry) All() []*Bundle { return append([]*Bundle(nil), r.bundles...) }

// InForce reports whether b takes part in selection: false for an embedded
// model whose standard the operator has supplied bundles for.
func (r *Registry) InForce(b *Bundle) bool {
	return !(b.Origin == "embedded" && r.operator[b.Standard])
}

// candidates returns the bundles of standard that take part in selection,
// oldest first.
func (r *Registry) candidates(standard string) []*Bundle {
	var out []*Bundle
	for _, b := range r.bundles {
		if b.Standard == standard && r.InForce(b) {
			out = append(out, b)
		}
	}
	return out
}

// ValidUntil returns the last month b applies to, or the zero Month while no
// later bundle of its standard follows.
func (r *Registry) ValidUntil(b *Bundle) Month {
	if !r.InForce(b) {
		return Month{}
	}
	cs := r.candidates(b.Standard)
	for i, c := range cs {
		if c == b && i+1 < len(cs) {
			return cs[i+1].ValidFrom.AddMonths(-1)
		}
	}
	return Month{}
}

// Select returns the bundle of standard in force for the reporting month:
// the one with the latest ValidFrom not after month.
func (r *Registry) Select(standard string, month Month) (*Bundle, error) {
	cs := r.candidates(standard)
	if len(cs) == 0 {
		return nil, fmt.Errorf("%w for standard %q (known: %s)", ErrNoBundle, standard, strings.Join(r.Standards(), ", "))
	}
	var pick *Bundle
	for _, b := range cs {
		if !month.Before(b.ValidFrom) {
			pick = b
		}
	}
	if pick == nil {
		return nil, fmt.Errorf("%w for standard %q in month %s: the earliest bundle, %s, applies from %s", ErrNoBundle, standard, month, cs[0].ID(), cs[0].ValidFrom)
	}
	return pick, nil
}

// Get returns the bundle with ID STANDARD@VERSION.
func (r *Registry) Get(id string) (*Bundle, error) {
	var found *Bundle
	for _, b := range r.bundles {
		if b.ID() == id && (found == nil || r.InForce(b)) {
			found = b
		}
	}
	if found == nil {
		var ids []string
		for _, b := range r.bundles {
			ids = append(ids, b.ID())
		}
		return nil, fmt.Errorf("%w %q (known: %s)", ErrNoBundle, id, strings.Join(ids, ", "))
	}
	return found, nil
}

// Standards lists the standards with at least one bundle.
func (r *Registry) Standards() []string {
	var out []string
	for _, b := range r.bundles {
		if len(out) == 0 || out[len(out)-1] != b.Standard {
			out = append(out, b.Standard)
		}
	}
	return out
}

func loadEmbedded() ([]*Bundle, error) {
	entries, err := fs.ReadDir(embedded, "bundles")
	if err != nil {
		return nil, err
	}
	var out []*Bundle
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		dir := path.Join("bundles", e.Name())
		data, err := fs.ReadFile(embedded, path.Join(dir, ManifestName))
		if err != nil {
			continue
		}
		m, err := decodeManifest(data)
		if err != nil {
			return nil, fmt.Errorf("embedded bundle %s: %w", e.Name(), err)
		}
		sub, err := fs.Sub(embedded, dir)
		if err != nil {
			return nil, err
		}
		b, err := newBundle(m, sub, "/meldeweg/embedded/"+e.Name()+"/", "embedded")
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

func decodeManifest(data []byte) (Manifest, error) {
	var m Manifest
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return m, fmt.Errorf("manifest: %w", err)
	}
	return m, nil
}

// LoadDir loads the bundles of a schema directory: every subdirectory with
// a bundle.json, and every NAME.bundle.json manifest (typically next to the
// zip the BA ships, named by its "source"). A zip that no manifest names
// is an error, so a forgotten manifest does not go unnoticed.
func LoadDir(dir string) ([]*Bundle, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("schema directory: %w", err)
	}
	var out []*Bundle
	used := map[string]bool{}
	var zips []string
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		switch {
		case e.IsDir():
			mp := filepath.Join(p, ManifestName)
			if _, err := os.Stat(mp); err != nil {
				continue
			}
			b, err := LoadBundle(mp)
			if err != nil {
				return nil, err
			}
			out = append(out, b)
			used[b.Origin] = true
		case strings.HasSuffix(e.Name(), ".bundle.json"):
			b, err := LoadBundle(p)
			if err != nil {
				return nil, err
			}
			out = append(out, b)
			used[b.Origin] = true
		case strings.HasSuffix(strings.ToLower(e.Name()), ".zip"):
			zips = append(zips, p)
		}
	}
	for _, z := range zips {
		abs, _ := filepath.Abs(z)
		if !used[abs] {
			return nil, fmt.Errorf("schema directory %s: %s has no manifest; write %s.bundle.json naming it as \"source\" (see docs/schema-bundles.md)", dir, filepath.Base(z), strings.TrimSuffix(filepath.Base(z), filepath.Ext(z)))
		}
	}
	return out, nil
}
