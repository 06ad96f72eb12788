package settings

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"meldeweg.dev/meldeweg/transport/baapi"
	"meldeweg.dev/meldeweg/transport/cms"
)

// testBundle is one resolver run's world: a directory with the file and
// the files it names.
type testBundle struct {
	dir string
	env map[string]string
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	b := &testBundle{dir: t.TempDir(), env: map[string]string{}}
	b.write(t, "ca.pem", "-----BEGIN CERTIFICATE-----\n", 0o644)
	b.write(t, "sign.pem", "-----BEGIN CERTIFICATE-----\n", 0o644)
	b.write(t, "sign.key", "-----BEGIN PRIVATE KEY-----\n", 0o600)
	b.write(t, "password", "secret\n", 0o600)
	return b
}

func (b *testBundle) write(t *testing.T, name, content string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(b.dir, name)
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil { // past the umask
		t.Fatal(err)
	}
	return p
}

func (b *testBundle) mkdir(t *testing.T, name string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(b.dir, name)
	if err := os.Mkdir(p, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
	return p
}

func (b *testBundle) resolve(t *testing.T, config string, flags ...Flag) (*Settings, error) {
	t.Helper()
	in := Input{LookupEnv: func(k string) (string, bool) { v, ok := b.env[k]; return v, ok }, Flags: flags, WorkingDir: b.dir}
	if config != "" {
		in.File = b.write(t, "meldeweg.json", config, 0o644)
	}
	return Resolve(in)
}

const fullFile = `{
  "traeger": "12345",
  "register": "data/reg.db",
  "work_dir": "out",
  "cert_warn_days": 30,
  "endpoints": {
    "xsozial": {"url": "https://file.example", "ca_cert": "ca.pem", "sign_cert": "sign.pem", "sign_key": "sign.key", "cms_profile": "bsi"},
    "emaw": {"url": "https://emaw.file.example"}
  }
}`

// Every field takes its value from the highest source that sets it:
// flags > environment > file > defaults.
func TestResolvePrecedence(t *testing.T) {
	t.Parallel()
	type got struct{ value, source string }
	read := map[string]func(s *Settings) string{
		"traeger":                       func(s *Settings) string { return s.Traeger },
		"register":                      func(s *Settings) string { return s.Register.Location },
		"work_dir":                      func(s *Settings) string { return s.WorkDir },
		"cert_warn_days":                func(s *Settings) string { return strings.Repeat("d", s.CertWarnDays) },
		"endpoints.xsozial.cms_profile": func(s *Settings) string { return string(s.Endpoints[baapi.ChannelXSozial].Profile) },
		"endpoints.emaw.url":            func(s *Settings) string { return s.Endpoints[baapi.ChannelEmaw].URL.String() },
	}
	tests := []struct {
		name  string
		file  bool
		env   map[string]string
		flags []Flag
		field string
		want  func(dir string) got
	}{
		{"traeger default", false, nil, nil, "traeger", func(string) got { return got{"", ""} }},
		{"traeger file", true, nil, nil, "traeger", func(string) got { return got{"12345", "meldeweg.json"} }},
		{"traeger env over file", true, map[string]string{"MELDEWEG_TRAEGER": "54321"}, nil, "traeger",
			func(string) got { return got{"54321", "$MELDEWEG_TRAEGER"} }},
		{"traeger flag over env", true, map[string]string{"MELDEWEG_TRAEGER": "54321"}, []Flag{{"--traeger", "traeger", "11111"}}, "traeger",
			func(string) got { return got{"11111", "--traeger"} }},
		{"traeger empty env and unset flag fall through", true, map[string]string{"MELDEWEG_TRAEGER": ""}, []Flag{{"--traeger", "traeger", ""}}, "traeger",
			func(string) got { return got{"12345", "meldeweg.json"} }},
		{"register default", false, nil, nil, "register", func(string) got { return got{DefaultRegister, "default"} }},
		{"register file, relative to the file", true, nil, nil, "register",
			func(dir string) got { return got{filepath.Join(dir, "data", "reg.db"), "meldeweg.json"} }},
		{"register env, relative to the working directory", true, map[string]string{"MELDEWEG_REGISTER": "e.db"}, nil, "register",
			func(string) got { return got{"e.db", "$MELDEWEG_REGISTER"} }},
		{"register flag", true, map[string]string{"MELDEWEG_REGISTER": "e.db"}, []Flag{{"--register", "register", "f.db"}}, "register",
			func(string) got { return got{"f.db", "--register"} }},
		{"work_dir default", false, nil, nil, "work_dir", func(string) got { return got{DefaultWorkDir, "default"} }},
		{"work_dir env over file", true, map[string]string{"MELDEWEG_WORK_DIR": "w"}, nil, "work_dir",
			func(string) got { return got{"w", "$MELDEWEG_WORK_DIR"} }},
		{"work_dir flag", true, nil, []Flag{{"--work", "work_dir", "fw"}}, "work_dir", func(string) got { return got{"fw", "--work"} }},
		{"cert_warn_days default", false, nil, nil, "cert_warn_days", func(string) got { return got{strings.Repeat("d", 60), "default"} }},
		{"cert_warn_days file", true, nil, nil, "cert_warn_days", func(string) got { return got{strings.Repeat("d", 30), "meldeweg.json"} }},
		{"cert_warn_days env", true, map[string]string{"MELDEWEG_CERT_WARN_DAYS": "7"}, nil, "cert_warn_days",
			func(string) got { return got{strings.Repeat("d", 7), "$MELDEWEG_CERT_WARN_DAYS"} }},
		{"profile file", true, nil, nil, "endpoints.xsozial.cms_profile", func(string) got { return got{"bsi", "meldeweg.json"} }},
		{"profile env", true, map[string]string{"MELDEWEG_ENDPOINTS_XSOZIAL_CMS_PROFILE": "compat"}, nil, "endpoints.xsozial.cms_profile",
			func(string) got { return got{"compat", "$MELDEWEG_ENDPOINTS_XSOZIAL_CMS_PROFILE"} }},
		{"profile flag over env", true, map[string]string{"MELDEWEG_ENDPOINTS_XSOZIAL_CMS_PROFILE": "compat"},
			EndpointFlags("--profile", "cms_profile", "bsi"), "endpoints.xsozial.cms_profile", func(string) got { return got{"bsi", "--profile"} }},
		{"url file", true, nil, nil, "endpoints.emaw.url", func(string) got { return got{"https://emaw.file.example", "meldeweg.json"} }},
		{"url env", true, map[string]string{"MELDEWEG_ENDPOINTS_EMAW_URL": "https://env.example:8443"}, nil, "endpoints.emaw.url",
			func(string) got { return got{"https://env.example:8443", "$MELDEWEG_ENDPOINTS_EMAW_URL"} }},
		{"url flag over env", true, map[string]string{"MELDEWEG_ENDPOINTS_EMAW_URL": "https://env.example:8443"},
			EndpointFlags("--url", "url", "https://127.0.0.1:1"), "endpoints.emaw.url", func(string) got { return got{"https://127.0.0.1:1", "--url"} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			for k, v := range tt.env {
				b.env[k] = v
			}
			cfg := ""
			if tt.file {
				cfg = fullFile
			}
			s, err := b.resolve(t, cfg, tt.flags...)
			if err != nil {
				t.Fatal(err)
			}
			want := tt.want(b.dir)
			if want.source != "" && want.source != "default" && !strings.HasPrefix(want.source, "$") && !strings.HasPrefix(want.source, "-") {
				want.source = filepath.Join(b.dir, want.source)
			}
			if g := (got{read[tt.field](s), s.Source(tt.field)}); g != want {
				t.Errorf("%s: got %q from %q, want %q from %q", tt.field, g.value, g.source, want.value, want.source)
			}
		})
	}
}

// Every kind of bad value is an error that names the source (file and
// line, variable or flag) and the field.
func TestResolveErrorsNameFieldAndSource(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		config string
		env    map[string]string
		flags  []Flag
		want   string // after the file's directory
		is     error
	}{
		{name: "profile in the file",
			config: "{\n  \"endpoints\": {\n    \"emaw\": {\"cms_profile\": \"bsi2\"}\n  }\n}",
			want:   `meldeweg.json:3: endpoints.emaw.cms_profile: "bsi2" is not a CMS profile (want compat or bsi)`},
		{name: "profile in the environment", env: map[string]string{"MELDEWEG_CMS_PROFILE": "strong"},
			want: `$MELDEWEG_CMS_PROFILE: cms_profile: "strong" is not a CMS profile (want compat or bsi)`},
		{name: "profile flag", flags: EndpointFlags("--profile", "cms_profile", "BSI"),
			want: `--profile: endpoints.xsozial.cms_profile: "BSI" is not a CMS profile`},
		{name: "plain http", flags: EndpointFlags("--url", "url", "http://127.0.0.1:8443"),
			want: `--url: endpoints.xsozial.url: "http://127.0.0.1:8443": want https://HOST[:PORT][/PATH]`},
		{name: "not a URL", config: `{"endpoints": {"xsozial": {"url": "https://[::1"}}}`,
			want: `meldeweg.json:1: endpoints.xsozial.url: "https://[::1" is not a URL`},
		{name: "URL password is not echoed", config: `{"endpoints": {"xsozial": {"url": "https://u:hunter2@h"}}}`,
			want: `meldeweg.json:1: endpoints.xsozial.url: "https://u:xxxxx@h": want https://`},
		{name: "Trägernummer", config: "{\"traeger\": \"1234\"}",
			want: `meldeweg.json:1: traeger: "1234" is not a Trägernummer (want five digits)`},
		{name: "days not a number", env: map[string]string{"MELDEWEG_CERT_WARN_DAYS": "soon"},
			want: `$MELDEWEG_CERT_WARN_DAYS: cert_warn_days: "soon": want a positive whole number of days`},
		{name: "days negative", config: "{\n\"cert_warn_days\": -5}",
			want: `meldeweg.json:2: cert_warn_days: "-5": want a positive whole number of days`},
		{name: "wrong kind", config: "{\n  \"traeger\": 12345\n}",
			want: `meldeweg.json:2: traeger: the number 12345, want a string`},
		{name: "wrong kind in a list", config: "{\"certificates\": [\n{\"path\": \"ca.pem\"},\n{\"path\": true}]}",
			want: `meldeweg.json:3: certificates[1].path: true, want a string`},
		{name: "unknown field", config: "{\n\"schema_dir\": \"x\"}", is: ErrUnknownField,
			want: `meldeweg.json:2: schema_dir: unknown field (known here: bundles, cert_warn_days, certificates, checkpoint_dir, checkpoint_origin, checkpoint_signer_key, checkpoint_verifier_key, cms_profile, endpoints, kek_command, kek_env, kek_file, massnahmen, payloads, register, schema_dirs, service, tenants, traeger, work_dir, xsozial_source)`},
		{name: "unknown nested field", config: "{\"endpoints\": {\n \"xsozial\": {\n  \"cms_profil\": \"bsi\"}}}", is: ErrUnknownField,
			want: `meldeweg.json:3: endpoints.xsozial.cms_profil: unknown field`},
		{name: "field in the wrong case", config: `{"Traeger": "12345"}`, is: ErrUnknownField,
			want: `meldeweg.json:1: Traeger: unknown field`},
		{name: "unknown channel", config: "{\"endpoints\": {\n\"xsozial2\": {}}}", is: ErrUnknownField,
			want: `meldeweg.json:2: endpoints.xsozial2: unknown field: "xsozial2" is not a channel (want xsozial or emaw)`},
		{name: "bundle month", config: "{\"bundles\": [\n{\"standard\": \"x\", \"valid_from\": \"2026-13\"}]}",
			want: `meldeweg.json:2: bundles[0].valid_from: `},
		{name: "syntax", config: "{\n\"traeger\": \"12345\",\n}",
			want: `meldeweg.json:3: not valid JSON: invalid character '}' looking for beginning of object key string`},
		{name: "trailing data", config: "{}\n{}",
			want: `meldeweg.json:2: unexpected data after the configuration object`},
		{name: "missing certificate", config: `{"endpoints": {"xsozial": {"ca_cert": "nope.pem"}}}`, is: os.ErrNotExist,
			want: `meldeweg.json:1: endpoints.xsozial.ca_cert: stat `},
		{name: "missing schema dir from the flag side", config: `{"schema_dirs": ["nope"]}`, is: os.ErrNotExist,
			want: `meldeweg.json:1: schema_dirs[0]: stat `},
		{name: "a missing directory is named once", flags: TestPKIFlags("--pki", "nope"), is: os.ErrNotExist,
			want: `--pki: endpoints.xsozial.ca_cert: nope/ca.pem: the directory nope does not exist: file does not exist`},
		{name: "two password sources", config: `{"endpoints": {"emaw": {"password_file": "password", "password_env": "PW"}}}`,
			want: `meldeweg.json:1: endpoints.emaw.password_env: give password_file or password_env, not both`},
		{name: "certificate without path", config: `{"certificates": [{"name": "x"}]}`,
			want: `meldeweg.json:1: certificates[0].path: is required`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			for k, v := range tt.env {
				b.env[k] = v
			}
			_, err := b.resolve(t, tt.config, tt.flags...)
			if err == nil {
				t.Fatalf("no error, want %q", tt.want)
			}
			msg := strings.ReplaceAll(err.Error(), b.dir+string(filepath.Separator), "")
			if !strings.Contains(msg, tt.want) {
				t.Errorf("got  %s\nwant %s", msg, tt.want)
			}
			if strings.Contains(msg, "hunter2") {
				t.Errorf("the error shows a password: %s", msg)
			}
			var ce *Error
			if !errors.As(err, &ce) {
				t.Errorf("%T is not a *settings.Error", err)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("errors.Is(%v, %v) = false", err, tt.is)
			}
		})
	}
}

