package schemas_test

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"meldeweg.dev/meldeweg/schemas"
	"meldeweg.dev/meldeweg/schemas/xsd"
)

// The conformance set is a real XÖV schema set written outside the project
// (shared/conformance/xwasser-1.0.0): its XSDs import four schemas by
// absolute URL, which its remote/ folder mirrors. Loaded as an operator
// bundle, every example must get the same verdict and the same error lines
// as xmllint --schema with an XML catalog, the independent referee.

func conformanceDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("MELDEWEG_CONFORMANCE_DIR")
	if dir == "" {
		dir = filepath.Join("..", "..", "shared", "conformance", "xwasser-1.0.0")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(abs, "schemas", "xwasser.xsd")); err != nil {
		t.Skipf("conformance set not found at %s (set MELDEWEG_CONFORMANCE_DIR): %v", abs, err)
	}
	return abs
}

// xwasserURLs maps the four imported URLs' hosts to remote/.
var xwasserURLs = map[string]string{
	"http://xoev.de/":     "remote/xoev.de/",
	"https://xoev.de/":    "remote/xoev.de/",
	"https://www.w3.org/": "remote/www.w3.org/",
}

func writeManifest(t *testing.T, dir, source string) {
	t.Helper()
	var urls []string
	for k, v := range xwasserURLs {
		urls = append(urls, fmt.Sprintf("%q: %q", k, v))
	}
	m := fmt.Sprintf(`{"standard": "xwasser", "version": "1.0.0", "valid_from": "2024-01",
  "entry": "schemas/xwasser.xsd", "source": %q, "urls": {%s}}`, source, strings.Join(urls, ", "))
	if err := os.WriteFile(filepath.Join(dir, "xwasser-1.0.0.bundle.json"), []byte(m), 0o644); err != nil {
		t.Fatal(err)
	}
}

// xmllintCatalog writes the same URL map as an OASIS catalog for xmllint.
func xmllintCatalog(t *testing.T, confDir string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString(`<?xml version="1.0"?>` + "\n" + `<catalog xmlns="urn:oasis:names:tc:entity:xmlns:xml:catalog">` + "\n")
	for from, to := range xwasserURLs {
		target := "file://" + filepath.Join(confDir, to) + "/"
		fmt.Fprintf(&b, "  <rewriteURI uriStartString=%q rewritePrefix=%q/>\n", from, target)
		fmt.Fprintf(&b, "  <rewriteSystem systemIdStartString=%q rewritePrefix=%q/>\n", from, target)
	}
	b.WriteString("</catalog>\n")
	p := filepath.Join(t.TempDir(), "catalog.xml")
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

type verdict struct {
	valid bool
	lines []int // line of every error, in order
}

var xmllintLine = regexp.MustCompile(`^.*?:(\d+): .*Schemas validity error`)

func xmllintVerdict(t *testing.T, catalog, xsdPath, doc string) verdict {
	t.Helper()
	if _, err := exec.LookPath("xmllint"); err != nil {
		t.Fatalf("xmllint is the referee of this test and is not installed (apt-get install libxml2-utils; .ci/run does it)")
	}
	cmd := exec.Command("xmllint", "--nonet", "--noout", "--schema", xsdPath, doc)
	cmd.Env = append(os.Environ(), "XML_CATALOG_FILES="+catalog)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	var v verdict
	var ee *exec.ExitError
	switch {
	case err == nil:
		v.valid = true
	case errors.As(err, &ee) && ee.ExitCode() == 3:
	default:
		t.Fatalf("xmllint on %s: %v\n%s", doc, err, stderr.String())
	}
	for _, l := range strings.Split(stderr.String(), "\n") {
		if m := xmllintLine.FindStringSubmatch(l); m != nil {
			n, _ := strconv.Atoi(m[1])
			v.lines = append(v.lines, n)
		}
	}
	return v
}

func meldewegVerdict(t *testing.T, s *xsd.Schema, doc string) verdict {
	t.Helper()
	var v verdict
	res, err := s.ValidateFile(context.Background(), doc, func(p xsd.Problem) {
		if !p.Warning {
			v.lines = append(v.lines, p.Line)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	v.valid = res.Valid()
	return v
}

func TestConformanceXWasserAgainstXmllint(t *testing.T) {
	conf := conformanceDir(t)
	catalog := xmllintCatalog(t, conf)
	examples, err := filepath.Glob(filepath.Join(conf, "examples", "*.xml"))
	if err != nil || len(examples) == 0 {
		t.Fatalf("no examples in %s", conf)
	}

	// The same set as an operator would drop it in: once as a directory,
	// once as a zip, each with a manifest next to it. The XSDs stay as
	// shipped.
	asDir := t.TempDir()
	writeManifest(t, asDir, conf)
	asZip := t.TempDir()
	zipDir(t, conf, filepath.Join(asZip, "xwasser-1.0.0.zip"))
	writeManifest(t, asZip, "xwasser-1.0.0.zip")

	for _, layout := range []struct{ name, dir string }{{"directory", asDir}, {"zip", asZip}} {
		t.Run(layout.name, func(t *testing.T) {
			reg, err := schemas.Load(schemas.Options{Dirs: []string{layout.dir}, NoEmbedded: true})
			if err != nil {
				t.Fatal(err)
			}
			b, err := reg.Select("xwasser", schemas.Month{Year: 2026, Month: 10})
			if err != nil {
				t.Fatal(err)
			}
			s, err := b.Schema()
			if err != nil {
				t.Fatal(err)
			}
			var valid, invalid int
			for _, ex := range examples {
				want := xmllintVerdict(t, catalog, filepath.Join(conf, "schemas", "xwasser.xsd"), ex)
				got := meldewegVerdict(t, s, ex)
				name := filepath.Base(ex)
				if got.valid != want.valid {
					t.Errorf("%s: meldeweg valid=%v, xmllint valid=%v", name, got.valid, want.valid)
				}
				if len(want.lines) > 0 && (len(got.lines) == 0 || got.lines[0] != want.lines[0]) {
					t.Errorf("%s: first error on line %v, xmllint says %d", name, got.lines, want.lines[0])
				}
				if fmt.Sprint(got.lines) != fmt.Sprint(want.lines) {
					t.Errorf("%s: error lines %v, xmllint %v", name, got.lines, want.lines)
				}
				if want.valid {
					valid++
				} else {
					invalid++
				}
			}
			// The set must exercise both verdicts, or this test proves little.
			if valid == 0 || invalid == 0 {
				t.Fatalf("examples gave %d valid and %d invalid; expected both", valid, invalid)
			}
		})
	}
}

func zipDir(t *testing.T, dir, out string) {
	t.Helper()
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		w, err := zw.Create(filepath.ToSlash(rel))
		if err != nil {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		_, err = w.Write(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
}
