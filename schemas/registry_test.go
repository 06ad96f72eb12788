package schemas_test

import (
	"archive/zip"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"meldeweg.dev/meldeweg/schemas"
)

const tinyXSD = `<?xml version="1.0"?>
<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema"><xs:element name="a" type="xs:string"/></xs:schema>`

// bundleDir writes a bundle directory with a manifest and one XSD.
func bundleDir(t *testing.T, parent, name, manifest string) {
	t.Helper()
	d := filepath.Join(parent, name)
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(d, "a.xsd"), tinyXSD)
	write(t, filepath.Join(d, "bundle.json"), manifest)
}

func write(t *testing.T, p, s string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func manifest(std, ver, from string) string {
	return `{"standard":"` + std + `","version":"` + ver + `","valid_from":"` + from + `","entry":"a.xsd"}`
}

func month(t *testing.T, s string) schemas.Month {
	m, err := schemas.ParseMonth(s)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestSelectPicksTheBundleInForce(t *testing.T) {
	dir := t.TempDir()
	bundleDir(t, dir, "v1", manifest("std", "1.0", "2024-01"))
	bundleDir(t, dir, "v2", manifest("std", "2.0", "2025-07"))
	bundleDir(t, dir, "v3", manifest("std", "3.0", "2026-01"))
	reg, err := schemas.Load(schemas.Options{Dirs: []string{dir}, NoEmbedded: true})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ month, want string }{
		{"2024-01", "std@1.0"},
		{"2025-06", "std@1.0"},
		{"2025-07", "std@2.0"},
		{"2025-12", "std@2.0"},
		{"2026-01", "std@3.0"},
		{"2031-05", "std@3.0"},
	}
	for _, tc := range tests {
		b, err := reg.Select("std", month(t, tc.month))
		if err != nil {
			t.Fatalf("Select(%s): %v", tc.month, err)
		}
		if b.ID() != tc.want {
			t.Errorf("Select(%s) = %s, want %s", tc.month, b.ID(), tc.want)
		}
	}
	if _, err := reg.Select("std", month(t, "2023-12")); !errors.Is(err, schemas.ErrNoBundle) {
		t.Errorf("Select before the first Stichtag: err = %v, want ErrNoBundle", err)
	}
	if _, err := reg.Select("other", month(t, "2025-01")); !errors.Is(err, schemas.ErrNoBundle) {
		t.Errorf("Select unknown standard: err = %v, want ErrNoBundle", err)
	}
	b2, _ := reg.Get("std@2.0")
	if got := reg.ValidUntil(b2).String(); got != "2025-12" {
		t.Errorf("ValidUntil(std@2.0) = %q, want 2025-12", got)
	}
	b3, _ := reg.Get("std@3.0")
	if got := reg.ValidUntil(b3); !got.IsZero() {
		t.Errorf("ValidUntil(std@3.0) = %v, want open-ended", got)
	}
}

func TestLoadRefusesAmbiguity(t *testing.T) {
	t.Run("same standard and month", func(t *testing.T) {
		dir := t.TempDir()
		bundleDir(t, dir, "a", manifest("std", "1.0", "2025-01"))
		bundleDir(t, dir, "b", manifest("std", "1.1", "2025-01"))
		_, err := schemas.Load(schemas.Options{Dirs: []string{dir}, NoEmbedded: true})
		if err == nil {
			t.Fatal("two bundles for the same standard and month were accepted")
		}
		for _, want := range []string{"std@1.0", "std@1.1", filepath.Join(dir, "a"), filepath.Join(dir, "b"), "2025-01"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not name %q", err, want)
			}
		}
	})
	t.Run("same id twice", func(t *testing.T) {
		d1, d2 := t.TempDir(), t.TempDir()
		bundleDir(t, d1, "a", manifest("std", "1.0", "2025-01"))
		bundleDir(t, d2, "a", manifest("std", "1.0", "2025-02"))
		_, err := schemas.Load(schemas.Options{Dirs: []string{d1, d2}, NoEmbedded: true})
		if err == nil || !strings.Contains(err.Error(), "std@1.0") || !strings.Contains(err.Error(), d1) || !strings.Contains(err.Error(), d2) {
			t.Fatalf("err = %v, want a conflict naming both", err)
		}
	})
}

