package main

import (
	"context"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"meldeweg.dev/meldeweg/flow/outbox"
	"meldeweg.dev/meldeweg/transport/baapi"
	"meldeweg.dev/meldeweg/transport/register"
)

// sendOptions are the flags of "send".
type sendOptions struct {
	channel, messageID string
	endpoint           endpointOptions
	lease, timeout     time.Duration
	attempts           int
}

func sendCommand() *command {
	o := &sendOptions{}
	return &command{
		name:    "send",
		summary: "seal a file for the BA and deliver it through the outbox (mTLS, retries, exactly once)",
		usage:   `send FILE --channel xsozial|emaw [--message-id ID] [ENDPOINT OPTIONS]`,
		help: `Seals FILE for the BA (signed with this instance's signing certificate,
encrypted to the BA's encryption certificate), keeps the sealed form
encrypted at rest in the payload store next to the register, queues it in
the outbox with a stable message ID, and delivers it over mutual TLS. The
client retries connection errors and 5xx/429 answers with exponential
backoff, honouring Retry-After up to a cap, and re-sends the whole body on
every attempt. The message counts as sent only when the BA's receipt
confirms its ID, size and SHA-256; every step is an entry in the register.
The BA's answer (feedback, acknowledgement) is collected by "meldeweg poll".

For eM@w (--channel emaw) the plain upload ZIP is kept too, encrypted at
rest in the payload store and recorded as a "built" entry: "poll" reads it
back to re-deliver events after a BA-internal error, and "emaw due
--register" to know which reports were sent.

The message ID defaults to one derived from the channel and FILE's SHA-256,
so running the same command again, for example after a crash, continues
the same message instead of creating a second one, and the BA drops
whatever an interrupted attempt left behind. A message left in "sending" by
a killed process is taken over after --lease.

POSITIONAL ARGUMENTS
  FILE   the payload: an XSozial dataset (xsozial) or an eM@w upload ZIP (emaw)

EXIT CODES
  0  sent (or found sent before); the receipt confirmed it
  1  the BA refused the message (dead: a 4xx answer such as a conflict)
  2  usage, configuration, certificate, register or transport error; the
     message stays in the outbox and a later run continues it

EXAMPLES
  meldeweg send out/XSOZIAL_12345_2026-10_P.xml --channel xsozial --pki demo/pki --url https://127.0.0.1:8443
  meldeweg --config meldeweg.json send out/emaw-upload.zip --channel emaw
  meldeweg send pkg.zip --channel emaw --message-id emaw-0001 --register /var/lib/meldeweg/register.db`,
		setFlags: func(fs *flag.FlagSet) {
			fs.StringVar(&o.channel, "channel", "", "`CHANNEL`: xsozial or emaw (required)")
			fs.StringVar(&o.messageID, "message-id", "", "stable message `ID` (default: derived from channel and content)")
			o.endpoint.bind(fs)
			fs.DurationVar(&o.lease, "lease", 2*time.Minute, "take over a message left in sending by a dead process after `DURATION`")
			fs.DurationVar(&o.timeout, "timeout", 10*time.Minute, "give up waiting for the delivery after `DURATION` (the message stays queued)")
			fs.IntVar(&o.attempts, "attempts", 7, "HTTP attempts per claim, the first included (`N`)")
		},
		settingsFlags: o.endpoint.settingsFlags,
		run:           func(e *env, args []string) int { return runSend(e, o, args) },
	}
}

func runSend(e *env, o *sendOptions, args []string) int {
	if len(args) != 1 {
		return e.usageErrorf("expected exactly one FILE, got %d arguments", len(args))
	}
	if o.lease <= 0 || o.timeout <= 0 || o.attempts <= 0 {
		return e.usageErrorf("--lease, --timeout and --attempts must be positive")
	}
	ch, err := baapi.ParseChannel(o.channel)
	if err != nil {
		return e.usageErrorf("--channel: %v", err)
	}
	var id baapi.MessageID
	if s := o.messageID; s != "" {
		if id, err = baapi.ParseMessageID(s); err != nil {
			return e.usageErrorf("--message-id: %v", err)
		}
	}
	file := args[0]
	sum, size, err := hashFile(file)
	if err != nil {
		return e.failf(exitError, "%s: %v", file, describeIOError(err))
	}
	if size == 0 {
		return e.failf(exitError, "%s: the file is empty; nothing to deliver", file)
	}
	if id == "" {
		id = baapi.ContentMessageID(ch, sum)
	}

	ep, err := e.endpoint(ch, o.attempts)
	if err != nil {
		return e.failf(exitError, "%v", err)
	}
	defer ep.Client.Close()
	ob, err := e.outbox()
	if err != nil {
		return e.failf(exitError, "%v", err)
	}
	defer ob.Store.Close()
	ob.Lease = o.lease
	ob.Attempt = e.reportAttempt
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()

	rid := register.MessageID(id)
	// eM@w uploads are kept readable (encrypted at rest) for deadlines and
	// re-delivery after a BA-internal error (flow/exchange).
	// A new message is queued and claimed in one commit and uploaded at
	// once; one that is in the outbox already (a run that stopped) is
	// continued.
	m, created, err := ob.Send(ctx, ep, outbox.SubmitParams{ID: rid, Plain: file, Detail: "send " + filepath.Base(file),
		KeepPlain: ch == baapi.ChannelEmaw})
	if !created && m.ID != "" {
		fmt.Fprintf(e.stderr, "%s: message %s was already in the outbox; continued it\n", e.name, id)
	}
	if errors.Is(err, outbox.ErrNotDelivered) {
		return e.failf(exitError, "%v; it stays in the outbox: run the same command again, or let the next run continue it", err)
	}
	if err != nil {
		return e.failf(exitError, "%v", err)
	}
	switch m.State {
	case register.MessageRejected, register.MessageDead:
		return e.failf(exitFindings, "message %s is %s: %s", id, m.State, m.LastError)
	}
	fmt.Fprintf(e.stdout, "%s: %s %s, sealed %d bytes, SHA-256 %s\n", file, m.State, id, m.Payload.Size, m.Payload.SHA256)
	return exitOK
}

// hashFile returns the SHA-256 and size of the file at path.
func hashFile(path string) ([sha256.Size]byte, int64, error) {
	var sum [sha256.Size]byte
	f, err := os.Open(path)
	if err != nil {
		return sum, 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return sum, 0, err
	}
	h.Sum(sum[:0])
	return sum, n, nil
}
