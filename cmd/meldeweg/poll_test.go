package main

import (
	"archive/zip"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"meldeweg.dev/meldeweg/emaw/msg"
	"meldeweg.dev/meldeweg/schemas"
	"meldeweg.dev/meldeweg/transport/baapi"
	"meldeweg.dev/meldeweg/transport/register"
	"meldeweg.dev/meldeweg/transport/register/sqlitestore"
	"meldeweg.dev/meldeweg/transport/sim"
	"meldeweg.dev/meldeweg/transport/sim/simtest"
)

// TestSendThenPoll runs send and poll in-process against the simulator:
// the acknowledgement (offered twice) is recorded once, the inbound
// AGHAnmeldung is validated and recorded as received, and a second poll
// finds nothing new.
func TestSendThenPoll(t *testing.T) {
	dir := t.TempDir()
	p := simtest.NewPKI(t)
	files := p.WriteFiles(t, dir)
	s := simtest.Start(t, p, sim.Config{Faults: sim.Faults{DuplicateReplies: true}})
	reg, err := schemas.Load(schemas.Options{})
	if err != nil {
		t.Fatal(err)
	}
	anm, _, err := msg.NewCodec(reg).Marshal(context.Background(), msg.Example(msg.TypeAGHAnmeldung))
	if err != nil {
		t.Fatal(err)
	}
	s.Offer(baapi.ChannelEmaw, "AGHAnmeldung_1.xml", anm)

	var zb bytes.Buffer
	zw := zip.NewWriter(&zb)
	w, _ := zw.Create("Eintritt_1.xml")
	w.Write([]byte("<Eintritt/>"))
	zw.Close()
	pkg := filepath.Join(dir, "pkg.zip")
	os.WriteFile(pkg, zb.Bytes(), 0o600)
	regFile := filepath.Join(dir, "register.db")
	conn := []string{"--url", s.URL, "--ca", files.CACert, "--cert", files.ClientCert, "--key", files.ClientKey, "--register", regFile}

	tests := []struct {
		args     []string
		wantCode int
		wantOut  string
	}{
		{append([]string{"send", pkg, "--channel", "emaw"}, conn...), 0, "sent emaw-"},
		{append([]string{"poll"}, conn...), 0, "acknowledged 1, rejected 0, received 1 (0 invalid), duplicates skipped 1"},
		{append([]string{"poll"}, conn...), 0, "acknowledged 0, rejected 0, received 0 (0 invalid), duplicates skipped 0"},
		{append([]string{"send", pkg, "--channel", "emaw"}, conn...), 0, "acknowledged emaw-"},
	}
	for _, tt := range tests {
		var stdout, stderr bytes.Buffer
		code := run(tt.args, strings.NewReader(""), &stdout, &stderr)
		if code != tt.wantCode || !strings.Contains(stdout.String(), tt.wantOut) {
			t.Fatalf("meldeweg %s: exit %d, stdout %q, stderr %q; want exit %d and %q",
				tt.args[0], code, stdout.String(), stderr.String(), tt.wantCode, tt.wantOut)
		}
	}
	store, err := sqlitestore.Open(context.Background(), regFile, sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if _, err := store.Verify(context.Background()); err != nil {
		t.Fatalf("register does not verify: %v", err)
	}
	var events []string
	for e, err := range register.All(context.Background(), store, "") {
		if err != nil {
			t.Fatal(err)
		}
		events = append(events, string(e.Event()))
	}
	want := "queued sending receipt sent received acknowledged" // the Anmeldung was offered first
	if got := strings.Join(events, " "); got != want {
		t.Errorf("register events: got %q, want %q", got, want)
	}
}
