package settings

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"meldeweg.dev/meldeweg/emaw/msg"
	"meldeweg.dev/meldeweg/schemas"
	"meldeweg.dev/meldeweg/transport/baapi"
	"meldeweg.dev/meldeweg/transport/client"
	"meldeweg.dev/meldeweg/transport/pki"
	"meldeweg.dev/meldeweg/xsozial"
)

// Problem is one finding of Check: an *Error naming the field and where
// its value came from, and whether it is only a warning (something to do
// soon, such as renewing a certificate within cert_warn_days).
type Problem struct {
	*Error
	Warning bool
}

func (p Problem) String() string {
	if p.Warning {
		return "warning: " + p.Error.Error()
	}
	return p.Error.Error()
}

// CheckOptions configure Check.
type CheckOptions struct {
	// Now is the time certificates and bundles are judged at. Defaults
	// to time.Now().
	Now time.Time
	// Online also makes a mutual TLS handshake with every configured
	// endpoint (url), with the channel's CA and TLS client identity.
	Online bool
	// DialTimeout bounds each handshake. Defaults to 10 seconds.
	DialTimeout time.Duration
}

// Months is how many reporting months, from the current one on, must
// each have a bundle in force: this month and the next two.
const Months = 3

// Check checks what Resolve cannot judge from paths and modes alone; s
// must come from Resolve. It loads every certificate and key the
// settings name with its password, checks that each identity's key
// belongs to its certificate, that no certificate has expired or is not
// yet valid (and warns within CertWarnDays), that each configured
// channel has every field it needs to deliver, that a bundle is in force
// for every standard in use this month and the next two, that the
// register, payload keys, work directory and source directory are
// distinct places, and that a configuration file holding the register's
// password is open to its owner only. With Online it makes a TLS
// handshake with each endpoint. Every problem names its field.
func (s *Settings) Check(ctx context.Context, o CheckOptions) []Problem {
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = 10 * time.Second
	}
	c := &checker{s: s, now: o.Now, warn: time.Duration(s.CertWarnDays) * 24 * time.Hour}
	for _, ch := range baapi.Channels() {
		if e, ok := s.Endpoints[ch]; ok {
			tlsID := c.endpoint(ch, e)
			if o.Online && tlsID != nil && e.URL != nil && e.CACert != "" {
				c.handshake(ctx, ch, e, *tlsID, o.DialTimeout)
			}
		}
	}
	for i, cc := range s.Certificates {
		f := fmt.Sprintf("certificates[%d]", i)
		var certs []*x509.Certificate
		var err error
		if pki.IsPKCS12(cc.Path) {
			var id *pki.Identity
			if id, err = pki.LoadIdentity(cc.Path, "", cc.Password); err == nil {
				certs = append([]*x509.Certificate{id.Cert}, id.Chain...)
			}
		} else {
			certs, err = pki.LoadCertificates(cc.Path)
		}
		if err != nil {
			c.fail(f+".path", "%v", err)
			continue
		}
		for _, x := range certs {
			c.expiry(f+".path", x)
		}
	}
	c.bundles()
	c.distinct()
	c.secretFile()
	return c.out
}

type checker struct {
	s    *Settings
	now  time.Time
	warn time.Duration
	out  []Problem
}

func (c *checker) fail(field, format string, args ...any) {
	c.out = append(c.out, Problem{Error: c.s.errorf(field, format, args...)})
}

func (c *checker) warnf(field, format string, args ...any) {
	c.out = append(c.out, Problem{Error: c.s.errorf(field, format, args...), Warning: true})
}

// expiry judges one certificate found under field.
func (c *checker) expiry(field string, x *x509.Certificate) {
	e := pki.CheckExpiry(x, c.now, c.warn)
	name := fmt.Sprintf("certificate %q", x.Subject.CommonName)
	switch e.Status {
	case pki.StatusExpired:
		c.fail(field, "%s expired on %s; renew it", name, x.NotAfter.UTC().Format(time.DateOnly))
	case pki.StatusNotYetValid:
		c.fail(field, "%s is not valid before %s", name, x.NotBefore.UTC().Format(time.RFC3339))
	case pki.StatusExpiring:
		c.warnf(field, "%s expires in %d days (%s; cert_warn_days is %d); renew it", name, e.DaysLeft, x.NotAfter.UTC().Format(time.DateOnly), c.s.CertWarnDays)
	}
}

// endpoint checks one channel's fields and identities; it returns the TLS
// client identity when it loaded.
func (c *checker) endpoint(ch baapi.Channel, e Endpoint) *tls.Certificate {
	f := func(k string) string { return endpointField(ch, k) }
	for _, need := range []struct {
		key string
		set bool
	}{
		{"url", e.URL != nil}, {"ca_cert", e.CACert != ""}, {"client_cert", e.ClientCert != ""}, {"sign_cert", e.SignCert != ""},
		{"encrypt_cert", e.EncryptCert != ""}, {"ba_encrypt_cert", e.BAEncryptCert != ""},
	} {
		if !need.set {
			c.out = append(c.out, Problem{Error: &Error{Source: "configuration", Field: f(need.key),
				Err: fmt.Errorf("not set; the %s channel needs it to deliver (set it in %s, or in $%s)", ch, c.where(), EnvVar(f(need.key)))}})
		}
	}
	for _, cf := range []struct{ key, path string }{{"ca_cert", e.CACert}, {"ba_encrypt_cert", e.BAEncryptCert}} {
		if cf.path == "" {
			continue
		}
		certs, err := pki.LoadCertificates(cf.path)
		if err == nil && len(certs) == 0 {
			err = fmt.Errorf("%s holds no certificate", cf.path)
		}
		if err != nil {
			c.fail(f(cf.key), "%v", err)
			continue
		}
		for _, x := range certs {
			c.expiry(f(cf.key), x)
		}
	}
	var tlsID *tls.Certificate
	for _, id := range []struct{ cert, key, certPath, keyPath string }{
		{"client_cert", "client_key", e.ClientCert, e.ClientKey},
		{"sign_cert", "sign_key", e.SignCert, e.SignKey},
		{"encrypt_cert", "encrypt_key", e.EncryptCert, e.EncryptKey},
	} {
		if id.certPath == "" {
			continue
		}
		loaded, err := pki.LoadIdentity(id.certPath, id.keyPath, e.Password)
		if err != nil {
			c.fail(c.identityField(ch, e, id.cert, id.key, id.keyPath, err), "%v", err)
			continue
		}
		c.expiry(f(id.cert), loaded.Cert)
		if id.cert == "client_cert" {
			tc := tls.Certificate{Certificate: [][]byte{loaded.Cert.Raw}, PrivateKey: loaded.Key, Leaf: loaded.Cert}
			for _, x := range loaded.Chain {
				if !x.Equal(loaded.Cert) {
					tc.Certificate = append(tc.Certificate, x.Raw)
				}
			}
			tlsID = &tc
		}
	}
	return tlsID
}

