package settings

import (
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"

	"meldeweg.dev/meldeweg/transport/baapi"
	"meldeweg.dev/meldeweg/transport/register"
)

// forTenant returns the file as tenant name sees it: the top level with
// the tenant's own fields laid over it, each with the line it was written
// on. The lists of a tenant (certificates, massnahmen, kek_command)
// replace the top level's; its endpoints replace the top level's field by
// field.
func (l *loaded) forTenant(name string) *loaded {
	t := l.f.Tenants[name]
	c := *l
	c.f.Tenants = nil
	c.lines = maps.Clone(l.lines)
	prefix := "tenants." + name + "."
	for k, v := range l.lines {
		if strings.HasPrefix(k, prefix) {
			c.lines[strings.TrimPrefix(k, prefix)] = v
		}
	}
	over := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	over(&c.f.Register, t.Register)
	over(&c.f.Payloads, t.Payloads)
	over(&c.f.Traeger, t.Traeger)
	over(&c.f.XSozialSource, t.XSozialSource)
	over(&c.f.WorkDir, t.WorkDir)
	over(&c.f.KEKFile, t.KEKFile)
	over(&c.f.KEKEnv, t.KEKEnv)
	if t.Certificates != nil {
		c.f.Certificates = t.Certificates
	}
	if t.Massnahmen != nil {
		c.f.Massnahmen = t.Massnahmen
	}
	if t.KEKCommand != nil {
		c.f.KEKCommand = t.KEKCommand
	}
	if t.Endpoints != nil {
		eps := maps.Clone(l.f.Endpoints)
		if eps == nil {
			eps = map[string]fileEndpoint{}
		}
		for ch, te := range t.Endpoints {
			e := eps[ch]
			for _, k := range endpointKeys {
				over(k.field(&e), *k.field(&te))
			}
			eps[ch] = e
		}
		c.f.Endpoints = eps
	}
	return &c
}

// tenantNames lists the tenants of l, sorted, checking each name.
func (l *loaded) tenantNames() ([]string, error) {
	names := slices.Sorted(maps.Keys(l.f.Tenants))
	for _, n := range names {
		if _, err := register.ParseTenantID(n); err != nil {
			f := "tenants." + n
			return nil, &Error{Source: l.name, Line: l.lines[f], Field: f,
				Err: fmt.Errorf("%q is not a tenant name (want 1 to 63 characters from a-z, 0-9 and -, starting with a letter or digit)", n)}
		}
	}
	return names, nil
}

// chooseTenant picks the tenant of the run: the one asked for, else the
// only one configured. Without "tenants" in the file, the configuration
// is the one tenant register.DefaultTenant.
func chooseTenant(l *loaded, asked, askedFrom string) (register.TenantID, []string, error) {
	if l == nil || len(l.f.Tenants) == 0 {
		if asked != "" && asked != string(register.DefaultTenant) {
			src := "configuration"
			if l != nil {
				src = l.name
			}
			return "", nil, &Error{Source: askedFrom, Field: "tenant",
				Err: fmt.Errorf("%q: %s configures no tenants (only %q, the configuration without \"tenants\")", asked, src, register.DefaultTenant)}
		}
		return register.DefaultTenant, []string{string(register.DefaultTenant)}, nil
	}
	names, err := l.tenantNames()
	if err != nil {
		return "", nil, err
	}
	switch {
	case asked == "" && len(names) == 1:
		return register.TenantID(names[0]), names, nil
	case asked == "":
		return "", nil, &Error{Source: l.name, Field: "tenants",
			Err: fmt.Errorf("%d tenants are configured (%s): give --tenant or $MELDEWEG_TENANT", len(names), strings.Join(names, ", "))}
	case !slices.Contains(names, asked):
		return "", nil, &Error{Source: askedFrom, Field: "tenant",
			Err: fmt.Errorf("%q is not a tenant of %s (configured: %s)", asked, l.name, strings.Join(names, ", "))}
	}
	return register.TenantID(asked), names, nil
}

// ownPaths are the paths of s that must belong to one tenant only, by
// the field that names them: the register, the payload key directory,
// the key-encryption key file, and this instance's certificates and keys
// (the BA's certificates are everyone's and are left out).
func (s *Settings) ownPaths() map[string]string {
	m := map[string]string{}
	put := func(field, p string) {
		if p == "" {
			return
		}
		if !isPostgresURL(p) {
			if abs, err := filepath.Abs(p); err == nil {
				p = abs
			}
		}
		m[field] = p
	}
	put("register", s.Register.Location)
	put("payloads", s.Payloads)
	put("kek_file", s.KEK.File)
	for _, ch := range baapi.Channels() {
		e, ok := s.Endpoints[ch]
		if !ok {
			continue
		}
		for k, p := range map[string]string{"client_cert": e.ClientCert, "client_key": e.ClientKey, "sign_cert": e.SignCert,
			"sign_key": e.SignKey, "encrypt_cert": e.EncryptCert, "encrypt_key": e.EncryptKey} {
			put(endpointField(ch, k), p)
		}
	}
	for i, c := range s.Certificates {
		put(fmt.Sprintf("certificates[%d].path", i), c.Path)
	}
	return m
}

// checkShared refuses two tenants that share a register, a key directory,
// a key-encryption key file or a certificate or key file of their own:
// each error names both tenants and the fields.
func checkShared(file string, tenants map[string]*Settings) []error {
	names := slices.Sorted(maps.Keys(tenants))
	owner := map[string]struct{ tenant, field string }{}
	var errs []error
	for _, n := range names {
		paths := tenants[n].ownPaths()
		for _, f := range slices.Sorted(maps.Keys(paths)) {
			p := paths[f]
			if o, ok := owner[p]; ok && o.tenant != n {
				shown := p
				if isPostgresURL(p) {
					shown = Register{Location: p}.String()
				}
				errs = append(errs, &Error{Source: file, Field: "tenants." + n + "." + f,
					Err: fmt.Errorf("tenants %q and %q share %s (%s of %q, %s of %q): every tenant needs its own", o.tenant, n, shown, o.field, o.tenant, f, n)})
				continue
			}
			owner[p] = struct{ tenant, field string }{n, f}
		}
	}
	return errs
}
