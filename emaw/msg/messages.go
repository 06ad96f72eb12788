package msg

import (
	"log/slog"
	"time"

	"meldeweg.dev/meldeweg/emaw"
	"meldeweg.dev/meldeweg/schemas"
)

// Message is one eM@w event of any type. The concrete types below are the
// catalogue; each embeds Kopf.
type Message interface {
	// Type is the message type, the element name under Nachricht.
	Type() Type
	// Header returns the message's Kopf for reading and writing.
	Header() *Kopf
}

// WithAttachment is a message that carries a PDF. The XML holds the
// Anhang (file name, size, SHA-256); the bytes travel next to it in the
// event's archive (package pack).
type WithAttachment interface {
	Message
	Attachment() *Anhang
}

// Kopf is the header of every message.
type Kopf struct {
	// NachrichtID identifies the event for ever: acknowledgements,
	// corrections and the sent-events store refer to it.
	NachrichtID string
	// Erstellt is when the event was created. Its month decides the
	// schema bundle in force.
	Erstellt time.Time
	// Richtung is the direction; New sets it for one-way types.
	Richtung Richtung
	// Absender and Empfaenger are the Kennungen of sender and recipient
	// (Trägernummer, Dienststelle).
	Absender   string
	Empfaenger string
	// Massnahme is the measure the event belongs to.
	Massnahme Massnahme
}

// Header implements Message for every type that embeds Kopf.
func (k *Kopf) Header() *Kopf { return k }

// Massnahme names a measure and its period.
type Massnahme struct {
	Nummer          emaw.Massnahmenummer
	Verfahrenszweig emaw.Verfahrenszweig
	Beginn          emaw.Date
	Ende            emaw.Date
}

// Key returns the Maßnahmeschlüssel.
func (m Massnahme) Key() emaw.Massnahmeschluessel {
	return emaw.Massnahmeschluessel{Nummer: m.Nummer, Zweig: m.Verfahrenszweig}
}

// Period returns Beginn to Ende.
func (m Massnahme) Period() emaw.Period { return emaw.Period{From: m.Beginn, To: m.Ende} }

// Teilnehmer identifies a participant: Kundennummer and cosachid together
// (the BA rejects unknown pairs). Both are personal data.
type Teilnehmer struct {
	Kundennummer string `json:",omitempty" emaw:",omitempty"`
	Cosachid     string `json:",omitempty" emaw:",omitempty"`
}

// LogValue implements slog.LogValuer: it logs whether the keys are set,
// never their values.
func (t Teilnehmer) LogValue() slog.Value {
	return slog.GroupValue(slog.Bool("kundennummer_set", t.Kundennummer != ""), slog.Bool("cosachid_set", t.Cosachid != ""))
}

// Person is what the BA tells the provider about a new participant.
// Personal data: it never appears in logs or errors.
type Person struct {
	Familienname string
	Vorname      string
	Geburtsdatum emaw.Date
}

// LogValue implements slog.LogValuer and logs nothing of the person.
func (Person) LogValue() slog.Value { return slog.StringValue("[personal data]") }

// Anhang describes a PDF that travels with a message.
type Anhang struct {
	// Dateiname is the file's name inside the event archive.
	Dateiname string
	// Medientyp is "application/pdf".
	Medientyp string
	Groesse   int64
	// SHA256 is the lower-case hex SHA-256 of the file.
	SHA256 string
}

// Tag is one day of an attendance or absence report.
type Tag struct {
	Datum emaw.Date
	// Art is a code from emaw.Tagesarten.
	Art string
	// Anteil is the part of the day, (0, 1]; nil means the whole day.
	// Absences are reported only as whole days.
	Anteil *float64 `json:",omitempty"`
}

// Anmeldungsdaten is the body shared by the Anmeldungen.
type Anmeldungsdaten struct {
	Teilnehmer Teilnehmer
	Person     Person
	Beginn     emaw.Date
	Ende       emaw.Date
}

// Austrittsdaten is the body shared by the Austritt types.
type Austrittsdaten struct {
	Teilnehmer     Teilnehmer
	Austrittsdatum emaw.Date
	// Grund is a code from emaw.Austrittsgruende; required by the rules.
	Grund string `json:",omitempty" emaw:",omitempty"`
	// Verbleib is a code from emaw.Verbleibe; required by the rules.
	Verbleib string `json:",omitempty" emaw:",omitempty"`
}

