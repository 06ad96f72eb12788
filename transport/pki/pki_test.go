package pki

import (
	"crypto/x509"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestInitLayout(t *testing.T) {
	dir := t.TempDir()
	if err := Init(dir, InitOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := Init(dir, InitOptions{}); !errors.Is(err, ErrExists) {
		t.Errorf("second Init: err = %v, want ErrExists", err)
	}
	pw := Password{File: filepath.Join(dir, "p12-password.txt")}
	ca, err := LoadCertificates(filepath.Join(dir, "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca[0])
	for _, f := range TestPKIFiles {
		t.Run(f.Stem, func(t *testing.T) {
			fromPEM, err := LoadIdentity(filepath.Join(dir, f.Stem+".pem"), filepath.Join(dir, f.Stem+".key"), Password{})
			if err != nil {
				t.Fatal(err)
			}
			fromP12, err := LoadIdentity(filepath.Join(dir, f.Stem+".p12"), "", pw)
			if err != nil {
				t.Fatal(err)
			}
			if !fromP12.Cert.Equal(fromPEM.Cert) {
				t.Error("the .p12 and the .pem hold different certificates")
			}
			if got := fromPEM.Cert.Subject.Organization; len(got) != 1 || got[0] != TestOrganization {
				t.Errorf("O = %v, want %q", got, TestOrganization)
			}
			eku := map[Usage]x509.ExtKeyUsage{UsageClient: x509.ExtKeyUsageClientAuth, UsageServer: x509.ExtKeyUsageServerAuth,
				UsageSign: x509.ExtKeyUsageEmailProtection, UsageEncrypt: x509.ExtKeyUsageEmailProtection}[f.Usage]
			if _, err := fromPEM.Cert.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{eku}}); err != nil {
				t.Errorf("chain to ca.pem for %v: %v", eku, err)
			}
			st, _ := os.Stat(filepath.Join(dir, f.Stem+".key"))
			if st.Mode().Perm() != 0o600 {
				t.Errorf("key file mode %v, want 0600", st.Mode().Perm())
			}
		})
	}
	srv, err := LoadCertificates(filepath.Join(dir, "ba-server.pem"))
	if err != nil {
		t.Fatal(err)
	}
	for _, host := range []string{"localhost", "127.0.0.1", "::1"} {
		if err := srv[0].VerifyHostname(host); err != nil {
			t.Errorf("ba-server: %v", err)
		}
	}
	if len(srv[0].IPAddresses) != 2 || !srv[0].IPAddresses[1].Equal(net.ParseIP("::1")) {
		t.Errorf("ba-server IPs = %v", srv[0].IPAddresses)
	}
	readme, _ := os.ReadFile(filepath.Join(dir, "README.txt"))
	if !strings.Contains(string(readme), "NOT FOR PRODUCTION") {
		t.Error("README.txt does not say test-only")
	}
}

// TestInitOpenSSLReads: openssl, as an independent referee, reads the
// .p12 files with the password file and verifies the chains.
func TestInitOpenSSLReads(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl not installed")
	}
	dir := t.TempDir()
	if err := Init(dir, InitOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, stem := range []string{"traeger-sign", "ba-encrypt"} {
		out, err := exec.Command("openssl", "pkcs12", "-in", filepath.Join(dir, stem+".p12"), "-passin", "file:"+filepath.Join(dir, "p12-password.txt"), "-nodes").CombinedOutput()
		if err != nil || !strings.Contains(string(out), "BEGIN PRIVATE KEY") {
			t.Errorf("openssl pkcs12 %s: %v\n%s", stem, err, out)
		}
	}
	out, err := exec.Command("openssl", "verify", "-CAfile", filepath.Join(dir, "ca.pem"), "-purpose", "sslserver", filepath.Join(dir, "ba-server.pem")).CombinedOutput()
	if err != nil {
		t.Errorf("openssl verify ba-server: %v\n%s", err, out)
	}
	out, err = exec.Command("openssl", "verify", "-CAfile", filepath.Join(dir, "ca.pem"), "-purpose", "smimesign", filepath.Join(dir, "traeger-sign.pem")).CombinedOutput()
	if err != nil {
		t.Errorf("openssl verify traeger-sign: %v\n%s", err, out)
	}
}

func TestLoadIdentityErrors(t *testing.T) {
	dir := t.TempDir()
	if err := Init(dir, InitOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TEST_P12_PW", "not the password")
	tests := []struct {
		name      string
		cert, key string
		pw        Password
		want      error
		wantText  string
	}{
		{"wrong password", "ba-sign.p12", "", Password{Env: "TEST_P12_PW"}, ErrWrongPassword, ""},
		{"unset variable", "ba-sign.p12", "", Password{Env: "TEST_P12_UNSET"}, nil, "TEST_P12_UNSET is not set"},
		{"key of another certificate", "ba-sign.pem", "ba-encrypt.key", Password{}, ErrKeyMismatch, ""},
		{"missing key file", "ba-sign.pem", "nope.key", Password{}, os.ErrNotExist, ""},
		{"both password sources", "ba-sign.p12", "", Password{Env: "X", File: "y"}, nil, "not both"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := tt.key
			if key != "" {
				key = filepath.Join(dir, key)
			}
			_, err := LoadIdentity(filepath.Join(dir, tt.cert), key, tt.pw)
			if err == nil {
				t.Fatal("no error")
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
			if tt.wantText != "" && !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("err = %v, want it to mention %q", err, tt.wantText)
			}
		})
	}
	// The key may sit in the certificate file.
	both := filepath.Join(dir, "both.pem")
	c, _ := os.ReadFile(filepath.Join(dir, "ba-sign.pem"))
	k, _ := os.ReadFile(filepath.Join(dir, "ba-sign.key"))
	os.WriteFile(both, append(c, k...), 0o600)
	id, err := LoadIdentity(both, "", Password{})
	if err != nil {
		t.Fatal(err)
	}
	if id.Cert.Subject.CommonName != "BA CMS signing (test)" || len(id.Chain) != 1 {
		t.Errorf("got %q with %d chain certificates", id.Cert.Subject.CommonName, len(id.Chain))
	}
}

func TestCheckExpiry(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	tests := []struct {
		name                string
		notBefore, notAfter time.Time
		wantStatus          ExpiryStatus
		wantDays            int
	}{
		{"valid", now.Add(-day), now.Add(200 * day), StatusValid, 200},
		{"61 days left", now.Add(-day), now.Add(61 * day), StatusValid, 61},
		{"60 days left warns", now.Add(-day), now.Add(60 * day), StatusExpiring, 60},
		{"hours left", now.Add(-day), now.Add(3 * time.Hour), StatusExpiring, 0},
		{"expired an hour ago", now.Add(-day), now.Add(-time.Hour), StatusExpired, -1},
		{"expired 3 days ago", now.Add(-10 * day), now.Add(-3 * day), StatusExpired, -3},
		{"not yet valid", now.Add(day), now.Add(300 * day), StatusNotYetValid, 300},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := CheckExpiry(&x509.Certificate{NotBefore: tt.notBefore, NotAfter: tt.notAfter}, now, DefaultWarn)
			if got.Status != tt.wantStatus || got.DaysLeft != tt.wantDays {
				t.Errorf("got %s, %d days; want %s, %d days", got.Status, got.DaysLeft, tt.wantStatus, tt.wantDays)
			}
		})
	}
}

func TestPasswordFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "pw")
	os.WriteFile(p, []byte("s3cret\n"), 0o600)
	got, err := Password{File: p}.Value()
	if err != nil || got != "s3cret" {
		t.Errorf("got %q, %v; want s3cret (trailing newline removed)", got, err)
	}
}

// TestSecretFilesMustBePrivate: a key, PKCS#12 or password file that
// group or others may access is refused, as ssh refuses such keys, with
// an error naming the file, its mode and the chmod that fixes it; the
// same file at 0600 or 0400 loads, and certificates may be world-readable.
func TestSecretFilesMustBePrivate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pki")
	if err := Init(dir, InitOptions{}); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(dir); err != nil || st.Mode().Perm() != 0o700 {
		t.Fatalf("test PKI directory: %v, mode %v, want 0700", err, st.Mode().Perm())
	}
	cert, key, p12, pwFile := filepath.Join(dir, "emaw-sign.pem"), filepath.Join(dir, "emaw-sign.key"),
		filepath.Join(dir, "emaw-sign.p12"), filepath.Join(dir, "p12-password.txt")
	for _, p := range []string{key, p12, pwFile} {
		if st, _ := os.Stat(p); st.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600 from Init", p, st.Mode().Perm())
		}
	}
	if err := os.Chmod(cert, 0o644); err != nil {
		t.Fatal(err)
	}
	loads := map[string]func() error{
		key: func() error { _, err := LoadIdentity(cert, key, Password{}); return err },
		// The password file is checked before the PKCS#12 file is opened;
		// keep it private while the .p12 is tested.
		p12:    func() error { _, err := LoadIdentity(p12, "", Password{File: pwFile}); return err },
		pwFile: func() error { _, err := Password{File: pwFile}.Value(); return err },
	}
	for file, load := range loads {
		for _, mode := range []os.FileMode{0o640, 0o604, 0o620, 0o644, 0o660} {
			t.Run(filepath.Base(file)+" "+mode.String(), func(t *testing.T) {
				if err := os.Chmod(file, mode); err != nil {
					t.Fatal(err)
				}
				defer os.Chmod(file, 0o600)
				err := load()
				var fe *FileModeError
				if !errors.As(err, &fe) || !errors.Is(err, ErrFileMode) || fe.Path != file {
					t.Fatalf("got %v, want a *FileModeError for %s", err, file)
				}
				for _, want := range []string{file, "chmod 600 " + file, "group or others", "0" + strconv.FormatUint(uint64(mode), 8)} {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("error %q does not say %q", err, want)
					}
				}
			})
		}
		for _, mode := range []os.FileMode{0o600, 0o400} {
			if err := os.Chmod(file, mode); err != nil {
				t.Fatal(err)
			}
			if err := load(); err != nil {
				t.Errorf("%s at %v: %v", file, mode, err)
			}
			os.Chmod(file, 0o600)
		}
	}
}
