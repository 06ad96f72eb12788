package main

import (
	"crypto/tls"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"meldeweg.dev/meldeweg/basim"
	"meldeweg.dev/meldeweg/basim/bacheck"
	"meldeweg.dev/meldeweg/schemas"
	"meldeweg.dev/meldeweg/transport/client"
	"meldeweg.dev/meldeweg/transport/pki"
)

// pkiEndpoint is the configuration of a channel's endpoint with every
// certificate and key from the test PKI in dir ("meldeweg pki init").
func pkiEndpoint(dir, stem, url string) map[string]any {
	p := func(f string) string { return filepath.Join(dir, f) }
	return map[string]any{"url": url, "ca_cert": p("ca.pem"),
		"client_cert": p(stem + "-client.pem"), "client_key": p(stem + "-client.key"),
		"sign_cert": p(stem + "-sign.pem"), "sign_key": p(stem + "-sign.key"),
		"encrypt_cert": p(stem + "-encrypt.pem"), "encrypt_key": p(stem + "-encrypt.key"),
		"ba_encrypt_cert": p("ba-encrypt.pem")}
}

// TestConfigCheck runs "config check" on a configuration with one kind
// of problem each, and on a good one.
func TestConfigCheck(t *testing.T) {
	dir := t.TempDir()
	pkiDir := filepath.Join(dir, "pki")
	if err := pki.Init(pkiDir, pki.InitOptions{}); err != nil {
		t.Fatal(err)
	}
	write := func(name, data string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	key, err := os.ReadFile(filepath.Join(pkiDir, "traeger-client.key"))
	if err != nil {
		t.Fatal(err)
	}
	openKey := write("open.key", string(key), 0o644)
	wrongPassword := write("wrong-password.txt", "not-the-password\n", 0o600)

	ca, err := pki.NewCA(pki.Spec{CommonName: "Old CA (test)"})
	if err != nil {
		t.Fatal(err)
	}
	old, err := ca.Issue(pki.Spec{CommonName: "expired (test)", Usage: pki.UsageClient,
		NotBefore: time.Now().AddDate(-2, 0, 0), NotAfter: time.Now().AddDate(0, 0, -3)})
	if err != nil {
		t.Fatal(err)
	}
	expired := filepath.Join(dir, "expired.pem")
	if err := pki.WritePEM(old, expired, filepath.Join(dir, "expired.key")); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(dir, "export")
	if err := os.Mkdir(src, 0o700); err != nil {
		t.Fatal(err)
	}
	bundleDir, err := filepath.Abs(filepath.Join("..", "..", "schemas", "bundles", "xsozial-ba-sgb2-4.3.0"))
	if err != nil {
		t.Fatal(err)
	}
	next := schemas.MonthOf(time.Now()).AddMonths(1)

	base := func() map[string]any {
		return map[string]any{"traeger": "12345", "register": filepath.Join(dir, "register.db"),
			"endpoints":    map[string]any{"xsozial": pkiEndpoint(pkiDir, "traeger", "https://ba.example:8443")},
			"certificates": []map[string]string{{"name": "ba-sign", "path": filepath.Join(pkiDir, "ba-sign.pem")}}}
	}
	xs := func(c map[string]any) map[string]any {
		return c["endpoints"].(map[string]any)["xsozial"].(map[string]any)
	}

	tests := []struct {
		name     string
		edit     func(c map[string]any)
		raw      string // the file as written, instead of edit
		mode     os.FileMode
		wantCode int
		want     []string
	}{
		{name: "good", edit: func(map[string]any) {}, wantCode: exitOK,
			want: []string{": good, 0 warning(s) (checked offline)"}},
		{name: "wrong password", edit: func(c map[string]any) {
			e := xs(c)
			e["client_cert"], e["client_key"], e["password_file"] = filepath.Join(pkiDir, "traeger-client.p12"), "", wrongPassword
		}, wantCode: exitFindings, want: []string{"endpoints.xsozial.password_file: ", "wrong password"}},
		{name: "key of another certificate", edit: func(c map[string]any) {
			xs(c)["sign_key"] = filepath.Join(pkiDir, "emaw-sign.key")
		}, wantCode: exitFindings, want: []string{"endpoints.xsozial.sign_cert: ", "private key does not belong to the certificate"}},
		{name: "key open to others", edit: func(c map[string]any) { xs(c)["client_key"] = openKey },
			wantCode: exitFindings, want: []string{"endpoints.xsozial.client_key: unsafe file mode", "chmod 600", "does not load"}},
		{name: "expired certificate", edit: func(c map[string]any) {
			c["certificates"] = []map[string]string{{"name": "old", "path": expired}}
		}, wantCode: exitFindings, want: []string{"certificates[0].path: certificate \"expired (test)\" expired on "}},
		{name: "certificate within cert_warn_days", edit: func(c map[string]any) { c["cert_warn_days"] = 400 },
			wantCode: exitOK, want: []string{"warning: ", "endpoints.xsozial.client_cert: certificate \"Traeger TLS client (test)\" expires in 36", "cert_warn_days is 400", ": good, "}},
		{name: "incomplete endpoint", edit: func(c map[string]any) { delete(xs(c), "ba_encrypt_cert") },
			wantCode: exitFindings, want: []string{"endpoints.xsozial.ba_encrypt_cert: not set; the xsozial channel needs it to deliver"}},
		{name: "no bundle for this month", edit: func(c map[string]any) {
			c["bundles"] = []map[string]any{{"standard": "xsozial-ba-sgb2", "version": "9.0.0", "valid_from": next.String(),
				"entry": "xsozial-ba-sgb2.xsd", "source": bundleDir}}
		}, wantCode: exitFindings, want: []string{"bundles: no xsozial-ba-sgb2 bundle in force for " + next.AddMonths(-1).String()}},
		{name: "shared place", edit: func(c map[string]any) { c["xsozial_source"], c["work_dir"] = src, src },
			wantCode: exitFindings, want: []string{"xsozial_source: " + src + " is also work_dir"}},
		{name: "register password in a readable file", edit: func(c map[string]any) {
			c["register"] = "postgres://meldeweg:s3cret@db.example/meldeweg"
			c["payloads"] = filepath.Join(dir, "payloads")
		}, mode: 0o644, wantCode: exitFindings, want: []string{"register: unsafe file mode", "holds the register's password and is 0644"}},
		{name: "unknown field", raw: "{\n  \"traeger\": \"12345\",\n  \"registr\": \"x.db\"\n}\n",
			wantCode: exitFindings, want: []string{".json:3: registr: unknown field", "does not load"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := tt.raw
			if data == "" {
				c := base()
				tt.edit(c)
				b, err := json.MarshalIndent(c, "", "  ")
				if err != nil {
					t.Fatal(err)
				}
				data = string(b)
			}
			mode := tt.mode
			if mode == 0 {
				mode = 0o600
			}
			conf := write(strings.ReplaceAll(tt.name, " ", "-")+".json", data, mode)
			code, stdout, stderr := runCLI(t, "--config", conf, "config", "check")
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.wantCode, stdout, stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(stdout, w) {
					t.Errorf("stdout lacks %q:\n%s", w, stdout)
				}
			}
			if strings.Contains(stdout, "s3cret") {
				t.Errorf("the register's password is printed:\n%s", stdout)
			}
		})
	}
	if code, _, _ := runCLI(t, "config", "check", "extra"); code != exitError {
		t.Errorf("config check with an argument: exit %d, want 2", code)
	}
}

