package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"meldeweg.dev/meldeweg/console"
	"meldeweg.dev/meldeweg/transport/atomicfile"
	"meldeweg.dev/meldeweg/transport/baapi"
)

type consoleOptions struct {
	listen, tlsCert, tlsKey, readyFile string
	selfSigned                         bool
	users                              usersFileOptions
	endpoint                           endpointOptions
}

func consoleCommand() *command {
	o := &consoleOptions{}
	return &command{
		name:    "console",
		summary: "serve the web console (HTTPS) for operators, auditors, case workers and admins",
		usage:   `console [--listen ADDR] (--tls-cert FILE --tls-key FILE | --insecure-self-signed) [--users FILE] [--ready-file PATH] [ENDPOINT OPTIONS]`,
		help: `Serves the web console over HTTPS on ADDR until interrupted (SIGINT or
SIGTERM). Users log in with the accounts of the users file (see "meldeweg
users"); what each may see and do follows their role. The console reads
the register (--register, or the configuration) and, to show the personal
fields of inbound eM@w messages, opens them with the instance's eM@w
encryption key (--pki, or endpoints.emaw.encrypt_cert/encrypt_key); without
that key the inbox works but personal fields cannot be shown. The dashboard
lists that key's certificate chain and the configuration's "certificates"
(as "meldeweg certs check") with their days left.

--insecure-self-signed serves a throw-away self-signed certificate for
127.0.0.1 and localhost, for a demo on one machine only: browsers warn, and
nobody can check it is this console.

--ready-file writes the URL https://ADDR to PATH once listening (removed on
exit), for scripts that start the console in the background.

EXIT CODES
  0  stopped by a signal
  2  usage, configuration, certificate, users file or register error

EXAMPLES
  meldeweg console --listen 0.0.0.0:8443 --tls-cert console.pem --tls-key console.key \
      --users /etc/meldeweg/users.json --register /var/lib/meldeweg/register.db
  meldeweg console --insecure-self-signed --pki demo/pki --register demo/register.db \
      --users demo/users.json --listen 127.0.0.1:0 --ready-file demo/console.url`,
		setFlags: func(fs *flag.FlagSet) {
			fs.StringVar(&o.listen, "listen", "127.0.0.1:8443", "listen on `ADDR`")
			fs.StringVar(&o.tlsCert, "tls-cert", "", "the console's TLS certificate `FILE` (PEM)")
			fs.StringVar(&o.tlsKey, "tls-key", "", "the console's TLS key `FILE` (PEM)")
			fs.BoolVar(&o.selfSigned, "insecure-self-signed", false, "serve a throw-away self-signed certificate (demo only)")
			fs.StringVar(&o.readyFile, "ready-file", "", "write the URL to `PATH` once listening (removed on exit)")
			o.users.bind(fs)
			o.endpoint.bind(fs)
		},
		settingsFlags: o.endpoint.settingsFlags,
		run:           func(e *env, args []string) int { return runConsole(e, o, args) },
	}
}

func runConsole(e *env, o *consoleOptions, args []string) int {
	if len(args) != 0 {
		return e.usageErrorf("console takes no positional arguments")
	}
	var cert tls.Certificate
	var err error
	switch {
	case o.selfSigned && (o.tlsCert != "" || o.tlsKey != ""):
		return e.usageErrorf("--insecure-self-signed and --tls-cert/--tls-key exclude each other")
	case o.selfSigned:
		fmt.Fprintf(e.stderr, "%s: warning: serving a throw-away self-signed certificate (demo only)\n", e.name)
		cert, err = selfSigned()
	case o.tlsCert == "" || o.tlsKey == "":
		return e.usageErrorf("--tls-cert and --tls-key are required (or --insecure-self-signed for a demo)")
	default:
		cert, err = tls.LoadX509KeyPair(o.tlsCert, o.tlsKey)
	}
	if err != nil {
		return e.failf(exitError, "TLS certificate: %v", err)
	}
	users, err := console.OpenUsers(o.users.file())
	if err != nil {
		return e.failf(exitError, "%v", err)
	}
	if len(users.List()) == 0 {
		fmt.Fprintf(e.stderr, "%s: warning: %s holds no users; add one with \"meldeweg users add\"\n", e.name, o.users.file())
	}
	ob, err := e.outbox()
	if err != nil {
		return e.failf(exitError, "%v", err)
	}
	defer ob.Store.Close()
	logger := slog.New(slog.NewTextHandler(e.stderr, nil))
	cfg := console.Config{Store: ob.Store, Users: users, Logger: logger}
	s, err := e.settings()
	if err != nil {
		return e.failf(exitError, "%v", err)
	}
	if ep, err := buildEndpoint(s, baapi.ChannelEmaw, useReading, 0); err != nil {
		fmt.Fprintf(e.stderr, "%s: warning: personal fields of inbound messages cannot be shown: %v\n", e.name, err)
	} else {
		codec, err := emawCodec(e)
		if err != nil {
			return e.failf(exitError, "%v", err)
		}
		cfg.Open = console.EmawOpener(ob, ep, codec)
		for _, c := range append([]*x509.Certificate{ep.Reply.Cert}, ep.Reply.Chain...) {
			cfg.Certificates = append(cfg.Certificates, console.Certificate{Name: "eM@w encryption", Cert: c})
		}
	}
	for _, cc := range s.Certificates {
		certs, err := loadForCheck(cc)
		if err != nil {
			return e.failf(exitError, "certificate %s: %v", cc.Name, err)
		}
		for _, c := range certs {
			cfg.Certificates = append(cfg.Certificates, console.Certificate{Name: cc.Name, Cert: c})
		}
	}
	c, err := console.New(cfg)
	if err != nil {
		return e.failf(exitError, "%v", err)
	}
	l, err := net.Listen("tcp", o.listen)
	if err != nil {
		return e.failf(exitError, "%v", err)
	}
	url := "https://" + l.Addr().String()
	fmt.Fprintf(e.stdout, "console listening on %s\n", url)
	if o.readyFile != "" {
		if err := atomicfile.WriteBytes(o.readyFile, 0o644, []byte(url+"\n")); err != nil {
			l.Close()
			return e.failf(exitError, "--ready-file: %v", err)
		}
		defer os.Remove(o.readyFile)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := console.Serve(ctx, l, reloadUsers(c, users, logger), cert); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return e.failf(exitError, "%v", err)
	}
	return exitOK
}

// reloadUsers re-reads the users file before each request (it is small),
// so that "meldeweg users" changes, a disabled user above all, apply at
// once without a restart. A file that does not read keeps the last list.
func reloadUsers(h http.Handler, us *console.Users, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := us.Reload(); err != nil {
			log.Error("console: users file not re-read; keeping the last list", "err", err)
		}
		h.ServeHTTP(w, r)
	})
}

// selfSigned mints a throw-away certificate for 127.0.0.1, ::1 and
// localhost, valid for a day.
func selfSigned() (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: "Meldeweg console (self-signed, TEST ONLY)"},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}, DNSNames: []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}
