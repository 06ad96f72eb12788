package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"meldeweg.dev/meldeweg/transport/atomicfile"

	"meldeweg.dev/meldeweg/basim"
	"meldeweg.dev/meldeweg/basim/bacheck"
	"meldeweg.dev/meldeweg/transport/client"
	"meldeweg.dev/meldeweg/transport/pki"
)

// simOptions are the flags of "sim".
type simOptions struct {
	listen           string
	readyFile        string
	pki              string
	cert             string
	key              string
	clientCa         string
	dir              string
	known            string
	baErrors         int
	emawProviders    string
	unavailable      int
	retryAfter       time.Duration
	resetUploads     int
	slow             time.Duration
	duplicateReplies bool
	corruptResponses int
	replyWait        time.Duration
}

func simCommand() *command {
	o := &simOptions{}
	return &command{
		name:    "sim",
		summary: "run the BA simulator (mTLS) for the demo and tests",
		usage:   `sim --pki DIR --dir STATE [--listen ADDR] [--ready-file PATH] [BA OPTIONS] [FAULT OPTIONS]`,
		help: `Runs a BA counterpart on loopback: an mTLS server that refuses clients
without a certificate from the given CA, stores and deduplicates uploads by
message ID, judges every upload as the BA would and answers with a sealed
reply. Every accepted message ID is recorded in STATE/accepted.jsonl before
the receipt goes out; every reply is kept in STATE/replies/ so a restarted
simulator gives the same answer.

Each upload is opened with the BA's key (PKI ba-encrypt; profiles compat
and bsi) and its signer verified against the CA (PKI ca.pem); an upload
that cannot be opened or verified is rejected, naming why. Then:

  xsozial  the three-stage check of "meldeweg xsozial check" (RTX, VTX,
           PTX) with the same bundles; the Trägernummer is the one in the
           dataset header. Reply: a feedback file, angenommen or abgelehnt
           with every finding.
  emaw     the nested ZIP is unpacked safely, every event validated
           against the bundle in force and the business rules. Reply: an
           OK/NOK acknowledgement with one answer per event: acknowledged,
           rejected (1xxx), provider not assigned (2001), participant
           unknown (2002), BA-internal error (9xxx).

Replies are signed with ba-sign and encrypted to traeger-encrypt (XSozial)
or emaw-encrypt (eM@w). For each provider in --emaw-providers the
simulator offers three inbound Anmeldungen (AnmeldungKontakt, AnmeldungBAE,
AGHAnmeldung; sealed the same way, kept in STATE/inbox/emaw/) for
download, plus any other file found there.

"Provider not assigned" and "participant unknown" need --known FILE, a
JSON list of the measures each provider is assigned to and of the
participants the BA knows (absent lists are not checked; the
Anmeldungen's measures and participants are added):

  {"measures": [{"provider": "T4711", "massnahme": "123/21/1/26",
                 "verfahrenszweig": "06"}],
   "participants": [{"kundennummer": "123A456789", "cosachid": "C0000001"}]}

The first line on standard output is "listening on https://ADDR". With
--ready-file the URL https://ADDR is also written to PATH (whole, through a
rename) once the simulator listens, and removed when it stops; scripts use
--listen 127.0.0.1:0 and wait for the file. The simulator runs until
SIGINT or SIGTERM and then shuts down gracefully.

POSITIONAL ARGUMENTS
  none

EXIT CODES
  0  stopped by a signal after a graceful shutdown
  2  usage, certificate, schema or listen error

EXAMPLES
  meldeweg pki init demo/pki
  meldeweg sim --pki demo/pki --dir demo/sim --listen 127.0.0.1:8443
  meldeweg sim --pki demo/pki --dir demo/sim --listen 127.0.0.1:0 --ready-file demo/sim.url
  meldeweg sim --pki demo/pki --dir demo/sim --known demo/known.json --ba-errors 1
  meldeweg sim --pki demo/pki --dir demo/sim --unavailable 2 --retry-after 1s --reset-uploads 1`,
		setFlags: func(fs *flag.FlagSet) {
			fs.StringVar(&o.listen, "listen", "127.0.0.1:8443", "listen `ADDR`ess (host:port; port 0 picks one)")
			fs.StringVar(&o.readyFile, "ready-file", "", "write the URL to `PATH` once listening (removed on exit)")
			fs.StringVar(&o.pki, "pki", "", "test PKI `DIR`: TLS with ba-server and ca.pem; CMS with ba-encrypt, ba-sign, traeger-encrypt, emaw-encrypt")
			fs.StringVar(&o.cert, "cert", "", "server certificate `FILE` (PEM or .p12); overrides --pki for TLS")
			fs.StringVar(&o.key, "key", "", "server key `FILE` (PEM); overrides --pki for TLS")
			fs.StringVar(&o.clientCa, "client-ca", "", "CA `FILE` client certificates must chain to; overrides --pki for TLS")
			fs.StringVar(&o.dir, "dir", "", "state `DIR`ectory (accepted.jsonl, uploads/, replies/, inbox/)")
			fs.StringVar(&o.known, "known", "", "JSON `FILE` of known measures and participants (eM@w 2001/2002)")
			fs.IntVar(&o.baErrors, "ba-errors", 0, "answer the first `N` deliveries of each eM@w event with a BA-internal error (9001)")
			fs.StringVar(&o.emawProviders, "emaw-providers", "T4711", "comma-separated provider `KENNUNGEN` offered inbound Anmeldungen; empty for none")
			fs.IntVar(&o.unavailable, "unavailable", 0, "answer the first `N` upload attempts of each message with 503")
			fs.DurationVar(&o.retryAfter, "retry-after", time.Second, "Retry-After sent with 503 (`DURATION`)")
			fs.IntVar(&o.resetUploads, "reset-uploads", 0, "reset the connection mid-body on the next `N` upload attempts of each message")
			fs.DurationVar(&o.slow, "slow", 0, "delay every answer by `DURATION`")
			fs.BoolVar(&o.duplicateReplies, "duplicate-replies", false, "offer every reply twice in the inbox")
			fs.IntVar(&o.corruptResponses, "corrupt-responses", 0, "garble the first `N` receipts of each message and downloads of each file")
			fs.DurationVar(&o.replyWait, "reply-wait", 2*time.Second, "how long a reply request waits for a pending check (`DURATION`)")
		},
		run: func(e *env, args []string) int { return runSim(e, o, args) },
	}
}

