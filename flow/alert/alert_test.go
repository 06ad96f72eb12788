package alert_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"meldeweg.dev/meldeweg/flow/alert"
	"meldeweg.dev/meldeweg/transport/register/sqlitestore"
)

// newState returns the register's State on a fresh SQLite register, as
// the service uses it.
func newState(t *testing.T) alert.RegisterState {
	t.Helper()
	s, err := sqlitestore.Open(context.Background(), filepath.Join(t.TempDir(), "register.db"), sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return alert.RegisterState{Store: s}
}

// receiver is a webhook receiver on loopback.
type receiver struct {
	mu      sync.Mutex
	notices []alert.Notice
	auth    []string
	fail    bool
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	var n alert.Notice
	if err := json.NewDecoder(req.Body).Decode(&n); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.notices = append(r.notices, n)
	r.auth = append(r.auth, req.Header.Get("Authorization"))
}

func (r *receiver) kinds() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, n := range r.notices {
		out = append(out, string(n.Kind)+" "+n.Incident.Key)
	}
	return out
}

func TestEachIncidentAlertsOnceAndResolvesOnce(t *testing.T) {
	rec := &receiver{}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	wh := &alert.Webhook{URL: u, Secret: "s3cret"}
	a := &alert.Alerts{State: newState(t), Route: func(string) []alert.Notifier { return []alert.Notifier{wh} }}
	ctx := context.Background()

	cert := alert.Incident{Key: "cert-expiry/traeger-sign/30d", Scope: "12345", Severity: alert.Warning, Summary: "certificate traeger-sign expires in 29 days"}
	rej := alert.Incident{Key: "xsozial/12345/2026-10/rejected", Scope: "12345", Severity: alert.Critical, Summary: "delivery rejected"}
	passes := [][]alert.Incident{{cert}, {cert}, {cert, rej}, {rej}, {rej}, {}}
	for i, cur := range passes {
		if err := a.Reconcile(ctx, cur); err != nil {
			t.Fatalf("pass %d: %v", i, err)
		}
	}
	want := []string{"raised " + cert.Key, "raised " + rej.Key, "resolved " + cert.Key, "resolved " + rej.Key}
	if got := rec.kinds(); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("notices = %q, want %q", got, want)
	}
	if rec.auth[0] != "Bearer s3cret" {
		t.Errorf("webhook Authorization = %q", rec.auth[0])
	}
}

func TestAFailedWebhookIsTriedAgainNextPass(t *testing.T) {
	rec := &receiver{fail: true}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	a := &alert.Alerts{State: newState(t), Route: func(string) []alert.Notifier { return []alert.Notifier{&alert.Webhook{URL: u}} }}
	inc := alert.Incident{Key: "ba-unreachable", Severity: alert.Warning, Summary: "BA unreachable"}
	err := a.Reconcile(context.Background(), []alert.Incident{inc})
	if err == nil || !strings.Contains(err.Error(), "503") || !strings.Contains(err.Error(), "ba-unreachable") {
		t.Fatalf("a failing webhook gave %v; want an error naming the status and the incident", err)
	}
	rec.mu.Lock()
	rec.fail = false
	rec.mu.Unlock()
	if err := a.Reconcile(context.Background(), []alert.Incident{inc}); err != nil {
		t.Fatal(err)
	}
	if got := rec.kinds(); len(got) != 1 {
		t.Errorf("after the webhook came back: %q, want one raised notice", got)
	}
}

func TestPrefixesKeepChecksApart(t *testing.T) {
	rec := &receiver{}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	a := &alert.Alerts{State: newState(t), Route: func(string) []alert.Notifier { return []alert.Notifier{&alert.Webhook{URL: u}} }}
	ctx := context.Background()
	cert := alert.Incident{Key: "cert-expiry/x/7d", Summary: "x"}
	due := alert.Incident{Key: "due/overdue/1", Summary: "y"}
	if err := a.Reconcile(ctx, []alert.Incident{cert}, "cert-expiry/"); err != nil {
		t.Fatal(err)
	}
	if err := a.Reconcile(ctx, []alert.Incident{due}, "due/"); err != nil {
		t.Fatal(err)
	}
	if got := rec.kinds(); len(got) != 2 {
		t.Errorf("the deadline pass resolved the certificate's incident: %q", got)
	}
}