// identityField names the field an identity's load error is about: the
// password for a wrong or missing password, the key file when the error
// names it, else the certificate.
func (c *checker) identityField(ch baapi.Channel, e Endpoint, cert, key, keyPath string, err error) string {
	switch {
	case errors.Is(err, pki.ErrWrongPassword) && e.Password.File != "":
		return endpointField(ch, "password_file")
	case errors.Is(err, pki.ErrWrongPassword) && e.Password.Env != "":
		return endpointField(ch, "password_env")
	case keyPath != "" && !errors.Is(err, pki.ErrKeyMismatch) && strings.Contains(err.Error(), keyPath):
		return endpointField(ch, key)
	}
	return endpointField(ch, cert)
}

func (c *checker) where() string {
	if c.s.File != "" {
		return c.s.File
	}
	return "the configuration file"
}

// handshake makes a mutual TLS handshake with the channel's endpoint.
func (c *checker) handshake(ctx context.Context, ch baapi.Channel, e Endpoint, id tls.Certificate, timeout time.Duration) {
	field := endpointField(ch, "url")
	roots, err := pki.CertPool(e.CACert)
	if err != nil {
		return // reported with ca_cert
	}
	cfg, err := client.ClientTLSConfig(id, roots, "")
	if err != nil {
		c.fail(field, "%v", err)
		return
	}
	addr := e.URL.Host
	if e.URL.Port() == "" {
		addr = net.JoinHostPort(e.URL.Hostname(), "443")
	}
	hctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := client.Handshake(hctx, cfg, addr); err != nil {
		c.fail(field, "handshake with %s: %v", addr, err)
	}
}

// bundles checks that a bundle is in force for each standard in use, this
// month and the next Months-1.
func (c *checker) bundles() {
	field := "schema_dirs"
	if len(c.s.Bundles) > 0 {
		field = "bundles"
	}
	reg, err := schemas.Load(schemas.Options{Dirs: c.s.SchemaDirs, Manifests: c.s.Bundles, ManifestDir: c.s.Dir})
	if err != nil {
		c.fail(field, "the schema bundles do not load: %v", err)
		return
	}
	var standards []string
	if _, ok := c.s.Endpoints[baapi.ChannelXSozial]; ok || c.s.Traeger != "" {
		standards = append(standards, xsozial.Standard)
	}
	if _, ok := c.s.Endpoints[baapi.ChannelEmaw]; ok {
		standards = append(standards, msg.Standard)
	}
	if len(standards) == 0 {
		standards = []string{xsozial.Standard, msg.Standard}
	}
	first := schemas.MonthOf(c.now)
	for _, std := range standards {
		for i := range Months {
			m := first.AddMonths(i)
			if _, err := reg.Select(std, m); err != nil {
				c.fail(field, "no %s bundle in force for %s: %v; add the bundle for that month (meldeweg schemas list shows what is there)", std, m, err)
			}
		}
	}
}

// place is a path the settings name that must not be shared.
type place struct {
	field, path string
}

// distinct checks that no two of the places that hold one instance's
// data are the same directory or file. With several tenants, each
// tenant's register and keys join the list.
func (c *checker) distinct() {
	var places []place
	if !c.s.Register.IsPostgres() {
		places = append(places, place{"register", c.s.Register.Location})
	}
	places = append(places, place{"payloads", c.s.Payloads}, place{"work_dir", c.s.WorkDir}, place{"xsozial_source", c.s.XSozialSource})
	seen := map[string]string{}
	for _, p := range places {
		if p.path == "" {
			continue
		}
		abs, err := filepath.Abs(p.path)
		if err != nil {
			continue
		}
		if other, ok := seen[abs]; ok {
			c.fail(p.field, "%s is also %s; each needs a place of its own", p.path, other)
			continue
		}
		seen[abs] = p.field
	}
}

// secretFile checks that a configuration file holding the register's
// password can be read by its owner only.
func (c *checker) secretFile() {
	if c.s.File == "" || !c.s.Register.IsPostgres() || c.s.Source("register") != c.s.File {
		return
	}
	if !strings.Contains(c.s.Register.String(), ":xxxxx@") {
		return // no password in the URL
	}
	fi, err := os.Stat(c.s.File)
	if err != nil {
		return
	}
	if fi.Mode().Perm()&0o077 != 0 {
		c.fail("register", "%v: %s holds the register's password and is %04o (chmod 600 %s)", ErrUnsafeMode, c.s.File, fi.Mode().Perm(), c.s.File)
	}
}