// ----- BA to provider -----

// AnmeldungKontakt: the BA announces a participant for a first contact.
type AnmeldungKontakt struct {
	Kopf         `json:"Kopf"`
	Teilnehmer   Teilnehmer
	Person       Person
	Kontaktdatum emaw.Date
	Hinweis      string `json:",omitempty" emaw:",omitempty"`
}

// AnmeldungBAE: registration for Berufsausbildung in außerbetrieblichen
// Einrichtungen.
type AnmeldungBAE struct {
	Kopf `json:"Kopf"`
	Anmeldungsdaten
}

// AnmeldungBVB: registration for a berufsvorbereitende Bildungsmaßnahme.
type AnmeldungBVB struct {
	Kopf `json:"Kopf"`
	Anmeldungsdaten
}

// AnmeldungABH: registration for ausbildungsbegleitende Hilfen.
type AnmeldungABH struct {
	Kopf `json:"Kopf"`
	Anmeldungsdaten
}

// AGHAnmeldung: the Jobcenter assigns a participant to an
// Arbeitsgelegenheit.
type AGHAnmeldung struct {
	Kopf `json:"Kopf"`
	Anmeldungsdaten
	Wochenstunden float64
}

// SVAnmeldung: registration for a sozialversicherungspflichtige
// (Entgeltvariante) placement.
type SVAnmeldung struct {
	Kopf `json:"Kopf"`
	Anmeldungsdaten
}

// Zustimmung: the BA agrees to an earlier provider event (Bezug).
type Zustimmung struct {
	Kopf       `json:"Kopf"`
	Bezug      string
	Teilnehmer *Teilnehmer `json:",omitempty"`
	Hinweis    string      `json:",omitempty" emaw:",omitempty"`
}

// Ablehnung: the BA refuses an earlier provider event (Bezug).
type Ablehnung struct {
	Kopf       `json:"Kopf"`
	Bezug      string
	Teilnehmer *Teilnehmer `json:",omitempty"`
	Grund      string
}

// Mitteilung: a free-text message, in either direction.
type Mitteilung struct {
	Kopf       `json:"Kopf"`
	Teilnehmer *Teilnehmer `json:",omitempty"`
	Betreff    string
	Text       string
}

// AGHAnforderungMonatsabrechnung: the Jobcenter asks for the monthly AGH
// bill.
type AGHAnforderungMonatsabrechnung struct {
	Kopf             `json:"Kopf"`
	Abrechnungsmonat schemas.Month
}

// AGHBeanstandungMonatsabrechnung: the Jobcenter objects to a bill.
type AGHBeanstandungMonatsabrechnung struct {
	Kopf             `json:"Kopf"`
	Bezug            string
	Abrechnungsmonat schemas.Month
	Grund            string
}

// ----- provider to BA -----

// RueckmeldungKontakt: the outcome of the first contact.
type RueckmeldungKontakt struct {
	Kopf         `json:"Kopf"`
	Bezug        string
	Teilnehmer   Teilnehmer
	Kontaktdatum emaw.Date
	// Ergebnis is "erschienen", "nicht-erschienen" or "abgesagt".
	Ergebnis string
}

// Eintritt: the participant started.
type Eintritt struct {
	Kopf           `json:"Kopf"`
	Teilnehmer     Teilnehmer
	Eintrittsdatum emaw.Date
}

// Nichtantritt: the participant did not start.
type Nichtantritt struct {
	Kopf            `json:"Kopf"`
	Teilnehmer      Teilnehmer
	GeplanterBeginn emaw.Date
	Grund           string
}

// Planung: the individual plan for a participant.
type Planung struct {
	Kopf       `json:"Kopf"`
	Teilnehmer Teilnehmer
	Beginn     emaw.Date
	Ende       emaw.Date
	Inhalt     string
}

// AnwesenheitMonat: attendance for one month, one Tag per day. Due by the
// 9th of the following month and at once on exit (then Bis is the exit
// day).
type AnwesenheitMonat struct {
	Kopf       `json:"Kopf"`
	Teilnehmer Teilnehmer
	Monat      schemas.Month
	// Bis is the last day reported when the month ends early (exit).
	Bis emaw.Date `json:",omitzero" emaw:",omitempty"`
	Tag []Tag
}

