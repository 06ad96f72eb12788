package msg

import (
	"fmt"
	"sort"

	"meldeweg.dev/meldeweg/emaw"
)

// Namespace is the XML namespace of the eM@w model bundles.
const Namespace = "urn:meldeweg:model:emaw"

// Type names a message type; it is the element name under Nachricht.
type Type string

// The message types of the catalogue.
const (
	// BA to provider.
	TypeAnmeldungKontakt                Type = "AnmeldungKontakt"
	TypeAnmeldungBAE                    Type = "AnmeldungBAE"
	TypeAnmeldungBVB                    Type = "AnmeldungBVB"
	TypeAnmeldungABH                    Type = "AnmeldungABH"
	TypeAGHAnmeldung                    Type = "AGHAnmeldung"
	TypeSVAnmeldung                     Type = "SVAnmeldung"
	TypeZustimmung                      Type = "Zustimmung"
	TypeAblehnung                       Type = "Ablehnung"
	TypeAGHAnforderungMonatsabrechnung  Type = "AGH-AnforderungMonatsabrechnung"
	TypeAGHBeanstandungMonatsabrechnung Type = "AGH-BeanstandungMonatsabrechnung"
	// Either direction.
	TypeMitteilung Type = "Mitteilung"
	// Provider to BA.
	TypeRueckmeldungKontakt  Type = "RueckmeldungKontakt"
	TypeEintritt             Type = "Eintritt"
	TypeNichtantritt         Type = "Nichtantritt"
	TypePlanung              Type = "Planung"
	TypeAnwesenheitMonat     Type = "AnwesenheitMonat"
	TypeWochenFehlzeit       Type = "WochenFehlzeit"
	TypeBeurteilung          Type = "Beurteilung"
	TypeVerlaengerung        Type = "Verlaengerung"
	TypeUnterbrechung        Type = "Unterbrechung"
	TypeAustritt             Type = "Austritt"
	TypeAustrittBvB          Type = "AustrittBvB"
	TypeAustrittBNF          Type = "AustrittBNF"
	TypeTeilnahmestornierung Type = "Teilnahmestornierung"
	TypeAGHZusageTraeger     Type = "AGHZusageTraeger"
	TypeAGHAbsageTraeger     Type = "AGHAbsageTraeger"
	TypeAGHMonatsabrechnung  Type = "AGH-Monatsabrechnung"
	TypeKorrektur            Type = "Korrektur"
)

// Richtung is the direction a message travels.
type Richtung string

const (
	// BAanTraeger: from the BA (Agentur, Jobcenter) to the provider.
	BAanTraeger Richtung = "BA-an-Traeger"
	// TraegeranBA: from the provider to the BA.
	TraegeranBA Richtung = "Traeger-an-BA"
)

// Info describes a message type.
type Info struct {
	Type Type
	// Directions the type may travel in; Mitteilung goes both ways.
	Directions []Richtung
	// Zweige are the Verfahrenszweige the type exists in (model assumption
	// where the public record is silent).
	Zweige []emaw.Verfahrenszweig
	// Since is the first model version that has the type.
	Since string
	// Attachment is true when the message carries a PDF (Anhang).
	Attachment bool
	// Participant is true when the message concerns one participant and
	// must name them (Teilnehmer).
	Participant bool

	new func() Message
}

var (
	allZweige = []emaw.Verfahrenszweig{emaw.ZweigBNF, emaw.ZweigAGH, emaw.ZweigAsA}
	bnf       = []emaw.Verfahrenszweig{emaw.ZweigBNF}
	agh       = []emaw.Verfahrenszweig{emaw.ZweigAGH}
	kontakt   = []emaw.Verfahrenszweig{emaw.ZweigBNF, emaw.ZweigAsA}
	in        = []Richtung{BAanTraeger}
	out       = []Richtung{TraegeranBA}
	both      = []Richtung{BAanTraeger, TraegeranBA}
)

