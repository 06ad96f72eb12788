package outbox

import (
	"crypto/x509"
	"io"
	"log/slog"
	"time"

	"meldeweg.dev/meldeweg/transport/baapi"
	"meldeweg.dev/meldeweg/transport/client"
	"meldeweg.dev/meldeweg/transport/cms"
	"meldeweg.dev/meldeweg/transport/pki"
	"meldeweg.dev/meldeweg/transport/register"
	"meldeweg.dev/meldeweg/transport/register/payload"
)

// Endpoint is a BA endpoint for one channel, with this instance's
// identities for it.
type Endpoint struct {
	Channel baapi.Channel
	// URL is recorded in the register with every message.
	URL string
	// Client talks to the endpoint over mutual TLS.
	Client *client.Client
	// Signer signs what this instance uploads.
	Signer cms.Signer
	// BA is the BA's encryption certificate; uploads are sealed to it.
	BA *x509.Certificate
	// Reply opens what the BA seals to this instance.
	Reply *pki.Identity
	// Trust anchors the BA's signatures on replies.
	Trust *x509.CertPool
	// Profile is the algorithm profile uploads are sealed with. Defaults
	// to cms.ProfileCompat. Answers are opened by another rule (see
	// AnswerProfile).
	Profile cms.Profile
}

func (ep *Endpoint) profile() cms.Profile {
	if ep.Profile == "" {
		return cms.ProfileCompat
	}
	return ep.Profile
}

// Outbox is the register with its payload store (which keeps payloads in
// the same register), as one party (operator or system) and one worker
// use it. The zero values of the optional fields are usable; an Outbox is
// safe for concurrent use once set up.
type Outbox struct {
	Store    register.Store // required
	Payloads *payload.Store // required
	// Actor is recorded with every entry. Defaults to System("outbox").
	Actor register.Actor
	// Worker names this process in claims, as HOST-PID (the process ID
	// after the last "-"): a holder with this worker's HOST whose PID no
	// longer runs is known to be gone. Required for Send and Deliver.
	Worker string
	// Lease: a message left in sending longer than this by another worker
	// is taken over. It must exceed the longest upload. Defaults to 2
	// minutes.
	Lease time.Duration
	// Backoff sets the next attempt's time after a failed one (the client
	// has already retried within the attempt). Defaults to
	// client.BackoffPolicy{Min: 5s, Max: 10m}.
	Backoff client.RetryPolicy
	// Now is the clock for retry times and lease checks. Defaults to
	// time.Now.
	Now func() time.Time
	// Attempt, if set, is told about every failed upload attempt, after
	// its outcome was recorded.
	Attempt func(SendResult)
	// Logger hears, at info level, what Deliver waits for and until when
	// (another worker's lease, a retry time) and which dead worker's
	// message it reclaimed. Defaults to none.
	Logger *slog.Logger
	// MaxAnswerBytes bounds an answer of the BA opened into memory (Open,
	// Reopen). The sealed answer is bounded by the client's
	// MaxReplyBytes, but its content is compressed inside the signature
	// and can inflate a thousandfold before the signature is checked.
	// Defaults to 256 MiB.
	MaxAnswerBytes int64
}

func (o *Outbox) actor() register.Actor {
	if o.Actor.IsZero() {
		return register.System("outbox")
	}
	return o.Actor
}

func (o *Outbox) lease() time.Duration {
	if o.Lease <= 0 {
		return 2 * time.Minute
	}
	return o.Lease
}

func (o *Outbox) backoff() client.RetryPolicy {
	if o.Backoff == nil {
		return client.BackoffPolicy{Min: 5 * time.Second, Max: 10 * time.Minute}
	}
	return o.Backoff
}

func (o *Outbox) now() time.Time {
	if o.Now == nil {
		return time.Now()
	}
	return o.Now()
}

func (o *Outbox) logger() *slog.Logger {
	if o.Logger == nil {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return o.Logger
}

func (o *Outbox) maxAnswer() int64 {
	if o.MaxAnswerBytes <= 0 {
		return 256 << 20
	}
	return o.MaxAnswerBytes
}

// oneLine keeps a detail to one printable line of at most 500 runes.
func oneLine(s string) string {
	r := []rune(s)
	for i, c := range r {
		if c < 0x20 || c == 0x7f {
			r[i] = ' '
		}
	}
	if len(r) > 500 {
		r = append(r[:497], '.', '.', '.')
	}
	return string(r)
}
