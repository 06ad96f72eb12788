package xsozial_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"meldeweg.dev/meldeweg/schemas"
	"meldeweg.dev/meldeweg/xsozial"
	"meldeweg.dev/meldeweg/xsozial/check"
	"meldeweg.dev/meldeweg/xsozial/feedback"
	"meldeweg.dev/meldeweg/xsozial/source"
	"meldeweg.dev/meldeweg/xsozial/synth"
)

// update regenerates the golden files in testdata/xsozial:
//
//	go test ./xsozial -run TestGolden -update
var update = flag.Bool("update", false, "regenerate the golden files in testdata/xsozial")

const goldenDir = "../testdata/xsozial"

// goldenCase is one case of testdata/xsozial: a source directory, the
// dataset it must build to, and the check report that dataset must get.
type goldenCase struct {
	name   string
	month  string
	bgs    int
	seed   uint64
	faults bool
	// edit, if set, breaks the generated source (for the unusable case).
	edit func(dir string) error
}

var goldenCases = []goldenCase{
	{name: "clean", month: "2026-10", bgs: 4, seed: 1},
	{name: "clean-4.2.0", month: "2026-03", bgs: 3, seed: 2},
	{name: "faulty", month: "2026-10", bgs: len(synth.FaultCatalog()) + 1, seed: 3, faults: true},
	{name: "unusable", month: "2026-10", bgs: 2, seed: 4, edit: func(dir string) error {
		p := filepath.Join(dir, "faelle.jsonl")
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		lines := strings.SplitAfter(string(b), "\n")
		for i := 3; i < len(lines); i++ { // the first bg record after line 3
			if strings.Contains(lines[i], `"zahlmonat":"`) {
				lines[i] = strings.Replace(lines[i], `"zahlmonat":"`, `"zahlmonat":"Oktober `, 1)
				break
			}
		}
		return os.WriteFile(p, []byte(strings.Join(lines, "")), 0o644)
	}},
}

var (
	goldenCreated  = time.Date(2026, 11, 2, 8, 0, 0, 0, time.UTC)
	goldenReceived = time.Date(2026, 11, 3, 10, 0, 0, 0, time.UTC)
)

func goldenNow() time.Time { return time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC) }

// TestGolden builds each case's source and checks the result, comparing
// dataset and report byte for byte with the files in testdata/xsozial. A
// case-management vendor diffs its own export against the same files.
func TestGolden(t *testing.T) {
	reg, err := schemas.Load(schemas.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range goldenCases {
		t.Run(tc.name, func(t *testing.T) {
			month, _ := schemas.ParseMonth(tc.month)
			b, err := reg.Select(xsozial.Standard, month)
			if err != nil {
				t.Fatal(err)
			}
			dir := filepath.Join(goldenDir, tc.name)
			src := filepath.Join(dir, "source")
			if *update {
				os.RemoveAll(dir)
				if _, err := synth.WriteSource(src, synth.Options{BGs: tc.bgs, Seed: tc.seed, Traeger: "12345", Month: month, Version: b.Version, Faults: tc.faults}); err != nil {
					t.Fatal(err)
				}
				if tc.edit != nil {
					if err := tc.edit(src); err != nil {
						t.Fatal(err)
					}
				}
			}
			name := check.FileName("12345", month, true)
			var ds bytes.Buffer
			_, err = source.Build(context.Background(), src, &ds, source.Options{Traeger: "12345", Month: month, Version: b.Version,
				Created: goldenCreated, SoftwareVersion: "golden", Test: true})
			if tc.edit != nil {
				if err == nil {
					t.Fatal("the unusable source built")
				}
				// Paths relative to the case directory, so the file is the same everywhere.
				msg := strings.ReplaceAll(err.Error(), dir+string(filepath.Separator), "") + "\n"
				golden(t, filepath.Join(dir, "expected-build-error.txt"), []byte(msg))
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			golden(t, filepath.Join(dir, name), ds.Bytes())
			rep, err := check.Check(context.Background(), bytes.NewReader(ds.Bytes()), name, check.Options{Registry: reg, Traeger: "12345", Now: goldenNow})
			if err != nil {
				t.Fatal(err)
			}
			var txt, js bytes.Buffer
			rep.WriteText(&txt)
			rep.WriteJSON(&js)
			golden(t, filepath.Join(dir, "expected-check.txt"), txt.Bytes())
			golden(t, filepath.Join(dir, "expected-check.json"), js.Bytes())
			if got, want := rep.Passed, !tc.faults; got != want {
				t.Errorf("passed = %v, want %v", got, want)
			}
			// The BA's feedback to this file, and its mapping to the source.
			sum := sha256.Sum256(ds.Bytes())
			fb := feedback.FromReport(rep, name, hex.EncodeToString(sum[:]), goldenReceived)
			var fbx bytes.Buffer
			if err := feedback.Write(&fbx, fb); err != nil {
				t.Fatal(err)
			}
			golden(t, filepath.Join(dir, "rueckmeldung.xml"), fbx.Bytes())
			mapped, err := feedback.MapToSource(context.Background(), fb, filepath.Join(dir, name), src)
			if err != nil {
				t.Fatal(err)
			}
			var ms strings.Builder
			for _, m := range mapped {
				if m.Source != nil {
					fmt.Fprintf(&ms, "%s line %d -> %s:%d\n", m.Rule, m.Line, filepath.Base(m.Source.File), m.Source.Line)
				}
			}
			golden(t, filepath.Join(dir, "expected-feedback-sources.txt"), []byte(ms.String()))
			// The committed dataset is valid for xmllint, an independent referee.
			xsdPath := filepath.Join("..", "schemas", "bundles", "xsozial-ba-sgb2-"+b.Version, "xsozial-ba-sgb2.xsd")
			if out, err := exec.Command("xmllint", "--noout", "--stream", "--schema", xsdPath, filepath.Join(dir, name)).CombinedOutput(); err != nil {
				t.Errorf("xmllint: %v\n%s", err, out)
			}
		})
	}
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./xsozial -run TestGolden -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from what the code produces now:\n%s\n(if the change is intended: go test ./xsozial -run TestGolden -update)", path, firstDiff(want, got))
	}
}

func firstDiff(want, got []byte) string {
	wl, gl := strings.Split(string(want), "\n"), strings.Split(string(got), "\n")
	for i := 0; i < len(wl) || i < len(gl); i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			return fmt.Sprintf("line %d:\n  want: %s\n  got:  %s", i+1, w, g)
		}
	}
	return "(lengths differ)"
}
