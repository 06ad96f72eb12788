package settings

import (
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"meldeweg.dev/meldeweg/transport/baapi"
	"meldeweg.dev/meldeweg/transport/cms"
	"meldeweg.dev/meldeweg/transport/pki"
	"meldeweg.dev/meldeweg/transport/register"
)

// Input is what Resolve merges.
type Input struct {
	// File is the configuration file: --config, else $MELDEWEG_CONFIG;
	// "" for none.
	File string
	// LookupEnv reads the environment (os.LookupEnv); nil reads none. A
	// variable set to "" counts as not set.
	LookupEnv func(string) (string, bool)
	// Flags are the command's flags that set fields. For one field, a
	// later Flag wins over an earlier one; a Flag with Value "" is not
	// given.
	Flags []Flag
	// SchemaDirs come from --schema-dir; they are added to the file's
	// schema_dirs.
	SchemaDirs []string
	// WorkingDir is Dir when there is no file; "" means ".".
	WorkingDir string
	// Tenant is the tenant of the run: --tenant, else $MELDEWEG_TENANT;
	// "" for the only one configured.
	Tenant string
	// TenantFrom names where Tenant came from ("--tenant",
	// "$MELDEWEG_TENANT"), for errors.
	TenantFrom string
}

// Flag is one command-line flag that sets a field.
type Flag struct {
	// Name is the flag as the operator writes it: "--url".
	Name string
	// Field is the field it sets: "endpoints.xsozial.url".
	Field string
	// Value is what was given; "" when the flag was not given.
	Value string
}

// value is one field's value as written, with where it was written.
type value struct {
	raw  string
	from origin
	dir  string // for a relative path: the file's directory, else ""
}

// path returns the value as a path, a relative one from the file taken
// against the file's directory.
func (v value) path() string {
	if v.raw == "" || v.dir == "" || filepath.IsAbs(v.raw) {
		return v.raw
	}
	return filepath.Join(v.dir, v.raw)
}

// Fields lists every single-valued field by its path in the file, in the
// order of the docs. Each can be set in the file and in the environment
// (EnvVar); lists (schema_dirs, bundles, certificates) only in the file.
func Fields() []string {
	out := []string{"traeger", "xsozial_source", "work_dir", "register", "payloads", "kek_file", "kek_env", "cms_profile", "cert_warn_days",
		"checkpoint_signer_key", "checkpoint_verifier_key", "checkpoint_origin", "checkpoint_dir"}
	for _, ch := range baapi.Channels() {
		for _, k := range endpointKeys {
			out = append(out, endpointField(ch, k.name))
		}
	}
	return out
}

// EnvVar is the environment variable of a field: MELDEWEG_ and the
// field's path in upper case with "_" for ".": MELDEWEG_WORK_DIR,
// MELDEWEG_ENDPOINTS_EMAW_CMS_PROFILE.
func EnvVar(field string) string {
	return "MELDEWEG_" + strings.ToUpper(strings.ReplaceAll(field, ".", "_"))
}

// Resolve merges the configuration file, the environment and the flags
// into Settings, with one precedence for every field:
//
//	flags > environment > file > defaults
//
// A list from the file is extended, not replaced, by its flag
// (--schema-dir). It parses every value into its type, fills the
// defaults (WithDefaults), validates the values, and checks that the
// paths it names exist with safe modes (see the package doc). Every
// problem is an *Error naming field and source; all are returned joined.
//
// With "tenants" in the file, the run is one tenant's (Input.Tenant, or
// the only one configured): the tenant's fields laid over the top level.
// Every tenant is resolved, and two that share a register, a key
// directory, a key-encryption key file or a certificate or key of their
// own are refused, naming both.
func Resolve(in Input) (*Settings, error) {
	var l *loaded
	if in.File != "" {
		var err error
		if l, err = readFile(in.File); err != nil {
			return nil, err
		}
	}
	if in.TenantFrom == "" {
		in.TenantFrom = "--tenant"
	}
	tenant, names, err := chooseTenant(l, in.Tenant, in.TenantFrom)
	if err != nil {
		return nil, err
	}
	if l == nil || len(l.f.Tenants) == 0 {
		return resolveOne(in, l, tenant, names, false)
	}
	all := map[string]*Settings{}
	var chosen *Settings
	for _, n := range names {
		if n == string(tenant) {
			if chosen, err = resolveOne(in, l.forTenant(n), tenant, names, false); err != nil {
				return nil, err
			}
			all[n] = chosen
			continue
		}
		// The others only as written in the file, for the checks
		// between tenants; their own problems show when they run.
		other, _ := resolveOne(Input{File: in.File, WorkingDir: in.WorkingDir}, l.forTenant(n), register.TenantID(n), names, true)
		all[n] = other
	}
	if errs := checkShared(in.File, all); len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return chosen, nil
}

