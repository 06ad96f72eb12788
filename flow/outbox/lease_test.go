package outbox_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"meldeweg.dev/meldeweg/basim"
	"meldeweg.dev/meldeweg/flow/outbox"
	"meldeweg.dev/meldeweg/transport/register"
)

// goneProcess starts a real child process, waits for its end and returns
// its process ID, which no longer runs.
func goneProcess(t *testing.T) int {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}

// TestDeadWorkersLeaseIsReclaimedAtOnce: a message left in sending by a
// worker of this host whose process is gone (killed mid-upload) is taken
// back at once through the guarded transitions, not after its lease of an
// hour, and the operator is told; a holder that may still run (another
// host, a live process) is waited for, and the operator is told what for
// and until when, once.
func TestDeadWorkersLeaseIsReclaimedAtOnce(t *testing.T) {
	t.Parallel()
	b := deliverySetup(t, basim.Faults{})
	b.ob.Lease = time.Hour
	ctx := context.Background()
	claimBy := func(id register.MessageID, holder string) register.Message {
		t.Helper()
		b.submit(t, id)
		ms, err := b.ob.Store.Claim(ctx, register.ClaimParams{Worker: holder, ID: id})
		if err != nil || len(ms) != 1 {
			t.Fatalf("claim by %s: %v, %d claimed", holder, err, len(ms))
		}
		return ms[0]
	}

	dead := fmt.Sprintf("testhost-%d", goneProcess(t))
	m := claimBy("u-dead-holder", dead)
	start := time.Now()
	got, err := b.deliver(t, m.ID, 20*time.Second)
	if err != nil || got.State != register.MessageSent || got.Attempt != 2 {
		t.Fatalf("Deliver: %s attempt %d, %v; want sent as attempt 2, at once", got.State, got.Attempt, err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %v", d)
	}
	lines := entries(t, b.ob.Store, m.ID)
	if rw := only(lines, "retry-wait"); len(rw) != 1 || !strings.Contains(rw[0], "worker "+dead+" is gone") {
		t.Errorf("retry-wait entries %q, want one saying that %s is gone", rw, dead)
	}
	if _, err := b.ob.Store.Verify(ctx, register.VerifyParams{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.log.String(), "worker "+dead+" is gone (process") {
		t.Errorf("the operator was not told of the reclaim:\n%s", b.log.String())
	}

	for _, tc := range []struct{ name, holder string }{
		{"another host", "otherhost-1"},
		{"a live process of this host", fmt.Sprintf("testhost-%d", os.Getppid())},
	} {
		id := register.MessageID("u-" + strings.ReplaceAll(tc.name, " ", "-"))
		m := claimBy(id, tc.holder)
		got, err := b.deliver(t, id, 300*time.Millisecond)
		if !errors.Is(err, outbox.ErrNotDelivered) || got.State != register.MessageSending || got.ClaimedBy != tc.holder {
			t.Fatalf("%s: Deliver: %s by %s, %v; want it left to its holder", tc.name, got.State, got.ClaimedBy, err)
		}
		until := m.ClaimedAt.Add(time.Hour).UTC().Format(time.RFC3339)
		want := fmt.Sprintf("message %s is held by worker %s (attempt 1, claimed %s); waiting until %s for it to finish or for its lease to expire",
			id, tc.holder, m.ClaimedAt.UTC().Format(time.RFC3339), until)
		if n := strings.Count(b.log.String(), want); n != 1 {
			t.Errorf("%s: the wait was announced %d times, want once as %q:\n%s", tc.name, n, want, b.log.String())
		}
	}
}
