package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/user"
	"strconv"
	"strings"

	"meldeweg.dev/meldeweg/cmd/meldeweg/internal/settings"
	"meldeweg.dev/meldeweg/flow/outbox"
	"meldeweg.dev/meldeweg/transport/baapi"
	"meldeweg.dev/meldeweg/transport/client"
	"meldeweg.dev/meldeweg/transport/cms"
	"meldeweg.dev/meldeweg/transport/pki"
	"meldeweg.dev/meldeweg/transport/register"
	"meldeweg.dev/meldeweg/transport/register/payload"
	"meldeweg.dev/meldeweg/transport/register/pgstore"
	"meldeweg.dev/meldeweg/transport/register/sqlitestore"
)

// This file is the one builder every command uses to turn resolved
// settings into what it works with: a channel's endpoint (identities,
// trust, profile and the mTLS client), the register, its payload store,
// and the outbox over both. Nothing else loads an identity from the
// configuration or opens the register.

// use says how much of an endpoint a command needs.
type use int

const (
	// useTransport: everything, to upload and fetch over mutual TLS.
	useTransport use = iota
	// useReading: only what opens kept files the BA sealed to this
	// instance (encryption identity, BA CA, profile); no URL, no client.
	useReading
)

// buildEndpoint builds the channel's endpoint from s. attempts is the
// client's HTTP attempts per request (0: the client's default). A missing
// field is an error naming it and the flag that sets it.
func buildEndpoint(s *settings.Settings, ch baapi.Channel, u use, attempts int) (*outbox.Endpoint, error) {
	ec := s.Endpoints[ch]
	field := func(k string) string { return "endpoints." + string(ch) + "." + k }
	need := []struct{ key, value, hint string }{
		{"ca_cert", ec.CACert, "--pki"},
		{"encrypt_cert", ec.EncryptCert, "--pki"},
	}
	if u == useTransport {
		if ec.URL == nil {
			return nil, s.NotSet(field("url"), "--url")
		}
		need = append(need, []struct{ key, value, hint string }{
			{"client_cert", ec.ClientCert, "--pki"}, {"sign_cert", ec.SignCert, "--pki"}, {"ba_encrypt_cert", ec.BAEncryptCert, "--pki"},
		}...)
	}
	for _, n := range need {
		if n.value == "" {
			return nil, s.NotSet(field(n.key), n.hint)
		}
	}
	profile := ec.Profile
	if profile == "" {
		profile = cms.ProfileCompat // no endpoint configured at all
	}
	where := "endpoint " + string(ch)
	enc, err := pki.LoadIdentity(ec.EncryptCert, ec.EncryptKey, ec.Password)
	if err != nil {
		return nil, fmt.Errorf("%s: encryption identity: %w", where, err)
	}
	trust, err := pki.CertPool(ec.CACert)
	if err != nil {
		return nil, fmt.Errorf("%s: BA CA: %w", where, err)
	}
	ep := &outbox.Endpoint{Channel: ch, Reply: enc, Trust: trust, Profile: profile}
	if ec.URL != nil {
		ep.URL = ec.URL.String()
	}
	if u == useReading {
		return ep, nil
	}
	tlsID, err := pki.LoadIdentity(ec.ClientCert, ec.ClientKey, ec.Password)
	if err != nil {
		return nil, fmt.Errorf("%s: TLS client identity: %w", where, err)
	}
	sign, err := pki.LoadIdentity(ec.SignCert, ec.SignKey, ec.Password)
	if err != nil {
		return nil, fmt.Errorf("%s: signing identity: %w", where, err)
	}
	baCerts, err := pki.LoadCertificates(ec.BAEncryptCert)
	if err != nil || len(baCerts) == 0 {
		return nil, fmt.Errorf("%s: the BA's encryption certificate: %v", where, err)
	}
	tlsCfg, err := client.ClientTLSConfig(tlsCertificate(tlsID), trust, "")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	c, err := client.New(client.Config{BaseURL: ep.URL, TLS: tlsCfg, Attempts: attempts})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	ep.Client = c
	ep.Signer = cms.Signer{Key: sign.Key, Cert: sign.Cert, Chain: withoutSelf(sign.Chain, sign.Cert)}
	ep.BA = baCerts[0]
	return ep, nil
}

// openRegister opens the register of s. With mustExist, a SQLite file
// that does not exist is an error instead of a new, empty register (the
// read-only commands must not create one by a typo).
func openRegister(ctx context.Context, s *settings.Settings, mustExist bool) (register.Store, error) {
	r := s.Register
	if r.IsPostgres() {
		return pgstore.Open(ctx, r.Location, pgstore.Options{Tenant: s.Tenant})
	}
	if mustExist {
		if _, err := os.Stat(r.Location); errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("register %s does not exist (give --register, $MELDEWEG_REGISTER or \"register\" in the configuration)", r)
		}
	}
	return sqlitestore.Open(ctx, r.Location, sqlitestore.Options{Tenant: s.Tenant})
}

// openOutbox opens the register of s with its payload store, as this
// operator and process.
func openOutbox(ctx context.Context, s *settings.Settings, mustExist bool) (*outbox.Outbox, error) {
	store, err := openRegister(ctx, s, mustExist)
	if err != nil {
		return nil, err
	}
	kek, err := loadKEK(ctx, s)
	if err != nil {
		store.Close()
		return nil, err
	}
	ps, err := payload.OpenWith(s.Payloads, store, payload.Options{KEK: kek})
	if errors.Is(err, payload.ErrNoKey) || errors.Is(err, payload.ErrWrongKey) {
		err = fmt.Errorf("%w (--payloads, or payloads in the configuration, names the directory of the register's payload.key)", err)
	}
	if err != nil {
		store.Close()
		return nil, err
	}
	host, _ := os.Hostname()
	return &outbox.Outbox{Store: store, Payloads: ps, Actor: currentActor(), Worker: workerName(host)}, nil
}

// endpoint builds the channel's endpoint from the run's settings.
func (e *env) endpoint(ch baapi.Channel, attempts int) (*outbox.Endpoint, error) {
	s, err := e.settings()
	if err != nil {
		return nil, err
	}
	return buildEndpoint(s, ch, useTransport, attempts)
}

// outbox opens the run's register and payload store.
func (e *env) outbox() (*outbox.Outbox, error) {
	s, err := e.settings()
	if err != nil {
		return nil, err
	}
	ob, err := openOutbox(context.Background(), s, false)
	if err != nil {
		return nil, err
	}
	// The logger tells the operator what a delivery waits for (another
	// worker's lease, a retry time) and which dead worker's message it
	// took back.
	ob.Logger = slog.New(slog.NewTextHandler(e.stderr, nil))
	return ob, nil
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

// tlsCertificate turns an identity into a TLS certificate with its chain.
func tlsCertificate(id *pki.Identity) tls.Certificate {
	c := tls.Certificate{Certificate: [][]byte{id.Cert.Raw}, PrivateKey: id.Key, Leaf: id.Cert}
	for _, x := range withoutSelf(id.Chain, id.Cert) {
		c.Certificate = append(c.Certificate, x.Raw)
	}
	return c
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
