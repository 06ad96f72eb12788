package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"time"

	"meldeweg.dev/meldeweg/transport/baapi"
	"meldeweg.dev/meldeweg/transport/client"
	"meldeweg.dev/meldeweg/transport/pki"
	"meldeweg.dev/meldeweg/transport/register"
	"meldeweg.dev/meldeweg/transport/register/sqlitestore"
)

func sendCommand() *command {
	return &command{
		name:    "send",
		summary: "deliver a file to the BA through the outbox (mTLS, retries, exactly once)",
		usage:   `send FILE --channel xsozial|emaw [--message-id ID] [CONNECTION OPTIONS]`,
		help: `Puts FILE into the outbox and delivers it: the payload is copied into the
spool next to the register (synced), the message is enqueued with a stable
message ID, then claimed and uploaded over mutual TLS. The client retries
connection errors and 5xx/429 answers with exponential backoff, honouring
Retry-After up to a cap, and re-sends the whole file on every attempt. The
message counts as sent only when the BA's receipt confirms its ID, size and
SHA-256; every step is an entry in the register.

The message ID defaults to one derived from the channel and the file's
SHA-256, so running the same command again, for example after a crash,
continues the same message instead of creating a second one, and the BA
drops whatever an interrupted attempt left behind. A message left in
"sending" by a killed process is taken over after --lease.

For xsozial, FILE is the sealed (signed and encrypted) delivery; for emaw,
the ZIP package.

POSITIONAL ARGUMENTS
  FILE   the payload to deliver

EXIT CODES
  0  sent (or found sent before); the receipt confirmed it
  1  the BA refused the message (dead: a 4xx answer such as a conflict)
  2  usage, configuration, certificate, register or transport error; the
     message stays in the outbox and a later run continues it

EXAMPLES
  meldeweg send out/2026-01.xml.p7m --channel xsozial --pki demo/pki --url https://127.0.0.1:8443
  meldeweg --config meldeweg.json send out/emaw-0001.zip --channel emaw
  meldeweg send pkg.zip --channel emaw --message-id emaw-0001 --register /var/lib/meldeweg/register.db`,
		setFlags: func(fs *flag.FlagSet) {
			fs.String("channel", "", "`CHANNEL`: xsozial or emaw (required)")
			fs.String("message-id", "", "stable message `ID` (default: derived from channel and content)")
			addConnectionFlags(fs)
			fs.Duration("lease", 2*time.Minute, "take over a message left in sending by a dead process after `DURATION`")
			fs.Duration("timeout", 10*time.Minute, "give up waiting for the delivery after `DURATION` (the message stays queued)")
			fs.Int("attempts", 7, "HTTP attempts per claim, the first included (`N`)")
		},
		run: runSend,
	}
}

// addConnectionFlags declares the flags send and poll share.
func addConnectionFlags(fs *flag.FlagSet) {
	fs.String("url", "", "BA endpoint `URL` (default: configuration ba.url)")
	fs.String("pki", "", "test PKI `DIR`: trusts ca.pem, uses traeger-client (xsozial) or emaw-client (emaw)")
	fs.String("ca", "", "the BA's CA certificate `FILE`, pinned (default: configuration ba.ca_cert)")
	fs.String("cert", "", "client certificate `FILE`, PEM or .p12 (default: configuration ba.client_cert)")
	fs.String("key", "", "client key `FILE` (PEM) (default: configuration ba.client_key)")
	fs.String("key-password-file", "", "`FILE` with the PKCS#12 password")
	fs.String("register", defaultRegisterPath(), "register database `FILE` (SQLite); the payload spool sits next to it")
}

// defaultRegisterPath is $MELDEWEG_REGISTER, else meldeweg-register.db in
// the working directory.
func defaultRegisterPath() string {
	if p := os.Getenv("MELDEWEG_REGISTER"); p != "" {
		return p
	}
	return "meldeweg-register.db"
}

// connection is what send and poll need to talk to the BA.
type connection struct {
	url    string
	client *client.Client
	store  register.Store
	spool  client.SpoolDir
	actor  register.Actor
}

// connect builds the mTLS client and opens the register. The caller
// closes both.
func connect(e *env, fs *flag.FlagSet, ch baapi.Channel, attempts int) (*connection, error) {
	cfg, err := e.config()
	if err != nil {
		return nil, err
	}
	str := func(n string) string { return fs.Lookup(n).Value.String() }
	url := orDefault(str("url"), cfg.BA.URL)
	ca := orDefault(str("ca"), cfg.BA.CACert)
	cert := orDefault(str("cert"), cfg.BA.ClientCert)
	key := orDefault(str("key"), cfg.BA.ClientKey)
	pw := orDefault(str("key-password-file"), cfg.BA.KeyPasswordFile)
	if dir := str("pki"); dir != "" {
		stem := "emaw-client"
		if ch == baapi.ChannelXSozial {
			stem = "traeger-client"
		}
		ca = orDefault(str("ca"), filepath.Join(dir, "ca.pem"))
		cert = orDefault(str("cert"), filepath.Join(dir, stem+".pem"))
		key = orDefault(str("key"), filepath.Join(dir, stem+".key"))
	}
	switch {
	case url == "":
		return nil, errors.New("no BA endpoint: give --url or set ba.url in the configuration")
	case ca == "":
		return nil, errors.New("no BA CA certificate to pin: give --ca or --pki, or set ba.ca_cert")
	case cert == "":
		return nil, errors.New("no client certificate: give --cert or --pki, or set ba.client_cert")
	}
	id, err := loadTLSIdentity(cert, key, pw)
	if err != nil {
		return nil, err
	}
	pool, err := pki.CertPool(ca)
	if err != nil {
		return nil, fmt.Errorf("BA CA: %w", err)
	}
	tlsCfg, err := client.ClientTLSConfig(id, pool, "")
	if err != nil {
		return nil, err
	}
	c, err := client.New(client.Config{BaseURL: url, TLS: tlsCfg, Attempts: attempts})
	if err != nil {
		return nil, err
	}
	regPath := str("register")
	store, err := sqlitestore.Open(context.Background(), regPath, sqlitestore.Options{})
	if err != nil {
		c.Close()
		return nil, err
	}
	return &connection{url: url, client: c, store: store, spool: client.SpoolDir(regPath + ".payloads"), actor: currentActor()}, nil
}

