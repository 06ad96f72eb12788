package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"meldeweg.dev/meldeweg/basim"
	"meldeweg.dev/meldeweg/basim/bacheck"
	"meldeweg.dev/meldeweg/schemas"
	"meldeweg.dev/meldeweg/transport/register"
	"meldeweg.dev/meldeweg/transport/register/pgstore"
	"meldeweg.dev/meldeweg/transport/register/pgstore/pgtest"
)

// TestServeInstancesOnPostgreSQL runs three "meldeweg serve" processes on
// one PostgreSQL register with a slow BA, kills the one that runs the
// monthly job with SIGKILL in the middle of the run, and checks that
// another instance takes the run over once the lease lapsed, under the
// same run ID, and that the register shows that run finished once and the
// BA accepted the month once.
func TestServeInstancesOnPostgreSQL(t *testing.T) {
	if testing.Short() {
		t.Skip("runs three service processes and PostgreSQL")
	}
	pg, err := pgtest.Start()
	if errors.Is(err, pgtest.ErrNoBinaries) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Stop()
	dsn, err := pg.NewDatabase(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ba := startBA(t, bacheck.Config{}, basim.Faults{Slow: 2 * time.Second})
	month := schemas.MonthOf(time.Now().In(berlinZone(t))).AddMonths(-1)
	src := filepath.Join(ba.dir, "src")
	var out, errb bytes.Buffer
	if code := run([]string{"testdata", "xsozial", "--bgs", "20", "--seed", "7", "--month", month.String(), "--traeger", "12345", "--out", src},
		strings.NewReader(""), &out, &errb); code != 0 {
		t.Fatalf("testdata: %s", errb.String())
	}
	config := filepath.Join(ba.dir, "meldeweg.json")
	// Every minute, so that all instances agree on the scheduled time.
	if err := os.WriteFile(config, []byte(fmt.Sprintf(`{
  "traeger": "12345", "xsozial_source": %q, "work_dir": %q, "register": %q, "payloads": %q,
  "service": {
    "health_listen": "127.0.0.1:0", "grace_period": "2s", "lease": "3s", "attempt_timeout": "60s",
    "jobs": {"xsozial_monthly": {"schedule": "* * * * *"}, "emaw": {"disabled": true}, "daily_checks": {"disabled": true}}
  }
}
`, src, filepath.Join(ba.dir, "out"), dsn, filepath.Join(ba.dir, "payloads"))), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"--config", config, "serve", "--pki", ba.pkiDir, "--url", ba.url}
	ps := []*serveProc{startServe(t, args...)}
	ps[0].await(t, "serving line", 30*time.Second, msgIs("serving")) // the payload key exists now
	ps = append(ps, startServe(t, args...), startServe(t, args...))
	for _, p := range ps[1:] {
		p.await(t, "serving line", 30*time.Second, msgIs("serving"))
	}

	// Find the instance that started the run.
	var holder *serveProc
	var runID string
	deadline := time.Now().Add(90 * time.Second)
	for holder == nil && time.Now().Before(deadline) {
		for _, p := range ps {
			p.mu.Lock()
			for _, m := range p.logs {
				if m["msg"] == "monthly delivery started" {
					holder, runID = p, m["run"].(string)
				}
			}
			p.mu.Unlock()
		}
		time.Sleep(20 * time.Millisecond)
	}
	if holder == nil {
		t.Fatal("no instance started the monthly run within 90s")
	}
	// At once: the run is recorded as started, and the slow BA keeps it
	// from finishing before the kill.
	if err := holder.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-holder.done
	holder.done <- nil
	t.Logf("killed the holder of %s", runID)

	var taker *serveProc
	deadline = time.Now().Add(90 * time.Second)
	for taker == nil && time.Now().Before(deadline) {
		for _, p := range ps {
			if p == holder {
				continue
			}
			p.mu.Lock()
			for _, m := range p.logs {
				if m["msg"] == "run finished" && m["run"] == runID && m["outcome"] == "succeeded" {
					taker = p
				}
			}
			p.mu.Unlock()
		}
		time.Sleep(50 * time.Millisecond)
	}
	if taker == nil {
		t.Fatalf("no other instance finished %s within 90s", runID)
	}
	for _, p := range ps {
		if p != holder {
			p.cmd.Process.Signal(syscall.SIGTERM)
		}
	}
	for _, p := range ps {
		if p != holder {
			select {
			case <-p.done:
			case <-time.After(20 * time.Second):
				t.Error("an instance did not stop after SIGTERM")
			}
		}
	}

	s, err := pgstore.Open(context.Background(), dsn, pgstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var started, finished []string
	for e, err := range register.All(context.Background(), s, "") {
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(e.Detail(), " run="+runID+" ") {
			continue
		}
		switch e.Event() {
		case register.EventJobStarted:
			started = append(started, e.Detail())
		case register.EventJobFinished:
			finished = append(finished, e.Detail())
		}
	}
	if len(started) < 2 || !strings.Contains(started[len(started)-1], "attempt=2") {
		t.Errorf("starts of %s: %q; want the first and its resumption (attempt 2)", runID, started)
	}
	if len(finished) != 1 || !strings.HasSuffix(finished[0], "outcome=succeeded") {
		t.Errorf("finishes of %s: %q; want exactly one, succeeded", runID, finished)
	}
	if n := len(ba.server.Accepted()); n != 1 {
		t.Errorf("the BA accepted %d uploads, want 1", n)
	}
	var vout, verr bytes.Buffer
	if code := run([]string{"register", "verify", "--register", dsn}, strings.NewReader(""), &vout, &verr); code != 0 {
		t.Errorf("register verify: exit %d\n%s%s", code, vout.String(), verr.String())
	}
}
