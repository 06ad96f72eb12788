package payload

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const testKEKHex = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

func TestLoadKEK(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	regDir := filepath.Join(dir, "register")
	os.MkdirAll(regDir, 0o700)
	write := func(path string, mode os.FileMode) string {
		t.Helper()
		if err := os.WriteFile(path, []byte(testKEKHex+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		return path
	}
	good := write(filepath.Join(dir, "kek"), 0o400)
	want, err := ParseKEK([]byte(testKEKHex), "test")
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("MELDEWEG_TEST_KEK", testKEKHex)

	for _, tc := range []struct {
		name    string
		src     KEKSource
		wantErr string // "" for success
	}{
		{"file 0400", KEKSource{File: good, Away: []string{regDir}}, ""},
		{"file 0600", KEKSource{File: write(filepath.Join(dir, "kek-0600"), 0o600)}, "has mode 0600; a key-encryption key file must be 0400"},
		{"file 0440", KEKSource{File: write(filepath.Join(dir, "kek-0440"), 0o440)}, "has mode 0440"},
		{"file in the register's directory", KEKSource{File: write(filepath.Join(regDir, "kek"), 0o400), Away: []string{regDir}}, "next to the data it protects"},
		{"missing file", KEKSource{File: filepath.Join(dir, "nope")}, "no such file"},
		{"environment", KEKSource{Env: "MELDEWEG_TEST_KEK"}, ""},
		{"unset environment", KEKSource{Env: "MELDEWEG_TEST_KEK_UNSET"}, "$MELDEWEG_TEST_KEK_UNSET is not set"},
		{"command", KEKSource{Command: []string{"echo", testKEKHex}}, ""},
		{"command failing", KEKSource{Command: []string{"false"}}, "kek_command false failed"},
		{"command too slow", KEKSource{Command: []string{"sleep", "10"}, Timeout: 100 * time.Millisecond}, "did not finish within 100ms"},
		{"command printing too much", KEKSource{Command: []string{"yes"}}, "printed more than 4096 bytes"},
		{"command printing no key", KEKSource{Command: []string{"echo", "not a key"}}, "not a key-encryption key"},
		{"two sources", KEKSource{File: good, Env: "MELDEWEG_TEST_KEK"}, "exactly one of"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, err := LoadKEK(ctx, tc.src)
			if tc.wantErr == "" {
				if err != nil || k.ID() != want.ID() {
					t.Fatalf("LoadKEK: %v, %v; want key %s", k, err, want.ID())
				}
				return
			}
			if err == nil || !errors.Is(err, ErrKEKSource) && !strings.Contains(tc.wantErr, "not a key") || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("LoadKEK: %v; want an error containing %q", err, tc.wantErr)
			}
			if strings.Contains(err.Error(), testKEKHex) {
				t.Error("the error shows the key")
			}
		})
	}
}
