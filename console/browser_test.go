package console_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"meldeweg.dev/meldeweg/basim"
	"meldeweg.dev/meldeweg/basim/bacheck"
	"meldeweg.dev/meldeweg/basim/simtest"
	"meldeweg.dev/meldeweg/console"
	"meldeweg.dev/meldeweg/emaw/msg"
	"meldeweg.dev/meldeweg/flow/exchange"
	"meldeweg.dev/meldeweg/flow/monthly"
	"meldeweg.dev/meldeweg/flow/outbox"
	"meldeweg.dev/meldeweg/schemas"
	"meldeweg.dev/meldeweg/transport/baapi"
	"meldeweg.dev/meldeweg/transport/register"
	"meldeweg.dev/meldeweg/transport/register/payload"
	"meldeweg.dev/meldeweg/transport/register/sqlitestore"
	"meldeweg.dev/meldeweg/xsozial"
	"meldeweg.dev/meldeweg/xsozial/synth"
)

const (
	traeger  = "12345"
	provider = "T4711"
	password = "browser test password"
)

// chromium finds the browser: $MELDEWEG_CHROMIUM, else Debian's.
func chromium(t *testing.T) string {
	p := os.Getenv("MELDEWEG_CHROMIUM")
	if p == "" {
		p = "/usr/bin/chromium"
	}
	if _, err := os.Stat(p); err != nil {
		t.Skipf("no Chromium at %s (apt-get install chromium, or set MELDEWEG_CHROMIUM): %v", p, err)
	}
	return p
}

