package bacheck

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"regexp"
	"sync"
	"time"

	"meldeweg.dev/meldeweg/basim"
	"meldeweg.dev/meldeweg/emaw/msg"
	"meldeweg.dev/meldeweg/emaw/rules"
	"meldeweg.dev/meldeweg/schemas"
	"meldeweg.dev/meldeweg/transport/baapi"
	"meldeweg.dev/meldeweg/transport/cms"
	"meldeweg.dev/meldeweg/transport/pki"
)

// Config configures a Checker.
type Config struct {
	// Registry supplies the schema bundles (XSozial and eM@w), the same
	// registry "meldeweg xsozial check" and "meldeweg emaw" use. Required.
	Registry *schemas.Registry
	// Decrypt is the BA's encryption identity (ba-encrypt); uploads are
	// opened with it. Its key must be RSA. Required.
	Decrypt *pki.Identity
	// Sign is the BA's signing identity (ba-sign); replies and inbound
	// messages are sealed with it. Required.
	Sign *pki.Identity
	// Trust holds the anchors an upload's signer must chain to (the test
	// CA). Required.
	Trust *x509.CertPool
	// Recipients are the encryption certificates replies are sealed to,
	// per channel: traeger-encrypt for XSozial, emaw-encrypt for eM@w.
	// Both are required.
	Recipients map[baapi.Channel]*x509.Certificate
	// Known lists the measures and participants the BA knows. Defaults to
	// nil: nothing is checked, and "provider not assigned" and
	// "participant unknown" never occur.
	Known *Directory
	// Providers are the Kennungen of the eM@w providers the BA offers
	// inbound Anmeldungen to (see Checker.WriteInbound). Their
	// Anmeldungen's participants and measures are added to Known when
	// Known is set. Defaults to none.
	Providers []string
	// BAErrors answers the first N deliveries of each eM@w event (by
	// NachrichtID) with a BA-internal error (code 9001), so that
	// re-delivery can be tested. Defaults to 0.
	BAErrors int
	// Kennung is the BA's Kennung as the Absender of acknowledgements and
	// inbound messages. Defaults to "BA-D123".
	Kennung string
	// MaxEmawBytes bounds the decrypted eM@w upload held in memory; larger
	// uploads are rejected. Defaults to 256 MiB (the unpacker's total).
	MaxEmawBytes int64
	// Now is the clock for checks, receipts and acknowledgements. Defaults
	// to time.Now.
	Now func() time.Time
	// Logger gets one line per judged upload: channel, message ID,
	// outcome. Defaults to none.
	Logger *slog.Logger
}

// Checker judges uploads as the BA. Create it with New; it is safe for
// concurrent use.
type Checker struct {
	cfg     Config
	decrypt crypto.Decrypter
	codec   *msg.Codec
	logger  *slog.Logger
	known   *index // nil: not checked

	mu       sync.Mutex
	received *rules.MemorySent // events acknowledged so far
	attempts map[string]int    // deliveries per NachrichtID, for BAErrors
}

var _ basim.Checker = (*Checker)(nil)

