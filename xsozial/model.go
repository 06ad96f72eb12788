package xsozial

import (
	"fmt"
	"strings"
)

// Standard is the schema-bundle standard name of XSozial-BA-SGB II.
const Standard = "xsozial-ba-sgb2"

// Namespace is the XML namespace of the model.
const Namespace = "urn:meldeweg:modell:xsozial-ba-sgb2"

// WaitingMonths is the waiting time: a file for month M holds the months
// M-WaitingMonths … M. An assumption from the public description ("about
// three months").
const WaitingMonths = 3

// Kind is a record kind of the dataset.
type Kind uint8

// The record kinds. KindBG stands for the <bg> block itself (its only
// field is the BG-Nummer); the others are records.
const (
	KindKopf Kind = iota + 1
	KindBG
	KindBGMonat
	KindPerson
	KindAnspruch
	KindMassnahme
	KindArbeitsuche
	KindWiderspruch
	KindBuT
	KindFinanzen
	kindEnd
)

// FieldType is the value shape of a Merkmal.
type FieldType uint8

// Field types; each has a checker in [CheckValue].
const (
	TText FieldType = iota + 1
	TTraeger
	TBGNummer
	TKundennummer
	TAktenzeichen
	TMonat
	TDatum
	TZeit
	TBetrag
	TStunden
	TFlaeche
	TSchluessel
	TJaNein
	TVerwendung
)

// Field is one Merkmal of a record kind.
type Field struct {
	// Elem is the XML element name; JSON the field name in the source format.
	Elem, JSON string
	// Merkmal is the BA-style number, e.g. "2.8".
	Merkmal string
	Type    FieldType
	// Optional fields may be absent.
	Optional bool
	// Since is the first schema version with the field ("" = all).
	Since string
	// Catalog is the Schlüsselkatalog list for coded fields.
	Catalog string
	// Personal marks personal data (birth date, Kundennummer): its value is
	// never repeated in error messages or XSD messages. Findings name the
	// Kundennummer only as the record key, the documented exception.
	Personal bool
}

// KindInfo describes a record kind.
type KindInfo struct {
	Kind Kind
	// Elem is the record's XML element; Satz its type name in the source.
	Elem, Satz string
	// Module is the BA module number ("K" for the header).
	Module string
	Fields []Field
}

// MaxFields bounds the number of fields of any kind.
const MaxFields = 10

// Field indexes, by kind. Record.F[i] holds field i of the kind's table.
const (
	KTraeger = iota
	KBerichtsmonat
	KStichtag
	KErstellt
	KSoftware
	KSoftwareversion
	KLieferart
	KVerwendung
	KSchemaversion
)

// BG block.
const BGNummer = 0

// Module 2.
const (
	MAktenzeichen = iota
	MBewilligungBeginn
	MBewilligungEnde
	MEinstellungsgrund
	MWohnflaeche
	MKdU
	MZahlmonat
	MZahlbetrag
)

// Module 3.
const (
	PKundennummer = iota
	PMonat
	PGeburtsdatum
	PGeschlecht
	PStaatsangehoerigkeit
	PAufenthaltsstatus
	PStellung
	PErwerbsfaehig
	PEinkommen
	PSchulabschluss
)

// Module 7.
const (
	AKundennummer = iota
	ALeistungsart
	ABetrag
	AMinderung
	AAnspruchsmonat
)

// Module 13.
const (
	NKundennummer = iota
	NArt
	NBeginn
	NEnde
	NWochenstunden
	NKosten
)

// Module 14.
const (
	SKundennummer = iota
	SStatus
	SBeginn
	SEnde
	SAbgangsgrund
)

// Module 16.
const (
	WKundennummer = iota
	WArt
	WEingang
	WGegenstand
	WErledigung
	WErgebnis
)

// Module 18.
const (
	BKundennummer = iota
	BLeistung
	BBetrag
	BBedarfsmonat
)

// Module 1.
const (
	FMonat = iota
	FRegelbedarf
	FUnterkunft
	FEingliederung
	FEinnahmen
)

