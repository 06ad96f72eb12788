// Package due lists the eM@w reports a provider owes on a given day, from
// an in-memory [State] of measures, participants and sent events. The CLI
// reads the State from a JSON file; the delivery fills it from the
// register.
//
// # Deadlines
//
//   - AnwesenheitMonat: for every month of a participation, by the 9th of
//     the following month (the Agentur needs it by the 10th); at once when
//     the participation ends in that month (exit, or the measure's end):
//     then due on the last day.
//   - WochenFehlzeit: for measures whose product needs weekly absences
//     (Measure.WochenFehlzeiten), every week of a participation, by its
//     Sunday. Listed from the week's Monday on.
//   - AGH-Monatsabrechnung: for every measure of Verfahrenszweig 06 and
//     every month in which it had a participant, by the 15th of the
//     following month.
//
// A report counts as delivered when State.Sent holds one of its type for
// the same measure, participant and period. An item is listed once its
// obligation has arisen (the month or week has begun for weekly reports,
// ended for monthly ones, or the participation ended) and is Overdue once
// the day is after its deadline.
//
// Limits: the weekly report exists only from eM@w 2.18 on; List does not
// check which version was in force for past weeks. Public holidays do not
// move deadlines.
package due

import (
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"time"

	"meldeweg.dev/meldeweg/emaw"
	"meldeweg.dev/meldeweg/emaw/msg"
	"meldeweg.dev/meldeweg/emaw/rules"
	"meldeweg.dev/meldeweg/schemas"
)

// Measure is one measure the provider runs.
type Measure struct {
	Nummer          emaw.Massnahmenummer
	Verfahrenszweig emaw.Verfahrenszweig
	Beginn          emaw.Date
	Ende            emaw.Date
	// WochenFehlzeiten is true when the product needs a weekly absence
	// report (WochenFehlzeit).
	WochenFehlzeiten bool `json:",omitempty"`
}

// Key returns the Maßnahmeschlüssel.
func (m Measure) Key() emaw.Massnahmeschluessel {
	return emaw.Massnahmeschluessel{Nummer: m.Nummer, Zweig: m.Verfahrenszweig}
}

// Participant is one participation in a measure. Ref is the provider's
// own reference for the person (a case number), never a name or
// Kundennummer: it appears in listings.
type Participant struct {
	Ref             string
	Massnahme       emaw.Massnahmenummer
	Verfahrenszweig emaw.Verfahrenszweig
	// Eintritt is the first day; zero while the participant has not
	// started (nothing is due then).
	Eintritt emaw.Date `json:",omitzero"`
	// Austritt is the last day; zero while the participant stays.
	Austritt emaw.Date `json:",omitzero"`
}

// Sent is one event handed to the BA.
type Sent struct {
	ID              string
	Type            msg.Type
	Massnahme       emaw.Massnahmenummer
	Verfahrenszweig emaw.Verfahrenszweig
	// Teilnehmer is the Participant.Ref, for participant reports.
	Teilnehmer string `json:",omitempty"`
	// Monat is the month reported (AnwesenheitMonat, AGH-Monatsabrechnung).
	Monat schemas.Month `json:",omitzero"`
	// Woche is the week reported (WochenFehlzeit).
	Woche  emaw.Woche `json:",omitzero"`
	SentAt time.Time
	// SHA256 is the hex SHA-256 of the XML sent (for the correction rules).
	SHA256 string `json:",omitempty"`
	// Bezug is, for a Korrektur, the ID of the event it corrects.
	Bezug string `json:",omitempty"`
}

// State is what List needs to know.
type State struct {
	Massnahmen []Measure
	Teilnehmer []Participant
	Gesendet   []Sent `json:",omitempty"`
}

// Status says how urgent an item is.
type Status string

const (
	// StatusDue: the report is owed and its deadline has not passed.
	StatusDue Status = "due"
	// StatusOverdue: the deadline has passed.
	StatusOverdue Status = "overdue"
)

// Item is one report owed.
type Item struct {
	Type      msg.Type
	Massnahme emaw.Massnahmeschluessel
	// Teilnehmer is the Participant.Ref; empty for the AGH bill.
	Teilnehmer string
	// Period is the month ("2026-02") or week ("2026-W10") reported.
	Period   string
	Deadline emaw.Date
	Status   Status
	// Reason says why the deadline is what it is.
	Reason string
}

// ErrState is returned (wrapped) for an inconsistent State.
var ErrState = errors.New("inconsistent state")

