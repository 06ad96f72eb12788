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

	"meldeweg.dev/meldeweg/emaw/msg"
	"meldeweg.dev/meldeweg/flow/exchange"
	"meldeweg.dev/meldeweg/flow/monthly"
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
		summary: "check a file for its channel, seal it for the BA and deliver it through the outbox (mTLS, retries, exactly once)",
		usage:   `send FILE --channel xsozial|emaw [--message-id ID] [ENDPOINT OPTIONS]`,
		help: `Checks FILE as its channel requires (see below), then seals it for the BA
(signed with this instance's signing certificate, encrypted to the BA's
encryption certificate), keeps the sealed form encrypted at rest in the
payload store next to the register, queues it in the outbox with a stable
message ID, and delivers it over mutual TLS. The
client retries connection errors and 5xx/429 answers with exponential
backoff, honouring Retry-After up to a cap, and re-sends the whole body on
every attempt. The message counts as sent only when the BA's receipt
confirms its ID, size and SHA-256; every step is an entry in the register.
The BA's answer (feedback, acknowledgement) is collected by "meldeweg poll".

Nothing is sent that fails its channel's checks; a refusal lists the
findings and queues nothing:

  xsozial  the three stages of "meldeweg xsozial check": RTX (file level,
           against the configured Trägernummer), VTX (XSD of the bundle in
           force for the file's month) and PTX (that bundle's plausibility
           rules). Findings are summed up per rule without record keys;
           "meldeweg xsozial check FILE" gives the full report.
  emaw     a safe nested upload ZIP ("meldeweg emaw unpack" checks), every
           event valid against the bundle in force and carrying its
           NachrichtID, and every message passing the business rules, PDFs
           included ("meldeweg emaw pack" checks). What is sent is the bytes
           checked.

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
  1  FILE failed its channel's checks (nothing queued), or the BA refused
     the message (dead: a 4xx answer such as a conflict)
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
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()
	// What is sent on a channel passes that channel's checks first.
	data, code := e.checkForSend(ctx, ch, file, size)
	if code != exitOK {
		return code
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

	rid := register.MessageID(id)
	// eM@w uploads are kept readable (encrypted at rest) for deadlines and
	// re-delivery after a BA-internal error (flow/exchange).
	// A new message is queued and claimed in one commit and uploaded at
	// once; one that is in the outbox already (a run that stopped) is
	// continued.
	m, created, err := ob.Send(ctx, ep, outbox.SubmitParams{ID: rid, Plain: file, Data: data, Detail: "send " + filepath.Base(file),
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

// checkForSend checks file as channel ch requires before it is sent
// (flow/monthly.CheckDataset, flow/exchange.CheckUpload) and reports a
// refusal with its findings (exit 1). For eM@w it returns the bytes
// checked, so that exactly those are sent; an XSozial dataset, which may
// be large, is sent from the file.
func (e *env) checkForSend(ctx context.Context, ch baapi.Channel, file string, size int64) ([]byte, int) {
	reg, err := e.registry()
	if err != nil {
		return nil, e.failf(exitError, "%v", err)
	}
	switch ch {
	case baapi.ChannelXSozial:
		traeger, err := xsozialTraeger(e)
		if err != nil {
			return nil, e.failf(exitError, "%v", err)
		}
		rep, err := monthly.CheckDataset(ctx, file, reg, traeger)
		if err != nil {
			return nil, e.failf(exitError, "%s: %v", file, describeIOError(err))
		}
		if !rep.Passed {
			for _, l := range monthly.Refusal(rep) {
				fmt.Fprintf(e.stderr, "%s: %s: %s\n", e.name, filepath.Base(file), l)
			}
			return nil, e.failf(exitFindings, "%s: check %s; nothing was queued (\"meldeweg xsozial check %s\" for the full report)", file, rep.Verdict(), file)
		}
		return nil, exitOK
	case baapi.ChannelEmaw:
		if size > exchange.MaxUploadBytes {
			return nil, e.failf(exitFindings, "%s: %d bytes, larger than an upload may be (%d); nothing was queued", file, size, int64(exchange.MaxUploadBytes))
		}
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, e.failf(exitError, "%s: %v", file, describeIOError(err))
		}
		err = exchange.CheckUpload(ctx, msg.NewCodec(reg), data, filepath.Base(file))
		var ue *exchange.UploadError
		if errors.As(err, &ue) {
			for _, f := range ue.Findings {
				fmt.Fprintf(e.stderr, "%s: %s\n", e.name, f)
			}
			return nil, e.failf(exitFindings, "%s is not a valid eM@w upload (%d %s); nothing was queued", file, len(ue.Findings), plural(len(ue.Findings), "finding", "findings"))
		}
		if err != nil {
			return nil, e.failf(exitError, "%s: %v", file, err)
		}
		if code := e.checkProvider(ctx, reg, data, file); code != exitOK {
			return nil, code
		}
		return data, exitOK
	}
	return nil, e.failf(exitError, "channel %s: no checks known; nothing was queued", ch)
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
