// Package meldeweg_test holds the architecture test: the layer table of
// docs/architecture.md, enforced on every package of the module.
package meldeweg_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

const module = "meldeweg.dev/meldeweg/"

// layers lists every production package by the layer it belongs to, from
// the bottom up. A package may import packages of its own layer or of a
// lower one, never of a higher one. A package missing from the table is an
// error too, so a new package has to be given a layer when it is made.
//
// basim (the BA simulator) is a model of the counterpart, not part of
// Meldeweg's own stack: only cmd and tests may import it.
var layers = []struct {
	name     string
	packages []string // exact paths, or a prefix ending in "/..."
}{
	{"leaf helpers", []string{"transport/atomicfile"}},
	{"domain", []string{"schemas", "schemas/...", "xsozial", "xsozial/...", "emaw", "emaw/..."}},
	{"envelope and wire", []string{"transport/cms", "transport/pki", "transport/baapi"}},
	{"ledger", []string{"transport/register", "transport/register/..."}},
	{"client", []string{"transport/client"}},
	{"flows", []string{"flow/..."}},
	{"simulator", []string{"basim", "basim/..."}},
	{"command", []string{"cmd/...", "console", "console/..."}},
}

// testOnly are packages made for tests; no production package imports them.
var testOnly = []string{"basim/simtest", "flow/scheduler/schedulertest", "transport/register/registertest", "transport/register/pgstore/pgtest"}

type listed struct {
	ImportPath string
	Imports    []string
}

func goList(t *testing.T) []listed {
	t.Helper()
	out, err := exec.Command("go", "list", "-json", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var ps []listed
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var p listed
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	return ps
}

func matches(pattern, path string) bool {
	if p, ok := strings.CutSuffix(pattern, "/..."); ok {
		return strings.HasPrefix(path, p+"/")
	}
	return path == pattern
}

// layerOf returns the index of the layer path belongs to, or -1.
func layerOf(path string) int {
	for i, l := range layers {
		for _, p := range l.packages {
			if matches(p, path) {
				return i
			}
		}
	}
	return -1
}

func isTestOnly(path string) bool {
	for _, p := range testOnly {
		if path == p {
			return true
		}
	}
	return false
}

func TestEveryImportPointsDown(t *testing.T) {
	simulator := layerOf("basim")
	for _, p := range goList(t) {
		from, ok := strings.CutPrefix(p.ImportPath, module)
		if !ok {
			continue
		}
		lf := layerOf(from)
		if lf < 0 {
			t.Errorf("%s has no layer: add it to the table in layers_test.go and docs/architecture.md", from)
			continue
		}
		for _, imp := range p.Imports {
			to, ok := strings.CutPrefix(imp, module)
			if !ok {
				continue
			}
			lt := layerOf(to)
			switch {
			case lt < 0:
				t.Errorf("%s imports %s, which has no layer", from, to)
			case isTestOnly(to) && !isTestOnly(from):
				t.Errorf("%s imports the test-only package %s", from, to)
			case lt == simulator && lf != simulator && !strings.HasPrefix(from, "cmd/"):
				t.Errorf("%s imports the simulator %s; only cmd and tests may", from, to)
			case lt > lf:
				t.Errorf("%s (%s) imports %s (%s): imports must point down", from, layers[lf].name, to, layers[lt].name)
			}
		}
	}
}

// The client speaks HTTP and TLS; it knows nothing of the register or the
// outbox, which drive it from the flows layer.
func TestClientIsHTTPOnly(t *testing.T) {
	for _, p := range goList(t) {
		if p.ImportPath != module+"transport/client" {
			continue
		}
		for _, imp := range p.Imports {
			if strings.HasPrefix(imp, module) && imp != module+"transport/baapi" {
				t.Errorf("transport/client imports %s; it may use only the wire model (transport/baapi)", imp)
			}
		}
	}
}

// The table must not contradict itself: a layer names a pattern only once.
func TestLayerTableHasNoOverlap(t *testing.T) {
	for i, l := range layers {
		for _, p := range l.packages {
			probe := strings.TrimSuffix(p, "/...") + "/x"
			if !strings.HasSuffix(p, "/...") {
				probe = p
			}
			if got := layerOf(probe); got != i {
				t.Errorf("pattern %s of layer %q is shadowed by layer %q", p, l.name, layers[got].name)
			}
		}
	}
}

// docLayerRow matches a row of the layer table in docs/architecture.md:
// | N | name | `pkg`, `pkg/...` | what |.
var docLayerRow = regexp.MustCompile("^\\|\\s*\\d+\\s*\\|\\s*([^|]+?)\\s*\\|\\s*([^|]+?)\\s*\\|")

// The documented table is the enforced one: same layers, same order, same
// packages.
func TestArchitectureDocMatchesTable(t *testing.T) {
	data, err := os.ReadFile("docs/architecture.md")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, l := range strings.Split(string(data), "\n") {
		m := docLayerRow.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		var pkgs []string
		for _, p := range strings.Split(m[2], ",") {
			pkgs = append(pkgs, strings.Trim(strings.TrimSpace(p), "`"))
		}
		got = append(got, m[1]+": "+strings.Join(pkgs, " "))
	}
	var want []string
	for _, l := range layers {
		want = append(want, l.name+": "+strings.Join(l.packages, " "))
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("the layer table of docs/architecture.md differs from layers_test.go:\ndocs:\n  %s\ntest:\n  %s",
			strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}
