package settings

import (
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"

	"meldeweg.dev/meldeweg/emaw"
	"meldeweg.dev/meldeweg/schemas"
	"meldeweg.dev/meldeweg/transport/baapi"
	"meldeweg.dev/meldeweg/transport/cms"
	"meldeweg.dev/meldeweg/transport/pki"
	"meldeweg.dev/meldeweg/transport/register"
	"meldeweg.dev/meldeweg/xsozial"
)

// Defaults of the fields that have one. Relative paths are relative to
// the working directory.
const (
	DefaultRegister     = "meldeweg-register.db"
	DefaultWorkDir      = "meldeweg-out"
	DefaultCertWarnDays = int(pki.DefaultWarn / (24 * time.Hour))
	// DefaultPostgresPayloads is the payload key directory of a register
	// on PostgreSQL; a SQLite register's is its file name + ".payloads".
	DefaultPostgresPayloads = "meldeweg-payloads"
)

// Settings are the resolved configuration of one run: file, environment
// and flags merged, parsed into types and checked. Resolve returns them
// with defaults filled in; the zero value is the configuration without a
// file, and WithDefaults turns it into what Meldeweg runs on.
type Settings struct {
	// File is the configuration file read, as given; "" for none.
	File string
	// Dir is the absolute directory File's relative paths (and the
	// inline bundles' sources) are taken against; the working directory
	// without a file.
	Dir string
	// SchemaDirs are directories of schema bundles: the file's
	// schema_dirs, then every --schema-dir.
	SchemaDirs []string
	// Bundles are schema bundle manifests given inline in the file.
	Bundles []schemas.Manifest
	// CMSProfile is the algorithm profile of "seal" and "open".
	// Defaults to cms.ProfileCompat.
	CMSProfile cms.Profile
	// Certificates are the certificates "certs check" watches.
	Certificates []Certificate
	// CertWarnDays is how many days before expiry "certs check" warns.
	// Defaults to DefaultCertWarnDays.
	CertWarnDays int
	// Register is where the register and outbox live. Defaults to the
	// SQLite file DefaultRegister.
	Register Register
	// Payloads is the directory of the payload and pseudonym keys.
	// Defaults to Register's file name + ".payloads" for SQLite, else
	// DefaultPostgresPayloads.
	Payloads string
	// Traeger is this instance's Trägernummer (five digits); "" when not
	// configured (the commands that need one say so).
	Traeger string
	// XSozialSource is the directory the case-management system exports
	// the source records to; "" when not configured.
	XSozialSource string
	// WorkDir receives the datasets and check reports of "xsozial run".
	// Defaults to DefaultWorkDir.
	WorkDir string
	// Endpoints are the BA endpoints by channel, with this instance's
	// identities for each. A channel without any field set is absent.
	Endpoints map[baapi.Channel]Endpoint
	// Checkpoints are the register's signed checkpoints; the zero value
	// when none are configured.
	Checkpoints Checkpoints

	// Tenant is the tenant of this run: the one asked for (--tenant,
	// $MELDEWEG_TENANT) or the only one configured; register.DefaultTenant
	// for a configuration without "tenants". Its register is bound to it.
	Tenant register.TenantID
	// Tenants are every tenant the configuration names, sorted.
	Tenants []register.TenantID
	// Massnahmen are the Maßnahmenummern (eM@w) the tenant runs as a
	// provider: an upload with an event for another measure is refused
	// before it is sealed. Required for eM@w uploads when several tenants
	// are configured; empty with one tenant means not checked.
	Massnahmen []string
	// KEK is where the tenant's key-encryption key comes from; the zero
	// value means none is configured (payloads are sealed with the
	// instance key in Payloads, as before the key hierarchy).
	KEK KEKSource
	// Service configures "meldeweg serve" (the "service" section); its
	// defaults are filled in also without one.
	Service Service

	// origins names, by field path, where each value came from.
	origins map[string]origin
}

// KEKSource is where a tenant's key-encryption key comes from: exactly
// one of a file (mode 0400, away from the register and the payload keys),
// an environment variable, or a command that prints it (run without a
// shell).
type KEKSource struct {
	File    string
	Env     string
	Command []string
}

// IsZero tells whether no source is configured.
func (k KEKSource) IsZero() bool { return k.File == "" && k.Env == "" && len(k.Command) == 0 }

