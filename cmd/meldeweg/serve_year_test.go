package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"meldeweg.dev/meldeweg/basim"
	"meldeweg.dev/meldeweg/basim/bacheck"
	"meldeweg.dev/meldeweg/flow/monthly"
	"meldeweg.dev/meldeweg/flow/scheduler"
	"meldeweg.dev/meldeweg/flow/scheduler/schedulertest"
	"meldeweg.dev/meldeweg/flow/service"
	"meldeweg.dev/meldeweg/schemas"
	"meldeweg.dev/meldeweg/transport/register"
)

// outageProxy forwards TCP to the BA, or refuses connections while down.
type outageProxy struct {
	ln   net.Listener
	to   string
	down atomic.Bool

	mu    sync.Mutex
	conns map[net.Conn]bool
}

// setDown starts or ends the outage; starting it cuts the connections
// open now (the client keeps them alive between requests).
func (p *outageProxy) setDown(down bool) {
	if p.down.Swap(down) == down || !down {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
	}
	p.conns = map[net.Conn]bool{}
}

func startProxy(t *testing.T, to string) *outageProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &outageProxy{ln: ln, to: to, conns: map[net.Conn]bool{}}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if p.down.Load() {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns[c] = true
			p.mu.Unlock()
			go func() {
				defer func() {
					c.Close()
					p.mu.Lock()
					delete(p.conns, c)
					p.mu.Unlock()
				}()
				up, err := net.Dial("tcp", p.to)
				if err != nil {
					return
				}
				defer up.Close()
				var wg sync.WaitGroup
				wg.Add(1)
				go func() { defer wg.Done(); io.Copy(up, c); up.(*net.TCPConn).CloseWrite() }()
				io.Copy(c, up)
				wg.Wait()
			}()
		}
	}()
	return p
}