// WochenFehlzeit: the absences of one week (since 2.18), for products that
// need them weekly; no Tag means no absence.
type WochenFehlzeit struct {
	Kopf       `json:"Kopf"`
	Teilnehmer Teilnehmer
	Woche      emaw.Woche
	Tag        []Tag `json:",omitempty"`
}

// Beurteilung: an assessment (Leistungs- und Verhaltensbeurteilung) with
// its PDF.
type Beurteilung struct {
	Kopf       `json:"Kopf"`
	Teilnehmer Teilnehmer
	// Beurteilungsart is "Zwischenbeurteilung" or "Abschlussbeurteilung".
	Beurteilungsart string
	Stichtag        emaw.Date
	Anhang          Anhang
}

// Attachment implements WithAttachment.
func (m *Beurteilung) Attachment() *Anhang { return &m.Anhang }

// Verlaengerung: the participation is extended.
type Verlaengerung struct {
	Kopf           `json:"Kopf"`
	Teilnehmer     Teilnehmer
	BisherigesEnde emaw.Date
	NeuesEnde      emaw.Date
	Grund          string
}

// Unterbrechung: the participation is interrupted.
type Unterbrechung struct {
	Kopf       `json:"Kopf"`
	Teilnehmer Teilnehmer
	Von        emaw.Date
	Bis        emaw.Date
	Grund      string
}

// Austritt: the participant left.
type Austritt struct {
	Kopf `json:"Kopf"`
	Austrittsdaten
}

// AustrittBvB: exit from a BvB, with the school qualification reached.
type AustrittBvB struct {
	Kopf `json:"Kopf"`
	Austrittsdaten
	Schulabschluss string `json:",omitempty" emaw:",omitempty"`
}

// AustrittBNF: exit from a BNF measure, with the final exam's outcome.
type AustrittBNF struct {
	Kopf `json:"Kopf"`
	Austrittsdaten
	// Abschlusspruefung is "bestanden", "nicht-bestanden" or
	// "nicht-teilgenommen".
	Abschlusspruefung string `json:",omitempty" emaw:",omitempty"`
}

// Teilnahmestornierung: a participation is cancelled (Bezug: the event
// that started it).
type Teilnahmestornierung struct {
	Kopf       `json:"Kopf"`
	Bezug      string
	Teilnehmer Teilnehmer
	Grund      string
}

// AGHZusageTraeger: the provider accepts an AGHAnmeldung (Bezug).
type AGHZusageTraeger struct {
	Kopf       `json:"Kopf"`
	Bezug      string
	Teilnehmer Teilnehmer
	Beginn     emaw.Date
}

// AGHAbsageTraeger: the provider declines an AGHAnmeldung (Bezug).
type AGHAbsageTraeger struct {
	Kopf       `json:"Kopf"`
	Bezug      string
	Teilnehmer Teilnehmer
	Grund      string
}

// AGHMonatsabrechnung: the monthly AGH bill with its PDF, due by the 15th
// of the following month.
type AGHMonatsabrechnung struct {
	Kopf `json:"Kopf"`
	// Bezug is the AGH-AnforderungMonatsabrechnung answered, if any.
	Bezug            string `json:",omitempty" emaw:",omitempty"`
	Abrechnungsmonat schemas.Month
	Teilnehmerzahl   int
	Betrag           emaw.Betrag
	Anhang           Anhang
}

// Attachment implements WithAttachment.
func (m *AGHMonatsabrechnung) Attachment() *Anhang { return &m.Anhang }

// Korrektur marks an earlier sent event (Bezug) as wrong. The corrected
// facts travel in a new event (Ersatz); the original is never changed and
// can be corrected only once.
type Korrektur struct {
	Kopf   `json:"Kopf"`
	Bezug  string
	Ersatz string `json:",omitempty" emaw:",omitempty"`
	Grund  string
}

