package rules

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"meldeweg.dev/meldeweg/emaw"
	"meldeweg.dev/meldeweg/emaw/msg"
)

func TestExamplesPass(t *testing.T) {
	for _, info := range msg.Catalogue() {
		m := msg.Example(info.Type)
		var pdf []byte
		if info.Attachment {
			pdf = msg.ExamplePDF()
		}
		if got := Check(m, Options{Attachment: pdf}); len(got) != 0 {
			t.Errorf("%s: example has findings: %v", info.Type, got)
		}
	}
}

func ptr(f float64) *float64 { return &f }

func TestCheck(t *testing.T) {
	tests := []struct {
		name   string
		typ    msg.Type
		change func(m msg.Message)
		pdf    []byte
		rule   Rule
		field  string
		value  string
		expect string // part of Expected
	}{
		{
			name: "Maßnahmenummer with a four-digit year", typ: msg.TypeEintritt,
			change: func(m msg.Message) { m.Header().Massnahme.Nummer = "123/21/1/2026" },
			rule:   RuleMassnahmenummer, field: "Kopf/Massnahme/Nummer", value: "123/21/1/2026", expect: "NNN/NN/N/NN",
		},
		{
			name: "unknown Verfahrenszweig", typ: msg.TypeEintritt,
			change: func(m msg.Message) { m.Header().Massnahme.Verfahrenszweig = "07" },
			rule:   RuleVerfahrenszweig, field: "Kopf/Massnahme/Verfahrenszweig", value: "07", expect: "01 (BNF), 06 (AGH), 10 (AsA)",
		},
		{
			name: "AGH type outside Verfahrenszweig 06", typ: msg.TypeAGHZusageTraeger,
			change: func(m msg.Message) { m.Header().Massnahme.Verfahrenszweig = "01" },
			rule:   RuleVerfahrenszweig, field: "Kopf/Massnahme/Verfahrenszweig", value: "01", expect: "only in Verfahrenszweig 06",
		},
		{
			name: "provider type sent by the BA", typ: msg.TypeEintritt,
			change: func(m msg.Message) { m.Header().Richtung = msg.BAanTraeger },
			rule:   RuleRichtung, field: "Kopf/Richtung", value: "BA-an-Traeger", expect: "Traeger-an-BA",
		},
		{
			name: "cosachid missing", typ: msg.TypeEintritt,
			change: func(m msg.Message) { m.(*msg.Eintritt).Teilnehmer.Cosachid = "" },
			rule:   RuleTeilnehmer, field: "Eintritt/Teilnehmer/Cosachid", expect: "cosachid next to the Kundennummer",
		},
		{
			name: "Kundennummer missing", typ: msg.TypeAustritt,
			change: func(m msg.Message) { m.(*msg.Austritt).Teilnehmer.Kundennummer = "" },
			rule:   RuleTeilnehmer, field: "Austritt/Teilnehmer/Kundennummer", expect: "Kundennummer next to the cosachid",
		},
		{
			name: "Kundennummer malformed", typ: msg.TypeEintritt,
			change: func(m msg.Message) { m.(*msg.Eintritt).Teilnehmer.Kundennummer = "123456789" },
			rule:   RuleTeilnehmer, field: "Eintritt/Teilnehmer/Kundennummer", expect: "capital letter",
		},
		{
			name: "Eintritt before the measure", typ: msg.TypeEintritt,
			change: func(m msg.Message) { m.(*msg.Eintritt).Eintrittsdatum = emaw.MustDate("2025-12-01") },
			rule:   RuleZeitraum, field: "Eintritt/Eintrittsdatum", value: "2025-12-01", expect: "inside the measure period 2026-01-05 – 2026-12-18",
		},
		{
			name: "two entries for one day", typ: msg.TypeAnwesenheitMonat,
			change: func(m msg.Message) {
				a := m.(*msg.AnwesenheitMonat)
				a.Tag[1].Datum = a.Tag[0].Datum
				a.Tag = append(a.Tag, msg.Tag{Datum: emaw.MustDate("2026-02-03"), Art: "01"})
			},
			rule: RuleEinTagEinEintrag, field: "AnwesenheitMonat/Tag[2]/Datum", value: "2026-02-02", expect: "one entry per participant and day",
		},
		{
			name: "half a day sick", typ: msg.TypeAnwesenheitMonat,
			change: func(m msg.Message) { m.(*msg.AnwesenheitMonat).Tag[8].Anteil = ptr(0.5) },
			rule:   RuleGanzeTage, field: "AnwesenheitMonat/Tag[9]/Anteil", value: "0.5", expect: "whole days",
		},
		{
			name: "unknown Tagesart", typ: msg.TypeAnwesenheitMonat,
			change: func(m msg.Message) { m.(*msg.AnwesenheitMonat).Tag[0].Art = "42" },
			rule:   RuleTagesart, field: "AnwesenheitMonat/Tag[1]/Art", value: "42", expect: "20 krank mit Erstbescheinigung",
		},
		{
			name: "attendance type in a weekly absence report", typ: msg.TypeWochenFehlzeit,
			change: func(m msg.Message) { m.(*msg.WochenFehlzeit).Tag[0].Art = "03" },
			rule:   RuleTagesart, field: "WochenFehlzeit/Tag[1]/Art", value: "03", expect: "an absence type (Berufsschule is attendance)",
		},
		{
			name: "weekly absence outside its week", typ: msg.TypeWochenFehlzeit,
			change: func(m msg.Message) { m.(*msg.WochenFehlzeit).Tag[0].Datum = emaw.MustDate("2026-03-09") },
			rule:   RuleZeitraum, field: "WochenFehlzeit/Tag[1]/Datum", value: "2026-03-09", expect: "week 2026-W10",
		},
		{
			name: "day outside the month", typ: msg.TypeAnwesenheitMonat,
			change: func(m msg.Message) {
				a := m.(*msg.AnwesenheitMonat)
				a.Tag = append(a.Tag, msg.Tag{Datum: emaw.MustDate("2026-03-02"), Art: "01"})
			},
			rule: RuleZeitraum, field: "AnwesenheitMonat/Tag[21]/Datum", value: "2026-03-02", expect: "a day of 2026-02",
		},
		{
			name: "month not covered", typ: msg.TypeAnwesenheitMonat,
			change: func(m msg.Message) {
				a := m.(*msg.AnwesenheitMonat)
				a.Tag = append(a.Tag[:5], a.Tag[7:]...) // drops 9 and 10 February
			},
			rule: RuleMonatVollstaendig, field: "AnwesenheitMonat/Tag", expect: "missing 2: 2026-02-09, 2026-02-10",
		},
		{
			name: "exit mid-month needs days only up to Bis", typ: msg.TypeAnwesenheitMonat,
			change: func(m msg.Message) {
				a := m.(*msg.AnwesenheitMonat)
				a.Bis = emaw.MustDate("2026-02-10")
				a.Tag = a.Tag[:6] // up to 9 February
			},
			rule: RuleMonatVollstaendig, field: "AnwesenheitMonat/Tag", expect: "from 2026-02-01 to 2026-02-10; missing 1: 2026-02-10",
		},
		{
			name: "Austritt without Verbleib", typ: msg.TypeAustritt,
			change: func(m msg.Message) { m.(*msg.Austritt).Verbleib = "" },
			rule:   RuleAustritt, field: "Austritt/Verbleib", expect: "where the participant went",
		},
		{
			name: "AustrittBNF with unknown Grund", typ: msg.TypeAustrittBNF,
			change: func(m msg.Message) { m.(*msg.AustrittBNF).Grund = "99" },
			rule:   RuleAustritt, field: "AustrittBNF/Grund", value: "99", expect: "01 Maßnahme regulär beendet",
		},
		{
			name: "attachment is not a PDF", typ: msg.TypeBeurteilung,
			change: func(m msg.Message) {}, pdf: []byte("GIF89a"),
			rule: RuleAnhang, field: "Beurteilung/Anhang", value: "EX-Beurteilung.pdf", expect: "does not start with %PDF-",
		},
		{
			name: "attachment hash mismatch", typ: msg.TypeAGHMonatsabrechnung,
			change: func(m msg.Message) { m.(*msg.AGHMonatsabrechnung).Anhang.SHA256 = strings.Repeat("0", 64) },
			pdf:    msg.ExamplePDF(),
			rule:   RuleAnhang, field: "AGH-Monatsabrechnung/Anhang/SHA256", value: strings.Repeat("0", 64), expect: "SHA-256 of the attached file",
		},
		{
			name: "Unterbrechung ends before it begins", typ: msg.TypeUnterbrechung,
			change: func(m msg.Message) { m.(*msg.Unterbrechung).Bis = emaw.MustDate("2026-03-01") },
			rule:   RuleReihenfolge, field: "Unterbrechung/Bis", value: "2026-03-01", expect: "not before Von 2026-03-16",
		},
		{
			name: "Korrektur of itself", typ: msg.TypeKorrektur,
			change: func(m msg.Message) { m.(*msg.Korrektur).Bezug = m.Header().NachrichtID },
			rule:   RuleBezug, field: "Korrektur/Bezug", value: "EX-Korrektur", expect: "not the message's own",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := msg.Example(tt.typ)
			tt.change(m)
			got := Check(m, Options{Attachment: tt.pdf})
			var hit *Finding
			for i, f := range got {
				if f.Rule == tt.rule && f.Field == tt.field {
					hit = &got[i]
				}
			}
			if hit == nil {
				t.Fatalf("no %s finding on %s; got %v", tt.rule, tt.field, got)
			}
			if hit.Value != tt.value {
				t.Errorf("Value = %q, want %q", hit.Value, tt.value)
			}
			if !strings.Contains(hit.Expected, tt.expect) {
				t.Errorf("Expected = %q, want it to contain %q", hit.Expected, tt.expect)
			}
			if hit.Type != tt.typ || hit.ID != m.Header().NachrichtID {
				t.Errorf("finding names %s %s, want %s %s", hit.Type, hit.ID, tt.typ, m.Header().NachrichtID)
			}
			s := AsError(got).Error()
			for _, secret := range []string{"123A456789", "C0000001", "Mustermann", "Erika"} {
				if strings.Contains(s, secret) {
					t.Errorf("findings contain personal value %q: %s", secret, s)
				}
			}
		})
	}
}

