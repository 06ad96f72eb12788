package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"meldeweg.dev/meldeweg/basim"
	"meldeweg.dev/meldeweg/basim/bacheck"
	"meldeweg.dev/meldeweg/emaw/msg"
	"meldeweg.dev/meldeweg/schemas"
	"meldeweg.dev/meldeweg/transport/register"
	"meldeweg.dev/meldeweg/transport/register/sqlitestore"
	"meldeweg.dev/meldeweg/xsozial/check"
)

// With two tenants configured, a dataset of one Träger and an eM@w
// upload of one provider site are refused under the other tenant before
// anything is sealed or queued, and one tenant's register does not open
// as the other's.
func TestTenantRefusesForeignData(t *testing.T) {
	ba := startBA(t, bacheck.Config{}, basim.Faults{})
	dir := t.TempDir()
	month := schemas.MonthOf(time.Now()).AddMonths(-1)
	src := filepath.Join(dir, "src")
	if code, _, stderr := runXS(t, "testdata", "xsozial", "--bgs", "10", "--seed", "5", "--month", month.String(), "--traeger", "12345", "--out", src); code != exitOK {
		t.Fatalf("testdata: %s", stderr)
	}
	dataset := filepath.Join(dir, "out", check.FileName("12345", month, false))
	os.MkdirAll(filepath.Dir(dataset), 0o700)
	if code, _, stderr := runXS(t, "xsozial", "build", "--traeger", "12345", "--month", month.String(), "--in", src, "--out", dataset); code != exitOK {
		t.Fatalf("build: %s", stderr)
	}
	upload := filepath.Join(dir, "upload.zip")
	writeUpload(t, upload, example(msg.TypeEintritt, "EV-T1")) // Maßnahme 123/21/1/26

	config := filepath.Join(dir, "meldeweg.json")
	if err := os.WriteFile(config, []byte(`{
  "tenants": {
    "kreis-a": {"traeger": "12345", "register": "a/register.db", "massnahmen": ["123/21/1/26"]},
    "kreis-b": {"traeger": "54321", "register": "b/register.db", "massnahmen": ["99999999"]}
  }
}`), 0o600); err != nil {
		t.Fatal(err)
	}
	conn := []string{"--config", config, "--pki", ba.pkiDir, "--url", ba.url}

	for _, tt := range []struct {
		name, file, channel string
		wantErr             []string
	}{
		{"dataset of another Träger", dataset, "xsozial", []string{"RTX", "nothing was queued"}},
		{"upload of another provider", upload, "emaw", []string{"Maßnahme 12321126 is not one of this tenant's", `tenant "kreis-b"`, "nothing was queued"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runXS(t, append([]string{"--tenant", "kreis-b", "send", tt.file, "--channel", tt.channel}, conn...)...)
			if code != exitFindings {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, exitFindings, stdout, stderr)
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(stderr, want) {
					t.Errorf("stderr lacks %q:\n%s", want, stderr)
				}
			}
		})
	}
	if n := len(ba.server.Accepted()); n != 0 {
		t.Errorf("the BA received %d uploads of refused files", n)
	}
	if _, err := os.Stat(filepath.Join(dir, "b", "register.db")); err == nil {
		s, err := sqlitestore.Open(context.Background(), filepath.Join(dir, "b", "register.db"), sqlitestore.Options{Tenant: "kreis-b"})
		if err != nil {
			t.Fatal(err)
		}
		if msgs, err := s.Messages(context.Background(), register.MessagesParams{}); err != nil || len(msgs) != 0 {
			t.Errorf("refused files were queued: %d messages, %v", len(msgs), err)
		}
		s.Close()
	}

	// Under its own tenant the upload goes, into that tenant's register.
	runOK(t, 0, "sent emaw-", append([]string{"--tenant", "kreis-a", "send", upload, "--channel", "emaw"}, conn...)...)
	s, err := sqlitestore.Open(context.Background(), filepath.Join(dir, "a", "register.db"), sqlitestore.Options{Tenant: "kreis-a"})
	if err != nil {
		t.Fatal(err)
	}
	e, err := s.Get(context.Background(), 1)
	s.Close()
	if err != nil || e.Tenant() != "kreis-a" {
		t.Fatalf("first entry of kreis-a's register: tenant %q, %v", e.Tenant(), err)
	}

	// Naming one register for both is refused by the configuration;
	// kreis-a's register put in kreis-b's place (a wrong restore) does not
	// open as kreis-b's.
	code, _, stderr := runXS(t, "--config", config, "--tenant", "kreis-b", "register", "verify", "--register", filepath.Join(dir, "a", "register.db"))
	if code != exitError || !strings.Contains(stderr, `tenants.kreis-b.register: tenants "kreis-a" and "kreis-b" share`) {
		t.Errorf("one register for two tenants: exit %d, stderr %s", code, stderr)
	}
	data, err := os.ReadFile(filepath.Join(dir, "a", "register.db"))
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(dir, "b"), 0o700)
	if err := os.WriteFile(filepath.Join(dir, "b", "register.db"), data, 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = runXS(t, "--config", config, "--tenant", "kreis-b", "register", "verify")
	if code != exitError || !strings.Contains(stderr, `belongs to tenant "kreis-a", but was opened as tenant "kreis-b"`) {
		t.Errorf("exit %d, stderr %s; want exit %d naming both tenants", code, stderr, exitError)
	}
}

