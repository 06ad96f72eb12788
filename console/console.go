package console

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"meldeweg.dev/meldeweg/transport/register"
)

//go:embed assets
var assets embed.FS

// Opener returns the readable text of an inbound message, personal
// fields included (the wiring opens the sealed payload with the
// instance's key and prints the eM@w message). The console calls it only
// after the user stated a purpose and the access was recorded.
type Opener func(ctx context.Context, e register.Entry) (string, error)

// Certificate is one certificate the dashboard watches.
type Certificate struct {
	Name string
	Cert *x509.Certificate
}

// Config configures a Console. Store and Users are required.
type Config struct {
	Store register.Store
	Users *Users
	// Open shows an inbound message's personal fields; nil means the
	// console cannot show them (the page says so).
	Open Opener
	// Verify checks the register for "verify now"; defaults to
	// Store.Verify without payload checks.
	Verify func(ctx context.Context) (register.VerifyReport, error)
	// Certificates are shown on the dashboard with their days left.
	Certificates []Certificate
	// Now is the clock; defaults to time.Now.
	Now func() time.Time
	// IdleTimeout ends a session not used for this long; defaults to 15
	// minutes. MaxSession ends any session after this long; defaults to
	// 8 hours.
	IdleTimeout, MaxSession time.Duration
	// MaxFailures failed logins within LockoutWindow lock the login (and,
	// counted separately, the client address) for Lockout. Default 5, 15
	// minutes and 15 minutes.
	MaxFailures            int
	LockoutWindow, Lockout time.Duration
	// ReplyWithin is the reply deadline of an inbound eM@w message, from
	// its receipt: a house rule, not a BA rule. Defaults to 5 days.
	ReplyWithin time.Duration
	// ExpiryWarning: certificates expiring within this are flagged.
	// Defaults to 60 days (as Domibus warns).
	ExpiryWarning time.Duration
	Logger        *slog.Logger
}

// Console is the web console: an http.Handler.
type Console struct {
	cfg      Config
	mux      *http.ServeMux
	sessions *sessions
	throttle *throttle
	pages    map[string]*template.Template

	verifyMu   sync.Mutex
	lastVerify *verifyResult
}

// New checks cfg and builds the console.
func New(cfg Config) (*Console, error) {
	if cfg.Store == nil || cfg.Users == nil {
		return nil, errors.New("console: Config.Store and Config.Users are required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&cfg.IdleTimeout, 15*time.Minute)
	def(&cfg.MaxSession, 8*time.Hour)
	def(&cfg.LockoutWindow, 15*time.Minute)
	def(&cfg.Lockout, 15*time.Minute)
	def(&cfg.ReplyWithin, 5*24*time.Hour)
	def(&cfg.ExpiryWarning, 60*24*time.Hour)
	if cfg.MaxFailures == 0 {
		cfg.MaxFailures = 5
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Verify == nil {
		st := cfg.Store
		cfg.Verify = func(ctx context.Context) (register.VerifyReport, error) {
			return st.Verify(ctx, register.VerifyParams{})
		}
	}
	c := &Console{cfg: cfg, mux: http.NewServeMux(), sessions: newSessions(cfg.IdleTimeout, cfg.MaxSession),
		throttle: newThrottle(cfg.MaxFailures, cfg.LockoutWindow, cfg.Lockout)}
	if err := c.parseTemplates(); err != nil {
		return nil, err
	}
	static, _ := fs.Sub(assets, "assets/static")
	c.mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	for _, rt := range c.routes() {
		c.mux.Handle(rt.Method+" "+rt.Pattern, c.guard(rt))
	}
	return c, nil
}

// ServeHTTP serves the console with its security headers.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	h.Set("Strict-Transport-Security", "max-age=31536000")
	c.mux.ServeHTTP(w, r)
}

// NewServer returns an HTTPS server for the console with every timeout
// set and TLS 1.2 as the floor; serve it with ServeTLS(l, "", "") or
// Serve(tls.NewListener(l, srv.TLSConfig)).
func NewServer(h http.Handler, cert tls.Certificate) *http.Server {
	return &http.Server{
		Handler:           h,
		TLSConfig:         &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}},
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
}

// Serve serves the console on l over TLS until ctx ends, then shuts down
// gracefully.
func Serve(ctx context.Context, l net.Listener, h http.Handler, cert tls.Certificate) error {
	srv := NewServer(h, cert)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(tls.NewListener(l, srv.TLSConfig)) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return srv.Shutdown(sctx)
	}
}

// clientAddr is the request's remote IP, for throttling.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// sameOrigin checks the Origin (or, without a usable one, Sec-Fetch-Site)
// of a state-changing request: a browser sends one of them, and it must
// name this console. Under Referrer-Policy no-referrer browsers send
// "Origin: null" with form posts, so "null" defers to Sec-Fetch-Site; a
// "null" origin without it is refused.
func sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o != "" && o != "null" {
		return o == "https://"+r.Host
	}
	if s := r.Header.Get("Sec-Fetch-Site"); s != "" {
		return s == "same-origin" || s == "none"
	}
	return o == "" // not a browser, or an old one: the CSRF token decides
}
