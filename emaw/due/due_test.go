package due

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"meldeweg.dev/meldeweg/emaw"
	"meldeweg.dev/meldeweg/emaw/msg"
	"meldeweg.dev/meldeweg/schemas"
)

var d = emaw.MustDate

func state() State {
	return State{
		Massnahmen: []Measure{
			{Nummer: "123/21/1/26", Verfahrenszweig: "01", Beginn: d("2026-01-05"), Ende: d("2026-12-18"), WochenFehlzeiten: true},
			{Nummer: "456/01/2/26", Verfahrenszweig: "06", Beginn: d("2026-01-01"), Ende: d("2026-06-30")},
		},
		Teilnehmer: []Participant{
			{Ref: "TN-A", Massnahme: "123/21/1/26", Verfahrenszweig: "01", Eintritt: d("2026-02-02")},
			{Ref: "TN-B", Massnahme: "12321126", Verfahrenszweig: "01", Eintritt: d("2026-02-02"), Austritt: d("2026-03-04")},
			{Ref: "TN-C", Massnahme: "456/01/2/26", Verfahrenszweig: "06", Eintritt: d("2026-02-16")},
			{Ref: "TN-D", Massnahme: "456/01/2/26", Verfahrenszweig: "06"}, // not started
		},
		Gesendet: []Sent{
			{ID: "S1", Type: msg.TypeAnwesenheitMonat, Massnahme: "123/21/1/26", Verfahrenszweig: "01", Teilnehmer: "TN-A", Monat: schemas.Month{Year: 2026, Month: time.February}},
			{ID: "S2", Type: msg.TypeWochenFehlzeit, Massnahme: "12321126", Verfahrenszweig: "01", Teilnehmer: "TN-A", Woche: emaw.Woche{Year: 2026, Week: 6}},
		},
	}
}

func line(it Item) string {
	return fmt.Sprintf("%s %s %s %s %s %s", it.Deadline, it.Status, it.Type, it.Massnahme, it.Teilnehmer, it.Period)
}

func TestList(t *testing.T) {
	tests := []struct {
		on   string
		want []string
	}{
		{
			// Early February: only the weekly absences of the first week.
			on: "2026-02-03",
			want: []string{
				"2026-02-08 due WochenFehlzeit 12321126-01 TN-B 2026-W06",
			},
		},
		{
			// 5 March: February is over (attendance due by 9 March, the AGH
			// bill by 15 March); TN-B left on 4 March, so March is due at
			// once; the weeks since February are owed, old ones overdue.
			on: "2026-03-05",
			want: []string{
				"2026-02-08 overdue WochenFehlzeit 12321126-01 TN-B 2026-W06",
				"2026-02-15 overdue WochenFehlzeit 12321126-01 TN-A 2026-W07",
				"2026-02-15 overdue WochenFehlzeit 12321126-01 TN-B 2026-W07",
				"2026-02-22 overdue WochenFehlzeit 12321126-01 TN-A 2026-W08",
				"2026-02-22 overdue WochenFehlzeit 12321126-01 TN-B 2026-W08",
				"2026-03-01 overdue WochenFehlzeit 12321126-01 TN-A 2026-W09",
				"2026-03-01 overdue WochenFehlzeit 12321126-01 TN-B 2026-W09",
				"2026-03-04 overdue AnwesenheitMonat 12321126-01 TN-B 2026-03",
				"2026-03-08 due WochenFehlzeit 12321126-01 TN-A 2026-W10",
				"2026-03-08 due WochenFehlzeit 12321126-01 TN-B 2026-W10",
				"2026-03-09 due AnwesenheitMonat 12321126-01 TN-B 2026-02",
				"2026-03-09 due AnwesenheitMonat 45601226-06 TN-C 2026-02",
				"2026-03-15 due AGH-Monatsabrechnung 45601226-06  2026-02",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.on, func(t *testing.T) {
			items, err := List(state(), d(tt.on))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, it := range items {
				got = append(got, line(it))
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestListDeadlines(t *testing.T) {
	// The 9th and the 15th themselves are not late; the 10th and 16th are.
	for _, tt := range []struct {
		on, typ string
		want    Status
	}{
		{"2026-04-09", "AnwesenheitMonat", StatusDue},
		{"2026-04-10", "AnwesenheitMonat", StatusOverdue},
		{"2026-04-15", "AGH-Monatsabrechnung", StatusDue},
		{"2026-04-16", "AGH-Monatsabrechnung", StatusOverdue},
	} {
		s := State{
			Massnahmen: []Measure{{Nummer: "456/01/2/26", Verfahrenszweig: "06", Beginn: d("2026-01-01"), Ende: d("2026-06-30")}},
			Teilnehmer: []Participant{{Ref: "TN-C", Massnahme: "456/01/2/26", Verfahrenszweig: "06", Eintritt: d("2026-03-02")}},
		}
		items, err := List(s, d(tt.on))
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, it := range items {
			if string(it.Type) == tt.typ && it.Period == "2026-03" {
				found = true
				if it.Status != tt.want {
					t.Errorf("%s on %s: %s, want %s", tt.typ, tt.on, it.Status, tt.want)
				}
			}
		}
		if !found {
			t.Errorf("%s for 2026-03 not listed on %s", tt.typ, tt.on)
		}
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(*State)
		want   string
	}{
		{"unknown measure", func(s *State) { s.Teilnehmer[0].Massnahme = "999/99/9/99" }, "Teilnehmer[0] (TN-A): measure 999/99/9/99-01 is not in Massnahmen"},
		{"duplicate ref", func(s *State) { s.Teilnehmer[1].Ref = "TN-A" }, `Teilnehmer[1].Ref "TN-A" used twice`},
		{"Eintritt outside", func(s *State) { s.Teilnehmer[0].Eintritt = d("2025-01-01") }, "Eintritt 2025-01-01 outside the measure period"},
		{"bad Maßnahmenummer", func(s *State) { s.Massnahmen[0].Nummer = "12-3" }, "Massnahmen[0].Nummer"},
		{"unknown type", func(s *State) { s.Gesendet[0].Type = "Anwesenheit" }, `Gesendet[0].Type "Anwesenheit"`},
	}
	for _, tt := range tests {
		s := state()
		tt.change(&s)
		_, err := List(s, d("2026-03-05"))
		if !errors.Is(err, ErrState) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want ErrState containing %q", tt.name, err, tt.want)
		}
	}
}

func TestSentEvents(t *testing.T) {
	s := state()
	s.Gesendet = append(s.Gesendet, Sent{ID: "K1", Type: msg.TypeKorrektur, Massnahme: "123/21/1/26", Verfahrenszweig: "01", Bezug: "S1"})
	st, err := s.SentEvents()
	if err != nil {
		t.Fatal(err)
	}
	if got := len(st.All()); got != 3 {
		t.Errorf("%d events, want 3", got)
	}
	s.Gesendet = append(s.Gesendet, Sent{ID: "K2", Type: msg.TypeKorrektur, Massnahme: "123/21/1/26", Verfahrenszweig: "01", Bezug: "S1"})
	if _, err := s.SentEvents(); !errors.Is(err, ErrState) {
		t.Errorf("two corrections of S1: err = %v, want ErrState", err)
	}
}
