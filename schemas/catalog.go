package schemas

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// catalogNS is the namespace of OASIS XML catalogs.
const catalogNS = "urn:oasis:names:tc:entity:xmlns:xml:catalog"

// parseCatalog reads the uri, rewriteURI, system and rewriteSystem entries
// of an OASIS XML catalog (the form xmllint and other tools take) into URL
// rules. toLocal turns a catalog reference (relative to the catalog, or a
// file: URL) into a path inside the bundle's file system.
//
// Meldeweg resolves catalogs itself rather than through libxml2's global
// catalog, so two bundles never see each other's mappings. nextCatalog and
// delegate entries are refused: they would make resolution depend on files
// outside the bundle.
func parseCatalog(data []byte, toLocal func(ref string) (string, bool)) ([]urlRule, error) {
	dec := xml.NewDecoder(bytes.NewReader(data))
	var rules []urlRule
	seenRoot := false
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		if se.Name.Space != catalogNS {
			return nil, fmt.Errorf("element <%s> is not in the XML catalog namespace %s", se.Name.Local, catalogNS)
		}
		attr := func(name string) string {
			for _, a := range se.Attr {
				if a.Name.Local == name && a.Name.Space == "" {
					return a.Value
				}
			}
			return ""
		}
		line, _ := dec.InputPos()
		add := func(from, ref string, prefix bool) error {
			if from == "" || ref == "" {
				return fmt.Errorf("line %d: <%s> lacks an attribute", line, se.Name.Local)
			}
			to, ok := toLocal(ref)
			if !ok {
				return fmt.Errorf("line %d: <%s> points at %q, outside the schema set", line, se.Name.Local, ref)
			}
			if prefix && !strings.HasSuffix(to, "/") {
				to += "/"
			}
			rules = append(rules, urlRule{from: from, to: to, prefix: prefix})
			return nil
		}
		switch se.Name.Local {
		case "catalog":
			seenRoot = true
		case "group":
		case "uri":
			err = add(attr("name"), attr("uri"), false)
		case "system":
			err = add(attr("systemId"), attr("uri"), false)
		case "rewriteURI":
			err = add(attr("uriStartString"), attr("rewritePrefix"), true)
		case "rewriteSystem":
			err = add(attr("systemIdStartString"), attr("rewritePrefix"), true)
		default:
			err = fmt.Errorf("line %d: catalog entry <%s> is not supported (supported: uri, system, rewriteURI, rewriteSystem, group)", line, se.Name.Local)
		}
		if err != nil {
			return nil, err
		}
	}
	if !seenRoot {
		return nil, errors.New("not an XML catalog: no <catalog> element")
	}
	return rules, nil
}

// catalogRef strips a file: scheme from a catalog reference.
func catalogRef(ref string) (string, bool) {
	if strings.HasPrefix(ref, "file:") {
		u, err := url.Parse(ref)
		if err != nil {
			return "", false
		}
		return u.Path, true
	}
	if strings.Contains(ref, "://") {
		return "", false
	}
	return ref, true
}

// bundleCatalogRef resolves a reference of a catalog stored at catDir
// inside a bundle.
func bundleCatalogRef(catDir string) func(string) (string, bool) {
	return func(ref string) (string, bool) {
		r, ok := catalogRef(ref)
		if !ok || strings.HasPrefix(r, "/") {
			return "", false
		}
		trail := strings.HasSuffix(r, "/")
		p, ok := cleanInside(path.Join(catDir, r))
		if ok && trail {
			p += "/"
		}
		return p, ok
	}
}

// FromFile makes an ad-hoc bundle of a single schema file on disk (the
// validate command's --schema), with an optional XML catalog that maps
// absolute schema URLs to local files. Such a schema may include and import
// any local file by relative path; absolute URLs only through the catalog.
func FromFile(xsdPath, catalogPath string) (*Bundle, error) {
	abs, err := filepath.Abs(xsdPath)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(abs); err != nil {
		return nil, err
	}
	m := Manifest{Standard: "file", Version: filepath.Base(abs), Entry: strings.TrimPrefix(abs, "/")}
	b := &Bundle{Manifest: m, Origin: abs, files: rootFS{}, base: "/"}
	if catalogPath != "" {
		data, err := os.ReadFile(catalogPath)
		if err != nil {
			return nil, err
		}
		catAbs, err := filepath.Abs(catalogPath)
		if err != nil {
			return nil, err
		}
		catDir := filepath.Dir(catAbs)
		rules, err := parseCatalog(data, func(ref string) (string, bool) {
			r, ok := catalogRef(ref)
			if !ok {
				return "", false
			}
			trail := strings.HasSuffix(r, "/")
			if !filepath.IsAbs(r) {
				r = filepath.Join(catDir, r)
			}
			r = strings.TrimPrefix(filepath.Clean(r), "/")
			if trail {
				r += "/"
			}
			return r, true
		})
		if err != nil {
			return nil, fmt.Errorf("catalog %s: %w", catalogPath, err)
		}
		b.rules = rules
		sortRules(b.rules)
	}
	return b, nil
}

// rootFS is the local file system addressed by absolute paths without the
// leading slash.
type rootFS struct{}

func (rootFS) Open(name string) (fs.File, error) { return os.Open("/" + name) }
