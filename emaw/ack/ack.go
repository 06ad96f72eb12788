// Package ack reads and writes eM@w acknowledgement files (Quittungen)
// and links each answer to the event it acknowledges.
//
// The BA answers every uploaded event with OK or NOK; a NOK carries
// Fehler with a four-digit code. The code decides what the provider has
// to do, see [Outcome]. The file format is the model's Quittung element
// (schema bundles emaw@2.15 and emaw@2.18); [Marshal] is the writer the BA
// simulator uses, [Unmarshal] the parser the delivery uses, and both
// validate against the bundle in force for the Quittung's date.
//
// # Fehler codes (model assumption)
//
// The BA's code list is not public. The model uses ranges:
//
//	1000–1999  the event is faulty (schema, rules, content)    → OutcomeRejected
//	2001       provider not assigned to the measure            → OutcomeNotAssigned
//	2002       participant (Kundennummer + cosachid) unknown   → OutcomeParticipantUnknown
//	9000–9999  BA-internal error                               → OutcomeBAError
//
// Any other code is treated as OutcomeRejected: a person looks at it.
package ack

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/beevik/etree"

	"meldeweg.dev/meldeweg/emaw/msg"
	"meldeweg.dev/meldeweg/emaw/rules"
	"meldeweg.dev/meldeweg/schemas"
)

// Status is the BA's verdict on one event.
type Status string

const (
	// StatusOK: the BA accepted the event.
	StatusOK Status = "OK"
	// StatusNOK: the BA did not accept the event; Fehler say why.
	StatusNOK Status = "NOK"
)

// Outcome is what an answer means for the provider. The BA's answer moves
// an event from "sent" to exactly one outcome.
type Outcome string

const (
	// OutcomeAcknowledged: OK; the event is done.
	OutcomeAcknowledged Outcome = "acknowledged"
	// OutcomeRejected: the event is faulty. It is never re-sent as is; a
	// person must build a new event.
	OutcomeRejected Outcome = "rejected"
	// OutcomeBAError: the BA failed internally; re-deliver the same event
	// unchanged.
	OutcomeBAError Outcome = "ba-error"
	// OutcomeNotAssigned: the provider is not assigned to the measure; a
	// person clarifies the assignment with the Agentur, then builds a new
	// event.
	OutcomeNotAssigned Outcome = "provider-not-assigned"
	// OutcomeParticipantUnknown: the BA does not know the participant
	// (Kundennummer + cosachid); a person checks them, then builds a new
	// event.
	OutcomeParticipantUnknown Outcome = "participant-unknown"
)

// Outcomes lists every Outcome.
func Outcomes() []Outcome {
	return []Outcome{OutcomeAcknowledged, OutcomeRejected, OutcomeBAError, OutcomeNotAssigned, OutcomeParticipantUnknown}
}

// Action says in one sentence what the provider has to do.
func (o Outcome) Action() string {
	switch o {
	case OutcomeAcknowledged:
		return "nothing; the BA has the event"
	case OutcomeRejected:
		return "a person must build a new event; the rejected one is never re-sent"
	case OutcomeBAError:
		return "re-deliver the same event unchanged"
	case OutcomeNotAssigned:
		return "clarify the measure assignment with the Agentur, then build a new event"
	case OutcomeParticipantUnknown:
		return "check Kundennummer and cosachid with the Agentur, then build a new event"
	}
	return "unknown outcome"
}

// Redeliver reports whether the same event is sent again.
func (o Outcome) Redeliver() bool { return o == OutcomeBAError }

// Codes of the model's Fehler list with a fixed meaning.
const (
	CodeNotAssigned        = "2001"
	CodeParticipantUnknown = "2002"
)

// classifyCode returns the outcome a single Fehler code stands for.
func classifyCode(code string) Outcome {
	switch {
	case code == CodeNotAssigned:
		return OutcomeNotAssigned
	case code == CodeParticipantUnknown:
		return OutcomeParticipantUnknown
	case len(code) == 4 && code[0] == '9':
		return OutcomeBAError
	}
	return OutcomeRejected
}

