package monthly_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"meldeweg.dev/meldeweg/basim"
	"meldeweg.dev/meldeweg/basim/bacheck"
	"meldeweg.dev/meldeweg/basim/simtest"
	"meldeweg.dev/meldeweg/flow/monthly"
	"meldeweg.dev/meldeweg/flow/outbox"
	"meldeweg.dev/meldeweg/schemas"
	"meldeweg.dev/meldeweg/transport/baapi"
	"meldeweg.dev/meldeweg/transport/cms"
	"meldeweg.dev/meldeweg/transport/register"
	"meldeweg.dev/meldeweg/transport/register/payload"
	"meldeweg.dev/meldeweg/transport/register/sqlitestore"
	"meldeweg.dev/meldeweg/xsozial"
	"meldeweg.dev/meldeweg/xsozial/source"
	"meldeweg.dev/meldeweg/xsozial/synth"
)

const traeger = "12345"

// month is the reporting month: the one before today's, as in production.
// (The test PKI is minted now, so the clock cannot be fixed in the past.)
var month = schemas.MonthOf(time.Now()).AddMonths(-1)

func now() time.Time { return time.Now() }

// testBundle is the simulator as the BA on loopback (simtest.StartBA)
// and a fresh register with its payload store.
type testBundle struct {
	dir    string
	reg    *schemas.Registry
	ba     *simtest.BA
	server *basim.Server
	store  register.Store
	ob     *outbox.Outbox
	ep     *outbox.Endpoint
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	reg, err := schemas.Load(schemas.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tb := &testBundle{dir: t.TempDir(), reg: reg}
	tb.ba = simtest.StartBA(t, bacheck.Config{Registry: reg}, basim.Faults{})
	tb.server = tb.ba.Server
	tb.store, err = sqlitestore.Open(context.Background(), filepath.Join(tb.dir, "register.db"), sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tb.store.Close() })
	ps, err := payload.Open(filepath.Join(tb.dir, "payloads"), tb.store)
	if err != nil {
		t.Fatal(err)
	}
	tb.ob = &outbox.Outbox{Store: tb.store, Payloads: ps, Actor: register.System("test"), Worker: "test-1"}
	tb.ep = tb.ba.Endpoint(t, baapi.ChannelXSozial)
	return tb
}

// source writes synthetic source records; faults injects the known faults.
func (tb *testBundle) source(t *testing.T, name string, faults bool) string {
	t.Helper()
	return tb.sourceSeed(t, name, 7, faults)
}

// sourceSeed writes synthetic source records from seed: another seed,
// other data.
func (tb *testBundle) sourceSeed(t *testing.T, name string, seed uint64, faults bool) string {
	t.Helper()
	b, err := tb.reg.Select(xsozial.Standard, month)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(tb.dir, name)
	if _, err := synth.WriteSource(dir, synth.Options{BGs: 30, Seed: seed, Traeger: traeger, Month: month, Version: b.Version, Faults: faults}); err != nil {
		t.Fatal(err)
	}
	return dir
}

func (tb *testBundle) params(src string) monthly.Params {
	return monthly.Params{Traeger: traeger, Month: month, SourceDir: src, WorkDir: filepath.Join(tb.dir, "out"),
		Registry: tb.reg, Endpoint: tb.ep, Outbox: tb.ob, Software: "meldeweg", SoftwareVersion: "test",
		Now: now, FeedbackWait: 20 * time.Second, PollEvery: 50 * time.Millisecond, Test: true}
}

// events lists the events recorded for message id, in order.
func events(t *testing.T, s register.Store, id register.MessageID) string {
	t.Helper()
	var out []string
	for e, err := range register.All(context.Background(), s, id) {
		if err != nil {
			t.Fatal(err)
		}
		if e.MessageID() == id {
			out = append(out, string(e.Event()))
		}
	}
	return strings.Join(out, " ")
}