// Keys, password files and PKCS#12 files must be 0600, directories of
// personal data 0700; the error names field, source and the fix.
func TestResolveUnsafeModes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		prepare func(t *testing.T, b *testBundle) (config string, flags []Flag)
		want    string // "" for no error
	}{
		{"key 0600 is fine", func(t *testing.T, b *testBundle) (string, []Flag) {
			return `{"endpoints": {"xsozial": {"sign_cert": "sign.pem", "sign_key": "sign.key"}}}`, nil
		}, ""},
		{"key 0400 is fine", func(t *testing.T, b *testBundle) (string, []Flag) {
			b.write(t, "ro.key", "k", 0o400)
			return `{"endpoints": {"xsozial": {"sign_cert": "sign.pem", "sign_key": "ro.key"}}}`, nil
		}, ""},
		{"key 0644", func(t *testing.T, b *testBundle) (string, []Flag) {
			b.write(t, "open.key", "k", 0o644)
			return "{\"endpoints\": {\"xsozial\": {\n\"sign_cert\": \"sign.pem\",\n\"sign_key\": \"open.key\"}}}", nil
		}, "meldeweg.json:3: endpoints.xsozial.sign_key: unsafe file mode: open.key is 0644; a key or password file must be readable by its owner only (chmod 600 open.key)"},
		{"key from a flag's test PKI", func(t *testing.T, b *testBundle) (string, []Flag) {
			pkiDir := b.mkdir(t, "pki", 0o755)
			for _, f := range []string{"ca.pem", "traeger-client.pem", "traeger-sign.pem", "traeger-encrypt.pem", "ba-encrypt.pem",
				"emaw-client.pem", "emaw-sign.pem", "emaw-encrypt.pem", "traeger-sign.key", "traeger-encrypt.key", "emaw-client.key", "emaw-sign.key", "emaw-encrypt.key"} {
				b.write(t, filepath.Join("pki", f), "x", 0o600)
			}
			b.write(t, "pki/traeger-client.key", "k", 0o640)
			return "", TestPKIFlags("--pki", pkiDir)
		}, "--pki: endpoints.xsozial.client_key: unsafe file mode: pki/traeger-client.key is 0640"},
		{"password file 0640", func(t *testing.T, b *testBundle) (string, []Flag) {
			b.write(t, "pw", "x", 0o640)
			return `{"endpoints": {"emaw": {"password_file": "pw"}}}`, nil
		}, "meldeweg.json:1: endpoints.emaw.password_file: unsafe file mode: pw is 0640"},
		{"PKCS#12 as certificate 0644", func(t *testing.T, b *testBundle) (string, []Flag) {
			b.write(t, "client.p12", "x", 0o644)
			return `{"endpoints": {"xsozial": {"client_cert": "client.p12"}}}`, nil
		}, "endpoints.xsozial.client_cert: unsafe file mode: client.p12 is 0644"},
		{"PEM certificate holding its key 0644", func(t *testing.T, b *testBundle) (string, []Flag) {
			b.write(t, "both.pem", "-----BEGIN CERTIFICATE-----\n-----BEGIN RSA PRIVATE KEY-----\n", 0o644)
			return `{"endpoints": {"xsozial": {"encrypt_cert": "both.pem"}}}`, nil
		}, "endpoints.xsozial.encrypt_cert: unsafe file mode: both.pem is 0644"},
		{"public certificate 0644 is fine", func(t *testing.T, b *testBundle) (string, []Flag) {
			return `{"endpoints": {"xsozial": {"ca_cert": "ca.pem", "encrypt_cert": "sign.pem", "encrypt_key": "sign.key"}}}`, nil
		}, ""},
		{"watched PKCS#12 0644", func(t *testing.T, b *testBundle) (string, []Flag) {
			b.write(t, "w.p12", "x", 0o644)
			return `{"certificates": [{"path": "w.p12", "password_file": "password"}]}`, nil
		}, "meldeweg.json:1: certificates[0].path: unsafe file mode: w.p12 is 0644"},
		{"source directory 0755", func(t *testing.T, b *testBundle) (string, []Flag) {
			b.mkdir(t, "src", 0o755)
			return `{"xsozial_source": "src"}`, nil
		}, "meldeweg.json:1: xsozial_source: unsafe file mode: src is 0755; a directory holding personal data or keys must be open to its owner only (chmod 700 src)"},
		{"source directory missing", func(t *testing.T, b *testBundle) (string, []Flag) {
			return `{"xsozial_source": "src"}`, nil
		}, "meldeweg.json:1: xsozial_source: stat src: no such file or directory"},
		{"source directory a file", func(t *testing.T, b *testBundle) (string, []Flag) {
			b.write(t, "src", "", 0o600)
			return "", []Flag{{"--in", "xsozial_source", filepath.Join(b.dir, "src")}}
		}, "--in: xsozial_source: src is not a directory"},
		{"source directory 0700 is fine", func(t *testing.T, b *testBundle) (string, []Flag) {
			b.mkdir(t, "src", 0o700)
			return `{"xsozial_source": "src"}`, nil
		}, ""},
		{"work directory 0750", func(t *testing.T, b *testBundle) (string, []Flag) {
			b.mkdir(t, "out", 0o750)
			return `{"work_dir": "out"}`, nil
		}, "meldeweg.json:1: work_dir: unsafe file mode: out is 0750"},
		{"work directory not made yet is fine", func(t *testing.T, b *testBundle) (string, []Flag) {
			return `{"work_dir": "out/2026"}`, nil
		}, ""},
		{"default payload directory 0755", func(t *testing.T, b *testBundle) (string, []Flag) {
			b.mkdir(t, "r.db.payloads", 0o755)
			return "", []Flag{{"--register", "register", filepath.Join(b.dir, "r.db")}}
		}, "default: payloads: unsafe file mode: r.db.payloads is 0755"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			config, flags := tt.prepare(t, b)
			_, err := b.resolve(t, config, flags...)
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want %q", tt.want)
			}
			msg := strings.ReplaceAll(err.Error(), b.dir+string(filepath.Separator), "")
			if !strings.Contains(msg, tt.want) {
				t.Errorf("got  %s\nwant %s", msg, tt.want)
			}
			if strings.Contains(tt.want, "unsafe") && !errors.Is(err, ErrUnsafeMode) {
				t.Errorf("not ErrUnsafeMode: %v", err)
			}
		})
	}
}

