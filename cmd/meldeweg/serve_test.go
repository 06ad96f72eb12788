package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"meldeweg.dev/meldeweg/basim"
	"meldeweg.dev/meldeweg/basim/bacheck"
	"meldeweg.dev/meldeweg/schemas"
	"meldeweg.dev/meldeweg/transport/register"
	"meldeweg.dev/meldeweg/transport/register/sqlitestore"
)

// serveProc is a "meldeweg serve" subprocess whose JSON log lines are
// collected as they come.
type serveProc struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	logs []map[string]any
	raw  bytes.Buffer
	done chan error
}

func startServe(t *testing.T, args ...string) *serveProc {
	t.Helper()
	p := &serveProc{cmd: exec.Command(meldewegBinary(t), args...), done: make(chan error, 1)}
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var m map[string]any
			p.mu.Lock()
			p.raw.Write(append(sc.Bytes(), '\n'))
			if json.Unmarshal(sc.Bytes(), &m) == nil {
				p.logs = append(p.logs, m)
			}
			p.mu.Unlock()
		}
	}()
	go func() {
		<-scanned
		p.done <- p.cmd.Wait()
	}()
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("serve log:\n%s", p.log())
		}
	})
	return p
}

func (p *serveProc) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.raw.String()
}

// mark is the number of log lines so far, for awaitFrom.
func (p *serveProc) mark() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.logs)
}

// await waits until a log line satisfies ok and returns it.
func (p *serveProc) await(t *testing.T, what string, timeout time.Duration, ok func(map[string]any) bool) map[string]any {
	t.Helper()
	return p.awaitFrom(t, 0, what, timeout, ok)
}

// awaitFrom waits until a log line from the from-th on satisfies ok.
func (p *serveProc) awaitFrom(t *testing.T, from int, what string, timeout time.Duration, ok func(map[string]any) bool) map[string]any {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		p.mu.Lock()
		for _, m := range p.logs[from:] {
			if ok(m) {
				p.mu.Unlock()
				return m
			}
		}
		p.mu.Unlock()
		select {
		case err := <-p.done:
			p.done <- err
			t.Fatalf("serve exited (%v) before %s", err, what)
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Fatalf("no %s within %s", what, timeout)
	return nil
}

func msgIs(s string) func(map[string]any) bool {
	return func(m map[string]any) bool { return m["msg"] == s }
}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// webhookReceiver records the alert notices posted to it.
type webhookReceiver struct {
	mu      sync.Mutex
	notices []string
	details []string
}

type receivedNotice struct{ kind, detail string }

func (r *webhookReceiver) list() []receivedNotice {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]receivedNotice, len(r.notices))
	for i := range r.notices {
		out[i] = receivedNotice{r.notices[i], r.details[i]}
	}
	return out
}

func (r *webhookReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	var n struct {
		Kind     string `json:"kind"`
		Incident struct {
			Key    string `json:"key"`
			Detail string `json:"detail"`
		} `json:"incident"`
	}
	if err := json.NewDecoder(req.Body).Decode(&n); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	r.notices = append(r.notices, n.Kind+" "+n.Incident.Key)
	r.details = append(r.details, n.Incident.Detail)
	r.mu.Unlock()
}