var kinds = [kindEnd]KindInfo{
	KindKopf: {KindKopf, "kopf", "kopf", "K", []Field{
		{Elem: "traegernummer", JSON: "traegernummer", Merkmal: "K.1", Type: TTraeger},
		{Elem: "berichtsmonat", JSON: "berichtsmonat", Merkmal: "K.2", Type: TMonat},
		{Elem: "stichtag", JSON: "stichtag", Merkmal: "K.3", Type: TDatum},
		{Elem: "erstellt", JSON: "erstellt", Merkmal: "K.4", Type: TZeit},
		{Elem: "software", JSON: "software", Merkmal: "K.5", Type: TText},
		{Elem: "softwareversion", JSON: "softwareversion", Merkmal: "K.6", Type: TText},
		{Elem: "lieferart", JSON: "lieferart", Merkmal: "K.7", Type: TSchluessel, Catalog: "lieferart"},
		{Elem: "verwendung", JSON: "verwendung", Merkmal: "K.8", Type: TVerwendung},
		{Elem: "schemaversion", JSON: "schemaversion", Merkmal: "K.9", Type: TText},
	}},
	KindBG: {KindBG, "bg", "", "2", []Field{
		{Elem: "bgnummer", JSON: "bg", Merkmal: "2.1", Type: TBGNummer},
	}},
	KindBGMonat: {KindBGMonat, "bgmonat", "bg", "2", []Field{
		{Elem: "aktenzeichen", JSON: "aktenzeichen", Merkmal: "2.2", Type: TAktenzeichen},
		{Elem: "bewilligungbeginn", JSON: "bewilligung_beginn", Merkmal: "2.3", Type: TDatum},
		{Elem: "bewilligungende", JSON: "bewilligung_ende", Merkmal: "2.4", Type: TDatum},
		{Elem: "einstellungsgrund", JSON: "einstellungsgrund", Merkmal: "2.5", Type: TSchluessel, Optional: true, Catalog: "einstellungsgrund"},
		{Elem: "wohnflaeche", JSON: "wohnflaeche", Merkmal: "2.6", Type: TFlaeche},
		{Elem: "kdu", JSON: "kdu", Merkmal: "2.7", Type: TBetrag},
		{Elem: "zahlmonat", JSON: "zahlmonat", Merkmal: "2.8", Type: TMonat},
		{Elem: "zahlbetrag", JSON: "zahlbetrag", Merkmal: "2.9", Type: TBetrag},
	}},
	KindPerson: {KindPerson, "person", "person", "3", []Field{
		{Elem: "kundennummer", JSON: "kundennummer", Merkmal: "3.1", Type: TKundennummer, Personal: true},
		{Elem: "monat", JSON: "monat", Merkmal: "3.2", Type: TMonat},
		{Elem: "geburtsdatum", JSON: "geburtsdatum", Merkmal: "3.3", Type: TDatum, Personal: true},
		{Elem: "geschlecht", JSON: "geschlecht", Merkmal: "3.4", Type: TSchluessel, Catalog: "geschlecht"},
		{Elem: "staatsangehoerigkeit", JSON: "staatsangehoerigkeit", Merkmal: "3.5", Type: TSchluessel, Catalog: "staatsangehoerigkeit"},
		{Elem: "aufenthaltsstatus", JSON: "aufenthaltsstatus", Merkmal: "3.6", Type: TSchluessel, Optional: true, Catalog: "aufenthaltsstatus"},
		{Elem: "stellung", JSON: "stellung", Merkmal: "3.7", Type: TSchluessel, Catalog: "stellung"},
		{Elem: "erwerbsfaehig", JSON: "erwerbsfaehig", Merkmal: "3.8", Type: TJaNein},
		{Elem: "einkommen", JSON: "einkommen", Merkmal: "3.9", Type: TBetrag},
		{Elem: "schulabschluss", JSON: "schulabschluss", Merkmal: "3.10", Type: TSchluessel, Optional: true, Since: "4.3.0", Catalog: "schulabschluss"},
	}},
	KindAnspruch: {KindAnspruch, "anspruch", "anspruch", "7", []Field{
		{Elem: "kundennummer", JSON: "kundennummer", Merkmal: "7.1", Type: TKundennummer, Personal: true},
		{Elem: "leistungsart", JSON: "leistungsart", Merkmal: "7.2", Type: TSchluessel, Catalog: "leistungsart"},
		{Elem: "betrag", JSON: "betrag", Merkmal: "7.3", Type: TBetrag},
		{Elem: "minderung", JSON: "minderung", Merkmal: "7.4", Type: TBetrag, Optional: true},
		{Elem: "anspruchsmonat", JSON: "anspruchsmonat", Merkmal: "7.9", Type: TMonat},
	}},
	KindMassnahme: {KindMassnahme, "massnahme", "massnahme", "13", []Field{
		{Elem: "kundennummer", JSON: "kundennummer", Merkmal: "13.1", Type: TKundennummer, Personal: true},
		{Elem: "art", JSON: "art", Merkmal: "13.2", Type: TSchluessel, Catalog: "massnahmeart"},
		{Elem: "beginn", JSON: "beginn", Merkmal: "13.3", Type: TDatum},
		{Elem: "ende", JSON: "ende", Merkmal: "13.4", Type: TDatum, Optional: true},
		{Elem: "wochenstunden", JSON: "wochenstunden", Merkmal: "13.5", Type: TStunden},
		{Elem: "kosten", JSON: "kosten", Merkmal: "13.6", Type: TBetrag},
	}},
	KindArbeitsuche: {KindArbeitsuche, "arbeitsuche", "arbeitsuche", "14", []Field{
		{Elem: "kundennummer", JSON: "kundennummer", Merkmal: "14.1", Type: TKundennummer, Personal: true},
		{Elem: "status", JSON: "status", Merkmal: "14.2", Type: TSchluessel, Catalog: "arbeitsuchestatus"},
		{Elem: "beginn", JSON: "beginn", Merkmal: "14.3", Type: TDatum},
		{Elem: "ende", JSON: "ende", Merkmal: "14.4", Type: TDatum, Optional: true},
		{Elem: "abgangsgrund", JSON: "abgangsgrund", Merkmal: "14.5", Type: TSchluessel, Optional: true, Catalog: "abgangsgrund"},
	}},
	KindWiderspruch: {KindWiderspruch, "widerspruch", "widerspruch", "16", []Field{
		{Elem: "kundennummer", JSON: "kundennummer", Merkmal: "16.1", Type: TKundennummer, Personal: true},
		{Elem: "art", JSON: "art", Merkmal: "16.2", Type: TSchluessel, Catalog: "widerspruchsart"},
		{Elem: "eingang", JSON: "eingang", Merkmal: "16.3", Type: TDatum},
		{Elem: "gegenstand", JSON: "gegenstand", Merkmal: "16.4", Type: TSchluessel, Catalog: "gegenstand"},
		{Elem: "erledigung", JSON: "erledigung", Merkmal: "16.5", Type: TDatum, Optional: true},
		{Elem: "ergebnis", JSON: "ergebnis", Merkmal: "16.6", Type: TSchluessel, Optional: true, Catalog: "ergebnis"},
	}},
	KindBuT: {KindBuT, "but", "but", "18", []Field{
		{Elem: "kundennummer", JSON: "kundennummer", Merkmal: "18.1", Type: TKundennummer, Personal: true},
		{Elem: "leistung", JSON: "leistung", Merkmal: "18.2", Type: TSchluessel, Catalog: "butleistung"},
		{Elem: "betrag", JSON: "betrag", Merkmal: "18.3", Type: TBetrag},
		{Elem: "bedarfsmonat", JSON: "bedarfsmonat", Merkmal: "18.5", Type: TMonat},
	}},
	KindFinanzen: {KindFinanzen, "finanzen", "finanzen", "1", []Field{
		{Elem: "monat", JSON: "monat", Merkmal: "1.1", Type: TMonat},
		{Elem: "regelbedarf", JSON: "regelbedarf", Merkmal: "1.2", Type: TBetrag},
		{Elem: "unterkunft", JSON: "unterkunft", Merkmal: "1.3", Type: TBetrag},
		{Elem: "eingliederung", JSON: "eingliederung", Merkmal: "1.4", Type: TBetrag},
		{Elem: "einnahmen", JSON: "einnahmen", Merkmal: "1.5", Type: TBetrag},
	}},
}

