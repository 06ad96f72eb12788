package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"meldeweg.dev/meldeweg/flow/outbox"
	"meldeweg.dev/meldeweg/transport/baapi"
	"meldeweg.dev/meldeweg/transport/client"
	"meldeweg.dev/meldeweg/transport/cms"
	"meldeweg.dev/meldeweg/transport/pki"
	"meldeweg.dev/meldeweg/transport/register"
	"meldeweg.dev/meldeweg/transport/register/payload"
)

// endpointConfig is one BA endpoint in the configuration ("endpoints":
// {"xsozial": {…}, "emaw": {…}}), with this instance's identities for it.
// Relative paths are relative to the configuration file. Certificates and
// keys are PEM files, or a PKCS#12 file as the certificate with the key
// left empty (its password from password_file or password_env).
type endpointConfig struct {
	// URL is the endpoint, "https://host:port".
	URL string `json:"url,omitempty"`
	// CACert is the BA's CA certificate: pinned as the only TLS root, and
	// the trust anchor for the BA's signatures on replies.
	CACert string `json:"ca_cert,omitempty"`
	// ClientCert/ClientKey: the TLS client identity.
	ClientCert string `json:"client_cert,omitempty"`
	ClientKey  string `json:"client_key,omitempty"`
	// SignCert/SignKey: the CMS signing identity for uploads.
	SignCert string `json:"sign_cert,omitempty"`
	SignKey  string `json:"sign_key,omitempty"`
	// EncryptCert/EncryptKey: the identity the BA encrypts replies to.
	EncryptCert string `json:"encrypt_cert,omitempty"`
	EncryptKey  string `json:"encrypt_key,omitempty"`
	// BAEncryptCert is the BA's encryption certificate; uploads are
	// sealed to it.
	BAEncryptCert string `json:"ba_encrypt_cert,omitempty"`
	// PasswordFile or PasswordEnv holds the PKCS#12 password.
	PasswordFile string `json:"password_file,omitempty"`
	PasswordEnv  string `json:"password_env,omitempty"`
	// Profile is the CMS algorithm profile: "compat" (default) or "bsi".
	Profile string `json:"cms_profile,omitempty"`
}

func (c *endpointConfig) absPaths(cfg *config) {
	for _, p := range []*string{&c.CACert, &c.ClientCert, &c.ClientKey, &c.SignCert, &c.SignKey,
		&c.EncryptCert, &c.EncryptKey, &c.BAEncryptCert, &c.PasswordFile} {
		*p = cfg.abs(*p)
	}
}

// testPKIStems names the test PKI's files per channel (transport/pki).
var testPKIStems = map[baapi.Channel]struct{ client, sign, encrypt string }{
	baapi.ChannelXSozial: {"traeger-client", "traeger-sign", "traeger-encrypt"},
	baapi.ChannelEmaw:    {"emaw-client", "emaw-sign", "emaw-encrypt"},
}

// fromTestPKI fills every unset path from a test PKI directory.
func (c *endpointConfig) fromTestPKI(dir string, ch baapi.Channel) {
	s := testPKIStems[ch]
	set := func(p *string, name string) {
		if *p == "" {
			*p = filepath.Join(dir, name)
		}
	}
	set(&c.CACert, "ca.pem")
	set(&c.ClientCert, s.client+".pem")
	set(&c.ClientKey, s.client+".key")
	set(&c.SignCert, s.sign+".pem")
	set(&c.SignKey, s.sign+".key")
	set(&c.EncryptCert, s.encrypt+".pem")
	set(&c.EncryptKey, s.encrypt+".key")
	set(&c.BAEncryptCert, "ba-encrypt.pem")
}

// addEndpointFlags declares the flags of every command that talks to the
// BA; each overrides the configuration's endpoint of the channel.
func addEndpointFlags(fs *flag.FlagSet) {
	fs.String("url", "", "BA endpoint `URL` (default: configuration endpoints.CHANNEL.url)")
	fs.String("pki", "", "test PKI `DIR` (meldeweg pki init): takes every certificate and key of the channel from it")
	fs.String("profile", "", "CMS `PROFILE` for uploads: compat or bsi (default: the endpoint's cms_profile, else compat)")
	addRegisterFlag(fs)
	fs.String("payloads", "", payloadsUsage)
}