// TestServe runs "meldeweg serve" as a process against the simulator on
// loopback: the monthly job delivers last month and the BA accepts it
// once, however often the job runs; the daily checks run; /healthz,
// /readyz and /metrics answer; a SIGHUP with a bad configuration is
// refused and the old one keeps running; SIGTERM stops the service within
// its grace period; and the register, with the runs' entries, verifies.
func TestServe(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the real binary")
	}
	ba := startBA(t, bacheck.Config{}, basim.Faults{})
	month := schemas.MonthOf(time.Now().In(berlinZone(t))).AddMonths(-1)
	src := filepath.Join(ba.dir, "src")
	var out, errb bytes.Buffer
	if code := run([]string{"testdata", "xsozial", "--bgs", "20", "--seed", "5", "--month", month.String(), "--traeger", "12345", "--out", src},
		strings.NewReader(""), &out, &errb); code != 0 {
		t.Fatalf("testdata: %s", errb.String())
	}
	rec := &webhookReceiver{}
	hook := httptest.NewServer(rec)
	defer hook.Close()
	reg := filepath.Join(ba.dir, "register.db")
	config := filepath.Join(ba.dir, "meldeweg.json")
	good := fmt.Sprintf(`{
  "traeger": "12345",
  "xsozial_source": %q,
  "work_dir": %q,
  "register": %q,
  "service": {
    "health_listen": "127.0.0.1:0",
    "grace_period": "10s",
    "lease": "3s",
    "attempt_timeout": "60s",
    "jobs": {
      "xsozial_monthly": {"schedule": "@every 2s"},
      "emaw": {"disabled": true},
      "daily_checks": {"schedule": "@every 2s"}
    },
    "alerts": {"default": {"webhook": {"url": %q}}}
  }
}
`, src, filepath.Join(ba.dir, "out"), reg, hook.URL)
	if err := os.WriteFile(config, []byte(good), 0o600); err != nil {
		t.Fatal(err)
	}
	p := startServe(t, "--config", config, "serve", "--pki", ba.pkiDir, "--url", ba.url)
	serving := p.await(t, "serving line", 30*time.Second, msgIs("serving"))
	base := "http://" + serving["health"].(string)

	job := "xsozial-monthly-12345"
	p.await(t, "an accepted monthly run", 90*time.Second, func(m map[string]any) bool {
		return m["msg"] == "run finished" && m["job"] == job && m["outcome"] == "succeeded"
	})
	p.await(t, "a second monthly run", 30*time.Second, func(m map[string]any) bool {
		return m["msg"] == "monthly delivery accepted" && m["already"] == true
	})
	p.await(t, "daily checks", 30*time.Second, func(m map[string]any) bool {
		return m["msg"] == "run finished" && m["job"] == "daily-checks" && m["outcome"] == "succeeded"
	})
	if n := len(ba.server.Accepted()); n != 1 {
		t.Errorf("the BA accepted %d uploads, want 1", n)
	}
	// Every line of a run carries its run ID.
	p.mu.Lock()
	for _, m := range p.logs {
		if m["job"] == job && m["msg"] != "run finished" && m["run"] == nil {
			t.Errorf("a job's log line without its run ID: %v", m)
		}
	}
	p.mu.Unlock()

	if code, body := httpGet(t, base+"/healthz"); code != 200 || strings.TrimSpace(body) != "ok" {
		t.Errorf("/healthz: %d %q", code, body)
	}
	if code, body := httpGet(t, base+"/readyz"); code != 200 || !strings.Contains(body, `"ready":true`) {
		t.Errorf("/readyz: %d %s", code, body)
	}
	code, body := httpGet(t, base+"/metrics")
	want := `meldeweg_job_runs_total{job="` + job + `",outcome="succeeded"}`
	if code != 200 || !strings.Contains(body, want) {
		t.Errorf("/metrics: %d, no %s in\n%.2000s", code, want, body)
	}
	// The delivery's steps were timed, and the outbox is read from the register.
	for _, want := range []string{`meldeweg_step_duration_seconds_count{channel="xsozial",step="build"} `,
		`meldeweg_step_duration_seconds_count{channel="xsozial",step="seal"} `,
		`meldeweg_outbox_messages{channel="xsozial",state="acknowledged"} 1`} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics: no %s in\n%.3000s", want, body)
		}
	}

	// A bad configuration is refused; the old one keeps running.
	if err := os.WriteFile(config, []byte(strings.Replace(good, `"grace_period": "10s"`, `"grace_period": "soon"`, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	refused := p.await(t, "the refused reload", 10*time.Second, msgIs("configuration reload refused; the old configuration stays"))
	if e, _ := refused["err"].(string); !strings.Contains(e, "meldeweg.json:") || !strings.Contains(e, "service.grace_period") {
		t.Errorf("the refusal does not name file:line and field: %q", e)
	}
	p.awaitFrom(t, p.mark(), "a run after the refused reload", 20*time.Second, func(m map[string]any) bool {
		return m["msg"] == "run finished" && m["job"] == job
	})
	if code, _ := httpGet(t, base+"/healthz"); code != 200 {
		t.Errorf("/healthz after the refused reload: %d", code)
	}

	// SIGTERM: stopped within the grace period, exit 0.
	start := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.done:
		p.done <- err
		if err != nil {
			t.Errorf("serve after SIGTERM: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not stop within its grace period (10s) after SIGTERM")
	}
	t.Logf("stopped %s after SIGTERM", time.Since(start).Round(time.Millisecond))

	// The register holds the runs and verifies.
	s, err := sqlitestore.Open(context.Background(), reg, sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	started, finished := 0, 0
	for e, err := range register.All(context.Background(), s, "") {
		if err != nil {
			t.Fatal(err)
		}
		switch e.Event() {
		case register.EventJobStarted:
			started++
		case register.EventJobFinished:
			finished++
		}
	}
	if started == 0 || finished == 0 {
		t.Errorf("register: %d job-started and %d job-finished entries", started, finished)
	}
	var vout, verr bytes.Buffer
	if code := run([]string{"register", "verify", "--register", reg}, strings.NewReader(""), &vout, &verr); code != 0 {
		t.Errorf("register verify: exit %d\n%s%s", code, vout.String(), verr.String())
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.notices) != 0 {
		t.Errorf("alerts sent for a clean run: %q", rec.notices)
	}
}

func berlinZone(t *testing.T) *time.Location {
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}
