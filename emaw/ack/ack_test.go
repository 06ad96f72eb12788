package ack

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"meldeweg.dev/meldeweg/emaw/msg"
	"meldeweg.dev/meldeweg/emaw/rules"
	"meldeweg.dev/meldeweg/schemas"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/emaw")

var goldenFile = filepath.Join("..", "..", "testdata", "emaw", "acks", "quittung.xml")

func codec(t *testing.T) *msg.Codec {
	t.Helper()
	reg, err := schemas.Load(schemas.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return msg.NewCodec(reg)
}

func example() Quittung {
	return Quittung{
		QuittungID: "Q-20260311-1",
		Erstellt:   time.Date(2026, 3, 11, 6, 0, 0, 0, time.FixedZone("", 3600)),
		Absender:   "BA-D123",
		Empfaenger: "T4711",
		Datei:      "UP-20260310-1",
		Ergebnis: []Ergebnis{
			{NachrichtID: "EV-1", Status: StatusOK},
			{NachrichtID: "EV-2", Status: StatusNOK, Fehler: []Fehler{{Code: "1002", Text: "Austrittsdatum liegt nach dem Maßnahmeende"}}},
			{NachrichtID: "EV-3", Status: StatusNOK, Fehler: []Fehler{{Code: "9001", Text: "Interner Verarbeitungsfehler, bitte erneut liefern"}}},
			{NachrichtID: "EV-4", Status: StatusNOK, Fehler: []Fehler{{Code: "2001", Text: "Träger ist der Maßnahme nicht zugeordnet"}}},
			{NachrichtID: "EV-5", Status: StatusNOK, Fehler: []Fehler{{Code: "2002", Text: "Teilnehmer unbekannt"}}},
			{NachrichtID: "EV-UNBEKANNT", Status: StatusOK},
		},
	}
}

func TestGoldenRoundTrip(t *testing.T) {
	c := codec(t)
	ctx := context.Background()
	data, b, err := Marshal(ctx, c, example())
	if err != nil {
		t.Fatal(err)
	}
	if b.ID() != "emaw@2.18" {
		t.Errorf("bundle %s, want emaw@2.18", b.ID())
	}
	if *update {
		os.MkdirAll(filepath.Dir(goldenFile), 0o755)
		if err := os.WriteFile(goldenFile, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(goldenFile)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if !bytes.Equal(data, want) {
		t.Errorf("Quittung differs from %s:\n%s", goldenFile, data)
	}
	q, _, err := Unmarshal(ctx, c, want, goldenFile)
	if err != nil {
		t.Fatal(err)
	}
	ex := example()
	if !q.Erstellt.Equal(ex.Erstellt) {
		t.Errorf("Erstellt = %v, want %v", q.Erstellt, ex.Erstellt)
	}
	q.Erstellt = ex.Erstellt
	if !reflect.DeepEqual(*q, ex) {
		t.Errorf("round trip:\ngot  %+v\nwant %+v", *q, ex)
	}

	if xmllint, err := exec.LookPath("xmllint"); err == nil {
		xsd := filepath.Join("..", "..", "schemas", "bundles", "emaw-2.18", "emaw.xsd")
		if out, err := exec.Command(xmllint, "--noout", "--schema", xsd, goldenFile).CombinedOutput(); err != nil {
			t.Errorf("xmllint rejects the golden Quittung: %v\n%s", err, out)
		}
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		name string
		e    Ergebnis
		want Outcome
	}{
		{"OK", Ergebnis{Status: StatusOK}, OutcomeAcknowledged},
		{"faulty", Ergebnis{Status: StatusNOK, Fehler: []Fehler{{Code: "1001"}}}, OutcomeRejected},
		{"BA-internal", Ergebnis{Status: StatusNOK, Fehler: []Fehler{{Code: "9001"}, {Code: "9002"}}}, OutcomeBAError},
		{"not assigned", Ergebnis{Status: StatusNOK, Fehler: []Fehler{{Code: "2001"}}}, OutcomeNotAssigned},
		{"participant unknown", Ergebnis{Status: StatusNOK, Fehler: []Fehler{{Code: "2002"}}}, OutcomeParticipantUnknown},
		{"faulty beats BA-internal", Ergebnis{Status: StatusNOK, Fehler: []Fehler{{Code: "9001"}, {Code: "1001"}}}, OutcomeRejected},
		{"not assigned beats all", Ergebnis{Status: StatusNOK, Fehler: []Fehler{{Code: "2002"}, {Code: "2001"}, {Code: "1001"}}}, OutcomeNotAssigned},
		{"unknown code needs a person", Ergebnis{Status: StatusNOK, Fehler: []Fehler{{Code: "5555"}}}, OutcomeRejected},
		{"NOK without reason", Ergebnis{Status: StatusNOK}, OutcomeRejected},
	}
	for _, tt := range tests {
		if got := tt.e.Outcome(); got != tt.want {
			t.Errorf("%s: got %s, want %s", tt.name, got, tt.want)
		}
	}
	if !OutcomeBAError.Redeliver() || OutcomeRejected.Redeliver() {
		t.Error("only a BA-internal error is re-delivered")
	}
}

func TestLink(t *testing.T) {
	ctx := context.Background()
	c := codec(t)
	data, _, err := Marshal(ctx, c, example())
	if err != nil {
		t.Fatal(err)
	}
	q, _, err := Unmarshal(ctx, c, data, "q.xml")
	if err != nil {
		t.Fatal(err)
	}
	var evs []rules.SentEvent
	for _, id := range []string{"EV-1", "EV-2", "EV-3", "EV-4", "EV-5"} {
		evs = append(evs, rules.SentEvent{ID: id, Type: msg.TypeEintritt, SHA256: [32]byte{id[3]}})
	}
	store, err := rules.NewMemorySent(evs...)
	if err != nil {
		t.Fatal(err)
	}
	as, err := Link(ctx, store, q)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		id        string
		outcome   Outcome
		unmatched bool
	}{
		{"EV-1", OutcomeAcknowledged, false},
		{"EV-2", OutcomeRejected, false},
		{"EV-3", OutcomeBAError, false},
		{"EV-4", OutcomeNotAssigned, false},
		{"EV-5", OutcomeParticipantUnknown, false},
		{"EV-UNBEKANNT", OutcomeAcknowledged, true},
	}
	if len(as) != len(want) {
		t.Fatalf("%d answers, want %d", len(as), len(want))
	}
	for i, w := range want {
		a := as[i]
		if a.Ergebnis.NachrichtID != w.id || a.Outcome != w.outcome || a.Unmatched != w.unmatched {
			t.Errorf("answer %d = %s %s unmatched=%v; want %s %s unmatched=%v", i, a.Ergebnis.NachrichtID, a.Outcome, a.Unmatched, w.id, w.outcome, w.unmatched)
		}
		if !a.Unmatched && a.Event.ID != w.id {
			t.Errorf("answer %d linked to %q", i, a.Event.ID)
		}
	}
	if got, want := Summary(as), "2 acknowledged, 1 rejected, 1 ba-error, 1 provider-not-assigned, 1 participant-unknown, 1 unmatched"; got != want {
		t.Errorf("Summary = %q, want %q", got, want)
	}
}

func TestUnmarshalRefuses(t *testing.T) {
	ctx := context.Background()
	c := codec(t)
	m, _, err := c.Marshal(ctx, msg.Example(msg.TypeEintritt))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := Unmarshal(ctx, c, m, "m.xml"); !errors.Is(err, ErrNotQuittung) {
		t.Errorf("a message: err = %v, want ErrNotQuittung", err)
	}
	good, _, _ := Marshal(ctx, c, example())
	bad := bytes.Replace(good, []byte("<Status>NOK</Status>"), []byte("<Status>VIELLEICHT</Status>"), 1)
	_, _, err = Unmarshal(ctx, c, bad, "q.xml")
	if !errors.Is(err, msg.ErrInvalid) || !strings.Contains(err.Error(), "VIELLEICHT") {
		t.Errorf("invalid status: err = %v, want ErrInvalid naming the value", err)
	}
	dup := example()
	dup.Ergebnis = append(dup.Ergebnis, Ergebnis{NachrichtID: "EV-1", Status: StatusNOK})
	if _, _, err := Marshal(ctx, c, dup); !errors.Is(err, ErrDuplicateAnswer) {
		t.Errorf("duplicate answer: err = %v, want ErrDuplicateAnswer", err)
	}
}

// TestOutcomesComplete parses this package's source and fails when an
// Outcome constant is missing from Outcomes().
func TestOutcomesComplete(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "ack.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	listed := map[Outcome]bool{}
	for _, o := range Outcomes() {
		listed[o] = true
	}
	n := 0
	ast.Inspect(f, func(node ast.Node) bool {
		vs, ok := node.(*ast.ValueSpec)
		if !ok || vs.Type == nil {
			return true
		}
		if id, ok := vs.Type.(*ast.Ident); ok && id.Name == "Outcome" {
			for _, name := range vs.Names {
				n++
				lit := vs.Values[0].(*ast.BasicLit).Value
				if !listed[Outcome(strings.Trim(lit, `"`))] {
					t.Errorf("%s is missing from Outcomes()", name.Name)
				}
			}
		}
		return true
	})
	if n != len(Outcomes()) {
		t.Errorf("%d Outcome constants, Outcomes() lists %d", n, len(Outcomes()))
	}
}
