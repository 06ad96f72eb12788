package settings

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strconv"

	"meldeweg.dev/meldeweg/schemas"
)

// file is the configuration file as written: JSON, every field optional.
// Resolve turns it into Settings; the field documentation for operators
// is in the package doc and docs/operations.md.
type file struct {
	SchemaDirs    []string                `json:"schema_dirs,omitempty"`
	Bundles       []schemas.Manifest      `json:"bundles,omitempty"`
	Endpoints     map[string]fileEndpoint `json:"endpoints,omitempty"`
	CMSProfile    string                  `json:"cms_profile,omitempty"`
	Certificates  []fileCertificate       `json:"certificates,omitempty"`
	CertWarnDays  int                     `json:"cert_warn_days,omitempty"`
	Register      string                  `json:"register,omitempty"`
	Payloads      string                  `json:"payloads,omitempty"`
	Traeger       string                  `json:"traeger,omitempty"`
	XSozialSource string                  `json:"xsozial_source,omitempty"`
	WorkDir       string                  `json:"work_dir,omitempty"`

	CheckpointSignerKey   string                `json:"checkpoint_signer_key,omitempty"`
	CheckpointVerifierKey string                `json:"checkpoint_verifier_key,omitempty"`
	CheckpointOrigin      string                `json:"checkpoint_origin,omitempty"`
	CheckpointDir         string                `json:"checkpoint_dir,omitempty"`
	Massnahmen            []string              `json:"massnahmen,omitempty"`
	KEKFile               string                `json:"kek_file,omitempty"`
	KEKEnv                string                `json:"kek_env,omitempty"`
	KEKCommand            []string              `json:"kek_command,omitempty"`
	Tenants               map[string]fileTenant `json:"tenants,omitempty"`
	Service               *fileService          `json:"service,omitempty"`
}

// fileTenant is one tenant under "tenants": the fields that are the
// tenant's own. A field it leaves out is taken from the top level.
type fileTenant struct {
	Endpoints     map[string]fileEndpoint `json:"endpoints,omitempty"`
	Certificates  []fileCertificate       `json:"certificates,omitempty"`
	Register      string                  `json:"register,omitempty"`
	Payloads      string                  `json:"payloads,omitempty"`
	Traeger       string                  `json:"traeger,omitempty"`
	XSozialSource string                  `json:"xsozial_source,omitempty"`
	WorkDir       string                  `json:"work_dir,omitempty"`
	Massnahmen    []string                `json:"massnahmen,omitempty"`
	KEKFile       string                  `json:"kek_file,omitempty"`
	KEKEnv        string                  `json:"kek_env,omitempty"`
	KEKCommand    []string                `json:"kek_command,omitempty"`
}

type fileEndpoint struct {
	URL           string `json:"url,omitempty"`
	CACert        string `json:"ca_cert,omitempty"`
	ClientCert    string `json:"client_cert,omitempty"`
	ClientKey     string `json:"client_key,omitempty"`
	SignCert      string `json:"sign_cert,omitempty"`
	SignKey       string `json:"sign_key,omitempty"`
	EncryptCert   string `json:"encrypt_cert,omitempty"`
	EncryptKey    string `json:"encrypt_key,omitempty"`
	BAEncryptCert string `json:"ba_encrypt_cert,omitempty"`
	PasswordFile  string `json:"password_file,omitempty"`
	PasswordEnv   string `json:"password_env,omitempty"`
	CMSProfile    string `json:"cms_profile,omitempty"`
}

type fileCertificate struct {
	Name         string `json:"name,omitempty"`
	Path         string `json:"path"`
	PasswordEnv  string `json:"password_env,omitempty"`
	PasswordFile string `json:"password_file,omitempty"`
}

// loaded is a read configuration file: its fields, the line of every key,
// and the directory relative paths are taken against.
type loaded struct {
	name  string // as given (--config, $MELDEWEG_CONFIG)
	dir   string // absolute
	f     file
	lines map[string]int
}

// readFile reads and decodes the configuration file at name. Every error
// is an *Error with Source name, and Line where it is known.
func readFile(name string) (*loaded, error) {
	data, err := os.ReadFile(name)
	if err != nil {
		// The error names the file already.
		return nil, &Error{Source: "configuration", Err: err}
	}
	lines, err := scanJSON(data, reflect.TypeFor[file]())
	if err != nil {
		err.(*Error).Source = name
		return nil, err
	}
	l := &loaded{name: name, lines: lines}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&l.f); err != nil {
		// scanJSON has checked every rule the decoder applies.
		return nil, &Error{Source: name, Err: err}
	}
	abs, err := filepath.Abs(name)
	if err != nil {
		return nil, &Error{Source: name, Err: err}
	}
	l.dir = filepath.Dir(abs)
	return l, nil
}

// scalars returns the file's single-valued fields by key ("traeger",
// "endpoints.emaw.url"); an absent or zero field is left out.
func (f *file) scalars() map[string]string {
	m := map[string]string{}
	put := func(k, v string) {
		if v != "" {
			m[k] = v
		}
	}
	put("cms_profile", f.CMSProfile)
	if f.CertWarnDays != 0 {
		put("cert_warn_days", strconv.Itoa(f.CertWarnDays))
	}
	put("register", f.Register)
	put("payloads", f.Payloads)
	put("traeger", f.Traeger)
	put("xsozial_source", f.XSozialSource)
	put("work_dir", f.WorkDir)
	put("checkpoint_signer_key", f.CheckpointSignerKey)
	put("checkpoint_verifier_key", f.CheckpointVerifierKey)
	put("checkpoint_origin", f.CheckpointOrigin)
	put("checkpoint_dir", f.CheckpointDir)
	put("kek_file", f.KEKFile)
	put("kek_env", f.KEKEnv)
	for ch, e := range f.Endpoints {
		for _, k := range endpointKeys {
			put("endpoints."+ch+"."+k.name, *k.field(&e))
		}
	}
	return m
}

// endpointKeys are the fields of one endpoint, in the order of the docs.
var endpointKeys = []struct {
	name  string
	field func(*fileEndpoint) *string
}{
	{"url", func(e *fileEndpoint) *string { return &e.URL }},
	{"ca_cert", func(e *fileEndpoint) *string { return &e.CACert }},
	{"client_cert", func(e *fileEndpoint) *string { return &e.ClientCert }},
	{"client_key", func(e *fileEndpoint) *string { return &e.ClientKey }},
	{"sign_cert", func(e *fileEndpoint) *string { return &e.SignCert }},
	{"sign_key", func(e *fileEndpoint) *string { return &e.SignKey }},
	{"encrypt_cert", func(e *fileEndpoint) *string { return &e.EncryptCert }},
	{"encrypt_key", func(e *fileEndpoint) *string { return &e.EncryptKey }},
	{"ba_encrypt_cert", func(e *fileEndpoint) *string { return &e.BAEncryptCert }},
	{"password_file", func(e *fileEndpoint) *string { return &e.PasswordFile }},
	{"password_env", func(e *fileEndpoint) *string { return &e.PasswordEnv }},
	{"cms_profile", func(e *fileEndpoint) *string { return &e.CMSProfile }},
}
