package msg

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"meldeweg.dev/meldeweg/emaw"
	"meldeweg.dev/meldeweg/schemas"
)

// examplePDF is a minimal one-page PDF, made up for examples and tests.
const examplePDF = "%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"

// ExamplePDF returns the made-up PDF the examples attach.
func ExamplePDF() []byte { return []byte(examplePDF) }

// AnhangFor describes the PDF data under name.
func AnhangFor(name string, data []byte) Anhang {
	sum := sha256.Sum256(data)
	return Anhang{Dateiname: name, Medientyp: "application/pdf", Groesse: int64(len(data)), SHA256: hex.EncodeToString(sum[:])}
}

// Example returns a complete, schema-valid and rule-abiding message of
// type t with made-up data, dated in March 2026 (eM@w 2.18): for tests,
// documentation and the BA simulator. Attachments are ExamplePDF. It
// panics for an unknown type.
func Example(t Type) Message {
	info, ok := Lookup(t)
	if !ok {
		panic(fmt.Sprintf("msg.Example: unknown type %q", t))
	}
	m, _ := New(t)
	k := m.Header()
	k.NachrichtID = "EX-" + string(t)
	k.Erstellt = time.Date(2026, time.March, 10, 8, 0, 0, 0, time.FixedZone("", 3600))
	if k.Richtung == "" {
		k.Richtung = TraegeranBA
	}
	provider, agentur := "T4711", "BA-D123"
	if k.Richtung == BAanTraeger {
		k.Absender, k.Empfaenger = agentur, provider
	} else {
		k.Absender, k.Empfaenger = provider, agentur
	}
	k.Massnahme = Massnahme{
		Nummer:          "123/21/1/26",
		Verfahrenszweig: info.Zweige[0],
		Beginn:          emaw.MustDate("2026-01-05"),
		Ende:            emaw.MustDate("2026-12-18"),
	}
	tn := Teilnehmer{Kundennummer: "123A456789", Cosachid: "C0000001"}
	person := Person{Familienname: "Mustermann", Vorname: "Erika", Geburtsdatum: emaw.MustDate("2004-05-17")}
	anm := Anmeldungsdaten{Teilnehmer: tn, Person: person, Beginn: emaw.MustDate("2026-04-01"), Ende: emaw.MustDate("2026-12-18")}
	pdf := AnhangFor("EX-"+string(t)+".pdf", ExamplePDF())
	feb := schemas.Month{Year: 2026, Month: time.February}
	switch v := m.(type) {
	case *AnmeldungKontakt:
		v.Teilnehmer, v.Person, v.Kontaktdatum = tn, person, emaw.MustDate("2026-03-16")
		v.Hinweis = "Erstgespräch vormittags"
	case *AnmeldungBAE:
		v.Anmeldungsdaten = anm
	case *AnmeldungBVB:
		v.Anmeldungsdaten = anm
	case *AnmeldungABH:
		v.Anmeldungsdaten = anm
	case *AGHAnmeldung:
		v.Anmeldungsdaten = anm
		v.Wochenstunden = 30
	case *SVAnmeldung:
		v.Anmeldungsdaten = anm
	case *Zustimmung:
		v.Bezug, v.Teilnehmer = "EX-Verlaengerung", &tn
	case *Ablehnung:
		v.Bezug, v.Teilnehmer, v.Grund = "EX-Planung", &tn, "Planung deckt den Zeitraum nicht ab"
	case *Mitteilung:
		v.Teilnehmer, v.Betreff, v.Text = &tn, "Terminänderung", "Der Beratungstermin wird auf den 17.03. verlegt."
	case *AGHAnforderungMonatsabrechnung:
		v.Abrechnungsmonat = feb
	case *AGHBeanstandungMonatsabrechnung:
		v.Bezug, v.Abrechnungsmonat, v.Grund = "EX-AGH-Monatsabrechnung", feb, "Teilnehmerzahl weicht ab"
	case *RueckmeldungKontakt:
		v.Bezug, v.Teilnehmer, v.Kontaktdatum, v.Ergebnis = "EX-AnmeldungKontakt", tn, emaw.MustDate("2026-03-09"), "erschienen"
	case *Eintritt:
		v.Teilnehmer, v.Eintrittsdatum = tn, emaw.MustDate("2026-03-02")
	case *Nichtantritt:
		v.Teilnehmer, v.GeplanterBeginn, v.Grund = tn, emaw.MustDate("2026-03-02"), "Arbeitsaufnahme vor Beginn"
	case *Planung:
		v.Teilnehmer, v.Beginn, v.Ende = tn, emaw.MustDate("2026-03-02"), emaw.MustDate("2026-06-30")
		v.Inhalt = "Bewerbungstraining, Praktikum ab Mai"
	case *AnwesenheitMonat:
		v.Teilnehmer, v.Monat = tn, feb
		for d := feb.First(); d.Month() == time.February; d = d.AddDate(0, 0, 1) {
			if d.Weekday() == time.Saturday || d.Weekday() == time.Sunday {
				continue
			}
			art := "01"
			switch d.Day() {
			case 4, 11, 18, 25:
				art = "03" // Berufsschule on Wednesdays
			case 12, 13:
				art = "20" // krank mit Erstbescheinigung
			}
			v.Tag = append(v.Tag, Tag{Datum: emaw.DateOf(d), Art: art})
		}
		half := 0.5
		v.Tag[len(v.Tag)-1].Anteil = &half
	case *WochenFehlzeit:
		v.Teilnehmer, v.Woche = tn, emaw.Woche{Year: 2026, Week: 10}
		v.Tag = []Tag{{Datum: emaw.MustDate("2026-03-03"), Art: "23"}}
	case *Beurteilung:
		v.Teilnehmer, v.Beurteilungsart, v.Stichtag, v.Anhang = tn, "Zwischenbeurteilung", emaw.MustDate("2026-03-06"), pdf
	case *Verlaengerung:
		v.Teilnehmer, v.BisherigesEnde, v.NeuesEnde, v.Grund = tn, emaw.MustDate("2026-06-30"), emaw.MustDate("2026-09-30"), "Prüfung erst im September"
	case *Unterbrechung:
		v.Teilnehmer, v.Von, v.Bis, v.Grund = tn, emaw.MustDate("2026-03-16"), emaw.MustDate("2026-03-27"), "Krankenhausaufenthalt"
	case *Austritt:
		v.Austrittsdaten = Austrittsdaten{Teilnehmer: tn, Austrittsdatum: emaw.MustDate("2026-03-06"), Grund: "04", Verbleib: "03"}
	case *AustrittBvB:
		v.Austrittsdaten = Austrittsdaten{Teilnehmer: tn, Austrittsdatum: emaw.MustDate("2026-03-06"), Grund: "05", Verbleib: "01"}
		v.Schulabschluss = "Hauptschulabschluss"
	case *AustrittBNF:
		v.Austrittsdaten = Austrittsdaten{Teilnehmer: tn, Austrittsdatum: emaw.MustDate("2026-03-06"), Grund: "01", Verbleib: "03"}
		v.Abschlusspruefung = "bestanden"
	case *Teilnahmestornierung:
		v.Bezug, v.Teilnehmer, v.Grund = "EX-Eintritt", tn, "Eintritt irrtümlich gemeldet"
	case *AGHZusageTraeger:
		v.Bezug, v.Teilnehmer, v.Beginn = "EX-AGHAnmeldung", tn, emaw.MustDate("2026-04-01")
	case *AGHAbsageTraeger:
		v.Bezug, v.Teilnehmer, v.Grund = "EX-AGHAnmeldung", tn, "Platz bereits besetzt"
	case *AGHMonatsabrechnung:
		v.Bezug, v.Abrechnungsmonat, v.Teilnehmerzahl, v.Betrag, v.Anhang = "EX-AGH-AnforderungMonatsabrechnung", feb, 12, 184050, pdf
	case *Korrektur:
		v.Bezug, v.Ersatz, v.Grund = "EX-Eintritt", "EX-Eintritt-2", "Eintrittsdatum falsch"
	}
	return m
}
