package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBackupAndRestoreCommands backs up a register with a kept payload
// and a checkpoint, restores it with proof, and names a damaged copy.
func TestBackupAndRestoreCommands(t *testing.T) {
	file, _ := seedDelivered(t)
	cfg2, _ := checkpointConfig(t, file)
	if code, out, errOut := runCLI(t, "--config", cfg2, "register", "checkpoint", "--register", file); code != exitOK {
		t.Fatalf("checkpoint: %s%s", out, errOut)
	}
	out := filepath.Join(t.TempDir(), "backup")
	code, stdout, stderr := runCLI(t, "--config", cfg2, "backup", "--register", file, "--payloads", file+".payloads", "--out", out)
	wantOutput(t, "backup", code, exitOK, stdout+stderr, "backup of "+file+" written to "+out+": 6 entries, head ", "the newest checkpoint")

	into := filepath.Join(t.TempDir(), "restored")
	code, stdout, stderr = runCLI(t, "--config", cfg2, "restore", "--verify", out, "--into", into)
	wantOutput(t, "restore", code, exitOK, stdout+stderr, "restored into "+filepath.Join(into, "register.db")+" and proved",
		"chain: 6 entries intact", "checkpoint: signature of meldeweg.test/jobcenter-12345 good, prefix of 5 entries proved",
		"payloads: 1 decrypted and checked")
	if strings.Contains(stdout, "not checked") {
		t.Errorf("something was not checked:\n%s", stdout)
	}
	code, stdout, stderr = runCLI(t, "--config", cfg2, "restore", "--verify", out, "--into", into)
	wantOutput(t, "restore into a used place", code, exitError, stdout+stderr, "is not empty")

	b, _ := os.ReadFile(filepath.Join(out, "register.db"))
	b[len(b)-100] ^= 0x40
	os.WriteFile(filepath.Join(out, "register.db"), b, 0o600)
	code, stdout, stderr = runCLI(t, "--config", cfg2, "restore", "--verify", out, "--into", filepath.Join(t.TempDir(), "r2"))
	wantOutput(t, "damaged", code, exitFindings, stdout+stderr, "DAMAGED", filepath.Join(out, "register.db")+": corrupted: expected SHA-256 ")
}