func (c *connection) close() {
	c.client.Close()
	c.store.Close()
}

// currentActor is the operator running the command, by login, or the
// system component "send" when the login does not fit the register's
// alphabet.
func currentActor() register.Actor {
	if u, err := user.Current(); err == nil {
		a := register.Operator(u.Username)
		if _, err := register.ParseActor(a.String()); err == nil {
			return a
		}
	}
	return register.System("send")
}

func runSend(e *env, fs *flag.FlagSet, args []string) int {
	if len(args) != 1 {
		return e.usageErrorf("expected exactly one FILE, got %d arguments", len(args))
	}
	str := func(n string) string { return fs.Lookup(n).Value.String() }
	get := func(n string) any { return fs.Lookup(n).Value.(flag.Getter).Get() }
	ch, err := baapi.ParseChannel(str("channel"))
	if err != nil {
		return e.usageErrorf("--channel: %v", err)
	}
	var id baapi.MessageID
	if s := str("message-id"); s != "" {
		if id, err = baapi.ParseMessageID(s); err != nil {
			return e.usageErrorf("--message-id: %v", err)
		}
	}
	file := args[0]
	if st, err := os.Stat(file); err != nil {
		return e.failf(exitError, "%s: %v", file, describeIOError(err))
	} else if st.Size() == 0 {
		return e.failf(exitError, "%s: the file is empty; nothing to deliver", file)
	}

	conn, err := connect(e, fs, ch, get("attempts").(int))
	if err != nil {
		return e.failf(exitError, "%v", err)
	}
	defer conn.close()
	ctx, cancel := context.WithTimeout(context.Background(), get("timeout").(time.Duration))
	defer cancel()

	ref, err := conn.spool.Put(file)
	if err != nil {
		return e.failf(exitError, "%v", err)
	}
	if id == "" {
		id = baapi.ContentMessageID(ch, ref.SHA256)
	}
	rid := register.MessageID(id)
	_, err = conn.store.Enqueue(ctx, register.EnqueueParams{ID: rid, Channel: register.Channel(ch), Endpoint: conn.url,
		Payload: ref, Actor: conn.actor, Detail: "send " + filepath.Base(file)})
	if errors.Is(err, register.ErrDuplicateMessage) {
		m, merr := conn.store.Message(ctx, rid)
		if merr != nil {
			return e.failf(exitError, "%v", merr)
		}
		if m.Payload != ref {
			return e.failf(exitError, "message %s was queued before with another payload (SHA-256 %s); choose another --message-id", id, m.Payload.SHA256)
		}
		fmt.Fprintf(e.stderr, "%s: message %s is already in the outbox (%s); continuing it\n", e.name, id, m.State)
	} else if err != nil {
		return e.failf(exitError, "%v", err)
	}

	host, _ := os.Hostname()
	sender := &client.Sender{Store: conn.store, Client: conn.client, Payloads: conn.spool, Actor: conn.actor,
		Worker: workerName(host), Lease: get("lease").(time.Duration)}
	for {
		m, err := conn.store.Message(ctx, rid)
		if err != nil {
			return e.failf(exitError, "%v", err)
		}
		switch m.State {
		case register.MessageSent, register.MessageAcknowledged:
			fmt.Fprintf(e.stdout, "%s: %s %s, %d bytes, SHA-256 %s\n", file, m.State, id, m.Payload.Size, m.Payload.SHA256)
			return exitOK
		case register.MessageRejected, register.MessageDead:
			return e.failf(exitFindings, "message %s is %s: %s", id, m.State, m.LastError)
		}
		results, err := sender.SendDue(ctx, 1)
		if err != nil {
			if ctx.Err() != nil {
				return e.failf(exitError, "message %s not delivered within --timeout; it stays in the outbox (%s)", id, m.State)
			}
			return e.failf(exitError, "%v", err)
		}
		for _, r := range results {
			if r.Err != nil {
				fmt.Fprintf(e.stderr, "%s: message %s attempt %d: %v (now %s)\n", e.name, r.Message.ID, r.Message.Attempt, r.Err, r.Message.State)
			}
		}
		if len(results) > 0 {
			continue
		}
		// Nothing due: wait for our retry time or the lease of a dead
		// process, in steps so the deadline is noticed.
		wait := time.Second
		if m.State == register.MessageRetryWait {
			wait = min(wait, time.Until(m.NextAttemptAt))
		} else if m.State == register.MessageSending {
			wait = min(wait, time.Until(m.ClaimedAt.Add(sender.Lease)))
		}
		t := time.NewTimer(max(wait, 20*time.Millisecond))
		select {
		case <-ctx.Done():
			t.Stop()
			return e.failf(exitError, "message %s not delivered within --timeout; it stays in the outbox (%s)", id, m.State)
		case <-t.C:
		}
	}
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
	h := string(b)
	if h == "" || !(h[0] >= 'a' && h[0] <= 'z' || h[0] >= 'A' && h[0] <= 'Z' || h[0] >= '0' && h[0] <= '9') {
		h = "host" + h
	}
	if len(h) > 50 {
		h = h[:50]
	}
	return h + "-" + strconv.Itoa(os.Getpid())
}