// --- SMTP with STARTTLS against a real listener (emersion/go-smtp) ---

type mailbox struct {
	mu   sync.Mutex
	msgs []string
	tls  []bool
	user []string
}

type backend struct{ box *mailbox }

func (b backend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	_, isTLS := c.TLSConnectionState()
	return &session{box: b.box, tls: isTLS}, nil
}

type session struct {
	box  *mailbox
	tls  bool
	user string
}

func (s *session) AuthMechanisms() []string { return []string{"PLAIN"} }
func (s *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != "meldeweg" || pass != "pw" {
			return smtp.ErrAuthFailed
		}
		s.user = user
		return nil
	}), nil
}
func (s *session) Mail(string, *smtp.MailOptions) error { return nil }
func (s *session) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (s *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.box.mu.Lock()
	defer s.box.mu.Unlock()
	s.box.msgs = append(s.box.msgs, string(b))
	s.box.tls = append(s.box.tls, s.tls)
	s.box.user = append(s.box.user, s.user)
	return nil
}
func (s *session) Reset()        {}
func (s *session) Logout() error { return nil }

func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "smtp.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(c)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool
}

func startSMTP(t *testing.T, withTLS bool) (string, *mailbox, *x509.CertPool) {
	t.Helper()
	box := &mailbox{}
	s := smtp.NewServer(backend{box})
	s.Domain = "localhost"
	s.ReadTimeout, s.WriteTimeout = 10*time.Second, 10*time.Second
	var pool *x509.CertPool
	if withTLS {
		var cert tls.Certificate
		cert, pool = selfSigned(t)
		s.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(ln)
	t.Cleanup(func() { s.Close() })
	return ln.Addr().String(), box, pool
}

func TestMailUsesSTARTTLSAndAuthenticates(t *testing.T) {
	addr, box, pool := startSMTP(t, true)
	m := &alert.Mail{Addr: addr, From: "meldeweg@jobcenter.test", To: []string{"it@jobcenter.test"},
		Username: "meldeweg", Password: "pw", TLS: &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}}
	a := &alert.Alerts{State: newState(t), Route: func(string) []alert.Notifier { return []alert.Notifier{m} }}
	inc := alert.Incident{Key: "cert-expiry/ba-tls/7d", Severity: alert.Critical, Summary: "certificate ba-tls expires in 6 days", Detail: "renew it"}
	ctx := context.Background()
	if err := a.Reconcile(ctx, []alert.Incident{inc}); err != nil {
		t.Fatal(err)
	}
	if err := a.Reconcile(ctx, nil); err != nil {
		t.Fatal(err)
	}
	box.mu.Lock()
	defer box.mu.Unlock()
	if len(box.msgs) != 2 {
		t.Fatalf("got %d mails, want raised and resolved", len(box.msgs))
	}
	for i, msg := range box.msgs {
		if !box.tls[i] || box.user[i] != "meldeweg" {
			t.Errorf("mail %d: tls=%v user=%q; want STARTTLS and authentication", i, box.tls[i], box.user[i])
		}
		if !strings.Contains(msg, "X-Meldeweg-Incident: cert-expiry/ba-tls/7d") {
			t.Errorf("mail %d lacks the incident header:\n%s", i, msg)
		}
	}
	if !strings.Contains(box.msgs[0], "Subject: [Meldeweg RAISED] certificate ba-tls expires") || !strings.Contains(box.msgs[1], "Subject: [Meldeweg resolved]") {
		t.Errorf("subjects:\n%s\n---\n%s", box.msgs[0], box.msgs[1])
	}
}

func TestMailRefusesAServerWithoutSTARTTLS(t *testing.T) {
	addr, box, _ := startSMTP(t, false)
	m := &alert.Mail{Addr: addr, From: "a@b.test", To: []string{"c@d.test"}}
	err := m.Notify(context.Background(), alert.Notice{Kind: alert.Raised, Incident: alert.Incident{Key: "k", Summary: "s"}})
	if err == nil || !strings.Contains(err.Error(), "STARTTLS") {
		t.Fatalf("Notify without STARTTLS = %v, want a refusal", err)
	}
	if len(box.msgs) != 0 {
		t.Error("a mail went out in the clear")
	}
}
