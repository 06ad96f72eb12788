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

func simCommand() *command {
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
			fs.String("listen", "127.0.0.1:8443", "listen `ADDR`ess (host:port; port 0 picks one)")
			fs.String("ready-file", "", "write the URL to `PATH` once listening (removed on exit)")
			fs.String("pki", "", "test PKI `DIR`: TLS with ba-server and ca.pem; CMS with ba-encrypt, ba-sign, traeger-encrypt, emaw-encrypt")
			fs.String("cert", "", "server certificate `FILE` (PEM or .p12); overrides --pki for TLS")
			fs.String("key", "", "server key `FILE` (PEM); overrides --pki for TLS")
			fs.String("client-ca", "", "CA `FILE` client certificates must chain to; overrides --pki for TLS")
			fs.String("dir", "", "state `DIR`ectory (accepted.jsonl, uploads/, replies/, inbox/)")
			fs.String("known", "", "JSON `FILE` of known measures and participants (eM@w 2001/2002)")
			fs.Int("ba-errors", 0, "answer the first `N` deliveries of each eM@w event with a BA-internal error (9001)")
			fs.String("emaw-providers", "T4711", "comma-separated provider `KENNUNGEN` offered inbound Anmeldungen; empty for none")
			fs.Int("unavailable", 0, "answer the first `N` upload attempts of each message with 503")
			fs.Duration("retry-after", time.Second, "Retry-After sent with 503 (`DURATION`)")
			fs.Int("reset-uploads", 0, "reset the connection mid-body on the next `N` upload attempts of each message")
			fs.Duration("slow", 0, "delay every answer by `DURATION`")
			fs.Bool("duplicate-replies", false, "offer every reply twice in the inbox")
			fs.Int("corrupt-responses", 0, "garble the first `N` receipts of each message and downloads of each file")
			fs.Duration("reply-wait", 2*time.Second, "how long a reply request waits for a pending check (`DURATION`)")
		},
		run: runSim,
	}
}

func runSim(e *env, fs *flag.FlagSet, args []string) int {
	if len(args) != 0 {
		return e.usageErrorf("sim takes no positional arguments")
	}
	str := func(n string) string { return fs.Lookup(n).Value.String() }
	get := func(n string) any { return fs.Lookup(n).Value.(flag.Getter).Get() }
	pkiDir, certFile, keyFile, caFile := str("pki"), str("cert"), str("key"), str("client-ca")
	if pkiDir != "" {
		certFile = orDefault(certFile, filepath.Join(pkiDir, "ba-server.pem"))
		keyFile = orDefault(keyFile, filepath.Join(pkiDir, "ba-server.key"))
		caFile = orDefault(caFile, filepath.Join(pkiDir, "ca.pem"))
	}
	var providers []string
	for _, p := range strings.Split(str("emaw-providers"), ",") {
		if p = strings.TrimSpace(p); p != "" {
			providers = append(providers, p)
		}
	}
	switch {
	case pkiDir == "":
		return e.usageErrorf("give --pki DIR: the BA's keys (ba-encrypt, ba-sign) and the receivers' certificates (traeger-encrypt, emaw-encrypt) come from it")
	case str("dir") == "":
		return e.usageErrorf("give --dir STATE for the simulator's state")
	case get("ba-errors").(int) < 0:
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
	bcfg := bacheck.Config{Registry: reg, Providers: providers, BAErrors: get("ba-errors").(int), Logger: logger}
	if f := str("known"); f != "" {
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
	if _, err := checker.WriteInbound(context.Background(), filepath.Join(str("dir"), "inbox", "emaw")); err != nil {
		return e.failf(exitError, "inbound Anmeldungen: %v", err)
	}
	s, err := basim.New(basim.Config{
		TLS: tlsCfg, Dir: str("dir"), ReplyWait: get("reply-wait").(time.Duration), Checker: checker, Logger: logger,
		Faults: basim.Faults{
			Unavailable: get("unavailable").(int), RetryAfter: get("retry-after").(time.Duration),
			ResetUploads: get("reset-uploads").(int), Slow: get("slow").(time.Duration),
			DuplicateReplies: get("duplicate-replies").(bool), CorruptResponses: get("corrupt-responses").(int),
		},
	})
	if err != nil {
		return e.failf(exitError, "%v", err)
	}
	l, err := net.Listen("tcp", str("listen"))
	if err != nil {
		s.Close()
		return e.failf(exitError, "%v", err)
	}
	url := "https://" + l.Addr().String()
	fmt.Fprintf(e.stdout, "listening on %s\n", url)
	ready := str("ready-file")
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
