package main

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// update rewrites the expected output in golden files and txtar scripts.
var update = flag.Bool("update", false, "rewrite golden files and script expectations")

func TestMain(m *testing.M) {
	// RunMain runs the tests, or a script's "meldeweg" command, and ends
	// the process itself: nothing after it runs.
	os.Exit(testscript.RunMain(m, map[string]func() int{
		"meldeweg": func() int { return run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr) },
	}))
}

// TestScripts runs the CLI scripts in testdata/script: each runs the real
// command (in-process, as the "meldeweg" program) and checks its output
// and exit status. $REPO is the repository root, for testdata/.
func TestScripts(t *testing.T) {
	repo, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	testscript.Run(t, testscript.Params{
		Dir:           filepath.Join("testdata", "script"),
		UpdateScripts: *update,
		Setup: func(env *testscript.Env) error {
			env.Setenv("REPO", repo)
			return nil
		},
	})
}
