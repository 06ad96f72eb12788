package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"meldeweg.dev/meldeweg/basim"
	"meldeweg.dev/meldeweg/basim/bacheck"
)

// The test PKI of --pki replaces every certificate and key the
// configuration file names for an endpoint: flags > file, as for every
// other field. Before the resolver, --pki only filled the paths the file
// left empty, so a file naming another PKI's identities won, the client
// pinned the wrong CA and the upload failed.
func TestPKIFlagOverridesConfiguredIdentities(t *testing.T) {
	ba := startBA(t, bacheck.Config{}, basim.Faults{})
	other := filepath.Join(ba.dir, "other-pki")
	if code, _, stderr := runCLI(t, "pki", "init", other); code != exitOK {
		t.Fatalf("pki init: exit %d: %s", code, stderr)
	}
	var fields []string
	for _, f := range [][2]string{
		{"ca_cert", "ca.pem"}, {"client_cert", "traeger-client.pem"}, {"client_key", "traeger-client.key"},
		{"sign_cert", "traeger-sign.pem"}, {"sign_key", "traeger-sign.key"},
		{"encrypt_cert", "traeger-encrypt.pem"}, {"encrypt_key", "traeger-encrypt.key"}, {"ba_encrypt_cert", "ba-encrypt.pem"},
	} {
		fields = append(fields, fmt.Sprintf("%q: %q", f[0], filepath.Join(other, f[1])))
	}
	cfg := filepath.Join(ba.dir, "meldeweg.json")
	conf := `{"endpoints": {"xsozial": {` + strings.Join(fields, ", ") + `}}}`
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	dataset := filepath.Join("..", "..", "testdata", "xsozial", "clean", "XSOZIAL_12345_2026-10_T.xml")
	code, stdout, stderr := runCLI(t, "--config", cfg, "send", dataset, "--channel", "xsozial",
		"--pki", ba.pkiDir, "--url", ba.url, "--register", filepath.Join(ba.dir, "register.db"), "--attempts", "1", "--timeout", "30s")
	if code != exitOK {
		t.Fatalf("send with --pki over a configured PKI: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "sent") {
		t.Errorf("stdout: %s", stdout)
	}
}