// The key hierarchy end to end: with a KEK configured, a sent upload is
// sealed at rest with data keys; "keys rotate-kek" re-wraps them, after
// which the register's payloads verify with the new KEK and not with the
// old one.
func TestKeysRotateKEK(t *testing.T) {
	ba := startBA(t, bacheck.Config{}, basim.Faults{})
	dir := t.TempDir()
	keys := filepath.Join(dir, "keys")
	os.MkdirAll(keys, 0o700)
	writeKEK := func(name, hexKey string) string {
		p := filepath.Join(keys, name)
		if err := os.WriteFile(p, []byte(hexKey+"\n"), 0o400); err != nil {
			t.Fatal(err)
		}
		os.Chmod(p, 0o400)
		return p
	}
	oldKEK := writeKEK("kek.old", strings.Repeat("a1", 32))
	newKEK := writeKEK("kek.new", strings.Repeat("b2", 32))
	writeConfig := func(kek string) string {
		c := filepath.Join(dir, "meldeweg.json")
		os.Remove(c)
		if err := os.WriteFile(c, []byte(`{"tenants": {"kreis-a": {"register": "data/register.db", "kek_file": "`+kek+`"}}}`), 0o600); err != nil {
			t.Fatal(err)
		}
		return c
	}
	config := writeConfig(oldKEK)
	upload := filepath.Join(dir, "upload.zip")
	writeUpload(t, upload, example(msg.TypeEintritt, "EV-K1"))
	runOK(t, 0, "sent emaw-", "--config", config, "send", upload, "--channel", "emaw", "--pki", ba.pkiDir, "--url", ba.url)

	out, _ := runOK(t, 0, "emaw-message", "--config", config, "keys", "list")
	if !strings.Contains(out, "live") {
		t.Errorf("keys list:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(dir, "data", "register.db.payloads", "payload.key")); err == nil {
		t.Error("an instance payload.key was made although a KEK is configured")
	}
	runOK(t, 0, "", "--config", config, "register", "verify")

	out, _ = runOK(t, 0, "re-wrapped", "--config", config, "keys", "rotate-kek", "--new-kek-file", newKEK)
	if !strings.Contains(out, "1 data key re-wrapped") && !strings.Contains(out, "data keys re-wrapped") {
		t.Errorf("rotate-kek: %s", out)
	}
	// Still configured with the old KEK: the payloads no longer open.
	if code, stdout, stderr := runXS(t, "--config", config, "register", "verify"); code == exitOK || !strings.Contains(stdout+stderr, "does not unwrap under this key-encryption key") {
		t.Errorf("verify with the old KEK after rotation passed:\n%s%s", stdout, stderr)
	}
	config = writeConfig(newKEK)
	runOK(t, 0, "", "--config", config, "register", "verify")
}
