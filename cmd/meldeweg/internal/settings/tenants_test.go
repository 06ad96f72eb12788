package settings

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"meldeweg.dev/meldeweg/transport/register"
)

// Without "tenants" the configuration is the one tenant "default", as
// before tenants existed.
func TestSingleTenantIsDefault(t *testing.T) {
	t.Parallel()
	b := setup(t)
	s, err := b.resolve(t, `{"traeger": "12345"}`)
	if err != nil {
		t.Fatal(err)
	}
	if s.Tenant != register.DefaultTenant || len(s.Tenants) != 1 {
		t.Errorf("tenant %q of %v; want default of [default]", s.Tenant, s.Tenants)
	}
	in := Input{File: filepath.Join(b.dir, "meldeweg.json"), Tenant: "traeger-a", WorkingDir: b.dir}
	if _, err := Resolve(in); err == nil || !strings.Contains(err.Error(), `"traeger-a"`) {
		t.Errorf("--tenant traeger-a without tenants: %v; want an error naming it", err)
	}
}

const twoTenants = `{
  "cms_profile": "bsi",
  "tenants": {
    "kreis-a": {"traeger": "12345", "register": "a/register.db", "massnahmen": ["12321114"]},
    "kreis-b": {"traeger": "54321", "register": "b/register.db"}
  }
}`

func TestTenantChosen(t *testing.T) {
	t.Parallel()
	b := setup(t)
	file := b.write(t, "meldeweg.json", twoTenants, 0o644)
	for _, tc := range []struct {
		tenant, traeger, register string
	}{{"kreis-a", "12345", "a/register.db"}, {"kreis-b", "54321", "b/register.db"}} {
		s, err := Resolve(Input{File: file, Tenant: tc.tenant})
		if err != nil {
			t.Fatal(err)
		}
		if s.Tenant != register.TenantID(tc.tenant) || s.Traeger != tc.traeger ||
			s.Register.Location != filepath.Join(b.dir, tc.register) || s.CMSProfile != "bsi" {
			t.Errorf("%s: tenant %q traeger %q register %q profile %q", tc.tenant, s.Tenant, s.Traeger, s.Register.Location, s.CMSProfile)
		}
		if s.Payloads != filepath.Join(b.dir, tc.register)+".payloads" {
			t.Errorf("%s: payloads %q; want the register's own", tc.tenant, s.Payloads)
		}
	}
	_, err := Resolve(Input{File: file})
	if err == nil || !strings.Contains(err.Error(), "kreis-a, kreis-b") || !strings.Contains(err.Error(), "--tenant") {
		t.Errorf("no tenant with two configured: %v; want an error listing them", err)
	}
	_, err = Resolve(Input{File: file, Tenant: "kreis-c", TenantFrom: "$MELDEWEG_TENANT"})
	if err == nil || !strings.Contains(err.Error(), `$MELDEWEG_TENANT: tenant: "kreis-c" is not a tenant`) {
		t.Errorf("unknown tenant: %v", err)
	}
}

// Two tenants may not share a register, a key directory, a
// key-encryption key or a certificate of their own; the error names both
// tenants and the fields.
func TestTenantsShareNothing(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, config, want string
	}{
		{"register", `{"tenants": {"kreis-a": {"traeger": "12345"}, "kreis-b": {"traeger": "54321"}}}`,
			`tenants.kreis-b.register: tenants "kreis-a" and "kreis-b" share`},
		{"payloads", `{"tenants": {"kreis-a": {"register": "a.db", "payloads": "keys"}, "kreis-b": {"register": "b.db", "payloads": "keys"}}}`,
			`tenants.kreis-b.payloads: tenants "kreis-a" and "kreis-b" share`},
		{"kek", `{"tenants": {"kreis-a": {"register": "a.db", "kek_file": "/etc/kek"}, "kreis-b": {"register": "b.db", "kek_file": "/etc/kek"}}}`,
			`tenants.kreis-b.kek_file: tenants "kreis-a" and "kreis-b" share /etc/kek (kek_file of "kreis-a", kek_file of "kreis-b")`},
		{"certificate", `{"endpoints": {"xsozial": {"sign_cert": "sign.pem", "sign_key": "sign.key"}},
			"tenants": {"kreis-a": {"register": "a.db"}, "kreis-b": {"register": "b.db"}}}`,
			`tenants.kreis-b.endpoints.xsozial.sign_cert: tenants "kreis-a" and "kreis-b" share`},
		{"postgres", `{"tenants": {"kreis-a": {"register": "postgres://m:pw@db/reg", "payloads": "ka"}, "kreis-b": {"register": "postgres://m:pw@db/reg", "payloads": "kb"}}}`,
			`share postgres://m:xxxxx@db/reg (register of "kreis-a", register of "kreis-b")`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			file := b.write(t, "meldeweg.json", tc.config, 0o644)
			_, err := Resolve(Input{File: file, Tenant: "kreis-a"})
			var se *Error
			if !errors.As(err, &se) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got  %v\nwant an *Error containing %s", err, tc.want)
			}
			if strings.Contains(err.Error(), ":pw@") {
				t.Error("the error shows the database password")
			}
		})
	}
}
