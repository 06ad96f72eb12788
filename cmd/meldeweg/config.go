package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"meldeweg.dev/meldeweg/schemas"
)

// config is the operator's configuration file (JSON). Every field is
// optional; the zero value runs on embedded defaults. Relative paths are
// taken relative to the file's directory.
type config struct {
	// SchemaDirs are schema directories, as with --schema-dir.
	SchemaDirs []string `json:"schema_dirs,omitempty"`
	// Bundles are schema bundles described inline; see schemas.Manifest.
	Bundles []schemas.Manifest `json:"bundles,omitempty"`
	// BA is the BA endpoint and this instance's TLS identity, for send and
	// poll; command-line flags override each field.
	BA baConfig `json:"ba,omitempty"`
	// CMSProfile is the algorithm profile of seal and open when --profile
	// is not given: "compat" or "bsi". Defaults to compat.
	CMSProfile string `json:"cms_profile,omitempty"`
	// Certificates are the certificates "meldeweg certs check" watches.
	Certificates []certConfig `json:"certificates,omitempty"`
	// CertWarnDays is how many days before expiry "certs check" warns.
	// Defaults to 60.
	CertWarnDays int `json:"cert_warn_days,omitempty"`
	// Register is where the register and outbox live: a SQLite file
	// (relative to this file's directory) or a postgres:// URL. The
	// --register flag and $MELDEWEG_REGISTER override it. Defaults to
	// meldeweg-register.db in the working directory.
	Register string `json:"register,omitempty"`
	// Traeger is this instance's Trägernummer (five digits): xsozial build
	// writes it, xsozial check requires it (RTX). --traeger overrides it.
	Traeger string `json:"traeger,omitempty"`

	dir string // directory of the file, for relative paths
}

// baConfig is where the BA endpoint is and how Meldeweg authenticates to
// it. Relative paths are taken relative to the configuration file.
type baConfig struct {
	// URL is the endpoint, "https://host:port".
	URL string `json:"url,omitempty"`
	// CACert is the BA's CA certificate (PEM), pinned as the only root.
	CACert string `json:"ca_cert,omitempty"`
	// ClientCert and ClientKey are the TLS client identity: PEM files, or
	// a PKCS#12 file as ClientCert with ClientKey empty.
	ClientCert string `json:"client_cert,omitempty"`
	ClientKey  string `json:"client_key,omitempty"`
	// KeyPasswordFile holds the PKCS#12 password.
	KeyPasswordFile string `json:"key_password_file,omitempty"`
}

// loadConfig reads the configuration at path; "" gives the defaults.
func loadConfig(path string) (*config, error) {
	c := &config{}
	if path == "" {
		wd, _ := os.Getwd()
		c.dir = wd
		return c, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(c); err != nil {
		return nil, fmt.Errorf("configuration %s: %w", path, err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	c.dir = filepath.Dir(abs)
	for i, d := range c.SchemaDirs {
		c.SchemaDirs[i] = c.abs(d)
	}
	c.BA.CACert, c.BA.ClientCert = c.abs(c.BA.CACert), c.abs(c.BA.ClientCert)
	c.BA.ClientKey, c.BA.KeyPasswordFile = c.abs(c.BA.ClientKey), c.abs(c.BA.KeyPasswordFile)
	return c, nil
}

// abs resolves p against the configuration's directory.
func (c *config) abs(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(c.dir, p)
}