func runSim(e *env, o *simOptions, args []string) int {
	if len(args) != 0 {
		return e.usageErrorf("sim takes no positional arguments")
	}
	pkiDir, certFile, keyFile, caFile := o.pki, o.cert, o.key, o.clientCa
	if pkiDir != "" {
		certFile = orDefault(certFile, filepath.Join(pkiDir, "ba-server.pem"))
		keyFile = orDefault(keyFile, filepath.Join(pkiDir, "ba-server.key"))
		caFile = orDefault(caFile, filepath.Join(pkiDir, "ca.pem"))
	}
	var providers []string
	for _, p := range strings.Split(o.emawProviders, ",") {
		if p = strings.TrimSpace(p); p != "" {
			providers = append(providers, p)
		}
	}
	switch {
	case pkiDir == "":
		return e.usageErrorf("give --pki DIR: the BA's keys (ba-encrypt, ba-sign) and the receivers' certificates (traeger-encrypt, emaw-encrypt) come from it")
	case o.dir == "":
		return e.usageErrorf("give --dir STATE for the simulator's state")
	case o.baErrors < 0:
		return e.usageErrorf("--ba-errors must not be negative")
	}
	cert, err := loadTLSIdentity(certFile, keyFile, "")
	if err != nil {
		return e.failf(exitError, "%v", err)
	}
	pool, err := pki.CertPool(caFile)
	if err != nil {
		return e.failf(exitError, "client CA: %v", err)
	}
	tlsCfg, err := client.ServerTLSConfig(cert, pool)
	if err != nil {
		return e.failf(exitError, "%v", err)
	}
	reg, err := e.registry()
	if err != nil {
		return e.failf(exitError, "%v", err)
	}
	logger := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	bcfg := bacheck.Config{Registry: reg, Providers: providers, BAErrors: o.baErrors, Logger: logger}
	if f := o.known; f != "" {
		if bcfg.Known, err = bacheck.ReadDirectory(f); err != nil {
			return e.failf(exitError, "--known: %v", err)
		}
	}
	if bcfg, err = bacheck.LoadTestPKI(pkiDir, bcfg); err != nil {
		return e.failf(exitError, "--pki %s: %v", pkiDir, err)
	}
	checker, err := bacheck.New(bcfg)
	if err != nil {
		return e.failf(exitError, "%v", err)
	}
	if _, err := checker.WriteInbound(context.Background(), filepath.Join(o.dir, "inbox", "emaw")); err != nil {
		return e.failf(exitError, "inbound Anmeldungen: %v", err)
	}
	s, err := basim.New(basim.Config{
		TLS: tlsCfg, Dir: o.dir, ReplyWait: o.replyWait, Checker: checker, Logger: logger,
		Faults: basim.Faults{
			Unavailable: o.unavailable, RetryAfter: o.retryAfter,
			ResetUploads: o.resetUploads, Slow: o.slow,
			DuplicateReplies: o.duplicateReplies, CorruptResponses: o.corruptResponses,
		},
	})
	if err != nil {
		return e.failf(exitError, "%v", err)
	}
	l, err := net.Listen("tcp", o.listen)
	if err != nil {
		s.Close()
		return e.failf(exitError, "%v", err)
	}
	url := "https://" + l.Addr().String()
	fmt.Fprintf(e.stdout, "listening on %s\n", url)
	ready := o.readyFile
	if ready != "" {
		if err := atomicfile.WriteBytes(ready, 0o644, []byte(url+"\n")); err != nil {
			l.Close()
			s.Close()
			return e.failf(exitError, "--ready-file: %v", err)
		}
		defer os.Remove(ready)
	}

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	done := make(chan error, 1)
	go func() { done <- s.Serve(l) }()
	select {
	case err := <-done:
		return e.failf(exitError, "%v", err)
	case <-sigs:
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		return e.failf(exitError, "shutdown: %v", err)
	}
	if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return e.failf(exitError, "%v", err)
	}
	st := s.Stats()
	fmt.Fprintf(e.stdout, "stopped: %d accepted, %d duplicates dropped, %d refused\n", st.Accepted, st.Duplicates, st.Refused)
	return exitOK
}

func orDefault(v, def string) string {
	if v != "" {
		return v
	}
	return def
}

// loadTLSIdentity loads a certificate and key (PEM, or PKCS#12 unlocked by
// the password in passwordFile) as a tls.Certificate with its chain.
func loadTLSIdentity(certFile, keyFile, passwordFile string) (tls.Certificate, error) {
	id, err := pki.LoadIdentity(certFile, keyFile, pki.Password{File: passwordFile})
	if err != nil {
		return tls.Certificate{}, err
	}
	c := tls.Certificate{Certificate: [][]byte{id.Cert.Raw}, PrivateKey: id.Key, Leaf: id.Cert}
	for _, x := range id.Chain {
		if x.Equal(id.Cert) {
			continue
		}
		c.Certificate = append(c.Certificate, x.Raw)
	}
	return c, nil
}