// Validate checks that every participant belongs to a known measure, Refs
// are unique and non-empty, and dates are in order. Errors name the entry.
func (s State) Validate() error {
	measures := map[emaw.Massnahmeschluessel]Measure{}
	for i, m := range s.Massnahmen {
		if err := m.Nummer.Check(); err != nil {
			return fmt.Errorf("%w: Massnahmen[%d].Nummer: %v", ErrState, i, err)
		}
		if !m.Verfahrenszweig.Known() {
			return fmt.Errorf("%w: Massnahmen[%d].Verfahrenszweig %q: expected 01, 06 or 10", ErrState, i, m.Verfahrenszweig)
		}
		if m.Beginn.IsZero() || m.Ende.IsZero() || m.Ende.Before(m.Beginn) {
			return fmt.Errorf("%w: Massnahmen[%d] (%s): expected Beginn and Ende with Beginn not after Ende", ErrState, i, m.Key())
		}
		key := canonical(m.Key())
		if _, dup := measures[key]; dup {
			return fmt.Errorf("%w: Massnahmen[%d]: measure %s listed twice", ErrState, i, m.Key())
		}
		measures[key] = m
	}
	refs := map[string]bool{}
	for i, p := range s.Teilnehmer {
		if p.Ref == "" {
			return fmt.Errorf("%w: Teilnehmer[%d].Ref is empty: expected the provider's reference for the participation", ErrState, i)
		}
		if refs[p.Ref] {
			return fmt.Errorf("%w: Teilnehmer[%d].Ref %q used twice", ErrState, i, p.Ref)
		}
		refs[p.Ref] = true
		m, ok := measures[canonical(emaw.Massnahmeschluessel{Nummer: p.Massnahme, Zweig: p.Verfahrenszweig})]
		if !ok {
			return fmt.Errorf("%w: Teilnehmer[%d] (%s): measure %s-%s is not in Massnahmen", ErrState, i, p.Ref, p.Massnahme, p.Verfahrenszweig)
		}
		if !p.Eintritt.IsZero() && !m.Period().Contains(p.Eintritt) {
			return fmt.Errorf("%w: Teilnehmer[%d] (%s): Eintritt %s outside the measure period %s", ErrState, i, p.Ref, p.Eintritt, m.Period())
		}
		if !p.Austritt.IsZero() && (p.Eintritt.IsZero() || p.Austritt.Before(p.Eintritt)) {
			return fmt.Errorf("%w: Teilnehmer[%d] (%s): Austritt %s without an Eintritt before it", ErrState, i, p.Ref, p.Austritt)
		}
	}
	for i, g := range s.Gesendet {
		if g.ID == "" {
			return fmt.Errorf("%w: Gesendet[%d].ID is empty", ErrState, i)
		}
		if _, ok := msg.Lookup(g.Type); !ok {
			return fmt.Errorf("%w: Gesendet[%d].Type %q: not an eM@w message type", ErrState, i, g.Type)
		}
	}
	return nil
}

// Period returns Beginn to Ende.
func (m Measure) Period() emaw.Period { return emaw.Period{From: m.Beginn, To: m.Ende} }

// canonical makes keys written as 123/21/1/26 and 12321126 equal.
func canonical(k emaw.Massnahmeschluessel) emaw.Massnahmeschluessel {
	return emaw.Massnahmeschluessel{Nummer: emaw.Massnahmenummer(k.Nummer.Compact()), Zweig: k.Zweig}
}

type sentKey struct {
	typ    msg.Type
	key    emaw.Massnahmeschluessel
	ref    string
	period string
}