func TestErrorIs(t *testing.T) {
	if AsError(nil) != nil {
		t.Error("AsError(nil) != nil")
	}
	err := AsError([]Finding{{Rule: RuleAustritt}})
	if !errors.Is(err, ErrRejected) {
		t.Errorf("errors.Is(%v, ErrRejected) = false", err)
	}
}

func TestCorrections(t *testing.T) {
	ctx := context.Background()
	day := time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)
	orig := msg.Example(msg.TypeEintritt)
	origXML := []byte("<Eintritt v1/>")
	type step struct {
		m      msg.Message
		data   string
		rule   Rule   // "" for no finding
		expect string // part of Expected
	}
	korrektur := func(id, bezug string) msg.Message {
		k := msg.Example(msg.TypeKorrektur).(*msg.Korrektur)
		k.NachrichtID, k.Bezug, k.Ersatz = id, bezug, ""
		k.Massnahme.Verfahrenszweig = orig.Header().Massnahme.Verfahrenszweig
		return k
	}
	otherMeasure := korrektur("K-3", "EX-Eintritt")
	otherMeasure.Header().Massnahme.Nummer = "999/99/9/26"
	steps := []struct {
		name string
		step
		record bool
	}{
		{name: "resending the same bytes is fine", step: step{m: orig, data: string(origXML)}},
		{name: "a sent event never changes", step: step{m: orig, data: "<Eintritt v2/>", rule: RuleUnveraendert, expect: "never changes"}},
		{name: "Korrektur of an unknown event", step: step{m: korrektur("K-1", "EX-nie"), data: "k1", rule: RuleKorrektur, expect: "none was sent under this ID"}},
		{name: "Korrektur of another measure", step: step{m: otherMeasure, data: "k3", rule: RuleKorrektur, expect: "the measure of the corrected event"}},
		{name: "first Korrektur", step: step{m: korrektur("K-2", "EX-Eintritt"), data: "k2"}, record: true},
		{name: "the same Korrektur again is a re-delivery", step: step{m: korrektur("K-2", "EX-Eintritt"), data: "k2"}},
		{name: "second Korrektur of the same event", step: step{m: korrektur("K-4", "EX-Eintritt"), data: "k4", rule: RuleKorrektur, expect: "K-2 already corrected it"}},
		{name: "Korrektur of a Korrektur", step: step{m: korrektur("K-5", "K-2"), data: "k5", rule: RuleKorrektur, expect: "not another Korrektur"}},
	}
	store, err := NewMemorySent(SentEventOf(orig, origXML, day))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range steps {
		got, err := CheckSent(ctx, store, s.m, []byte(s.data))
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		switch {
		case s.rule == "" && len(got) > 0:
			t.Errorf("%s: unexpected findings %v", s.name, got)
		case s.rule != "" && (len(got) != 1 || got[0].Rule != s.rule || !strings.Contains(got[0].Expected, s.expect)):
			t.Errorf("%s: got %v, want one %s finding containing %q", s.name, got, s.rule, s.expect)
		}
		if s.record {
			if err := store.Record(ctx, SentEventOf(s.m, []byte(s.data), day)); err != nil {
				t.Fatalf("%s: Record: %v", s.name, err)
			}
		}
	}

	// The store itself refuses what the rules refuse.
	if err := store.Record(ctx, SentEventOf(orig, []byte("<Eintritt v2/>"), day)); !errors.Is(err, ErrChanged) {
		t.Errorf("Record(changed) = %v, want ErrChanged", err)
	}
	if err := store.Record(ctx, SentEventOf(korrektur("K-4", "EX-Eintritt"), []byte("k4"), day)); !errors.Is(err, ErrAlreadyCorrected) {
		t.Errorf("Record(second Korrektur) = %v, want ErrAlreadyCorrected", err)
	}
	if _, err := store.Get(ctx, "K-4"); !errors.Is(err, ErrNotSent) {
		t.Errorf("a refused Record stored K-4 anyway: %v", err)
	}
	if got := len(store.All()); got != 2 {
		t.Errorf("store holds %d events, want 2", got)
	}
}
