package main

import (
	"bytes"
	"strings"
	"testing"
)

// walkCommands calls f for every runnable command with its full name.
func walkCommands(prefix []string, cmds []*command, f func(path []string, c *command)) {
	for _, c := range cmds {
		p := append(append([]string(nil), prefix...), c.name)
		if len(c.sub) > 0 {
			walkCommands(p, c.sub, f)
			continue
		}
		f(p, c)
	}
}

// Every command answers --help with exit 0 and documents its synopsis,
// exit codes and examples (the CLI's contract with operators).
func TestEveryCommandHasHelp(t *testing.T) {
	walkCommands(nil, commands(), func(path []string, c *command) {
		t.Run(strings.Join(path, "_"), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(append(path, "--help"), strings.NewReader(""), &stdout, &stderr)
			if code != exitOK {
				t.Fatalf("exit %d, stderr %q", code, stderr.String())
			}
			out := stdout.String()
			for _, want := range []string{"USAGE", "EXIT CODES"} {
				if !strings.Contains(out, want) {
					t.Errorf("help lacks %s:\n%s", want, out)
				}
			}
			if c.name != "version" && !strings.Contains(out, "EXAMPLES") {
				t.Errorf("help lacks EXAMPLES:\n%s", out)
			}
			if c.summary == "" {
				t.Errorf("no summary")
			}
		})
	})
}

// Unknown flags are usage errors: exit 2 with the command's help on stderr.
func TestUnknownFlagIsUsageError(t *testing.T) {
	walkCommands(nil, commands(), func(path []string, c *command) {
		var stdout, stderr bytes.Buffer
		code := run(append(path, "--no-such-flag"), strings.NewReader(""), &stdout, &stderr)
		if code != exitError {
			t.Errorf("%s --no-such-flag: exit %d, want %d", strings.Join(path, " "), code, exitError)
		}
		if !strings.Contains(stderr.String(), "no-such-flag") {
			t.Errorf("%s: stderr does not name the flag: %q", strings.Join(path, " "), stderr.String())
		}
	})
}

func TestParseInterleaved(t *testing.T) {
	tests := []struct {
		args    []string
		wantPos string
		wantFmt string
	}{
		{[]string{"a", "--format", "json", "b"}, "a b", "json"},
		{[]string{"--format=json", "a"}, "a", "json"},
		{[]string{"a", "--", "--format", "x"}, "a --format x", "text"},
		{nil, "", "text"},
	}
	for _, tc := range tests {
		c := validateCommand()
		fs := c.flagSet(c.name)
		pos, err := parseInterleaved(fs, tc.args)
		if err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		if got := strings.Join(pos, " "); got != tc.wantPos {
			t.Errorf("%v: positional %q, want %q", tc.args, got, tc.wantPos)
		}
		if got := fs.Lookup("format").Value.String(); got != tc.wantFmt {
			t.Errorf("%v: --format %q, want %q", tc.args, got, tc.wantFmt)
		}
	}
}
