package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"meldeweg.dev/meldeweg/transport/client"
	"meldeweg.dev/meldeweg/transport/pki"
	"meldeweg.dev/meldeweg/transport/sim"
)

func simCommand() *command {
	return &command{
		name:    "sim",
		summary: "run the BA simulator (mTLS) for the demo and tests",
		usage:   `sim --pki DIR --dir STATE [--listen ADDR] [FAULT OPTIONS]`,
		help: `Runs a BA counterpart on loopback: an mTLS server that refuses clients
without a certificate from the given CA, stores and deduplicates uploads by
message ID, answers XSozial deliveries with feedback files and eM@w uploads
with OK/NOK acknowledgements, and offers the files in STATE/inbox/emaw/
(for example Anmeldungen) for download. Every accepted message ID is
recorded in STATE/accepted.jsonl before the receipt goes out.

The first line on standard output is "listening on https://ADDR", so
scripts can use --listen 127.0.0.1:0 and read the port. The simulator runs
until SIGINT or SIGTERM and then shuts down gracefully.

Uploads are judged structurally (eM@w: a readable ZIP with well-formed
XML; XSozial: a CMS structure); the replies are in the simulator's own
model format, not the BA's.

POSITIONAL ARGUMENTS
  none

EXIT CODES
  0  stopped by a signal after a graceful shutdown
  2  usage, certificate or listen error

EXAMPLES
  meldeweg pki init demo/pki
  meldeweg sim --pki demo/pki --dir demo/sim --listen 127.0.0.1:8443
  meldeweg sim --pki demo/pki --dir demo/sim --unavailable 2 --retry-after 1s --reset-uploads 1`,
		setFlags: func(fs *flag.FlagSet) {
			fs.String("listen", "127.0.0.1:8443", "listen `ADDR`ess (host:port; port 0 picks one)")
			fs.String("pki", "", "test PKI `DIR`: uses ba-server.pem/.key and trusts ca.pem")
			fs.String("cert", "", "server certificate `FILE` (PEM or .p12); overrides --pki")
			fs.String("key", "", "server key `FILE` (PEM); overrides --pki")
			fs.String("client-ca", "", "CA `FILE` client certificates must chain to; overrides --pki")
			fs.String("dir", "", "state `DIR`ectory (accepted.jsonl, uploads/, inbox/)")
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
	switch {
	case certFile == "" || caFile == "":
		return e.usageErrorf("give --pki DIR, or --cert, --key and --client-ca")
	case str("dir") == "":
		return e.usageErrorf("give --dir STATE for the simulator's state")
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
	s, err := sim.New(sim.Config{
		TLS: tlsCfg, Dir: str("dir"), ReplyWait: get("reply-wait").(time.Duration),
		Faults: sim.Faults{
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
	fmt.Fprintf(e.stdout, "listening on https://%s\n", l.Addr())

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
