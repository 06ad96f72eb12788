package schedulertest

import (
	"context"
	"strings"
	"testing"
	"time"

	"meldeweg.dev/meldeweg/flow/alert"
	"meldeweg.dev/meldeweg/flow/scheduler"
	"meldeweg.dev/meldeweg/transport/register"
)

// ExerciseRegister runs the service state a register backend keeps for
// the service mode against fresh stores from open: the Ledger contract
// (Exercise) over scheduler.RegisterLedger, alert.RegisterState, and that
// runs and notices are chain entries a verification accepts.
func ExerciseRegister(t *testing.T, open func(t *testing.T) register.Store) {
	Exercise(t, func(t *testing.T) scheduler.Ledger { return scheduler.RegisterLedger{Store: open(t)} })

	t.Run("RunsAndNoticesAreChainEntries", func(t *testing.T) {
		ctx := context.Background()
		s := open(t)
		l := scheduler.RegisterLedger{Store: s}
		at := time.Date(2026, 11, 4, 5, 0, 0, 0, time.UTC)
		r := scheduler.RunRecord{Job: "xsozial-monthly/12345", ID: scheduler.RunID("xsozial-monthly/12345", at), ScheduledFor: at,
			Attempt: 1, Holder: "host-1", Started: at}
		if err := l.RecordStart(ctx, r); err != nil {
			t.Fatal(err)
		}
		r.Finished, r.Outcome, r.Detail = at.Add(time.Minute), scheduler.OutcomeFailed, "check failed:\n2 findings"
		if err := l.RecordFinish(ctx, r); err != nil {
			t.Fatal(err)
		}
		st := alert.RegisterState{Store: s}
		inc := alert.Incident{Key: "xsozial/12345/2026-10/rejected", Scope: "12345", Severity: alert.Critical,
			Summary: "rejected", Detail: "R13_0030: 2\nR13_0040: 1", Since: at}
		if err := st.RecordNotice(ctx, alert.Notice{Kind: alert.Raised, Incident: inc, At: at}); err != nil {
			t.Fatal(err)
		}
		open, err := st.OpenIncidents(ctx)
		if err != nil || len(open) != 1 || open[0].Key != inc.Key || open[0].Detail != inc.Detail || !open[0].Since.Equal(at) {
			t.Fatalf("open incidents after raising = %+v, %v", open, err)
		}
		if err := st.RecordNotice(ctx, alert.Notice{Kind: alert.Resolved, Incident: inc, At: at.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		if open, err := st.OpenIncidents(ctx); err != nil || len(open) != 0 {
			t.Fatalf("open incidents after resolving = %+v, %v", open, err)
		}
		var got []string
		for e, err := range register.All(ctx, s, "") {
			if err != nil {
				t.Fatal(err)
			}
			if e.Channel() != register.ChannelService {
				t.Errorf("entry %d: channel %q, want %q", e.Seq(), e.Channel(), register.ChannelService)
			}
			got = append(got, string(e.Event())+" "+e.Detail())
		}
		want := []string{
			"job-started job=xsozial-monthly/12345 run=" + r.ID + " scheduled=2026-11-04T05:00:00Z attempt=1 holder=host-1",
			"job-finished job=xsozial-monthly/12345 run=" + r.ID + " scheduled=2026-11-04T05:00:00Z attempt=1 holder=host-1 outcome=failed",
			"alert-raised incident=xsozial/12345/2026-10/rejected scope=12345 severity=critical",
			"alert-resolved incident=xsozial/12345/2026-10/rejected scope=12345 severity=critical",
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("entries:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		if last, ok, err := l.LastRun(ctx, r.Job); err != nil || !ok || last.Detail != "check failed: 2 findings" {
			t.Errorf("LastRun = %+v, %v, %v; want the detail on one line", last, ok, err)
		}
		if rep, err := s.Verify(ctx, register.VerifyParams{}); err != nil {
			t.Fatalf("verify after service entries: %v (%+v)", err, rep)
		}
	})

	t.Run("BadRunsAreRefused", func(t *testing.T) {
		s := open(t)
		at := time.Date(2026, 11, 4, 5, 0, 0, 0, time.UTC)
		for _, r := range []register.JobRun{
			{Job: "has space", ID: "x", ScheduledFor: at, Attempt: 1, Holder: "h"},
			{Job: "j", ID: "j@1", ScheduledFor: at, Attempt: 0, Holder: "h"},
			{Job: "j", ID: "j@1", Attempt: 1, Holder: "h"},
			{Job: "j", ID: "j@1", ScheduledFor: at, Attempt: 1, Holder: "h", Outcome: register.JobSucceeded},
		} {
			if _, err := s.StartJobRun(context.Background(), r); err == nil {
				t.Errorf("StartJobRun(%+v) accepted", r)
			}
		}
	})
}