func TestWithDefaultsReturnsACopy(t *testing.T) {
	t.Parallel()
	s := &Settings{Endpoints: map[baapi.Channel]Endpoint{baapi.ChannelEmaw: {}}}
	d := s.WithDefaults()
	if s.WorkDir != "" || s.Endpoints[baapi.ChannelEmaw].Profile != "" || s.CMSProfile != "" {
		t.Errorf("WithDefaults changed its receiver: %+v", s)
	}
	if d.WorkDir != DefaultWorkDir || d.Endpoints[baapi.ChannelEmaw].Profile != cms.ProfileCompat || d.CertWarnDays != DefaultCertWarnDays ||
		d.Register.Location != DefaultRegister || d.Payloads != DefaultRegister+".payloads" {
		t.Errorf("defaults: %+v", d)
	}
	pg := (&Settings{Register: Register{Location: "postgres://m:pw@db/m"}}).WithDefaults()
	if pg.Payloads != DefaultPostgresPayloads {
		t.Errorf("payloads of a PostgreSQL register: %q", pg.Payloads)
	}
	if got := pg.Register.String(); strings.Contains(got, "pw@") || got != "postgres://m:xxxxx@db/m" {
		t.Errorf("Register.String = %q", got)
	}
}

// Every field has a variable under one rule, and every field of the
// file's endpoints is a field.
func TestFieldsAndVariables(t *testing.T) {
	t.Parallel()
	for f, want := range map[string]string{
		"work_dir":                     "MELDEWEG_WORK_DIR",
		"register":                     "MELDEWEG_REGISTER",
		"endpoints.emaw.cms_profile":   "MELDEWEG_ENDPOINTS_EMAW_CMS_PROFILE",
		"endpoints.xsozial.client_key": "MELDEWEG_ENDPOINTS_XSOZIAL_CLIENT_KEY",
	} {
		if got := EnvVar(f); got != want {
			t.Errorf("EnvVar(%q) = %q, want %q", f, got, want)
		}
	}
	if n := len(Fields()); n != 13+2*len(endpointKeys) {
		t.Errorf("%d fields", n)
	}
	if _, err := Resolve(Input{Flags: []Flag{{"--x", "nope", "v"}}}); err == nil {
		t.Error("a flag for an unknown field was taken")
	}
}