func (*AnmeldungKontakt) Type() Type                { return TypeAnmeldungKontakt }
func (*AnmeldungBAE) Type() Type                    { return TypeAnmeldungBAE }
func (*AnmeldungBVB) Type() Type                    { return TypeAnmeldungBVB }
func (*AnmeldungABH) Type() Type                    { return TypeAnmeldungABH }
func (*AGHAnmeldung) Type() Type                    { return TypeAGHAnmeldung }
func (*SVAnmeldung) Type() Type                     { return TypeSVAnmeldung }
func (*Zustimmung) Type() Type                      { return TypeZustimmung }
func (*Ablehnung) Type() Type                       { return TypeAblehnung }
func (*Mitteilung) Type() Type                      { return TypeMitteilung }
func (*AGHAnforderungMonatsabrechnung) Type() Type  { return TypeAGHAnforderungMonatsabrechnung }
func (*AGHBeanstandungMonatsabrechnung) Type() Type { return TypeAGHBeanstandungMonatsabrechnung }
func (*RueckmeldungKontakt) Type() Type             { return TypeRueckmeldungKontakt }
func (*Eintritt) Type() Type                        { return TypeEintritt }
func (*Nichtantritt) Type() Type                    { return TypeNichtantritt }
func (*Planung) Type() Type                         { return TypePlanung }
func (*AnwesenheitMonat) Type() Type                { return TypeAnwesenheitMonat }
func (*WochenFehlzeit) Type() Type                  { return TypeWochenFehlzeit }
func (*Beurteilung) Type() Type                     { return TypeBeurteilung }
func (*Verlaengerung) Type() Type                   { return TypeVerlaengerung }
func (*Unterbrechung) Type() Type                   { return TypeUnterbrechung }
func (*Austritt) Type() Type                        { return TypeAustritt }
func (*AustrittBvB) Type() Type                     { return TypeAustrittBvB }
func (*AustrittBNF) Type() Type                     { return TypeAustrittBNF }
func (*Teilnahmestornierung) Type() Type            { return TypeTeilnahmestornierung }
func (*AGHZusageTraeger) Type() Type                { return TypeAGHZusageTraeger }
func (*AGHAbsageTraeger) Type() Type                { return TypeAGHAbsageTraeger }
func (*AGHMonatsabrechnung) Type() Type             { return TypeAGHMonatsabrechnung }
func (*Korrektur) Type() Type                       { return TypeKorrektur }

// ParticipantOf returns the participant a message concerns, or nil.
func ParticipantOf(m Message) *Teilnehmer {
	switch v := m.(type) {
	case *AnmeldungKontakt:
		return &v.Teilnehmer
	case *AnmeldungBAE:
		return &v.Teilnehmer
	case *AnmeldungBVB:
		return &v.Teilnehmer
	case *AnmeldungABH:
		return &v.Teilnehmer
	case *AGHAnmeldung:
		return &v.Teilnehmer
	case *SVAnmeldung:
		return &v.Teilnehmer
	case *Zustimmung:
		return v.Teilnehmer
	case *Ablehnung:
		return v.Teilnehmer
	case *Mitteilung:
		return v.Teilnehmer
	case *RueckmeldungKontakt:
		return &v.Teilnehmer
	case *Eintritt:
		return &v.Teilnehmer
	case *Nichtantritt:
		return &v.Teilnehmer
	case *Planung:
		return &v.Teilnehmer
	case *AnwesenheitMonat:
		return &v.Teilnehmer
	case *WochenFehlzeit:
		return &v.Teilnehmer
	case *Beurteilung:
		return &v.Teilnehmer
	case *Verlaengerung:
		return &v.Teilnehmer
	case *Unterbrechung:
		return &v.Teilnehmer
	case *Austritt:
		return &v.Teilnehmer
	case *AustrittBvB:
		return &v.Teilnehmer
	case *AustrittBNF:
		return &v.Teilnehmer
	case *Teilnahmestornierung:
		return &v.Teilnehmer
	case *AGHZusageTraeger:
		return &v.Teilnehmer
	case *AGHAbsageTraeger:
		return &v.Teilnehmer
	}
	return nil
}

// Reference returns the NachrichtID a message refers to (Bezug), or "".
func Reference(m Message) string {
	switch v := m.(type) {
	case *Zustimmung:
		return v.Bezug
	case *Ablehnung:
		return v.Bezug
	case *AGHBeanstandungMonatsabrechnung:
		return v.Bezug
	case *RueckmeldungKontakt:
		return v.Bezug
	case *Teilnahmestornierung:
		return v.Bezug
	case *AGHZusageTraeger:
		return v.Bezug
	case *AGHAbsageTraeger:
		return v.Bezug
	case *AGHMonatsabrechnung:
		return v.Bezug
	case *Korrektur:
		return v.Bezug
	}
	return ""
}