// Register is where the register lives: a SQLite file or a PostgreSQL
// database. It may hold a password (in the URL): print it with String,
// which hides it.
type Register struct {
	// Location is a SQLite file's path or a postgres:// URL.
	Location string
}

// IsPostgres tells whether the register is a PostgreSQL database.
func (r Register) IsPostgres() bool { return isPostgresURL(r.Location) }

func isPostgresURL(s string) bool {
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
}

// String is the location with a postgres:// URL's password hidden.
func (r Register) String() string {
	if !r.IsPostgres() {
		return r.Location
	}
	scheme, rest, _ := strings.Cut(r.Location, "://")
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		if user, _, hasPw := strings.Cut(rest[:at], ":"); hasPw {
			rest = user + ":xxxxx" + rest[at:]
		}
	}
	return scheme + "://" + rest
}

// LogValue logs the location without its password.
func (r Register) LogValue() slog.Value { return slog.StringValue(r.String()) }

// Endpoint is one BA endpoint and this instance's identities for it.
// Paths are PEM files, or a PKCS#12 file as the certificate with the key
// left empty (unlocked by Password).
type Endpoint struct {
	// URL is the endpoint, https://host[:port]; nil when not configured.
	URL *url.URL
	// CACert is the BA's CA certificate: the only TLS root, and the
	// trust anchor of the BA's signatures.
	CACert string
	// ClientCert and ClientKey are the TLS client identity.
	ClientCert, ClientKey string
	// SignCert and SignKey are the CMS signing identity for uploads.
	SignCert, SignKey string
	// EncryptCert and EncryptKey are the identity the BA encrypts to.
	EncryptCert, EncryptKey string
	// BAEncryptCert is the BA's encryption certificate.
	BAEncryptCert string
	// Password unlocks PKCS#12 files (password_file or password_env).
	Password pki.Password
	// Profile is the CMS profile of uploads. Defaults to
	// cms.ProfileCompat.
	Profile cms.Profile
}

// Certificate is one certificate "certs check" watches.
type Certificate struct {
	// Name labels it. Defaults to the file name.
	Name string
	// Path is a PEM, DER or PKCS#12 file.
	Path string
	// Password unlocks a PKCS#12 file.
	Password pki.Password
}

// origin is where a value came from.
type origin struct {
	source string // file as given, "$VAR", "--flag", "default"
	line   int
}

const sourceDefault = "default"

// errorf returns an *Error for field, naming where its value came from.
func (s *Settings) errorf(field string, format string, args ...any) *Error {
	o, ok := s.origins[field]
	if !ok {
		o = origin{source: sourceDefault}
	}
	return &Error{Source: o.source, Line: o.line, Field: field, Err: fmt.Errorf(format, args...)}
}

// setDefault records that field holds its default.
func (s *Settings) setDefault(field string) {
	if s.origins == nil {
		s.origins = map[string]origin{}
	}
	s.origins[field] = origin{source: sourceDefault}
}

// Source names where field's value came from: the file, "$VARIABLE",
// "--flag" or "default"; "" for a field that is not set.
func (s *Settings) Source(field string) string { return s.origins[field].source }

// NotSet is the error for a field a command needs that has no value: it
// names the field and how to set it (hint names a flag or other way, or
// is empty).
func (s *Settings) NotSet(field, hint string) error {
	where := "the configuration file"
	if s.File != "" {
		where = s.File
	}
	msg := fmt.Sprintf("not set: set it in %s, or in $%s", where, EnvVar(field))
	if hint != "" {
		msg = fmt.Sprintf("not set: give %s, set it in %s, or in $%s", hint, where, EnvVar(field))
	}
	return &Error{Source: "configuration", Field: field, Err: fmt.Errorf("%s", msg)}
}