// TestConfigCheckOnline makes real mutual TLS handshakes on loopback:
// with the simulator (success), with a server whose certificate another
// CA issued (the problem names that certificate), and with a server that
// does not accept the client certificate.
func TestConfigCheckOnline(t *testing.T) {
	ba := startBA(t, bacheck.Config{}, basim.Faults{})
	other := filepath.Join(ba.dir, "other-pki")
	if err := pki.Init(other, pki.InitOptions{}); err != nil {
		t.Fatal(err)
	}
	serve := func(t *testing.T, serverPKI string, clientCAs string) string {
		id, err := pki.LoadIdentity(filepath.Join(serverPKI, "ba-server.pem"), filepath.Join(serverPKI, "ba-server.key"), pki.Password{})
		if err != nil {
			t.Fatal(err)
		}
		pool, err := pki.CertPool(filepath.Join(clientCAs, "ca.pem"))
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
		cert := tls.Certificate{Certificate: [][]byte{id.Cert.Raw}, PrivateKey: id.Key, Leaf: id.Cert}
		cfg, err := client.ServerTLSConfig(cert, pool)
		if err != nil {
			t.Fatal(err)
		}
		srv.TLS = cfg
		srv.StartTLS()
		t.Cleanup(srv.Close)
		return srv.URL
	}
	check := func(t *testing.T, url string) (int, string) {
		t.Helper()
		conf := filepath.Join(t.TempDir(), "meldeweg.json")
		writeJSON(t, conf, map[string]any{"register": filepath.Join(ba.dir, "register.db"), "endpoints": map[string]any{
			"xsozial": pkiEndpoint(ba.pkiDir, "traeger", url), "emaw": pkiEndpoint(ba.pkiDir, "emaw", url)}})
		code, stdout, stderr := runCLI(t, "--config", conf, "config", "check", "--online", "--timeout", "20s")
		return code, stdout + stderr
	}

	t.Run("simulator", func(t *testing.T) {
		if code, out := check(t, ba.url); code != exitOK || !strings.Contains(out, "good, 0 warning(s) (checked online)") {
			t.Fatalf("exit %d:\n%s", code, out)
		}
	})
	t.Run("untrusted server certificate", func(t *testing.T) {
		url := serve(t, other, ba.pkiDir)
		code, out := check(t, url)
		want := "endpoints.xsozial.url: handshake with 127.0.0.1:"
		if code != exitFindings || !strings.Contains(out, want) || !strings.Contains(out, "endpoints.emaw.url: handshake") ||
			!strings.Contains(out, "the server's certificate (subject CN=localhost,") ||
			!strings.Contains(out, "is not signed by a pinned CA") || !strings.Contains(out, "issuer CN=Meldeweg Test Root CA") || !strings.Contains(out, "SHA-256 fingerprint") {
			t.Fatalf("exit %d:\n%s", code, out)
		}
	})
	t.Run("client certificate refused", func(t *testing.T) {
		url := serve(t, ba.pkiDir, other)
		code, out := check(t, url)
		if code != exitFindings || !strings.Contains(out, "endpoints.xsozial.url: handshake with") ||
			!strings.Contains(out, "the server refused the handshake") || !strings.Contains(out, "Traeger TLS client (test)") {
			t.Fatalf("exit %d:\n%s", code, out)
		}
	})
}
