package status

import (
	"context"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"meldeweg.dev/meldeweg/transport/register"
	"meldeweg.dev/meldeweg/transport/register/sqlitestore"
)

func TestParseFeedback(t *testing.T) {
	at := time.Date(2026, 11, 3, 6, 0, 0, 0, time.UTC)
	tests := []struct {
		detail string
		want   Feedback
	}{
		{"abgelehnt: 2 Fehler, 1 Hinweise (R13_0030, R3_0010)", Feedback{Result: "abgelehnt", Fehler: 2, Hinweise: 1, Rules: []string{"R13_0030", "R3_0010"}, At: at}},
		{"angenommen: 0 Fehler, 3 Hinweise", Feedback{Result: "angenommen", Fehler: 0, Hinweise: 3, Rules: []string{}, At: at}},
		{"angenommen", Feedback{Result: "angenommen", Fehler: -1, Hinweise: -1, Rules: []string{}, At: at}},
	}
	for _, tt := range tests {
		if got := parseFeedback(tt.detail, at); !reflect.DeepEqual(*got, tt.want) {
			t.Errorf("parseFeedback(%q) = %+v, want %+v", tt.detail, *got, tt.want)
		}
	}
}

func TestInboundType(t *testing.T) {
	for detail, want := range map[string]string{
		"received AnmeldungBAE for Maßnahme 12321126-01, participant ps1-00: valid Nachricht (emaw@2.18), file f1": "AnmeldungBAE",
		"received a Quittung: valid Quittung (emaw@2.18), file f2":                                                 "Quittung",
		"received file f3: invalid": "invalid",
		"something else":            "unknown",
	} {
		if got := inboundType(detail); got != want {
			t.Errorf("inboundType(%q) = %q, want %q", detail, got, want)
		}
	}
}

// TestReadLines builds a register by hand: a test delivery that an older
// version recorded under the production key, a dead delivery and its
// resend, and a message still queued.
func TestReadLines(t *testing.T) {
	ctx := context.Background()
	store, err := sqlitestore.Open(ctx, filepath.Join(t.TempDir(), "r.db"), sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	actor := register.System("test")
	prod, _ := register.XSozialKey("12345", "2026-01")
	ref := register.PayloadRef{SHA256: register.Hash{1}, Size: 10}
	add := func(id register.MessageID, ev register.Event, detail string) {
		t.Helper()
		if _, err := store.Append(ctx, register.AppendParams{Direction: register.DirectionOut, Channel: register.ChannelXSozial,
			Event: ev, Actor: actor, MessageID: id, Correlation: prod, Payload: ref, Detail: detail}); err != nil {
			t.Fatal(err)
		}
	}
	add("xsozial-12345-2026-01-1", register.EventBuilt, "built XSOZIAL_12345_2026-01_T.xml with xsozial-ba-sgb2@4.3.0: 3 BGs, Lieferart 1")
	add("xsozial-12345-2026-01-1", register.EventChecked, "check PASSED: RTX passed")
	add("xsozial-12345-2026-01-2", register.EventBuilt, "built XSOZIAL_12345_2026-01_P.xml with xsozial-ba-sgb2@4.3.0: 3 BGs, Lieferart 1")
	add("xsozial-12345-2026-01-2", register.EventChecked, "check PASSED: RTX passed")
	if _, err := store.Enqueue(ctx, register.EnqueueParams{ID: "xsozial-12345-2026-01-2", Channel: register.ChannelXSozial, Correlation: prod, Payload: ref, Actor: actor}); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Transition(ctx, register.MarkDead("xsozial-12345-2026-01-2", "gave up", actor)); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Enqueue(ctx, register.EnqueueParams{ID: "xsozial-12345-2026-01-3", Channel: register.ChannelXSozial, Correlation: prod,
		Payload: ref, ResendOf: "xsozial-12345-2026-01-2", Actor: actor, Detail: "resend of xsozial-12345-2026-01-2"}); err != nil {
		t.Fatal(err)
	}

	r, err := Read(ctx, store, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if n := len(r.XSozial.Lines); n != 2 {
		t.Fatalf("%d lines, want 2 (production and the test delivery): %+v", n, r.XSozial.Lines)
	}
	p, test := r.XSozial.Lines[0], r.XSozial.Lines[1]
	if p.Test || !test.Test || len(test.Deliveries) != 1 || test.Deliveries[0].ID != "xsozial-12345-2026-01-1" || test.Status != StatusChecked {
		t.Errorf("the old test delivery is not on the test line: production %+v, test %+v", p, test)
	}
	if len(p.Deliveries) != 2 || p.Status != StatusSending || p.CorrectionPending {
		t.Fatalf("production line: %+v", p)
	}
	if d := p.Deliveries[1]; d.Kind != "resend" || d.Supersedes != "xsozial-12345-2026-01-2" || d.State != register.MessageQueued {
		t.Errorf("resend: %+v", d)
	}
	if len(r.Outbox) != 1 || r.Outbox[0].States[register.MessageDead] != 1 || r.Outbox[0].OldestPending == nil ||
		r.Outbox[0].OldestPending.ID != "xsozial-12345-2026-01-3" {
		t.Errorf("outbox: %+v", r.Outbox)
	}
	if len(r.Attention) != 1 {
		t.Errorf("attention: %q, want the dead message", r.Attention)
	}
}
