package monthly_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"meldeweg.dev/meldeweg/flow/monthly"
	"meldeweg.dev/meldeweg/flow/outbox"
	"meldeweg.dev/meldeweg/transport/register"
)

// A test delivery and the production delivery of a month are two
// deliveries: after a test run, the production run builds, sends and gets
// accepted its own dataset, under its own key, message ID and file.
func TestTestDeliveryDoesNotCountForProduction(t *testing.T) {
	tb := setup(t)
	ctx := context.Background()
	p := tb.params(tb.source(t, "src", false))
	p.Test = true
	test, err := monthly.Run(ctx, p)
	if err != nil || test.Outcome != monthly.Accepted {
		t.Fatalf("test run: %s, %v", test.Outcome, err)
	}
	p.Test = false
	prod, err := monthly.Run(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if prod.AlreadyDone || prod.Outcome != monthly.Accepted {
		t.Fatalf("production run after a test run: outcome %s, already done %v; want a delivery of its own, accepted", prod.Outcome, prod.AlreadyDone)
	}
	testKey, _ := register.XSozialTestKey(traeger, month.String())
	prodKey, _ := register.XSozialKey(traeger, month.String())
	tests := []struct {
		name           string
		res            monthly.Result
		wantID         register.MessageID
		wantKey        register.CorrelationKey
		wantFileSuffix string
	}{
		{"test", test, "xsozial-" + traeger + "-" + register.MessageID(month.String()) + "-test-1", testKey, "_T.xml"},
		{"production", prod, "xsozial-" + traeger + "-" + register.MessageID(month.String()) + "-1", prodKey, "_P.xml"},
	}
	for _, tt := range tests {
		m := tt.res.Message
		if m.ID != tt.wantID || m.Correlation != tt.wantKey || m.State != register.MessageAcknowledged {
			t.Errorf("%s: message %s, key %q, %s; want %s, %q, acknowledged", tt.name, m.ID, m.Correlation, m.State, tt.wantID, tt.wantKey)
		}
		if !strings.HasSuffix(tt.res.Dataset, tt.wantFileSuffix) {
			t.Errorf("%s: dataset %s, want a name ending in %s", tt.name, tt.res.Dataset, tt.wantFileSuffix)
		}
		if built := detail(t, tb.store, m.ID, register.EventBuilt); !strings.Contains(built, filepath.Base(tt.res.Dataset)) {
			t.Errorf("%s: built entry %q does not name %s", tt.name, built, filepath.Base(tt.res.Dataset))
		}
	}
	if n := len(tb.server.Accepted()); n != 2 {
		t.Errorf("the BA accepted %d uploads, want 2 (the test and the production delivery)", n)
	}
	// Each line stays settled on its own.
	for _, test := range []bool{true, false} {
		p.Test = test
		again, err := monthly.Run(ctx, p)
		if err != nil || !again.AlreadyDone || again.Outcome != monthly.Accepted {
			t.Errorf("rerun (test %v): %s, already done %v, %v", test, again.Outcome, again.AlreadyDone, err)
		}
	}
	mustVerify(t, tb.store)
}

// A run with other data than the month's delivery does not claim it:
// Different, nothing sent or recorded under its message ID; a correction
// sends the data as a replacement.
func TestOtherDataForADeliveredMonth(t *testing.T) {
	tb := setup(t)
	ctx := context.Background()
	first, err := monthly.Run(ctx, tb.params(tb.sourceSeed(t, "a", 1, false)))
	if err != nil || first.Outcome != monthly.Accepted {
		t.Fatalf("first run: %s, %v", first.Outcome, err)
	}
	before := events(t, tb.store, first.Message.ID)
	p := tb.params(tb.sourceSeed(t, "b", 2, false))
	res, err := monthly.Run(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome != monthly.Different || res.Message.ID != first.Message.ID || res.Digest == res.RecordedDigest || res.RecordedDigest != first.Digest {
		t.Fatalf("run with other data: outcome %s, message %s, digest %.12s, recorded %.12s; want different, %s, %.12s",
			res.Outcome, res.Message.ID, res.Digest, res.RecordedDigest, first.Message.ID, first.Digest)
	}
	if got := events(t, tb.store, first.Message.ID); got != before {
		t.Errorf("the run with other data recorded under %s: %s", first.Message.ID, got)
	}
	p.Correction = true
	corr, err := monthly.Run(ctx, p)
	if err != nil || corr.Outcome != monthly.Accepted || corr.Message.ResendOf != first.Message.ID {
		t.Fatalf("correction: %s linked to %q, %v", corr.Outcome, corr.Message.ResendOf, err)
	}
	if n := len(tb.server.Accepted()); n != 2 {
		t.Errorf("the BA accepted %d uploads, want 2", n)
	}
	mustVerify(t, tb.store)
}

// Two runs of one month started together from different source data: one
// delivers, the other says a different delivery exists and sends nothing;
// no message ID holds entries of two datasets. From the same data, both
// end accepted with one delivery.
func TestConcurrentRuns(t *testing.T) {
	for _, same := range []bool{false, true} {
		name := map[bool]string{false: "different data", true: "same data"}[same]
		t.Run(name, func(t *testing.T) {
			tb := setup(t)
			seeds := []uint64{1, 2}
			if same {
				seeds[1] = 1
			}
			results := make([]monthly.Result, 2)
			errs := make([]error, 2)
			var params []monthly.Params
			for i, seed := range seeds {
				params = append(params, tb.params(tb.sourceSeed(t, "src"+string(rune('a'+i)), seed, false)))
			}
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i := range params {
				wg.Go(func() {
					<-start
					results[i], errs[i] = monthly.Run(context.Background(), params[i])
				})
			}
			close(start)
			wg.Wait()
			outcomes := map[monthly.Outcome]int{}
			for i := range results {
				if errs[i] != nil {
					t.Fatalf("run %d: %v", i, errs[i])
				}
				outcomes[results[i].Outcome]++
			}
			want := map[monthly.Outcome]int{monthly.Accepted: 1, monthly.Different: 1}
			if same {
				want = map[monthly.Outcome]int{monthly.Accepted: 2}
			}
			if len(outcomes) != len(want) || outcomes[monthly.Accepted] != want[monthly.Accepted] || outcomes[monthly.Different] != want[monthly.Different] {
				t.Errorf("outcomes %v, want %v", outcomes, want)
			}
			if n := len(tb.server.Accepted()); n != 1 {
				t.Errorf("the BA accepted %d uploads, want 1", n)
			}
			// No message ID mixes datasets: every "built" entry of one ID
			// names the same data digest.
			digests := map[register.MessageID]map[string]bool{}
			for e, err := range register.All(context.Background(), tb.store, "") {
				if err != nil {
					t.Fatal(err)
				}
				if e.Event() != register.EventBuilt {
					continue
				}
				if digests[e.MessageID()] == nil {
					digests[e.MessageID()] = map[string]bool{}
				}
				i := strings.Index(e.Detail(), "data SHA-256 ")
				if i < 0 {
					t.Fatalf("built entry %q names no data digest", e.Detail())
				}
				digests[e.MessageID()][e.Detail()[i:]] = true
			}
			for id, ds := range digests {
				if len(ds) != 1 {
					t.Errorf("message %s holds entries of %d datasets", id, len(ds))
				}
			}
			mustVerify(t, tb.store)
		})
	}
}

// Plain personal data exists only while it is processed: the work
// directory is 0700 (an existing looser one is narrowed), the reports
// 0600, the dataset is gone once sealed or once its check failed, and
// what a killed run left (the dataset, a half-written temporary file) is
// removed by the next run, which says so.
func TestWorkDirHoldsNoPlainDataset(t *testing.T) {
	tb := setup(t)
	ctx := context.Background()
	p := tb.params(tb.source(t, "src", false))
	if err := os.MkdirAll(p.WorkDir, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p.WorkDir, 0o750); err != nil {
		t.Fatal(err)
	}
	// What a run killed during the build leaves behind, for this month
	// and for an earlier one.
	stem := "XSOZIAL_" + traeger + "_" + month.String() + "_T"
	other := "XSOZIAL_" + traeger + "_" + month.AddMonths(-1).String() + "_P"
	leftovers := []string{stem + ".xml", "." + stem + ".xml.tmp-4711", "." + other + ".xml.tmp-815", "." + stem + ".check.json.tmp-1"}
	for _, n := range leftovers {
		if err := os.WriteFile(filepath.Join(p.WorkDir, n), []byte("<kopf>personal data</kopf>\n"), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	var notices []string
	var mu sync.Mutex
	p.Notice = func(s string) { mu.Lock(); notices = append(notices, s); mu.Unlock() }

	res, err := monthly.Run(ctx, p)
	if err != nil || res.Outcome != monthly.Accepted {
		t.Fatalf("run: %s, %v", res.Outcome, err)
	}
	all := strings.Join(notices, "\n")
	for _, n := range leftovers {
		if !strings.Contains(all, n) {
			t.Errorf("no notice names the removed leftover %s:\n%s", n, all)
		}
	}
	if !strings.Contains(all, "set to 0700") {
		t.Errorf("no notice says the work directory was narrowed:\n%s", all)
	}
	assertPrivate(t, p.WorkDir)

	// A dataset that fails its check is not kept either.
	p.SourceDir = tb.sourceSeed(t, "faulty", 3, true)
	p.Month = month.AddMonths(-1)
	res, err = monthly.Run(ctx, p)
	if err != nil || res.Outcome != monthly.CheckFailed {
		t.Fatalf("faulty run: %s, %v", res.Outcome, err)
	}
	assertPrivate(t, p.WorkDir)
	if _, err := os.Stat(strings.TrimSuffix(res.Dataset, ".xml") + ".check.txt"); err != nil {
		t.Errorf("the check report of a failed dataset is gone: %v", err)
	}
}

// assertPrivate checks that dir is 0700, holds no plain dataset and no
// temporary file, and that every file in it is 0600.
func assertPrivate(t *testing.T, dir string) {
	t.Helper()
	st, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if perm := st.Mode().Perm(); perm != 0o700 {
		t.Errorf("work directory %s is %04o, want 0700", dir, perm)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	reports := 0
	for _, e := range entries {
		info, err := e.Info()
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		name := e.Name()
		switch {
		case strings.HasSuffix(name, ".xml") || strings.Contains(name, ".tmp-"):
			t.Errorf("work directory holds %s after the run", name)
		case strings.Contains(name, ".check."):
			reports++
		}
		if perm := info.Mode().Perm(); perm != 0o600 {
			t.Errorf("%s is %04o, want 0600", name, perm)
		}
	}
	if reports == 0 {
		t.Errorf("work directory holds no check report")
	}
}

// A register written before the test line holds test deliveries under the
// production key and ID; they do not count for the production month
// either: the production run delivers under the next free ID.
func TestOldTestDeliveryDoesNotCountForProduction(t *testing.T) {
	tb := setup(t)
	ctx := context.Background()
	src := tb.source(t, "src", false)
	// What the old code recorded for "xsozial run --test": built (a _T
	// file), then the message under the production key, acknowledged.
	old := monthly.MessageID(traeger, month, false, 1)
	key, _ := monthly.Key(traeger, month, false)
	dataset := filepath.Join(tb.dir, "XSOZIAL_"+traeger+"_"+month.String()+"_T.xml")
	writeDataset(t, tb, src, dataset)
	if _, err := tb.store.Append(ctx, register.AppendParams{Direction: register.DirectionOut, Channel: register.ChannelXSozial, Event: register.EventBuilt,
		Actor: register.System("test"), MessageID: old, Correlation: key, Detail: "built " + filepath.Base(dataset) + " with xsozial-ba-sgb2@4.3.0: 30 BGs"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := tb.ob.Submit(ctx, tb.ep, outbox.SubmitParams{ID: old, Correlation: key, Plain: dataset}); err != nil {
		t.Fatal(err)
	}
	if m, err := tb.ob.Deliver(ctx, tb.ep, old); err != nil || m.State != register.MessageSent {
		t.Fatalf("Deliver: %s, %v", m.State, err)
	}

	p := tb.params(src)
	p.Test = false
	res, err := monthly.Run(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if want := monthly.MessageID(traeger, month, false, 2); res.Outcome != monthly.Accepted || res.AlreadyDone || res.Resumed != "" || res.Message.ID != want {
		t.Fatalf("production run: outcome %s, already done %v, resumed %q, message %s; want a fresh delivery %s, accepted",
			res.Outcome, res.AlreadyDone, res.Resumed, res.Message.ID, want)
	}
	mustVerify(t, tb.store)
}
