package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// unitFile is the systemd unit shipped in deploy/.
var unitFile = filepath.Join("..", "..", "deploy", "meldeweg.service")

// TestSystemdUnitVerifies runs "systemd-analyze verify" on a copy of the
// unit whose ExecStart names an executable that exists (this test
// binary): an unknown directive, a bad value or a missing executable
// fails the test, warnings included.
func TestSystemdUnitVerifies(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed (Debian: apt-get install systemd)")
	}
	unit, err := os.ReadFile(unitFile)
	if err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(unit), "ExecStart=/usr/local/bin/meldeweg serve --config /etc/meldeweg/meldeweg.json\n") {
		t.Fatalf("%s: ExecStart is not /usr/local/bin/meldeweg serve --config /etc/meldeweg/meldeweg.json", unitFile)
	}
	copy := filepath.Join(t.TempDir(), "meldeweg.service")
	if err := os.WriteFile(copy, []byte(strings.ReplaceAll(string(unit), "/usr/local/bin/meldeweg", self)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", copy).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Fatalf("systemd-analyze verify %s: %v\n%s", unitFile, err, out)
	}
}

// TestSystemdUnitHardening checks that the unit keeps its hardening: a
// directive removed or weakened fails here, whatever systemd accepts.
func TestSystemdUnitHardening(t *testing.T) {
	f, err := os.Open(unitFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got := map[string][]string{}
	section := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasPrefix(line, "[") {
			section = line
			continue
		}
		k, v, _ := strings.Cut(line, "=")
		got[section+k] = append(got[section+k], v)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"User": "meldeweg", "Group": "meldeweg",
		"ExecStart":               "/usr/local/bin/meldeweg serve --config /etc/meldeweg/meldeweg.json",
		"ExecReload":              "/bin/kill -HUP $MAINPID",
		"Restart":                 "on-failure",
		"ProtectSystem":           "strict",
		"ProtectHome":             "yes",
		"PrivateTmp":              "yes",
		"NoNewPrivileges":         "yes",
		"CapabilityBoundingSet":   "",
		"RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
		"SystemCallFilter":        "@system-service",
		"UMask":                   "0077",
		"StateDirectory":          "meldeweg",
		"StateDirectoryMode":      "0700",
		"ReadWritePaths":          "/var/lib/meldeweg",
		"TimeoutStopSec":          "120s",
	}
	for k, v := range want {
		vals := got["[Service]"+k]
		found := false
		for _, x := range vals {
			found = found || x == v
		}
		if !found {
			t.Errorf("[Service] %s=%s is missing (have %q)", k, v, vals)
		}
	}
	if n := len(got["[Service]ReadWritePaths"]); n != 1 {
		t.Errorf("%d ReadWritePaths lines; the state directory is the only writable place", n)
	}
}