// A test PKI directory that does not exist is one error, not one per file.
func TestMissingDirectoryReportedOnce(t *testing.T) {
	t.Parallel()
	_, err := Resolve(Input{Flags: TestPKIFlags("--pki", filepath.Join(t.TempDir(), "nope"))})
	if err == nil {
		t.Fatal("no error")
	}
	if n := strings.Count(err.Error(), "--pki:"); n != 1 {
		t.Errorf("%d errors, want 1:\n%v", n, err)
	}
}

// A checkpoint signer key open to group or others is refused, naming the
// field; a private one is taken.
func TestCheckpointSignerKeyMode(t *testing.T) {
	t.Parallel()
	key := filepath.Join(t.TempDir(), "checkpoint.key")
	if err := os.WriteFile(key, []byte("PRIVATE+KEY+x+1+AAAA\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Resolve(Input{Flags: []Flag{{"--signer-key", "checkpoint_signer_key", key}}})
	if !errors.Is(err, ErrUnsafeMode) || !strings.Contains(err.Error(), "checkpoint_signer_key") {
		t.Fatalf("a 0644 signer key: %v", err)
	}
	if err := os.Chmod(key, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := Resolve(Input{Flags: []Flag{{"--signer-key", "checkpoint_signer_key", key}, {"--origin", "checkpoint_origin", "meldeweg.test/a"}}})
	if err != nil || s.Checkpoints.SignerKey != key || s.Checkpoints.Origin != "meldeweg.test/a" {
		t.Fatalf("a 0600 signer key: %+v, %v", s, err)
	}
	if _, err := Resolve(Input{Flags: []Flag{{"--origin", "checkpoint_origin", "two words"}}}); err == nil || !strings.Contains(err.Error(), "checkpoint_origin") {
		t.Fatalf("an origin with a space: %v", err)
	}
}
