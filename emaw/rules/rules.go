// Package rules checks eM@w messages against the business rules that the
// schema cannot express, and the correction rules over the events already
// sent.
//
// A message is checked after it passed the schema (package msg). Every
// rule that fails gives a [Finding] naming the message, the field (as an
// element path), the value and what was expected; Check returns all of
// them, not only the first. Personal values (names, birth dates) never
// appear in findings; a Kundennummer or cosachid is described, not
// repeated, even by the rule about them.
//
// # Rules
//
// Maßnahmenummer format and Verfahrenszweig (and that the type exists in
// that Verfahrenszweig); the direction fits the type; Kundennummer and
// cosachid both present and well-formed; every date inside the measure
// period; one attendance entry per participant and day; absences only as
// whole days and only of the allowed types; a monthly attendance covers
// every working day (Monday to Friday, model assumption) of its month that
// lies in the measure period, up to Bis on exit; an Austritt carries Grund
// and Verbleib from their code lists; a PDF attachment is a PDF and
// matches its size and SHA-256.
//
// # Corrections
//
// Sent events never change. A Korrektur references an earlier sent event
// (Bezug), and an event can be corrected only once. [CheckSent] applies
// these rules against a [SentEvents] store; [MemorySent] is the in-memory
// store for tests and the CLI; the register implements the same interface.
package rules

import (
	"errors"
	"fmt"
	"strings"

	"meldeweg.dev/meldeweg/emaw/msg"
)

// Rule names one rule; findings carry it so callers can filter and count.
type Rule string

// The rules.
const (
	RuleMassnahmenummer   Rule = "massnahmenummer"
	RuleVerfahrenszweig   Rule = "verfahrenszweig"
	RuleRichtung          Rule = "richtung"
	RuleTeilnehmer        Rule = "teilnehmer"
	RuleZeitraum          Rule = "zeitraum"
	RuleReihenfolge       Rule = "reihenfolge"
	RuleEinTagEinEintrag  Rule = "ein-eintrag-pro-tag"
	RuleTagesart          Rule = "tagesart"
	RuleGanzeTage         Rule = "fehlzeit-ganze-tage"
	RuleMonatVollstaendig Rule = "monat-vollstaendig"
	RuleAustritt          Rule = "austritt-grund-verbleib"
	RuleAnhang            Rule = "anhang"
	RuleBezug             Rule = "bezug"
	RuleKorrektur         Rule = "korrektur"
	RuleUnveraendert      Rule = "gesendet-unveraendert"
)

// Finding is one broken rule.
type Finding struct {
	Rule Rule
	// Type and ID name the message.
	Type msg.Type
	ID   string
	// Field is the element path inside the message, e.g.
	// "AnwesenheitMonat/Tag[3]/Art" or "Kopf/Massnahme/Nummer".
	Field string
	// Value is the offending value as written; empty for personal fields.
	Value string
	// Expected says what the rule wants.
	Expected string
}

func (f Finding) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: %s", f.Type, f.ID, f.Field)
	if f.Value != "" {
		fmt.Fprintf(&b, " %q", f.Value)
	}
	fmt.Fprintf(&b, ": %s [%s]", f.Expected, f.Rule)
	return b.String()
}

// ErrRejected is matched by every *Error.
var ErrRejected = errors.New("rejected by the eM@w business rules")

// Error is a message that broke one or more rules.
type Error struct {
	Findings []Finding
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d business rule %s broken", len(e.Findings), plural(len(e.Findings), "finding", "findings"))
	for _, f := range e.Findings {
		b.WriteString("\n  ")
		b.WriteString(f.String())
	}
	return b.String()
}

// Is makes errors.Is(err, ErrRejected) true.
func (e *Error) Is(target error) bool { return target == ErrRejected }

// AsError returns nil for no findings, else an *Error holding them.
func AsError(fs []Finding) error {
	if len(fs) == 0 {
		return nil
	}
	return &Error{Findings: fs}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