func TestOperatorBundlesShadowEmbeddedModels(t *testing.T) {
	base, err := schemas.Load(schemas.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var model *schemas.Bundle
	for _, b := range base.All() {
		if b.Model {
			model = b
			break
		}
	}
	if model == nil {
		t.Skip("no embedded model bundle yet")
	}
	dir := t.TempDir()
	// An official bundle that starts at the very same month as the model:
	// no conflict, the operator's bundle wins.
	bundleDir(t, dir, "official", manifest(model.Standard, "official-1", model.ValidFrom.String()))
	reg, err := schemas.Load(schemas.Options{Dirs: []string{dir}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := reg.Select(model.Standard, model.ValidFrom)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID() != model.Standard+"@official-1" {
		t.Errorf("Select = %s, want the operator's bundle", got.ID())
	}
	for _, b := range reg.All() {
		if b.Standard == model.Standard && b.Model && reg.InForce(b) {
			t.Errorf("model %s still in force next to an operator bundle", b.ID())
		}
	}
}

func TestManifestErrorsAreClear(t *testing.T) {
	tests := []struct {
		name, manifest, want string
	}{
		{"no standard", `{"version":"1","valid_from":"2025-01","entry":"a.xsd"}`, `"standard" is missing`},
		{"bad month", `{"standard":"s","version":"1","valid_from":"2025-13","entry":"a.xsd"}`, `expected YYYY-MM`},
		{"entry missing", `{"standard":"s","version":"1","valid_from":"2025-01","entry":"nope.xsd"}`, `entry schema "nope.xsd" not found`},
		{"entry escapes", `{"standard":"s","version":"1","valid_from":"2025-01","entry":"../a.xsd"}`, `leaves the bundle`},
		{"unknown field", `{"standard":"s","version":"1","valid_from":"2025-01","entry":"a.xsd","colour":"red"}`, `unknown field "colour"`},
		{"relative url key", `{"standard":"s","version":"1","valid_from":"2025-01","entry":"a.xsd","urls":{"codes/":"x/"}}`, `expected an absolute URL`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			bundleDir(t, dir, "b", tc.manifest)
			_, err := schemas.LoadDir(dir)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), filepath.Join(dir, "b")) {
				t.Fatalf("err = %v, want one naming the manifest and containing %q", err, tc.want)
			}
		})
	}
}

func TestZipWithoutManifestIsNamed(t *testing.T) {
	dir := t.TempDir()
	makeZip(t, filepath.Join(dir, "XSozial_9.9.zip"), map[string]string{"a.xsd": tinyXSD})
	_, err := schemas.LoadDir(dir)
	if err == nil || !strings.Contains(err.Error(), "XSozial_9.9.zip has no manifest") || !strings.Contains(err.Error(), "XSozial_9.9.bundle.json") {
		t.Fatalf("err = %v, want a hint to write the manifest", err)
	}
}

func TestZipWithUnsafePathsIsRefused(t *testing.T) {
	for _, name := range []string{"../evil.xsd", "/abs.xsd", "a/../../b.xsd"} {
		dir := t.TempDir()
		makeZip(t, filepath.Join(dir, "b.zip"), map[string]string{"a.xsd": tinyXSD, name: tinyXSD})
		write(t, filepath.Join(dir, "b.bundle.json"), `{"standard":"s","version":"1","valid_from":"2025-01","entry":"a.xsd","source":"b.zip"}`)
		_, err := schemas.LoadDir(dir)
		if err == nil || !strings.Contains(err.Error(), "unsafe path") {
			t.Errorf("entry %q: err = %v, want unsafe path", name, err)
		}
	}
}

func TestBundleResolvesOnlyItsOwnFiles(t *testing.T) {
	dir := t.TempDir()
	bundleDir(t, dir, "b", `{"standard":"s","version":"1","valid_from":"2025-01","entry":"a.xsd","urls":{"http://x.example/codes.xsd":"a.xsd","http://x.example/lists/":"lists/"}}`)
	bs, err := schemas.LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	b := bs[0]
	if _, err := b.Resolve("http://x.example/codes.xsd"); err != nil {
		t.Errorf("mapped exact URL: %v", err)
	}
	if _, err := b.Resolve("http://x.example/lists/missing.xsd"); err == nil || !strings.Contains(err.Error(), "lists/missing.xsd") {
		t.Errorf("mapped prefix to a missing file: err = %v", err)
	}
	for _, uri := range []string{"http://other.example/a.xsd", "/etc/passwd", b.EntryURI() + "/../../../../etc/passwd"} {
		_, err := b.Resolve(uri)
		if err == nil {
			t.Errorf("Resolve(%q) succeeded; a bundle serves only its own files", uri)
		}
	}
	s, err := b.Schema()
	if err != nil || s == nil {
		t.Fatalf("Schema: %v", err)
	}
	if s2, _ := b.Schema(); s2 != s {
		t.Errorf("Schema compiled twice; it must be shared")
	}
}

func makeZip(t *testing.T, p string, files map[string]string) {
	t.Helper()
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	for name, body := range files {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Store})
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(body))
	}
	zw.Close()
	f.Close()
}

func TestMonth(t *testing.T) {
	m := month(t, "2025-12")
	if got := m.AddMonths(1).String(); got != "2026-01" {
		t.Errorf("AddMonths(1) = %s", got)
	}
	if got := m.AddMonths(-12).String(); got != "2024-12" {
		t.Errorf("AddMonths(-12) = %s", got)
	}
	if got := m.Last().Day(); got != 31 {
		t.Errorf("Last().Day() = %d", got)
	}
	for _, bad := range []string{"2025-1", "25-01", "2025-00", "2025/01", ""} {
		if _, err := schemas.ParseMonth(bad); err == nil {
			t.Errorf("ParseMonth(%q) accepted", bad)
		}
	}
}