// WithDefaults returns a copy of s with every zero field that has a
// default set to it. It does not touch the file system.
func (s *Settings) WithDefaults() *Settings {
	c := *s
	c.origins = make(map[string]origin, len(s.origins))
	for k, v := range s.origins {
		c.origins[k] = v
	}
	c.Endpoints = make(map[baapi.Channel]Endpoint, len(s.Endpoints))
	for ch, e := range s.Endpoints {
		if e.Profile == "" {
			e.Profile = cms.ProfileCompat
			c.setDefault(endpointField(ch, "cms_profile"))
		}
		c.Endpoints[ch] = e
	}
	c.Certificates = append([]Certificate(nil), s.Certificates...)
	for i := range c.Certificates {
		if c.Certificates[i].Name == "" {
			c.Certificates[i].Name = filepath.Base(c.Certificates[i].Path)
		}
	}
	if c.CMSProfile == "" {
		c.CMSProfile = cms.ProfileCompat
		c.setDefault("cms_profile")
	}
	if c.CertWarnDays == 0 {
		c.CertWarnDays = DefaultCertWarnDays
		c.setDefault("cert_warn_days")
	}
	if c.Register.Location == "" {
		c.Register.Location = DefaultRegister
		c.setDefault("register")
	}
	if c.Payloads == "" {
		c.Payloads = DefaultPostgresPayloads
		if !c.Register.IsPostgres() {
			c.Payloads = c.Register.Location + ".payloads"
		}
		c.setDefault("payloads")
	}
	if c.WorkDir == "" {
		c.WorkDir = DefaultWorkDir
		c.setDefault("work_dir")
	}
	c.Service = c.Service.withDefaults()
	return &c
}

// validate checks every value that can be judged without the file
// system; each error names its field and source. It changes nothing.
func (s *Settings) validate() []error {
	var errs []error
	add := func(e *Error) { errs = append(errs, e) }
	if _, err := cms.ParseProfile(string(s.CMSProfile)); err != nil {
		add(s.errorf("cms_profile", "%q is not a CMS profile (want compat or bsi)", s.CMSProfile))
	}
	if s.CertWarnDays <= 0 {
		add(s.errorf("cert_warn_days", "%d: want a positive number of days", s.CertWarnDays))
	}
	if s.Traeger != "" {
		if ok, want := xsozial.CheckValue(xsozial.TTraeger, s.Traeger); !ok {
			add(s.errorf("traeger", "%q is not a Trägernummer (want %s)", s.Traeger, want))
		}
	}
	if n := btoi(s.KEK.File != "") + btoi(s.KEK.Env != "") + btoi(len(s.KEK.Command) > 0); n > 1 {
		add(s.errorf("kek_file", "give one of kek_file, kek_env and kek_command, not %d", n))
	}
	if s.KEK.Env != "" && !isEnvName(s.KEK.Env) {
		add(s.errorf("kek_env", "%q is not an environment variable name", s.KEK.Env))
	}
	for i, m := range s.Massnahmen {
		if err := emaw.Massnahmenummer(m).Check(); err != nil {
			add(s.errorf(fmt.Sprintf("massnahmen[%d]", i), "%v", err))
		}
	}
	if s.Register.IsPostgres() {
		if _, err := url.Parse(s.Register.Location); err != nil {
			// The URL may hold a password: name the problem, not the value.
			add(s.errorf("register", "not a valid postgres:// URL"))
		}
	}
	for _, ch := range baapi.Channels() {
		e, ok := s.Endpoints[ch]
		if !ok {
			continue
		}
		if u := e.URL; u != nil && (u.Scheme != "https" || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "") {
			add(s.errorf(endpointField(ch, "url"), "%q: want https://HOST[:PORT][/PATH]", u.Redacted()))
		}
		if _, err := cms.ParseProfile(string(e.Profile)); err != nil {
			add(s.errorf(endpointField(ch, "cms_profile"), "%q is not a CMS profile (want compat or bsi)", e.Profile))
		}
		if e.Password.File != "" && e.Password.Env != "" {
			add(s.errorf(endpointField(ch, "password_env"), "give password_file or password_env, not both"))
		}
		if e.Password.Env != "" && !isEnvName(e.Password.Env) {
			add(s.errorf(endpointField(ch, "password_env"), "%q is not an environment variable name", e.Password.Env))
		}
	}
	if o := s.Checkpoints.Origin; o != "" && (strings.ContainsAny(o, "+ \t") || !utf8.ValidString(o)) {
		add(s.errorf("checkpoint_origin", "%q: want one word without spaces or '+', such as meldeweg.example/jobcenter-12345", o))
	}
	for i, c := range s.Certificates {
		f := fmt.Sprintf("certificates[%d]", i)
		if c.Path == "" {
			add(s.errorf(f+".path", "is required"))
		}
		if c.Password.File != "" && c.Password.Env != "" {
			add(s.errorf(f+".password_env", "give password_file or password_env, not both"))
		}
	}
	return errs
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func isEnvName(s string) bool {
	for i, c := range s {
		if !(c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return s != ""
}

func endpointField(ch baapi.Channel, key string) string {
	return "endpoints." + string(ch) + "." + key
}