// List returns the reports owed on day on, by deadline, then measure,
// participant and type. It fails for a State that does not Validate.
func List(s State, on emaw.Date) ([]Item, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	sent := map[sentKey]bool{}
	for _, g := range s.Gesendet {
		k := sentKey{typ: g.Type, key: canonical(emaw.Massnahmeschluessel{Nummer: g.Massnahme, Zweig: g.Verfahrenszweig}), ref: g.Teilnehmer}
		switch g.Type {
		case msg.TypeWochenFehlzeit:
			k.period = g.Woche.String()
		default:
			k.period = g.Monat.String()
		}
		sent[k] = true
	}
	measures := map[emaw.Massnahmeschluessel]Measure{}
	for _, m := range s.Massnahmen {
		measures[canonical(m.Key())] = m
	}
	var out []Item
	add := func(it Item, key emaw.Massnahmeschluessel) {
		if sent[sentKey{typ: it.Type, key: key, ref: it.Teilnehmer, period: it.Period}] {
			return
		}
		it.Status = StatusDue
		if on.After(it.Deadline) {
			it.Status = StatusOverdue
		}
		out = append(out, it)
	}
	aghMonths := map[emaw.Massnahmeschluessel]map[schemas.Month]bool{}
	for _, p := range s.Teilnehmer {
		if p.Eintritt.IsZero() || on.Before(p.Eintritt) {
			continue
		}
		key := canonical(emaw.Massnahmeschluessel{Nummer: p.Massnahme, Zweig: p.Verfahrenszweig})
		m := measures[key]
		end, endReason := m.Ende, "measure ends"
		if !p.Austritt.IsZero() && p.Austritt.Before(end) {
			end, endReason = p.Austritt, "exit"
		}
		// Monthly attendance.
		for mon := schemas.MonthOf(p.Eintritt.Time()); !emaw.DateOf(mon.First()).After(end); mon = mon.AddMonths(1) {
			last := emaw.DateOf(mon.Last())
			it := Item{Type: msg.TypeAnwesenheitMonat, Massnahme: m.Key(), Teilnehmer: p.Ref, Period: mon.String()}
			switch {
			case !end.After(last) && !on.Before(end):
				it.Deadline, it.Reason = end, fmt.Sprintf("at once: %s on %s", endReason, end)
			case on.After(last):
				it.Deadline, it.Reason = emaw.DateOf(mon.AddMonths(1).First()).AddDays(8), "by the 9th of the following month"
			default:
				continue
			}
			add(it, key)
			if m.Verfahrenszweig == emaw.ZweigAGH {
				if aghMonths[key] == nil {
					aghMonths[key] = map[schemas.Month]bool{}
				}
				aghMonths[key][mon] = true
			}
		}
		// Weekly absences.
		if m.WochenFehlzeiten {
			for w := emaw.WeekOf(p.Eintritt); !w.Monday().After(end) && !w.Monday().After(on); w = emaw.WeekOf(w.Monday().AddDays(7)) {
				add(Item{Type: msg.TypeWochenFehlzeit, Massnahme: m.Key(), Teilnehmer: p.Ref, Period: w.String(),
					Deadline: w.Sunday(), Reason: "by Sunday of the week"}, key)
			}
		}
	}
	// The AGH bill, per measure and month with participants.
	for key, months := range aghMonths {
		m := measures[key]
		for mon := range months {
			if !on.After(emaw.DateOf(mon.Last())) {
				continue // the month is not over: no bill yet
			}
			add(Item{Type: msg.TypeAGHMonatsabrechnung, Massnahme: m.Key(), Period: mon.String(),
				Deadline: emaw.DateOf(mon.AddMonths(1).First()).AddDays(14), Reason: "by the 15th of the following month"}, key)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		switch {
		case a.Deadline != b.Deadline:
			return a.Deadline.Before(b.Deadline)
		case a.Massnahme != b.Massnahme:
			return a.Massnahme.String() < b.Massnahme.String()
		case a.Teilnehmer != b.Teilnehmer:
			return a.Teilnehmer < b.Teilnehmer
		case a.Type != b.Type:
			return a.Type < b.Type
		}
		return a.Period < b.Period
	})
	return out, nil
}

// SentEvents returns the sent events of s as a store for the correction
// rules. Entries without SHA256 get a zero hash.
func (s State) SentEvents() (*rules.MemorySent, error) {
	var evs []rules.SentEvent
	for i, g := range s.Gesendet {
		ev := rules.SentEvent{ID: g.ID, Type: g.Type, Massnahme: emaw.Massnahmeschluessel{Nummer: g.Massnahme, Zweig: g.Verfahrenszweig}, SentAt: g.SentAt, Corrects: g.Bezug}
		if g.Type != msg.TypeKorrektur {
			ev.Corrects = ""
		}
		if g.SHA256 != "" {
			b, err := hex.DecodeString(g.SHA256)
			if err != nil || len(b) != 32 {
				return nil, fmt.Errorf("%w: Gesendet[%d].SHA256: expected 64 hex digits", ErrState, i)
			}
			copy(ev.SHA256[:], b)
		}
		evs = append(evs, ev)
	}
	st, err := rules.NewMemorySent(evs...)
	if err != nil {
		return nil, fmt.Errorf("%w: Gesendet: %v", ErrState, err)
	}
	return st, nil
}