// screenshots is where the pages' screenshots go: $MELDEWEG_SCREENSHOTS
// if set (kept as artefacts), else a temporary directory.
func screenshots(t *testing.T) string {
	if d := os.Getenv("MELDEWEG_SCREENSHOTS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

// deliver runs a production XSozial month and an eM@w poll against the
// simulator, so the register holds a delivery with its feedback and the
// provider's inbound Anmeldungen.
func deliver(t *testing.T, dir string) (*outbox.Outbox, *outbox.Endpoint, *msg.Codec) {
	t.Helper()
	ctx := context.Background()
	reg, err := schemas.Load(schemas.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ba := simtest.StartBA(t, bacheck.Config{Registry: reg, Providers: []string{provider}}, basim.Faults{})
	store, err := sqlitestore.Open(ctx, filepath.Join(dir, "register.db"), sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	ps, err := payload.Open(filepath.Join(dir, "payloads"), store)
	if err != nil {
		t.Fatal(err)
	}
	ob := &outbox.Outbox{Store: store, Payloads: ps, Actor: register.System("test"), Worker: "test-1"}
	month := schemas.MonthOf(time.Now()).AddMonths(-1)
	b, err := reg.Select(xsozial.Standard, month)
	if err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(dir, "src")
	if _, err := synth.WriteSource(src, synth.Options{BGs: 20, Seed: 7, Traeger: traeger, Month: month, Version: b.Version}); err != nil {
		t.Fatal(err)
	}
	res, err := monthly.Run(ctx, monthly.Params{Traeger: traeger, Month: month, SourceDir: src, WorkDir: filepath.Join(dir, "out"),
		Registry: reg, Endpoint: ba.Endpoint(t, baapi.ChannelXSozial), Outbox: ob, Software: "meldeweg", SoftwareVersion: "test",
		Now: time.Now, FeedbackWait: 20 * time.Second, PollEvery: 50 * time.Millisecond})
	if err != nil {
		t.Fatalf("monthly run: %v", err)
	}
	_ = res
	ep := ba.Endpoint(t, baapi.ChannelEmaw)
	codec := msg.NewCodec(reg)
	rep, err := exchange.Poll(ctx, exchange.PollParams{Outbox: ob, Endpoint: ep, Codec: codec})
	if err != nil || len(rep.Inbound) == 0 {
		t.Fatalf("poll: %d inbound, %v", len(rep.Inbound), err)
	}
	return ob, ep, codec
}

func selfSigned(t *testing.T) tls.Certificate {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "console test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func TestBrowser(t *testing.T) {
	exe := chromium(t)
	shots := screenshots(t)
	dir := t.TempDir()
	ob, ep, codec := deliver(t, dir)

	users, err := console.OpenUsers(filepath.Join(dir, "users.json"))
	if err != nil {
		t.Fatal(err)
	}
	users.Params = console.HashParams{Time: 1, MemKiB: 1024, Threads: 1}
	for _, r := range console.Roles() {
		if err := users.Add(string(r), r, []string{"*"}, password); err != nil {
			t.Fatal(err)
		}
	}
	c, err := console.New(console.Config{Store: ob.Store, Users: users, Logger: slog.New(slog.NewTextHandler(t.Output(), nil)), Open: console.EmawOpener(ob, ep, codec),
		Certificates: []console.Certificate{{Name: "eM@w encryption", Cert: ep.Reply.Cert}}})
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- console.Serve(sctx, l, c, selfSigned(t)) }()
	t.Cleanup(func() { stop(); <-served })
	base := "https://" + l.Addr().String()

	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.Flag("ignore-certificate-errors", true), // the test's self-signed certificate
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelA()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	// The first run starts the browser, which lives as long as that
	// run's context: no timeout on it, only on the steps after.
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	run := func(what string, acts ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		if err := chromedp.Do(sctx, acts...); err != nil {
			bctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			body, _ := chromedp.Run(bctx, chromedp.OuterHTML(chromedp.CSS("html")))
			t.Fatalf("%s: %v; the page says:\n%s", what, err, body)
		}
	}
	shot := func(name string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			buf, err := chromedp.FullScreenshot(100)(ctx, tg)
			if err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(shots, name+".png"), buf, 0o644)
		})
	}
	text := func(sel string) string {
		t.Helper()
		sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		s, err := chromedp.Run(sctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("read %s: %v", sel, err)
		}
		return strings.TrimSpace(s)
	}
	login := func(who string) {
		t.Helper()
		run("log in as "+who, chromedp.Navigate(base+"/login"), chromedp.WaitVisible(chromedp.CSS("#login")),
			chromedp.SendKeys(chromedp.CSS("#login"), who), chromedp.SendKeys(chromedp.CSS("#password"), password),
			chromedp.Click(chromedp.CSS("main button[type=submit]")), chromedp.WaitVisible(chromedp.CSS("header nav")))
	}
	logout := func() {
		t.Helper()
		run("log out", chromedp.Click(chromedp.CSS("header form.logout button")), chromedp.WaitVisible(chromedp.CSS("#login")))
	}

	// The login page, then the operator's dashboard after the delivery.
	run("login page", chromedp.Navigate(base+"/login"), chromedp.WaitVisible(chromedp.CSS("#login")), shot("login"))
	login("operator")
	if h := text("h1"); h != "Dashboard" {
		t.Fatalf("operator lands on %q, want Dashboard", h)
	}
	main := text("main")
	if !strings.Contains(main, traeger) || !strings.Contains(main, "acknowledged") {
		t.Fatalf("dashboard does not show Träger %s's month as acknowledged:\n%s", traeger, main)
	}
	run("dashboard", shot("dashboard"))

	// The message and its feedback.
	run("open the month", chromedp.Click(chromedp.CSS("ul.months a")), chromedp.WaitVisible(chromedp.CSS("#feedback")))
	if fb := text("main"); !strings.Contains(fb, "feedback") || strings.Contains(fb, "No feedback recorded") {
		t.Fatalf("message page shows no feedback:\n%s", fb)
	}
	run("message", shot("message"))
	run("message log", chromedp.Navigate(base+"/messages"), chromedp.WaitVisible(chromedp.CSS("main table")), shot("messages"))
	logout()

	// The case worker takes over an Anmeldung after stating a purpose.
	login("caseworker")
	run("inbox", chromedp.WaitVisible(chromedp.CSS("main table")), shot("inbox"))
	run("open an Anmeldung", chromedp.Click(chromedp.Search(`//main//a[starts-with(text(), "Anmeldung")]`)),
		chromedp.WaitVisible(chromedp.CSS("#purpose")))
	if strings.Contains(text("main"), "Kundennummer") {
		t.Fatal("personal fields shown before a purpose was stated")
	}
	run("state a purpose", chromedp.SetValue(chromedp.CSS("#purpose"), console.Purposes[0]),
		chromedp.Click(chromedp.Search(`//button[text()="Show personal fields"]`)),
		chromedp.WaitVisible(chromedp.CSS("pre.personal")))
	if p := text("pre.personal"); strings.Contains(p, "[redacted]") || !strings.Contains(p, "Kundennummer") {
		t.Fatalf("personal fields not shown:\n%s", p)
	}
	run("item", shot("item"))
	run("take over", chromedp.Click(chromedp.Search(`//button[text()="Take over"]`)), chromedp.WaitVisible(chromedp.Search(`//button[text()="Mark done"]`)))
	if s := text("#item-state"); s != "taken over by caseworker" {
		t.Fatalf("item state %q", s)
	}
	itemURL, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}

	// A case worker is refused the register export.
	run("export as case worker", chromedp.Navigate(base+"/register/export"), chromedp.WaitVisible(chromedp.CSS("h1")))
	if h := text("h1"); h != "Forbidden" {
		t.Fatalf("case worker's export: %q, want Forbidden", h)
	}
	run("refused", shot("refused"))

	// A form posted without its CSRF token is refused, and changes nothing.
	run("back to the item", chromedp.Navigate(itemURL), chromedp.WaitVisible(chromedp.Search(`//button[text()="Mark done"]`)))
	run("forge", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := chromedp.Evaluate[any](`document.querySelectorAll('input[name=csrf]').forEach(e => e.remove())`)(ctx, tg)
		return err
	}),
		chromedp.Click(chromedp.Search(`//button[text()="Mark done"]`)), chromedp.WaitVisible(chromedp.CSS("p.error")))
	if e := text("p.error"); !strings.Contains(e, "security token") {
		t.Fatalf("forged post: %q", e)
	}
	run("reload the item", chromedp.Navigate(itemURL), chromedp.WaitVisible(chromedp.CSS("#item-state")))
	if s := text("#item-state"); s != "taken over by caseworker" {
		t.Fatalf("after the forged post the item is %q", s)
	}
	run("logout page", chromedp.Navigate(base+"/inbox"), chromedp.WaitVisible(chromedp.CSS("header nav")))
	logout()

	// The auditor finds the access in the access log, and verifies.
	login("auditor")
	run("access log", chromedp.Navigate(base+"/access"), chromedp.WaitVisible(chromedp.CSS("main table")))
	log := text("main table")
	if !strings.Contains(log, "user:caseworker") || !strings.Contains(log, "accessed") || !strings.Contains(log, console.Purposes[0]) || !strings.Contains(log, "taken-over") {
		t.Fatalf("access log misses the case worker's access:\n%s", log)
	}
	run("access", shot("access"))
	run("verify", chromedp.Navigate(base+"/register"), chromedp.Click(chromedp.Search(`//button[text()="Verify now"]`)),
		chromedp.WaitVisible(chromedp.CSS("#h-verify")))
	if v := text("main"); !strings.Contains(v, "OK") {
		t.Fatalf("verify now:\n%s", v)
	}
	run("register", shot("register"))
	t.Logf("screenshots in %s", shots)
}
