package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestEmawShowPersonalIsLogged: "emaw show --personal" printed names,
// birth dates and Kundennummer and left no trace. Now it needs a purpose
// and a register, and the read appends an "accessed" entry naming who,
// the file's SHA-256 and the purpose — never the data.
func TestEmawShowPersonalIsLogged(t *testing.T) {
	file := filepath.Join("..", "..", "testdata", "emaw", "messages", "in", "AnmeldungBAE.xml")
	reg := filepath.Join(t.TempDir(), "register.db")

	code, stdout, stderr := runCLI(t, "emaw", "show", "--personal", "--register", reg, file)
	if code != exitError || stdout != "" || !strings.Contains(stderr, "--personal shows personal data: give --purpose TEXT") {
		t.Fatalf("without --purpose: exit %d\n%s%s", code, stdout, stderr)
	}
	code, stdout, stderr = runCLI(t, "emaw", "show", "--personal", "--purpose", "Rückfrage Agentur", "--register", reg, file)
	if code != exitError || stdout != "" || !strings.Contains(stderr, "personal data is shown only with a register to log the read in") {
		t.Fatalf("without a register: exit %d\n%s%s", code, stdout, stderr)
	}

	appendSteps(t, reg, 1, 1, nil)
	code, stdout, stderr = runCLI(t, "emaw", "show", "--personal", "--purpose", "Rückfrage Agentur, Ticket 4711", "--register", reg, file)
	if code != exitOK || strings.Contains(stdout, "[redacted]") {
		t.Fatalf("with a purpose and a register: exit %d\n%s%s", code, stdout, stderr)
	}
	name := regexp.MustCompile(`Familienname: (\S+)`).FindStringSubmatch(stdout)
	if name == nil {
		t.Fatalf("no Familienname shown:\n%s", stdout)
	}
	// Redacted output is not a read of personal data: nothing is logged.
	if code, _, _ := runCLI(t, "emaw", "show", file); code != exitOK {
		t.Fatal("emaw show without --personal failed")
	}

	code, stdout, stderr = runCLI(t, "register", "list", "--accessed", "--format", "json", "--register", reg)
	if code != exitOK {
		t.Fatalf("register list --accessed: exit %d\n%s%s", code, stdout, stderr)
	}
	var got []accessedJSON
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatalf("%v\n%s", err, stdout)
	}
	data, _ := os.ReadFile(file)
	sum := sha256.Sum256(data)
	if len(got) != 1 || got[0].Seq != 2 || got[0].ActorKind != "os-user" || got[0].View != "emaw show --personal" ||
		got[0].Purpose != "Rückfrage Agentur, Ticket 4711" || got[0].PayloadSHA256 != hex.EncodeToString(sum[:]) || got[0].Channel != "emaw" {
		t.Errorf("accessed entries %+v", got)
	}
	code, text, _ := runCLI(t, "register", "list", "--accessed", "--register", reg)
	if code != exitOK || !strings.Contains(text, "os-user  emaw show --personal") {
		t.Errorf("text listing:\n%s", text)
	}
	code, export, _ := runCLI(t, "register", "export", "--register", reg)
	if code != exitOK || strings.Contains(export+stdout+text, name[1]) {
		t.Errorf("the register holds the name %q:\n%s", name[1], export)
	}
	if code, out, _ := runCLI(t, "register", "verify", "--register", reg); code != exitOK {
		t.Errorf("verify after an access: exit %d\n%s", code, out)
	}
	if code, _, stderr := runCLI(t, "register", "list", "--format", "json", "--register", reg); code != exitError || !strings.Contains(stderr, "json with --accessed") {
		t.Errorf("--format json without --accessed: exit %d %s", code, stderr)
	}
}