// Info returns the description of k.
func (k Kind) Info() *KindInfo {
	if k == 0 || k >= kindEnd {
		panic(fmt.Sprintf("xsozial: unknown kind %d", k))
	}
	return &kinds[k]
}

func (k Kind) String() string {
	if k == 0 || k >= kindEnd {
		return fmt.Sprintf("kind(%d)", k)
	}
	return kinds[k].Elem
}

// Kinds lists every kind in file order (header, BG block, records of a BG
// in their schema order, module 1).
func Kinds() []Kind {
	out := make([]Kind, 0, kindEnd-1)
	for k := KindKopf; k < kindEnd; k++ {
		out = append(out, k)
	}
	return out
}

// KindBySatz returns the kind of a source record type ("bg", "person", …).
func KindBySatz(satz string) (Kind, bool) {
	for k := KindBGMonat; k < kindEnd; k++ {
		if kinds[k].Satz == satz {
			return k, true
		}
	}
	return 0, false
}

// Satzarten lists the source record types, in file order.
func Satzarten() []string {
	var out []string
	for k := KindBGMonat; k < kindEnd; k++ {
		out = append(out, kinds[k].Satz)
	}
	return out
}

// HasField reports whether schema version has field i of k.
func (k Kind) HasField(i int, version string) bool {
	f := kinds[k].Fields[i]
	return f.Since == "" || CompareVersions(version, f.Since) >= 0
}