// writeCert writes a self-signed certificate expiring at notAfter.
func writeCert(t *testing.T, path string, notAfter time.Time) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "Träger 12345 Signatur"},
		NotBefore: notAfter.AddDate(-3, 0, 0), NotAfter: notAfter}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestServeYear plays a year on a fake clock (scheduler.Tick every 12
// hours) against the simulator: twelve monthly runs; a BA outage across a
// scheduled run; one rejection (the BA's clock is years behind, so the
// signing certificate is not yet valid to it) fixed by a correction; a
// certificate running into its 60, 30 and 7-day warnings and renewed; a
// restart in the middle of a run. Afterwards each month is accepted
// exactly once, each incident alerted once and resolved once, and the
// runs metric agrees with the register.
func TestServeYear(t *testing.T) {
	if testing.Short() {
		t.Skip("plays a year against the simulator")
	}
	berlinLoc := berlinZone(t)
	realNow := time.Now().In(berlinLoc)
	start := time.Date(realNow.Year(), realNow.Month(), 1, 0, 0, 0, 0, berlinLoc).AddDate(-1, -1, 0)
	clock := schedulertest.NewClock(start)
	// The BA runs on real time, but for one month its clock is years
	// behind: it then finds the signing certificate not yet valid and
	// rejects the delivery.
	var baLag atomic.Int64
	ba := startBA(t, bacheck.Config{Now: func() time.Time { return time.Now().Add(-time.Duration(baLag.Load())) }}, basim.Faults{})
	baURL, _ := url.Parse(ba.url)
	proxy := startProxy(t, baURL.Host)

	rec := &webhookReceiver{}
	hook := httptest.NewServer(rec)
	defer hook.Close()
	dir := ba.dir
	reg, work := filepath.Join(dir, "register.db"), filepath.Join(dir, "out")
	certPath := filepath.Join(dir, "traeger-sign.pem")
	writeCert(t, certPath, start.AddDate(0, 0, 250))
	// Source data per reporting month.
	sources := map[schemas.Month]string{}
	for i := -1; i <= 11; i++ {
		m := schemas.MonthOf(start).AddMonths(i)
		src := filepath.Join(dir, "src-"+m.String())
		var out, errb bytes.Buffer
		if code := run([]string{"testdata", "xsozial", "--bgs", "10", "--seed", "11", "--month", m.String(), "--traeger", "12345", "--out", src},
			strings.NewReader(""), &out, &errb); code != 0 {
			t.Fatalf("testdata %s: %s", m, errb.String())
		}
		sources[m] = src
	}

	config := filepath.Join(dir, "meldeweg.json")
	sources0 := filepath.Join(dir, "src-"+schemas.MonthOf(start).AddMonths(-1).String())
	if err := os.WriteFile(config, []byte(fmt.Sprintf(`{
  "traeger": "12345", "xsozial_source": %q, "work_dir": %q, "register": %q,
  "certificates": [{"name": "traeger-sign", "path": %q}],
  "service": {
    "attempt_timeout": "5s",
    "jobs": {"emaw": {"disabled": true}},
    "alerts": {"default": {"webhook": {"url": %q}}}
  }
}
`, sources0, work, reg, certPath, hook.URL)), 0o600); err != nil {
		t.Fatal(err)
	}
	o := &serveOptions{endpoint: endpointOptions{url: "https://" + proxy.ln.Addr().String(), pki: ba.pkiDir}}
	var logs bytes.Buffer
	e := &env{stdin: strings.NewReader(""), stdout: io.Discard, stderr: &logs, name: "meldeweg serve", configPath: config, flags: o.settingsFlags}
	cfg, err := e.settings()
	if err != nil {
		t.Fatal(err)
	}
	ob, err := openOutbox(context.Background(), cfg, false)
	if err != nil {
		t.Fatal(err)
	}
	defer ob.Store.Close()
	// An upload cut off by the outage or the restart stays claimed; a
	// short lease lets the next attempt take it back in real time.
	ob.Lease = 2 * time.Second
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	ledger := scheduler.RegisterLedger{Store: ob.Store}
	metrics := service.NewMetrics(service.Sources{Store: ob.Store, Ledger: ledger, Now: clock.Now})
	build := func(holder string) (*generation, *scheduler.Scheduler) {
		g, err := newGeneration(e, cfg, ob, log)
		if err != nil {
			t.Fatal(err)
		}
		g.now = clock.Now
		return g, &scheduler.Scheduler{Jobs: g.jobs(), Ledger: ledger, Holder: holder, Clock: clock, Since: start, Log: log,
			OnFinish: func(r scheduler.RunRecord) {
				metrics.ObserveRun(r)
				if r.Job != jobDaily || r.Outcome != scheduler.OutcomeSucceeded {
					t.Logf("%s attempt %d: %s %s", r.ID, r.Attempt, r.Outcome, r.Detail)
				}
			}}
	}
	g, s := build("instance-1")
	ctx := context.Background()
	job := monthlyJobName("12345")
	outageMonth, rejectMonth, restartMonth := schemas.MonthOf(start).AddMonths(2), schemas.MonthOf(start).AddMonths(4), schemas.MonthOf(start).AddMonths(7)
	restarted, renewed, corrected := false, false, false
	end := start.AddDate(1, 0, -1)
	for now := start; now.Before(end); now = now.Add(12 * time.Hour) {
		clock.Set(now)
		cur := schemas.MonthOf(now.In(berlinLoc)).AddMonths(-1)
		g.cfg.XSozialSource = sources[cur]
		// The outage covers the scheduled run of its month and the next
		// two retries.
		proxy.setDown(cur == outageMonth && now.Day() <= 5)
		// The BA's clock lags while the month's run is under way.
		last, _, _ := ledger.LastRun(ctx, job)
		if cur == rejectMonth && last.Outcome != scheduler.OutcomeFailed {
			baLag.Store(int64(5 * 365 * 24 * time.Hour))
		} else {
			baLag.Store(0)
		}
		if cur == restartMonth && !restarted {
			if _, due := scheduler.Due(g.cfg.Service.Monthly.Schedule, last.ScheduledFor, start, now); due {
				// Stop this instance in the middle of the run (SIGTERM
				// past its grace period: the BA is slow to answer, so the
				// run is sending), and start another.
				proxy.setDown(true)
				tctx, cancel := context.WithCancel(ctx)
				time.AfterFunc(1500*time.Millisecond, cancel)
				s.Tick(tctx)
				cancel()
				proxy.setDown(false)
				last, ok, _ := ledger.LastRun(ctx, job)
				if !ok || last.Outcome != scheduler.OutcomeRunning {
					t.Fatalf("the run of %s was not interrupted: %+v", restartMonth, last)
				}
				restarted = true
				g, s = build("instance-2")
				g.cfg.XSozialSource = sources[cur]
			}
		}
		if !renewed && now.After(start.AddDate(0, 0, 246)) {
			writeCert(t, certPath, start.AddDate(2, 0, 0))
			g, s = build("instance-2") // the reload after the renewal (SIGHUP)
			g.cfg.XSozialSource = sources[cur]
			renewed = true
		}
		if _, err := s.Tick(ctx); err != nil {
			t.Fatalf("%s: %v\n%s", now, err, logs.String())
		}
		if last, _, _ := ledger.LastRun(ctx, job); cur == rejectMonth && last.Outcome == scheduler.OutcomeFailed && !corrected {
			// The operator sends a correction; the BA's clock is right again.
			baLag.Store(0)
			res, err := monthly.Run(ctx, monthly.Params{Traeger: "12345", Month: rejectMonth, SourceDir: sources[rejectMonth], WorkDir: work,
				Correction: true, Registry: g.reg, Endpoint: g.xs, Outbox: ob, Software: "meldeweg", SoftwareVersion: version,
				Now: clock.Now, FeedbackWait: 30 * time.Second})
			if err != nil || res.Outcome != monthly.Accepted {
				t.Fatalf("correction of %s: %v, %v\n%s", rejectMonth, res.Outcome, err, logs.String())
			}
			corrected = true
		}
	}

	// Each month accepted exactly once.
	for i := -1; i <= 10; i++ {
		m := schemas.MonthOf(start).AddMonths(i)
		key, _ := monthly.Key("12345", m, false)
		ms, err := ob.Store.Messages(ctx, register.MessagesParams{Correlation: key})
		if err != nil {
			t.Fatal(err)
		}
		acked := 0
		for _, x := range ms {
			if x.State == register.MessageAcknowledged {
				acked++
			}
		}
		if acked != 1 {
			var states []string
			for _, x := range ms {
				states = append(states, string(x.ID)+"="+string(x.State))
			}
			t.Errorf("month %s: %d accepted deliveries, want 1 (%s)", m, acked, strings.Join(states, ", "))
		}
	}
	// Each incident alerted once and resolved once.
	count := map[string]int{}
	for _, n := range rec.list() {
		count[n.kind]++
	}
	keys := map[string]bool{}
	for k := range count {
		_, key, _ := strings.Cut(k, " ")
		keys[key] = true
	}
	for _, want := range []string{"cert-expiry/traeger-sign/60d", "cert-expiry/traeger-sign/30d", "cert-expiry/traeger-sign/7d",
		"xsozial-run/12345/" + rejectMonth.String()} {
		if !keys[want] {
			t.Errorf("no alert %s; got %v", want, count)
		}
	}
	var sorted []string
	for k := range keys {
		sorted = append(sorted, k)
		if count["raised "+k] != 1 || count["resolved "+k] != 1 {
			t.Errorf("incident %s: raised %d, resolved %d; want once each", k, count["raised "+k], count["resolved "+k])
		}
	}
	sort.Strings(sorted)
	t.Logf("incidents: %s", strings.Join(sorted, ", "))
	// The runs metric agrees with the register.
	succeeded, finishedRuns := 0, map[string]int{}
	for en, err := range register.All(ctx, ob.Store, "") {
		if err != nil {
			t.Fatal(err)
		}
		if en.Event() == register.EventJobFinished && strings.HasPrefix(en.Detail(), "job="+job+" ") {
			if strings.HasSuffix(en.Detail(), "outcome=succeeded") {
				succeeded++
			}
			_, rest, _ := strings.Cut(en.Detail(), " run=")
			id, _, _ := strings.Cut(rest, " ")
			if strings.HasSuffix(en.Detail(), "outcome=succeeded") {
				finishedRuns[id]++
			}
		}
	}
	if got := runsMetric(t, metrics, job, "succeeded"); int(got) != succeeded {
		t.Errorf("metric of succeeded monthly runs = %v, register = %d", got, succeeded)
	}
	if succeeded != 12-1 { // the rejected month's run failed; its correction was sent by hand
		t.Errorf("%d succeeded monthly runs, want 11", succeeded)
	}
	for id, n := range finishedRuns {
		if n != 1 {
			t.Errorf("run %s succeeded %d times", id, n)
		}
	}
	var vout, verr bytes.Buffer
	if code := run([]string{"register", "verify", "--register", reg}, strings.NewReader(""), &vout, &verr); code != 0 {
		t.Errorf("register verify: exit %d\n%s%s", code, vout.String(), verr.String())
	}
	if t.Failed() {
		t.Logf("log:\n%.20000s", logs.String())
	}
}

// runsMetric reads meldeweg_job_runs_total{job, outcome} from the
// metrics registry, as a scrape would.
func runsMetric(t *testing.T, m *service.Metrics, job, outcome string) float64 {
	t.Helper()
	fams, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != "meldeweg_job_runs_total" {
			continue
		}
		for _, mt := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range mt.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["job"] == job && labels["outcome"] == outcome {
				return mt.GetCounter().GetValue()
			}
		}
	}
	return 0
}