// catalogue is the message catalogue, BA to provider first.
var catalogue = []Info{
	{Type: TypeAnmeldungKontakt, Directions: in, Zweige: kontakt, Since: "2.15", Participant: true, new: func() Message { return &AnmeldungKontakt{} }},
	{Type: TypeAnmeldungBAE, Directions: in, Zweige: bnf, Since: "2.15", Participant: true, new: func() Message { return &AnmeldungBAE{} }},
	{Type: TypeAnmeldungBVB, Directions: in, Zweige: bnf, Since: "2.15", Participant: true, new: func() Message { return &AnmeldungBVB{} }},
	{Type: TypeAnmeldungABH, Directions: in, Zweige: bnf, Since: "2.15", Participant: true, new: func() Message { return &AnmeldungABH{} }},
	{Type: TypeAGHAnmeldung, Directions: in, Zweige: agh, Since: "2.15", Participant: true, new: func() Message { return &AGHAnmeldung{} }},
	{Type: TypeSVAnmeldung, Directions: in, Zweige: agh, Since: "2.15", Participant: true, new: func() Message { return &SVAnmeldung{} }},
	{Type: TypeZustimmung, Directions: in, Zweige: allZweige, Since: "2.15", new: func() Message { return &Zustimmung{} }},
	{Type: TypeAblehnung, Directions: in, Zweige: allZweige, Since: "2.15", new: func() Message { return &Ablehnung{} }},
	{Type: TypeAGHAnforderungMonatsabrechnung, Directions: in, Zweige: agh, Since: "2.15", new: func() Message { return &AGHAnforderungMonatsabrechnung{} }},
	{Type: TypeAGHBeanstandungMonatsabrechnung, Directions: in, Zweige: agh, Since: "2.15", new: func() Message { return &AGHBeanstandungMonatsabrechnung{} }},
	{Type: TypeMitteilung, Directions: both, Zweige: allZweige, Since: "2.15", new: func() Message { return &Mitteilung{} }},
	{Type: TypeRueckmeldungKontakt, Directions: out, Zweige: kontakt, Since: "2.15", Participant: true, new: func() Message { return &RueckmeldungKontakt{} }},
	{Type: TypeEintritt, Directions: out, Zweige: allZweige, Since: "2.15", Participant: true, new: func() Message { return &Eintritt{} }},
	{Type: TypeNichtantritt, Directions: out, Zweige: allZweige, Since: "2.15", Participant: true, new: func() Message { return &Nichtantritt{} }},
	{Type: TypePlanung, Directions: out, Zweige: allZweige, Since: "2.15", Participant: true, new: func() Message { return &Planung{} }},
	{Type: TypeAnwesenheitMonat, Directions: out, Zweige: allZweige, Since: "2.15", Participant: true, new: func() Message { return &AnwesenheitMonat{} }},
	{Type: TypeWochenFehlzeit, Directions: out, Zweige: kontakt, Since: "2.18", Participant: true, new: func() Message { return &WochenFehlzeit{} }},
	{Type: TypeBeurteilung, Directions: out, Zweige: allZweige, Since: "2.15", Participant: true, Attachment: true, new: func() Message { return &Beurteilung{} }},
	{Type: TypeVerlaengerung, Directions: out, Zweige: allZweige, Since: "2.15", Participant: true, new: func() Message { return &Verlaengerung{} }},
	{Type: TypeUnterbrechung, Directions: out, Zweige: allZweige, Since: "2.15", Participant: true, new: func() Message { return &Unterbrechung{} }},
	{Type: TypeAustritt, Directions: out, Zweige: allZweige, Since: "2.15", Participant: true, new: func() Message { return &Austritt{} }},
	{Type: TypeAustrittBvB, Directions: out, Zweige: bnf, Since: "2.15", Participant: true, new: func() Message { return &AustrittBvB{} }},
	{Type: TypeAustrittBNF, Directions: out, Zweige: bnf, Since: "2.15", Participant: true, new: func() Message { return &AustrittBNF{} }},
	{Type: TypeTeilnahmestornierung, Directions: out, Zweige: allZweige, Since: "2.15", Participant: true, new: func() Message { return &Teilnahmestornierung{} }},
	{Type: TypeAGHZusageTraeger, Directions: out, Zweige: agh, Since: "2.15", Participant: true, new: func() Message { return &AGHZusageTraeger{} }},
	{Type: TypeAGHAbsageTraeger, Directions: out, Zweige: agh, Since: "2.15", Participant: true, new: func() Message { return &AGHAbsageTraeger{} }},
	{Type: TypeAGHMonatsabrechnung, Directions: out, Zweige: agh, Since: "2.15", Attachment: true, new: func() Message { return &AGHMonatsabrechnung{} }},
	{Type: TypeKorrektur, Directions: out, Zweige: allZweige, Since: "2.15", new: func() Message { return &Korrektur{} }},
}

// Catalogue lists every message type, BA to provider first.
func Catalogue() []Info { return append([]Info(nil), catalogue...) }

// Types lists every message type name, sorted.
func Types() []Type {
	out := make([]Type, 0, len(catalogue))
	for _, i := range catalogue {
		out = append(out, i.Type)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// Lookup returns the description of t, and false for an unknown type.
func Lookup(t Type) (Info, bool) {
	for _, i := range catalogue {
		if i.Type == t {
			return i, true
		}
	}
	return Info{}, false
}

// New returns an empty message of type t, with Kopf.Richtung set when the
// type travels one way only.
func New(t Type) (Message, error) {
	i, ok := Lookup(t)
	if !ok {
		return nil, fmt.Errorf("%w %q (known: %v)", ErrUnknownType, t, Types())
	}
	m := i.new()
	if len(i.Directions) == 1 {
		m.Header().Richtung = i.Directions[0]
	}
	return m, nil
}

// Allows reports whether the type may travel in direction r.
func (i Info) Allows(r Richtung) bool {
	for _, d := range i.Directions {
		if d == r {
			return true
		}
	}
	return false
}

// InZweig reports whether the type exists in Verfahrenszweig z.
func (i Info) InZweig(z emaw.Verfahrenszweig) bool {
	for _, k := range i.Zweige {
		if k == z {
			return true
		}
	}
	return false
}