// Record is one record, with its fields as they appear in the XML (empty =
// absent) and the line of its start tag.
type Record struct {
	Kind Kind
	Line int
	F    [MaxFields]string
	// FL holds the line of each field read by a [Reader] (0 = absent).
	FL [MaxFields]int32
}

// FieldLine returns the line of field i, or the record's line when the
// field's own line is not known.
func (r *Record) FieldLine(i int) int {
	if i >= 0 && i < MaxFields && r.FL[i] > 0 {
		return int(r.FL[i])
	}
	return r.Line
}

// Reset clears r for reuse.
func (r *Record) Reset(k Kind) { *r = Record{Kind: k} }

// Merkmal returns the Merkmal number of field i.
func (r *Record) Merkmal(i int) string { return kinds[r.Kind].Fields[i].Merkmal }

// ElemMerkmal finds the kind and Merkmal of an element path such as
// /xsozial/bg/person/monat (namespace prefixes and {ns} forms allowed). It
// returns module "" when the path names no known element.
func ElemMerkmal(path string) (module, merkmal string) {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	for i, p := range parts {
		if j := strings.LastIndexAny(p, ":}"); j >= 0 {
			parts[i] = p[j+1:]
		}
		if j := strings.IndexByte(parts[i], '['); j >= 0 {
			parts[i] = parts[i][:j]
		}
	}
	var rec *KindInfo
	for _, p := range parts {
		if rec == nil && p == "xsozial" {
			continue
		}
		if rec == nil || rec.Kind == KindBG {
			if k, ok := kindByElem(p); ok {
				rec = &kinds[k]
				continue
			}
		}
		if rec == nil {
			return "", ""
		}
		for _, f := range rec.Fields {
			if f.Elem == p {
				return rec.Module, f.Merkmal
			}
		}
		return rec.Module, ""
	}
	if rec != nil {
		return rec.Module, ""
	}
	return "", ""
}

// kindByElem returns the kind whose element is name.
func kindByElem(name string) (Kind, bool) {
	for k := KindKopf; k < kindEnd; k++ {
		if kinds[k].Elem == name {
			return k, true
		}
	}
	return 0, false
}

// CompareVersions compares dotted numeric versions ("4.2.0" < "4.10.0").
// Non-numeric parts count as 0.
func CompareVersions(a, b string) int {
	for a != "" || b != "" {
		var x, y int
		x, a = leadingNumber(a)
		y, b = leadingNumber(b)
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return 0
}

// leadingNumber splits "12.3.4" into 12 and "3.4".
func leadingNumber(s string) (int, string) {
	n, i := 0, 0
	for ; i < len(s) && s[i] != '.'; i++ {
		if s[i] >= '0' && s[i] <= '9' {
			n = n*10 + int(s[i]-'0')
		}
	}
	if i < len(s) {
		i++
	}
	return n, s[i:]
}
