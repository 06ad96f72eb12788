package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"meldeweg.dev/meldeweg/schemas"
	"meldeweg.dev/meldeweg/transport/baapi"
)

// config is the operator's configuration file (JSON). Every field is
// optional; the zero value runs on embedded defaults. Relative paths are
// taken relative to the file's directory.
type config struct {
	// SchemaDirs are schema directories, as with --schema-dir.
	SchemaDirs []string `json:"schema_dirs,omitempty"`
	// Bundles are schema bundles described inline; see schemas.Manifest.
	Bundles []schemas.Manifest `json:"bundles,omitempty"`
	// Endpoints are the BA endpoints by channel ("xsozial", "emaw"), with
	// this instance's identities for each; see endpointConfig. Flags
	// (--url, --pki, --profile) override them.
	Endpoints map[string]endpointConfig `json:"endpoints,omitempty"`
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
	// XSozialSource is the directory the case-management system exports
	// the source records to; "xsozial run" builds from it. --in overrides.
	XSozialSource string `json:"xsozial_source,omitempty"`
	// WorkDir receives datasets and check reports of "xsozial run".
	// Defaults to meldeweg-out in the working directory.
	WorkDir string `json:"work_dir,omitempty"`

	dir string // directory of the file, for relative paths
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
	c.XSozialSource, c.WorkDir = c.abs(c.XSozialSource), c.abs(c.WorkDir)
	for name, ep := range c.Endpoints {
		if _, err := baapi.ParseChannel(name); err != nil {
			return nil, fmt.Errorf("configuration %s: endpoints: %w", path, err)
		}
		ep.absPaths(c)
		c.Endpoints[name] = ep
	}
	return c, nil
}

// abs resolves p against the configuration's directory.
func (c *config) abs(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(c.dir, p)
}