// endpoint builds the channel's endpoint from the configuration and flags.
func (e *env) endpoint(fs *flag.FlagSet, ch baapi.Channel, attempts int) (*outbox.Endpoint, error) {
	cfg, err := e.config()
	if err != nil {
		return nil, err
	}
	ec := cfg.Endpoints[string(ch)]
	str := func(n string) string { return fs.Lookup(n).Value.String() }
	if u := str("url"); u != "" {
		ec.URL = u
	}
	if p := str("profile"); p != "" {
		ec.Profile = p
	}
	if dir := str("pki"); dir != "" {
		ec.fromTestPKI(dir, ch)
	}
	where := fmt.Sprintf("endpoint %s", ch)
	switch {
	case ec.URL == "":
		return nil, fmt.Errorf("%s: no URL: give --url or set endpoints.%s.url in the configuration", where, ch)
	case ec.CACert == "":
		return nil, fmt.Errorf("%s: no BA CA certificate to pin: give --pki or set endpoints.%s.ca_cert", where, ch)
	case ec.ClientCert == "" || ec.SignCert == "" || ec.EncryptCert == "" || ec.BAEncryptCert == "":
		return nil, fmt.Errorf("%s: client_cert, sign_cert, encrypt_cert and ba_encrypt_cert are all needed: give --pki or set them in the configuration", where)
	}
	profile := cms.ProfileCompat
	if ec.Profile != "" {
		if profile, err = cms.ParseProfile(ec.Profile); err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
	}
	pw := pki.Password{File: ec.PasswordFile, Env: ec.PasswordEnv}
	tlsID, err := pki.LoadIdentity(ec.ClientCert, ec.ClientKey, pw)
	if err != nil {
		return nil, fmt.Errorf("%s: TLS client identity: %w", where, err)
	}
	sign, err := pki.LoadIdentity(ec.SignCert, ec.SignKey, pw)
	if err != nil {
		return nil, fmt.Errorf("%s: signing identity: %w", where, err)
	}
	enc, err := pki.LoadIdentity(ec.EncryptCert, ec.EncryptKey, pw)
	if err != nil {
		return nil, fmt.Errorf("%s: encryption identity: %w", where, err)
	}
	baCerts, err := pki.LoadCertificates(ec.BAEncryptCert)
	if err != nil || len(baCerts) == 0 {
		return nil, fmt.Errorf("%s: the BA's encryption certificate: %v", where, err)
	}
	trust, err := pki.CertPool(ec.CACert)
	if err != nil {
		return nil, fmt.Errorf("%s: BA CA: %w", where, err)
	}
	tlsCert, err := tlsCertificate(tlsID)
	if err != nil {
		return nil, err
	}
	tlsCfg, err := client.ClientTLSConfig(tlsCert, trust, "")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	c, err := client.New(client.Config{BaseURL: ec.URL, TLS: tlsCfg, Attempts: attempts})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	return &outbox.Endpoint{Channel: ch, URL: ec.URL, Client: c,
		Signer: cms.Signer{Key: sign.Key, Cert: sign.Cert, Chain: withoutSelf(sign.Chain, sign.Cert)},
		BA:     baCerts[0], Reply: enc, Trust: trust, Profile: profile}, nil
}

func withoutSelf(chain []*x509.Certificate, leaf *x509.Certificate) []*x509.Certificate {
	var out []*x509.Certificate
	for _, c := range chain {
		if !c.Equal(leaf) {
			out = append(out, c)
		}
	}
	return out
}

// outbox opens the register and its sealed payload store.
func (e *env) outbox(fs *flag.FlagSet) (*outbox.Outbox, error) {
	loc, err := registerLocation(e, fs.Lookup("register").Value.String())
	if err != nil {
		return nil, err
	}
	store, err := openRegister(context.Background(), loc, false)
	if err != nil {
		return nil, err
	}
	ps, err := openPayloads(fs, loc, store)
	if err != nil {
		store.Close()
		return nil, err
	}
	host, _ := os.Hostname()
	return &outbox.Outbox{Store: store, Payloads: ps, Actor: currentActor(), Worker: workerName(host)}, nil
}

// currentActor is the operator running the command, by login, or the
// system component "meldeweg" when the login does not fit the register's
// alphabet.
func currentActor() register.Actor {
	if u, err := user.Current(); err == nil {
		a := register.Operator(u.Username)
		if _, err := register.ParseActor(a.String()); err == nil {
			return a
		}
	}
	return register.System("meldeweg")
}

// workerName is "host-pid" cut to the register's worker alphabet.
func workerName(host string) string {
	b := []byte(host)
	for i, c := range b {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_'
		if !ok {
			b[i] = '-'
		}
	}
	h := strings.TrimLeft(string(b), ".-_")
	if h == "" {
		h = "host"
	}
	if len(h) > 50 {
		h = h[:50]
	}
	return h + "-" + strconv.Itoa(os.Getpid())
}

// reportAttempt tells the operator about a failed attempt (no payload, no
// personal data: message ID, attempt, cause, next state).
func (e *env) reportAttempt(r outbox.SendResult) {
	fmt.Fprintf(e.stderr, "%s: message %s attempt %d: %v (now %s)\n", e.name, r.Message.ID, r.Message.Attempt, r.Err, r.Message.State)
}

// durationFlag is a duration flag's value.
func durationFlag(fs *flag.FlagSet, name string) time.Duration {
	return fs.Lookup(name).Value.(flag.Getter).Get().(time.Duration)
}

// tlsCertificate turns an identity into a TLS certificate with its chain.
func tlsCertificate(id *pki.Identity) (tls.Certificate, error) {
	c := tls.Certificate{Certificate: [][]byte{id.Cert.Raw}, PrivateKey: id.Key, Leaf: id.Cert}
	for _, x := range withoutSelf(id.Chain, id.Cert) {
		c.Certificate = append(c.Certificate, x.Raw)
	}
	return c, nil
}

// payloadsUsage describes the --payloads flag of every command that reads
// or keeps payloads.
const payloadsUsage = "`DIR` of the payload and pseudonym keys; payloads are kept, encrypted with that key, in the register (default: REGISTER.payloads next to a SQLite register, else meldeweg-payloads)"

// openPayloads opens the payload store of the register at loc: its keys
// in the --payloads directory, the payloads in store.
func openPayloads(fs *flag.FlagSet, loc string, store register.Store) (*payload.Store, error) {
	ps, err := payload.Open(payloadsDir(fs, loc), store)
	if errors.Is(err, payload.ErrNoKey) || errors.Is(err, payload.ErrWrongKey) {
		return nil, fmt.Errorf("%w (--payloads names the directory of the register's payload.key)", err)
	}
	return ps, err
}

// payloadsDir is --payloads, else the default for the register at loc.
func payloadsDir(fs *flag.FlagSet, loc string) string {
	if dir := fs.Lookup("payloads").Value.String(); dir != "" {
		return dir
	}
	if isPostgresURL(loc) {
		return "meldeweg-payloads"
	}
	return loc + ".payloads"
}
