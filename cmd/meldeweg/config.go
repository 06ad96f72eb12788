package main

import (
	"flag"
	"os"
	"strconv"

	"meldeweg.dev/meldeweg/cmd/meldeweg/internal/settings"
)

// settings resolves the configuration once per run, when a command first
// asks: the file (--config, else $MELDEWEG_CONFIG), the environment and
// the command's flags (command.settingsFlags), in the one precedence
// flags > environment > file > defaults (package settings).
func (e *env) settings() (*settings.Settings, error) {
	if e.set != nil {
		return e.set, nil
	}
	p := e.configPath
	if p == "" {
		p = os.Getenv("MELDEWEG_CONFIG")
	}
	var flags []settings.Flag
	if e.flags != nil {
		flags = e.flags()
	}
	tenant, tenantFrom := e.tenant, "--tenant"
	if tenant == "" {
		tenant, tenantFrom = os.Getenv("MELDEWEG_TENANT"), "$MELDEWEG_TENANT"
	}
	s, err := settings.Resolve(settings.Input{File: p, LookupEnv: os.LookupEnv, Flags: flags, SchemaDirs: e.schemaDirs,
		Tenant: tenant, TenantFrom: tenantFrom})
	if err != nil {
		return nil, err
	}
	e.set = s
	return s, nil
}

// The usage texts of flags that set configuration fields say which field
// they override.
const (
	registerUsage = "register `LOCATION`: a SQLite file or a postgres:// URL (overrides \"register\"; default meldeweg-register.db)"
	payloadsUsage = "`DIR` of the payload and pseudonym keys; payloads are kept, encrypted with that key, in the register (overrides \"payloads\"; default: REGISTER.payloads next to a SQLite register, else meldeweg-payloads)"
)

// registerOptions is the --register flag of the commands that read the
// register.
type registerOptions struct{ register string }

func (o *registerOptions) bind(fs *flag.FlagSet) {
	fs.StringVar(&o.register, "register", "", registerUsage)
}

func (o *registerOptions) settingsFlags() []settings.Flag {
	return []settings.Flag{{Name: "--register", Field: "register", Value: o.register}}
}

// endpointOptions are the flags of every command that talks to the BA:
// they override the configuration of every channel's endpoint, the
// register and the payload keys.
type endpointOptions struct {
	url, pki, profile string
	registerOptions
	payloads string
}

func (o *endpointOptions) bind(fs *flag.FlagSet) {
	fs.StringVar(&o.url, "url", "", "BA endpoint `URL` (overrides endpoints.CHANNEL.url)")
	fs.StringVar(&o.pki, "pki", "", "test PKI `DIR` (meldeweg pki init): takes every certificate and key of the channel from it (overrides endpoints.CHANNEL.*_cert and *_key)")
	fs.StringVar(&o.profile, "profile", "", "CMS `PROFILE` for uploads: compat or bsi (overrides endpoints.CHANNEL.cms_profile; default compat)")
	o.registerOptions.bind(fs)
	fs.StringVar(&o.payloads, "payloads", "", payloadsUsage)
}

func (o *endpointOptions) settingsFlags() []settings.Flag {
	f := append(settings.TestPKIFlags("--pki", o.pki), settings.EndpointFlags("--url", "url", o.url)...)
	f = append(f, settings.EndpointFlags("--profile", "cms_profile", o.profile)...)
	f = append(f, o.registerOptions.settingsFlags()...)
	return append(f, settings.Flag{Name: "--payloads", Field: "payloads", Value: o.payloads})
}

// intFlag is an integer flag's value as a settings.Flag value: "" for
// zero (not given).
func intFlag(n int) string {
	if n == 0 {
		return ""
	}
	return strconv.Itoa(n)
}