// Fehler is one reason for a NOK.
type Fehler struct {
	Code string
	Text string
}

// Ergebnis is the answer for one event.
type Ergebnis struct {
	NachrichtID string
	Status      Status
	Fehler      []Fehler
}

// Outcome classifies the answer. An OK is acknowledged. For a NOK the
// most demanding reason wins: not assigned, then participant unknown, then
// rejected; only a NOK whose every code is BA-internal is re-delivered. A
// NOK without Fehler counts as rejected.
func (e Ergebnis) Outcome() Outcome {
	if e.Status == StatusOK {
		return OutcomeAcknowledged
	}
	if len(e.Fehler) == 0 {
		return OutcomeRejected
	}
	rank := map[Outcome]int{OutcomeNotAssigned: 4, OutcomeParticipantUnknown: 3, OutcomeRejected: 2, OutcomeBAError: 1}
	best := OutcomeBAError
	for _, f := range e.Fehler {
		if o := classifyCode(f.Code); rank[o] > rank[best] {
			best = o
		}
	}
	return best
}

// Quittung is one acknowledgement file.
type Quittung struct {
	QuittungID string
	Erstellt   time.Time
	// Absender is the BA's Kennung, Empfaenger the provider's.
	Absender   string
	Empfaenger string
	// Datei names the upload answered, when known.
	Datei    string
	Ergebnis []Ergebnis
}

var (
	// ErrNotQuittung is returned (wrapped) for a valid eM@w document that
	// is a message, not an acknowledgement.
	ErrNotQuittung = errors.New("not an eM@w acknowledgement")
	// ErrDuplicateAnswer is returned (wrapped) when a Quittung answers one
	// event twice.
	ErrDuplicateAnswer = errors.New("event answered twice in one acknowledgement")
)

// Build returns the Quittung document for the given schema version,
// without validating it.
func Build(q Quittung, version string) *etree.Document {
	doc := etree.NewDocument()
	doc.CreateProcInst("xml", `version="1.0" encoding="UTF-8"`)
	root := doc.CreateElement("Quittung")
	root.CreateAttr("xmlns", msg.Namespace)
	root.CreateAttr("version", version)
	root.CreateElement("QuittungID").SetText(q.QuittungID)
	root.CreateElement("Erstellt").SetText(q.Erstellt.Format(time.RFC3339))
	root.CreateElement("Absender").SetText(q.Absender)
	root.CreateElement("Empfaenger").SetText(q.Empfaenger)
	if q.Datei != "" {
		root.CreateElement("Datei").SetText(q.Datei)
	}
	for _, e := range q.Ergebnis {
		el := root.CreateElement("Ergebnis")
		el.CreateElement("NachrichtID").SetText(e.NachrichtID)
		el.CreateElement("Status").SetText(string(e.Status))
		for _, f := range e.Fehler {
			fe := el.CreateElement("Fehler")
			fe.CreateElement("Code").SetText(f.Code)
			fe.CreateElement("Text").SetText(f.Text)
		}
	}
	doc.Indent(2)
	return doc
}

// Marshal writes q for the bundle in force on q.Erstellt and validates
// it; it returns bytes only when they are valid.
func Marshal(ctx context.Context, c *msg.Codec, q Quittung) ([]byte, *schemas.Bundle, error) {
	b, err := c.BundleFor(q.Erstellt)
	if err != nil {
		return nil, nil, fmt.Errorf("Quittung %s: %w", q.QuittungID, err)
	}
	if err := checkUnique(q); err != nil {
		return nil, b, err
	}
	data, err := Build(q, b.Version).WriteToBytes()
	if err != nil {
		return nil, b, err
	}
	name := "Quittung " + q.QuittungID
	root, _, err := c.ValidateDocument(ctx, data, name)
	if err != nil {
		return nil, b, err
	}
	if root != "Quittung" {
		return nil, b, fmt.Errorf("%s: %w", name, ErrNotQuittung)
	}
	return data, b, nil
}