// detail returns the detail of message id's first entry with event ev.
func detail(t *testing.T, s register.Store, id register.MessageID, ev register.Event) string {
	t.Helper()
	for e, err := range register.All(context.Background(), s, id) {
		if err != nil {
			t.Fatal(err)
		}
		if e.MessageID() == id && e.Event() == ev {
			return e.Detail()
		}
	}
	return ""
}

func mustVerify(t *testing.T, s register.Store) {
	t.Helper()
	if _, err := s.Verify(context.Background(), register.VerifyParams{}); err != nil {
		t.Fatalf("register does not verify: %v", err)
	}
}

func TestMonthlyRunIsIdempotent(t *testing.T) {
	tb := setup(t)
	ctx := context.Background()
	p := tb.params(tb.source(t, "src", false))

	res, err := monthly.Run(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome != monthly.Accepted || res.AlreadyDone || res.Report == nil || !res.Report.Passed {
		t.Fatalf("first run: %+v", res)
	}
	id := monthly.MessageID(traeger, month, true, 1)
	if res.Message.ID != id || res.Message.State != register.MessageAcknowledged {
		t.Fatalf("message %s in %s, want %s acknowledged", res.Message.ID, res.Message.State, id)
	}
	want := "built checked sealed queued sending attempt receipt sent feedback acknowledged"
	if got := events(t, tb.store, id); got != want {
		t.Errorf("register entries for %s:\n got %s\nwant %s", id, got, want)
	}
	if _, err := os.Stat(res.Dataset); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the plain dataset %s is still in the work directory after it was sealed (%v)", res.Dataset, err)
	}

	// A rerun does nothing and says so.
	again, err := monthly.Run(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if !again.AlreadyDone || again.Outcome != monthly.Accepted || again.Message.ID != id {
		t.Fatalf("rerun: %+v, want already done", again)
	}
	if n := len(tb.server.Accepted()); n != 1 {
		t.Errorf("the BA accepted %d uploads, want 1", n)
	}
	if got := events(t, tb.store, id); got != want {
		t.Errorf("the rerun changed the register: %s", got)
	}
	mustVerify(t, tb.store)
}

func TestMonthlyRunResumesAfterACrash(t *testing.T) {
	for _, stop := range []string{"queued", "sent"} {
		t.Run("stopped "+stop, func(t *testing.T) {
			tb := setup(t)
			ctx := context.Background()
			p := tb.params(tb.source(t, "src", false))
			id := monthly.MessageID(traeger, month, true, 1)
			// An earlier run built, checked and queued (and maybe sent), then
			// died: the register holds what it did.
			dataset := filepath.Join(tb.dir, "dataset.xml")
			writeDataset(t, tb, p.SourceDir, dataset)
			key, _ := monthly.Key(traeger, month, true)
			if _, _, err := tb.ob.Submit(ctx, tb.ep, outbox.SubmitParams{ID: id, Correlation: key, Plain: dataset}); err != nil {
				t.Fatal(err)
			}
			if stop == "sent" {
				if m, err := tb.ob.Deliver(ctx, tb.ep, id); err != nil || m.State != register.MessageSent {
					t.Fatalf("Deliver: %v %v", m.State, err)
				}
			}
			res, err := monthly.Run(ctx, p)
			if err != nil {
				t.Fatal(err)
			}
			wantStep := map[string]string{"queued": "send", "sent": "await"}[stop]
			if res.Outcome != monthly.Accepted || res.Resumed != wantStep || res.Message.ID != id {
				t.Fatalf("resumed run: outcome %s, resumed %q, message %s; want accepted, %q, %s", res.Outcome, res.Resumed, res.Message.ID, wantStep, id)
			}
			if n := len(tb.server.Accepted()); n != 1 {
				t.Errorf("the BA accepted %d uploads, want exactly 1", n)
			}
			mustVerify(t, tb.store)
		})
	}
}

// writeDataset builds the month's dataset from src, as a run would.
func writeDataset(t *testing.T, tb *testBundle, src, out string) {
	t.Helper()
	b, err := tb.reg.Select(xsozial.Standard, month)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := source.Build(context.Background(), src, f, source.Options{Traeger: traeger, Month: month, Version: b.Version,
		Created: now(), Software: "meldeweg", SoftwareVersion: "test", Test: true}); err != nil {
		t.Fatal(err)
	}
}

func TestMonthlyRunStopsAtItsOwnCheck(t *testing.T) {
	tb := setup(t)
	res, err := monthly.Run(context.Background(), tb.params(tb.source(t, "faulty", true)))
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome != monthly.CheckFailed || res.Report == nil || res.Report.Passed {
		t.Fatalf("outcome %s, want check-failed", res.Outcome)
	}
	if n := len(tb.server.Accepted()); n != 0 {
		t.Errorf("a dataset that failed the check reached the BA (%d uploads)", n)
	}
	if _, err := tb.store.Message(context.Background(), monthly.MessageID(traeger, month, true, 1)); !errors.Is(err, register.ErrNotFound) {
		t.Errorf("a dataset that failed the check was queued: %v", err)
	}
	if got := events(t, tb.store, monthly.MessageID(traeger, month, true, 1)); got != "built checked" {
		t.Errorf("entries %q, want built checked", got)
	}
	mustVerify(t, tb.store)
}

func TestCorrectionSupersedesAndLinks(t *testing.T) {
	tb := setup(t)
	ctx := context.Background()
	p := tb.params(tb.source(t, "src", false))
	if _, err := monthly.Run(ctx, p); err != nil {
		t.Fatal(err)
	}
	p.Correction = true
	res, err := monthly.Run(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	first, second := monthly.MessageID(traeger, month, true, 1), monthly.MessageID(traeger, month, true, 2)
	if res.Outcome != monthly.Accepted || res.Message.ID != second || res.Message.ResendOf != first {
		t.Fatalf("correction: outcome %s, message %s resend of %q; want accepted %s linked to %s", res.Outcome, res.Message.ID, res.Message.ResendOf, second, first)
	}
	if built := detail(t, tb.store, second, register.EventBuilt); !strings.Contains(built, "Lieferart 2") {
		t.Errorf("the correction was built as %q, want Lieferart 2", built)
	}
	if n := len(tb.server.Accepted()); n != 2 {
		t.Errorf("the BA accepted %d uploads, want 2", n)
	}
	// A correction of nothing is refused.
	p.Month = month.AddMonths(-1)
	if _, err := monthly.Run(ctx, p); err == nil || !strings.Contains(err.Error(), "no earlier delivery") {
		t.Errorf("correction without an earlier delivery: err = %v", err)
	}
	mustVerify(t, tb.store)
}

func TestMonthInTheFutureIsRefused(t *testing.T) {
	tb := setup(t)
	p := tb.params("unused")
	p.Month = month.AddMonths(2)
	if _, err := monthly.Run(context.Background(), p); err == nil || !strings.Contains(err.Error(), "future") {
		t.Fatalf("err = %v, want the month refused as in the future", err)
	}
}

// An endpoint on the bsi profile seals with RSA-PSS, OAEP and AES-GCM; the
// BA's compat-sealed feedback is still accepted.
func TestMonthlyRunWithBSIProfile(t *testing.T) {
	tb := setup(t)
	tb.ep.Profile = cms.ProfileBSI
	res, err := monthly.Run(context.Background(), tb.params(tb.source(t, "src", false)))
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome != monthly.Accepted {
		t.Fatalf("outcome %s (%s), want accepted", res.Outcome, res.Message.LastError)
	}
	var sealedDetail string
	for e, err := range register.All(context.Background(), tb.store, res.Message.ID) {
		if err != nil {
			t.Fatal(err)
		}
		if e.Event() == register.EventSealed {
			sealedDetail = e.Detail()
		}
	}
	if !strings.Contains(sealedDetail, "(bsi)") {
		t.Errorf("sealed entry %q does not name the bsi profile", sealedDetail)
	}
}
