package registertest

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"meldeweg.dev/meldeweg/transport/register"
	pstore "meldeweg.dev/meldeweg/transport/register/payload"
)

// verifyBundle is a store with a delivery through the outbox: a sealed
// payload kept with the "sealed" entry, claimed, sent and acknowledged
// with the acknowledgement kept, plus an inbound file kept and later
// deleted under retention.
type verifyBundle struct {
	*bundle
	payloads  *pstore.Store
	delivery  register.PayloadRef // kept, named by the message
	ack       register.PayloadRef // kept with the acknowledgement
	deleted   register.PayloadRef // kept, then deleted by an entry
	messageID register.MessageID
}

func setupVerify(t *testing.T, open OpenFunc) *verifyBundle {
	t.Helper()
	b := &verifyBundle{bundle: setup(t, open), messageID: "v-1"}
	ctx := b.ctx
	var err error
	if b.payloads, err = pstore.Open(t.TempDir(), b.store); err != nil {
		t.Fatal(err)
	}
	seal := func(plain string) *pstore.Sealed {
		p, err := b.payloads.Seal(ctx, strings.NewReader(plain))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Close() })
		return p
	}
	sys := register.System("run")
	// More than one chunk, so a flipped byte in the middle is not in the
	// header.
	delivery := seal(strings.Repeat("<Datensatz/>\n", 200_000))
	b.delivery = delivery.Ref
	sealed := delivery.Entry(register.AppendParams{Direction: register.DirectionOut, Channel: register.ChannelXSozial,
		Event: register.EventSealed, Actor: sys, MessageID: b.messageID})
	if _, err := b.store.Enqueue(ctx, register.EnqueueParams{ID: b.messageID, Channel: register.ChannelXSozial,
		Correlation: xsKey(t, "2026-02"), Payload: b.delivery, Actor: sys, Before: []register.AppendParams{sealed}}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.store.Claim(ctx, register.ClaimParams{Worker: "w"}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.store.Transition(ctx, register.MarkSent(b.messageID, 1, sys)); err != nil {
		t.Fatal(err)
	}
	ack := seal("<Quittung/>")
	b.ack = ack.Ref
	feedback := ack.Entry(register.AppendParams{Direction: register.DirectionIn, Channel: register.ChannelXSozial,
		Event: register.EventFeedback, Actor: sys, MessageID: b.messageID})
	if _, err := b.store.Transition(ctx, register.MarkAcknowledged(b.messageID, b.ack, sys).With(feedback)); err != nil {
		t.Fatal(err)
	}
	in := seal("<Eintritt/>")
	b.deleted = in.Ref
	if _, err := b.store.Append(ctx, in.Entry(register.AppendParams{Direction: register.DirectionIn, Channel: register.ChannelEmaw,
		Event: register.EventReceived, Actor: sys, MessageID: "in-1"})); err != nil {
		t.Fatal(err)
	}
	if _, err := b.payloads.Delete(ctx, pstore.DeleteParams{Payload: b.deleted, Direction: register.DirectionIn, Channel: register.ChannelEmaw,
		MessageID: "in-1", Actor: register.Operator("dpo"), Reason: "retention"}); err != nil {
		t.Fatal(err)
	}
	return b
}

// findings runs Verify with the payload key and returns its findings; it
// fails the test if the chain breaks or verification cannot run.
func (b *verifyBundle) findings(t *testing.T) (register.VerifyReport, []register.Finding) {
	t.Helper()
	rep, err := b.store.Verify(b.ctx, register.VerifyParams{Payloads: b.payloads})
	var fe *register.FindingsError
	switch {
	case err == nil:
		return rep, nil
	case errors.As(err, &fe) && errors.Is(err, register.ErrInconsistent):
		if len(fe.Findings) == 0 || len(rep.Findings) != len(fe.Findings) {
			t.Fatalf("FindingsError with %d findings, report with %d", len(fe.Findings), len(rep.Findings))
		}
		return rep, fe.Findings
	}
	t.Fatalf("Verify: %v", err)
	return rep, nil
}

// wantFinding fails unless fs holds exactly one finding of check about
// subject, and returns it.
func wantFinding(t *testing.T, fs []register.Finding, check, subject string) register.Finding {
	t.Helper()
	var got []register.Finding
	for _, f := range fs {
		if f.Check == check && f.Subject == subject {
			got = append(got, f)
		}
	}
	if len(got) != 1 {
		t.Fatalf("want one %s finding about %s, got %d of %d findings: %v", check, subject, len(got), len(fs), fs)
	}
	return got[0]
}

func exerciseVerify(t *testing.T, open OpenFunc) {
	t.Run("VerifyIntact", func(t *testing.T) {
		t.Parallel()
		b := setupVerify(t, open)
		var stages []string
		rep, err := b.store.Verify(b.ctx, register.VerifyParams{Payloads: b.payloads, Progress: func(p register.VerifyProgress) {
			if len(stages) == 0 || stages[len(stages)-1] != p.Stage {
				stages = append(stages, p.Stage)
			}
		}})
		if err != nil {
			t.Fatalf("Verify of an intact register: %v", err)
		}
		if rep.Entries != 8 || rep.Payloads.Read != 2 || rep.Payloads.Checked != 2 || rep.Payloads.Deleted != 1 || rep.Messages != 1 {
			t.Fatalf("report %+v; want 8 entries, 2 payloads read and checked, 1 deleted, 1 message", rep)
		}
		if len(rep.Guards) == 0 {
			t.Fatal("no append-only guards reported")
		}
		if got := strings.Join(stages, " "); got != "entries payloads" {
			t.Fatalf("progress stages %q, want entries then payloads", got)
		}
		// Without the key the contents are not checked, and the report
		// says so.
		rep, err = b.store.Verify(b.ctx, register.VerifyParams{})
		if err != nil || rep.Payloads.Read != 2 || rep.Payloads.Checked != 0 || !strings.Contains(strings.Join(rep.NotChecked, "; "), "payload contents") {
			t.Fatalf("Verify without the key: %+v, %v", rep, err)
		}
	})

	t.Run("VerifyFindsFlippedPayloadByte", func(t *testing.T) {
		t.Parallel()
		b := setupVerify(t, open)
		b.tamper.DropGuards(t)
		b.tamper.FlipPayloadByte(t, b.delivery.SHA256)
		_, fs := b.findings(t)
		f := wantFinding(t, fs, "payload", b.delivery.SHA256.String())
		if f.Seq != 1 || !strings.Contains(f.Found, "authentication") {
			t.Fatalf("finding %v: want entry 1 (sealed) and an authentication failure", f)
		}
	})

	t.Run("VerifyFindsDeletedPayloads", func(t *testing.T) {
		t.Parallel()
		b := setupVerify(t, open)
		b.tamper.DeletePayloads(t)
		// No key needed: the entries say which payloads must be held.
		rep, err := b.store.Verify(b.ctx, register.VerifyParams{})
		var fe *register.FindingsError
		if !errors.As(err, &fe) {
			t.Fatalf("Verify after every payload was deleted: %v, want findings", err)
		}
		wantFinding(t, fe.Findings, "payload", b.delivery.SHA256.String())
		wantFinding(t, fe.Findings, "payload", b.ack.SHA256.String())
		if len(fe.Findings) != 2 || rep.Payloads.Deleted != 1 {
			t.Fatalf("findings %v, %d deleted; want the two kept payloads and the one deleted by its entry not reported", fe.Findings, rep.Payloads.Deleted)
		}
	})

	t.Run("VerifyFindsOutboxReset", func(t *testing.T) {
		t.Parallel()
		b := setupVerify(t, open)
		b.tamper.SetMessageState(t, b.messageID, register.MessageQueued, 0)
		_, fs := b.findings(t)
		f := wantFinding(t, fs, "outbox", string(b.messageID))
		if f.Expected != "acknowledged at attempt 1" || f.Found != "queued at attempt 0" || f.Seq != 6 {
			t.Fatalf("finding %v: want entry 6 acknowledged at attempt 1, found queued at attempt 0", f)
		}
		if len(fs) != 1 {
			t.Fatalf("findings %v, want only the outbox", fs)
		}
	})

	t.Run("VerifyFindsDeletedMessage", func(t *testing.T) {
		t.Parallel()
		b := setupVerify(t, open)
		b.tamper.DeleteMessage(t, b.messageID)
		_, fs := b.findings(t)
		f := wantFinding(t, fs, "outbox", string(b.messageID))
		if f.Found != "no message" || f.Seq != 6 || len(fs) != 1 {
			t.Fatalf("findings %v: want only the missing message, last recorded by entry 6", fs)
		}
	})

	t.Run("VerifyFindsMissingGuards", func(t *testing.T) {
		t.Parallel()
		b := setupVerify(t, open)
		b.tamper.DropGuards(t)
		rep, fs := b.findings(t)
		if len(fs) == 0 || len(rep.Guards) != 0 {
			t.Fatalf("after dropping the guards: findings %v, guards %v", fs, rep.Guards)
		}
		for _, f := range fs {
			if f.Check != "guard" {
				t.Fatalf("finding %v, want only guards", f)
			}
		}
	})

	t.Run("VerifyExpectHead", func(t *testing.T) {
		t.Parallel()
		b := setupVerify(t, open)
		rep, _ := b.findings(t)
		again, err := b.store.Verify(b.ctx, register.VerifyParams{ExpectHead: rep.Head})
		if err != nil || again.ExpectedHeadSeq != rep.Entries {
			t.Fatalf("Verify with its own head: seq %d, %v", again.ExpectedHeadSeq, err)
		}
		other := rep.Head
		other[0] ^= 1
		_, err = b.store.Verify(b.ctx, register.VerifyParams{ExpectHead: other})
		var fe *register.FindingsError
		if !errors.As(err, &fe) || fe.Findings[0].Check != "head" || fe.Findings[0].Expected != other.String() {
			t.Fatalf("Verify with a head the chain does not hold: %v, want a head finding", err)
		}
	})

	t.Run("VerifyFindingsHoldNoContents", func(t *testing.T) {
		t.Parallel()
		b := setupVerify(t, open)
		b.tamper.DropGuards(t)
		b.tamper.FlipPayloadByte(t, b.ack.SHA256)
		b.tamper.SetMessageState(t, b.messageID, register.MessageSent, 1)
		_, fs := b.findings(t)
		for _, f := range fs {
			if s := f.String(); strings.Contains(s, "Quittung") || strings.Contains(s, "Datensatz") || !bytes.Contains([]byte(s), []byte(f.Check)) {
				t.Fatalf("finding %q shows payload contents", s)
			}
		}
	})
}