func checkUnique(q Quittung) error {
	seen := map[string]bool{}
	for _, e := range q.Ergebnis {
		if seen[e.NachrichtID] {
			return fmt.Errorf("Quittung %s: %w: %s", q.QuittungID, ErrDuplicateAnswer, e.NachrichtID)
		}
		seen[e.NachrichtID] = true
	}
	return nil
}

// Unmarshal validates data against the bundle in force for its date, then
// reads it. name is used in errors.
func Unmarshal(ctx context.Context, c *msg.Codec, data []byte, name string) (*Quittung, *schemas.Bundle, error) {
	root, b, err := c.ValidateDocument(ctx, data, name)
	if err != nil {
		return nil, b, err
	}
	if root != "Quittung" {
		return nil, b, fmt.Errorf("%s: %w: root element is %s", name, ErrNotQuittung, root)
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(data); err != nil {
		return nil, b, fmt.Errorf("%s: %w", name, err)
	}
	r := doc.Root()
	text := func(el *etree.Element, tag string) string {
		if c := el.SelectElement(tag); c != nil {
			return c.Text()
		}
		return ""
	}
	q := &Quittung{
		QuittungID: text(r, "QuittungID"),
		Absender:   text(r, "Absender"),
		Empfaenger: text(r, "Empfaenger"),
		Datei:      text(r, "Datei"),
	}
	if q.Erstellt, err = time.Parse(time.RFC3339Nano, strings.TrimSpace(text(r, "Erstellt"))); err != nil {
		return nil, b, fmt.Errorf("%s: Erstellt: %w", name, err)
	}
	for _, el := range r.SelectElements("Ergebnis") {
		e := Ergebnis{NachrichtID: text(el, "NachrichtID"), Status: Status(text(el, "Status"))}
		for _, f := range el.SelectElements("Fehler") {
			e.Fehler = append(e.Fehler, Fehler{Code: text(f, "Code"), Text: text(f, "Text")})
		}
		q.Ergebnis = append(q.Ergebnis, e)
	}
	if err := checkUnique(*q); err != nil {
		return nil, b, fmt.Errorf("%s: %w", name, err)
	}
	return q, b, nil
}

// Answer links one Ergebnis to the sent event it answers.
type Answer struct {
	QuittungID string
	Ergebnis   Ergebnis
	Outcome    Outcome
	// Event is the sent event answered; zero when Unmatched.
	Event rules.SentEvent
	// Unmatched is true when no event was sent under the NachrichtID: the
	// answer cannot be applied and needs a person.
	Unmatched bool
}

// Link looks up every answer of q among the sent events. The error is set
// only when the store fails.
func Link(ctx context.Context, sent rules.SentEvents, q *Quittung) ([]Answer, error) {
	out := make([]Answer, 0, len(q.Ergebnis))
	for _, e := range q.Ergebnis {
		a := Answer{QuittungID: q.QuittungID, Ergebnis: e, Outcome: e.Outcome()}
		ev, err := sent.Get(ctx, e.NachrichtID)
		switch {
		case errors.Is(err, rules.ErrNotSent):
			a.Unmatched = true
		case err != nil:
			return nil, err
		default:
			a.Event = ev
		}
		out = append(out, a)
	}
	return out, nil
}

// Summary counts answers per outcome, plus unmatched ones.
func Summary(as []Answer) string {
	counts := map[Outcome]int{}
	unmatched := 0
	for _, a := range as {
		counts[a.Outcome]++
		if a.Unmatched {
			unmatched++
		}
	}
	var parts []string
	for _, o := range Outcomes() {
		if counts[o] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[o], o))
		}
	}
	if unmatched > 0 {
		parts = append(parts, fmt.Sprintf("%d unmatched", unmatched))
	}
	var b bytes.Buffer
	b.WriteString(strings.Join(parts, ", "))
	return b.String()
}