// reKennung is the eM@w Kennung pattern of the model bundles.
var reKennung = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9\-]{0,19}$`) })

// New checks cfg and returns a Checker. Messages name the field.
func New(cfg Config) (*Checker, error) {
	switch {
	case cfg.Registry == nil:
		return nil, errors.New("bacheck: Config.Registry is required")
	case cfg.Decrypt == nil:
		return nil, errors.New("bacheck: Config.Decrypt (ba-encrypt) is required")
	case cfg.Sign == nil:
		return nil, errors.New("bacheck: Config.Sign (ba-sign) is required")
	case cfg.Trust == nil:
		return nil, errors.New("bacheck: Config.Trust (the CA) is required")
	case cfg.Recipients[baapi.ChannelXSozial] == nil:
		return nil, errors.New("bacheck: Config.Recipients[xsozial] (traeger-encrypt) is required")
	case cfg.Recipients[baapi.ChannelEmaw] == nil:
		return nil, errors.New("bacheck: Config.Recipients[emaw] (emaw-encrypt) is required")
	case cfg.BAErrors < 0:
		return nil, errors.New("bacheck: Config.BAErrors must not be negative")
	}
	dec, ok := cfg.Decrypt.Key.(crypto.Decrypter)
	if !ok {
		return nil, fmt.Errorf("bacheck: Config.Decrypt: the key of %q cannot decrypt", cfg.Decrypt.Cert.Subject.CommonName)
	}
	if cfg.Kennung == "" {
		cfg.Kennung = "BA-D123"
	}
	if !reKennung().MatchString(cfg.Kennung) {
		return nil, fmt.Errorf("bacheck: Config.Kennung %q: expected 1 to 20 letters, digits or '-'", cfg.Kennung)
	}
	for _, p := range cfg.Providers {
		if !reKennung().MatchString(p) {
			return nil, fmt.Errorf("bacheck: Config.Providers: %q: expected 1 to 20 letters, digits or '-'", p)
		}
	}
	if cfg.MaxEmawBytes <= 0 {
		cfg.MaxEmawBytes = 256 << 20
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	c := &Checker{cfg: cfg, decrypt: dec, codec: msg.NewCodec(cfg.Registry), logger: logger,
		received: &rules.MemorySent{}, attempts: map[string]int{}}
	if cfg.Known != nil {
		idx, err := cfg.Known.index()
		if err != nil {
			return nil, fmt.Errorf("bacheck: Config.Known: %w", err)
		}
		for _, p := range cfg.Providers {
			for _, m := range Anmeldungen(p, cfg.Kennung) {
				idx.announce(p, m)
			}
		}
		c.known = idx
	}
	return c, nil
}

// LoadTestPKI loads the BA's side of the test PKI in dir (the layout of
// transport/pki): ba-encrypt and ba-sign as identities, ca.pem as the
// trust anchor, traeger-encrypt.pem and emaw-encrypt.pem as the reply
// recipients. It fills those fields of cfg and returns it.
func LoadTestPKI(dir string, cfg Config) (Config, error) {
	var err error
	load := func(stem string) *pki.Identity {
		if err != nil {
			return nil
		}
		var id *pki.Identity
		id, err = pki.LoadIdentity(filepath.Join(dir, stem+".pem"), filepath.Join(dir, stem+".key"), pki.Password{})
		if err != nil {
			err = fmt.Errorf("%s: %w", stem, err)
		}
		return id
	}
	cert := func(stem string) *x509.Certificate {
		if err != nil {
			return nil
		}
		var cs []*x509.Certificate
		cs, err = pki.LoadCertificates(filepath.Join(dir, stem+".pem"))
		if err != nil {
			err = fmt.Errorf("%s: %w", stem, err)
			return nil
		}
		return cs[0] // the leaf comes first; the CA follows it
	}
	cfg.Decrypt, cfg.Sign = load("ba-encrypt"), load("ba-sign")
	cfg.Recipients = map[baapi.Channel]*x509.Certificate{
		baapi.ChannelXSozial: cert("traeger-encrypt"),
		baapi.ChannelEmaw:    cert("emaw-encrypt"),
	}
	if err != nil {
		return cfg, err
	}
	cfg.Trust, err = pki.CertPool(filepath.Join(dir, "ca.pem"))
	return cfg, err
}

// Check implements basim.Checker: it judges the stored upload at payload
// and returns the sealed reply. It returns an error only when the context
// ends or the reply cannot be sealed; a failure of the BA's own processing
// is answered with a sealed BA-internal-error reply.
func (c *Checker) Check(ctx context.Context, ch baapi.Channel, id baapi.MessageID, payload string) (basim.Reply, error) {
	if ch != baapi.ChannelXSozial && ch != baapi.ChannelEmaw {
		return basim.Reply{}, fmt.Errorf("bacheck: unknown channel %q", ch)
	}
	plain, name, outcome, err := c.judge(ctx, ch, id, payload)
	if err != nil {
		if ctx.Err() != nil {
			return basim.Reply{}, ctx.Err()
		}
		c.logger.Error("BA-side processing failed; answering with a BA-internal error", "channel", ch, "message_id", id, "err", err)
		plain, name, outcome, err = c.internalError(ctx, ch, id)
		if err != nil {
			return basim.Reply{}, err
		}
	}
	sealed, err := c.seal(ctx, ch, plain)
	if err != nil {
		return basim.Reply{}, fmt.Errorf("bacheck: sealing the reply to %s: %w", id, err)
	}
	c.logger.Info("upload judged", "channel", ch, "message_id", id, "outcome", outcome)
	return basim.Reply{Outcome: outcome, Name: name, Data: sealed}, nil
}

// judge runs the channel's check. A panic in it (a bug, or input no test
// foresaw) becomes an error, so the sender gets a BA-internal error and
// the simulator keeps running.
func (c *Checker) judge(ctx context.Context, ch baapi.Channel, id baapi.MessageID, payload string) (plain []byte, name string, outcome baapi.Outcome, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic while judging: %v", r)
		}
	}()
	if ch == baapi.ChannelXSozial {
		return c.checkXSozial(ctx, id, payload)
	}
	return c.checkEmaw(ctx, id, payload)
}

// seal signs plain with ba-sign and encrypts it to the channel's recipient.
func (c *Checker) seal(ctx context.Context, ch baapi.Channel, plain []byte) ([]byte, error) {
	var out bytes.Buffer
	err := cms.Seal(ctx, &out, bytes.NewReader(plain), cms.SealOptions{
		Signer:     cms.Signer{Key: c.cfg.Sign.Key, Cert: c.cfg.Sign.Cert, Chain: nonLeaf(c.cfg.Sign)},
		Recipients: []*x509.Certificate{c.cfg.Recipients[ch]},
		Profile:    cms.ProfileCompat,
	})
	return out.Bytes(), err
}

// nonLeaf returns id's chain without the leaf and without self-signed
// roots (the receiver has the root as its trust anchor).
func nonLeaf(id *pki.Identity) []*x509.Certificate {
	var out []*x509.Certificate
	for _, x := range id.Chain {
		if x.Equal(id.Cert) || bytes.Equal(x.RawIssuer, x.RawSubject) {
			continue
		}
		out = append(out, x)
	}
	return out
}

// openOptions are the options uploads are opened with.
func (c *Checker) openOptions() cms.OpenOptions {
	return cms.OpenOptions{Key: c.decrypt, Cert: c.cfg.Decrypt.Cert, Trust: c.cfg.Trust, Profile: cms.ProfileCompat, Now: c.cfg.Now()}
}

// envelopeVerdict is why an upload could not be opened: the rule (UMS_*),
// the eM@w Fehler code and a text for the reply.
type envelopeVerdict struct {
	Rule string
	Code string
	Text string
}

// Envelope rules. Their codes are in the eM@w "rejected" range.
const (
	RuleDecrypt   = "UMS_0010" // not CMS, not for ba-encrypt, cannot be decrypted
	RuleSignature = "UMS_0020" // not signed, altered, signature does not verify
	RuleSigner    = "UMS_0030" // signer certificate untrusted, expired, wrong usage
	RuleAlgorithm = "UMS_0040" // algorithm refused
)

// classifyEnvelope classifies an error of cms.Open. The texts of the two
// key-unwrap failures are merged into one, so that the reply is not a
// padding oracle for RSA PKCS#1 v1.5 key transport.
func classifyEnvelope(err error) envelopeVerdict {
	var e envelopeVerdict
	switch {
	case errors.Is(err, cms.ErrKeyDecrypt), errors.Is(err, cms.ErrCiphertext):
		e.Rule, e.Code, e.Text = RuleDecrypt, CodeDecrypt, "Die Lieferung kann mit dem Schlüssel der BA nicht entschlüsselt werden (Schlüssel oder Chiffretext beschädigt)."
	case errors.Is(err, cms.ErrNotRecipient):
		e.Rule, e.Code, e.Text = RuleDecrypt, CodeDecrypt, "Die Lieferung ist nicht für das Verschlüsselungszertifikat der BA verschlüsselt: "+err.Error()
	case errors.Is(err, cms.ErrMalformed), errors.Is(err, cms.ErrTruncated), errors.Is(err, cms.ErrNotEncrypted):
		e.Rule, e.Code, e.Text = RuleDecrypt, CodeDecrypt, "Die Lieferung ist keine verschlüsselte CMS-Nachricht: "+err.Error()
	case errors.Is(err, cms.ErrUntrustedSigner), errors.Is(err, cms.ErrSignerExpired), errors.Is(err, cms.ErrSignerNotYetValid), errors.Is(err, cms.ErrKeyUsage):
		e.Rule, e.Code, e.Text = RuleSigner, CodeSigner, "Das Signaturzertifikat wird nicht anerkannt: "+err.Error()
	case errors.Is(err, cms.ErrAlgorithm):
		e.Rule, e.Code, e.Text = RuleAlgorithm, CodeAlgorithm, "Ein Algorithmus der Lieferung ist nicht zugelassen: "+err.Error()
	case errors.Is(err, cms.ErrNotSigned), errors.Is(err, cms.ErrContentAltered), errors.Is(err, cms.ErrBadSignature):
		e.Rule, e.Code, e.Text = RuleSignature, CodeSignature, "Die Signatur der Lieferung ist ungültig: "+err.Error()
	default:
		e.Rule, e.Code, e.Text = RuleDecrypt, CodeDecrypt, "Die Lieferung kann nicht geöffnet werden: "+err.Error()
	}
	return e
}

// cappedWriter writes to w until max bytes, then fails with errTooLarge.
type cappedWriter struct {
	w    io.Writer
	n    int64
	max  int64
	over bool
}

var errTooLarge = errors.New("content exceeds the size limit")

func (c *cappedWriter) Write(p []byte) (int, error) {
	if c.n+int64(len(p)) > c.max {
		c.over = true
		return 0, errTooLarge
	}
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// truncate shortens s to at most n runes, marking the cut.
func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
