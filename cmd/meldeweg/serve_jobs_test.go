package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"meldeweg.dev/meldeweg/basim"
	"meldeweg.dev/meldeweg/basim/bacheck"
	"meldeweg.dev/meldeweg/cmd/meldeweg/internal/settings"
	"meldeweg.dev/meldeweg/flow/scheduler"
	"meldeweg.dev/meldeweg/flow/scheduler/schedulertest"
	"meldeweg.dev/meldeweg/schemas"
)

// TestServeMonthlyCheckFailureAlertsOnceAndResolves drives the service's
// jobs in-process with scheduler.Tick on a fake clock against the
// simulator: a month whose data fails Meldeweg's check fails its run (not
// retried) and alerts once with rule counts and no record keys; once the
// month is delivered by hand and accepted, the daily check resolves the
// alert once.
func TestServeMonthlyCheckFailureAlertsOnceAndResolves(t *testing.T) {
	ba := startBA(t, bacheck.Config{}, basim.Faults{})
	now := time.Now()
	since := now.AddDate(0, 0, -40)
	monthlySched, err := scheduler.Parse(settings.DefaultMonthly, nil)
	if err != nil {
		t.Fatal(err)
	}
	at, ok := scheduler.Due(monthlySched, time.Time{}, since, now)
	if !ok {
		t.Fatal("no monthly tick in the last 40 days")
	}
	month := schemas.MonthOf(at.In(scheduler.Berlin)).AddMonths(-1)
	faulty, good := filepath.Join(ba.dir, "faulty"), filepath.Join(ba.dir, "good")
	mw := func(args ...string) string {
		t.Helper()
		var out, errb bytes.Buffer
		if code := run(args, strings.NewReader(""), &out, &errb); code != 0 {
			t.Fatalf("meldeweg %s: exit %d\n%s%s", strings.Join(args, " "), code, out.String(), errb.String())
		}
		return out.String()
	}
	mw("testdata", "xsozial", "--bgs", "20", "--seed", "9", "--month", month.String(), "--traeger", "12345", "--out", faulty, "--faults")
	mw("testdata", "xsozial", "--bgs", "20", "--seed", "9", "--month", month.String(), "--traeger", "12345", "--out", good)
	rec := &webhookReceiver{}
	hook := httptest.NewServer(rec)
	defer hook.Close()
	reg, work := filepath.Join(ba.dir, "register.db"), filepath.Join(ba.dir, "out")
	config := filepath.Join(ba.dir, "meldeweg.json")
	if err := os.WriteFile(config, []byte(fmt.Sprintf(`{
  "traeger": "12345", "xsozial_source": %q, "work_dir": %q, "register": %q,
  "service": {
    "attempt_timeout": "60s",
    "jobs": {"emaw": {"disabled": true}},
    "alerts": {"12345": {"webhook": {"url": %q}}}
  }
}
`, faulty, work, reg, hook.URL)), 0o600); err != nil {
		t.Fatal(err)
	}
	o := &serveOptions{endpoint: endpointOptions{url: ba.url, pki: ba.pkiDir}}
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
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	g, err := newGeneration(e, cfg, ob, log)
	if err != nil {
		t.Fatal(err)
	}
	clock := schedulertest.NewClock(now)
	g.now = clock.Now
	s := &scheduler.Scheduler{Jobs: g.jobs(), Ledger: scheduler.RegisterLedger{Store: ob.Store}, Holder: "test-1",
		Clock: clock, Since: since, Log: log}
	ctx := context.Background()
	job := monthlyJobName("12345")

	runs, err := s.Tick(ctx)
	if err != nil {
		t.Fatal(err)
	}
	outcome := map[string]scheduler.Outcome{}
	for _, r := range runs {
		outcome[r.Job] = r.Outcome
	}
	if outcome[job] != scheduler.OutcomeFailed {
		t.Fatalf("monthly run: %q, want failed (the check fails)\n%s", outcome[job], logs.String())
	}
	key := "xsozial-run/12345/" + month.String()
	if got := rec.list(); len(got) != 1 || got[0].kind != "raised "+key {
		t.Fatalf("notices after the failed check: %+v", got)
	}
	detail := rec.list()[0].detail
	if !strings.Contains(detail, "rules: ") || !strings.Contains(detail, "Fehler") {
		t.Errorf("the alert has no rule counts: %q", detail)
	}
	faults, err := os.ReadFile(filepath.Join(faulty, ".faults.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	kns := kundennummern(faults)
	if len(kns) == 0 {
		t.Fatal("no Kundennummer in the faults file to look for")
	}
	for _, kn := range kns {
		if strings.Contains(detail, kn) || strings.Contains(logs.String(), kn) {
			t.Errorf("Kundennummer %s in the alert or the log", kn)
		}
	}

	// A failed run is not retried; the alert is not repeated.
	clock.Advance(time.Hour)
	runs, err = s.Tick(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range runs {
		if r.Job == job {
			t.Errorf("the failed month ran again: %+v", r)
		}
	}
	// Delivered by hand with good data, the next daily check resolves it.
	mw("xsozial", "run", "--month", month.String(), "--in", good, "--pki", ba.pkiDir, "--url", ba.url, "--register", reg,
		"--traeger", "12345", "--work", work, "--feedback-wait", "30s")
	clock.Advance(24 * time.Hour)
	if _, err := s.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	var xs []string
	for _, n := range rec.list() {
		if strings.HasSuffix(n.kind, key) {
			xs = append(xs, n.kind)
		}
	}
	if strings.Join(xs, ",") != "raised "+key+",resolved "+key {
		t.Errorf("notices of the month: %q; want raised once, resolved once", xs)
	}
}

// kundennummern picks the Kundennummern out of a .faults.jsonl file.
func kundennummern(b []byte) []string {
	var out []string
	for _, part := range strings.Split(string(b), `"kundennummer":"`)[1:] {
		if i := strings.IndexByte(part, '"'); i > 0 {
			out = append(out, part[:i])
		}
	}
	return out
}