// resolveOne resolves the configuration of one tenant, whose view of the
// file is l (nil without a file). lenient returns the settings without
// validating them or checking paths.
func resolveOne(in Input, l *loaded, tenant register.TenantID, tenants []string, lenient bool) (*Settings, error) {
	vals := map[string]value{}
	s := &Settings{File: in.File, Tenant: tenant, origins: map[string]origin{}}
	for _, n := range tenants {
		s.Tenants = append(s.Tenants, register.TenantID(n))
	}
	var errs []error
	if l != nil {
		s.Dir = l.dir
		for k, v := range l.f.scalars() {
			vals[k] = value{raw: v, from: origin{source: in.File, line: l.lines[k]}, dir: l.dir}
		}
		for ch := range l.f.Endpoints {
			if _, err := baapi.ParseChannel(ch); err != nil {
				f := "endpoints." + ch
				errs = append(errs, &Error{Source: in.File, Line: l.lines[f], Field: f,
					Err: fmt.Errorf("%w: %q is not a channel (want xsozial or emaw)", ErrUnknownField, ch)})
			}
		}
	} else {
		wd, err := filepath.Abs(in.WorkingDir)
		if err != nil {
			return nil, err
		}
		s.Dir = wd
	}
	known := map[string]bool{}
	for _, f := range Fields() {
		known[f] = true
		if in.LookupEnv == nil {
			continue
		}
		name := EnvVar(f)
		if v, ok := in.LookupEnv(name); ok && v != "" {
			vals[f] = value{raw: v, from: origin{source: "$" + name}}
		}
	}
	for _, f := range in.Flags {
		if !known[f.Field] {
			return nil, fmt.Errorf("internal: flag %s sets the unknown field %q", f.Name, f.Field)
		}
		if f.Value != "" {
			vals[f.Field] = value{raw: f.Value, from: origin{source: f.Name}}
		}
	}
	for k, v := range vals {
		s.origins[k] = v.from
	}

	// Lists: from the file only, --schema-dir added.
	if l != nil {
		for i, d := range l.f.SchemaDirs {
			f := fmt.Sprintf("schema_dirs[%d]", i)
			s.origins[f] = origin{source: in.File, line: l.lines[f]}
			s.SchemaDirs = append(s.SchemaDirs, value{raw: d, dir: l.dir}.path())
		}
		s.Bundles = l.f.Bundles
		s.Massnahmen = l.f.Massnahmen
		for i := range s.Massnahmen {
			s.origins[fmt.Sprintf("massnahmen[%d]", i)] = origin{source: in.File, line: l.lines[fmt.Sprintf("massnahmen[%d]", i)]}
		}
		if len(l.f.KEKCommand) > 0 {
			s.KEK.Command = slices.Clone(l.f.KEKCommand)
			s.origins["kek_command"] = origin{source: in.File, line: l.lines["kek_command"]}
		}
		for i, c := range l.f.Certificates {
			f := fmt.Sprintf("certificates[%d]", i)
			for _, k := range []string{"path", "password_file", "password_env"} {
				line, ok := l.lines[f+"."+k]
				if !ok {
					line = l.lines[f] // a missing key: the list entry's line
				}
				s.origins[f+"."+k] = origin{source: in.File, line: line}
			}
			s.Certificates = append(s.Certificates, Certificate{Name: c.Name,
				Path:     value{raw: c.Path, dir: l.dir}.path(),
				Password: passwordOf(c.PasswordFile, l.dir, c.PasswordEnv)})
		}
	}
	for _, d := range in.SchemaDirs {
		s.origins[fmt.Sprintf("schema_dirs[%d]", len(s.SchemaDirs))] = origin{source: "--schema-dir"}
		s.SchemaDirs = append(s.SchemaDirs, d)
	}

	// Single values: parse each into its type.
	get := func(f string) value { return vals[f] }
	s.Traeger = get("traeger").raw
	s.XSozialSource = get("xsozial_source").path()
	s.WorkDir = get("work_dir").path()
	s.Payloads = get("payloads").path()
	s.Checkpoints = Checkpoints{SignerKey: get("checkpoint_signer_key").path(), VerifierKey: get("checkpoint_verifier_key").path(),
		Origin: get("checkpoint_origin").raw, Dir: get("checkpoint_dir").path()}
	s.KEK.File = get("kek_file").path()
	s.KEK.Env = get("kek_env").raw
	if r := get("register"); isPostgresURL(r.raw) {
		s.Register.Location = r.raw
	} else {
		s.Register.Location = r.path()
	}
	if v := get("cms_profile"); v.raw != "" {
		s.CMSProfile = cms.Profile(v.raw) // validate judges it
	}
	if v := get("cert_warn_days"); v.raw != "" {
		if n, err := strconv.Atoi(v.raw); err != nil || n <= 0 {
			errs = append(errs, s.errorf("cert_warn_days", "%q: want a positive whole number of days", v.raw))
		} else {
			s.CertWarnDays = n
		}
	}
	for _, ch := range baapi.Channels() {
		var e Endpoint
		set := false
		for _, k := range endpointKeys {
			if get(endpointField(ch, k.name)).raw != "" {
				set = true
			}
		}
		if !set {
			continue
		}
		p := func(k string) string { return get(endpointField(ch, k)).path() }
		e.CACert, e.ClientCert, e.ClientKey = p("ca_cert"), p("client_cert"), p("client_key")
		e.SignCert, e.SignKey = p("sign_cert"), p("sign_key")
		e.EncryptCert, e.EncryptKey, e.BAEncryptCert = p("encrypt_cert"), p("encrypt_key"), p("ba_encrypt_cert")
		e.Password.File, e.Password.Env = p("password_file"), get(endpointField(ch, "password_env")).raw
		e.Profile = cms.Profile(get(endpointField(ch, "cms_profile")).raw)
		if v := get(endpointField(ch, "url")); v.raw != "" {
			u, err := url.Parse(v.raw)
			if err != nil {
				errs = append(errs, s.errorf(endpointField(ch, "url"), "%q is not a URL", v.raw))
			}
			e.URL = u
		}
		if s.Endpoints == nil {
			s.Endpoints = map[baapi.Channel]Endpoint{}
		}
		s.Endpoints[ch] = e
	}

	if l != nil {
		errs = append(errs, s.resolveService(l)...)
	}

	d := s.WithDefaults()
	if lenient {
		return d, nil
	}
	errs = append(errs, d.validate()...)
	if len(errs) == 0 {
		errs = append(errs, d.checkPaths()...)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return d, nil
}

func passwordOf(file, dir, env string) pki.Password {
	return pki.Password{Env: env, File: value{raw: file, dir: dir}.path()}
}
