package check

import (
	"sort"
	"strings"

	"meldeweg.dev/meldeweg/schemas"
	"meldeweg.dev/meldeweg/xsozial"
)

// Implemented lists the rule IDs the PTX stage has code for. A test checks
// that every rule of every embedded bundle's table is in this list and has
// a case that triggers it.
var Implemented = []string{
	"R1_0010", "R1_0020", "R1_0030",
	"R2_0010", "R2_0020", "R2_0030", "R2_0040", "R2_0050", "R2_0060", "R2_0070", "R2_0080", "R2_0090", "R2_0100", "R2_0110",
	"R3_0010", "R3_0020", "R3_0030", "R3_0040", "R3_0050", "R3_0060", "R3_0070", "R3_0080", "R3_0090",
	"R7_0010", "R7_0020", "R7_0030", "R7_0040", "R7_0050",
	"R13_0010", "R13_0020", "R13_0030", "R13_0040", "R13_0050", "R13_0060",
	"R14_0010", "R14_0020", "R14_0030", "R14_0040", "R14_0050", "R14_0060",
	"R16_0010", "R16_0020", "R16_0030", "R16_0040", "R16_0050",
	"R18_0010", "R18_0020", "R18_0030", "R18_0040", "R18_0050",
}

// ruleLimits names, for every rule whose check compares against a number,
// what that number (column grenze of the rule table) must be. The numbers
// themselves are only in the rule table.
var ruleLimits = map[string]limitShape{
	"R2_0100":  {unit: unitEUR},               // KdU above it
	"R3_0040":  {unit: unitYears, span: true}, // erwerbsfähig outside it
	"R3_0070":  {unit: unitYears},             // Kind from this age on
	"R3_0080":  {unit: unitEUR},               // Erwerbseinkommen above it
	"R3_0090":  {unit: unitYears},             // Schulabschluss required from this age on
	"R13_0030": {unit: unitHours},             // Wochenstunden above it
	"R18_0030": {unit: unitYears},             // BuT from this age on
	"R18_0050": {unit: unitEUR},               // BuT-Betrag above it
}

// ptx evaluates the plausibility rules over the records of a dataset as
// they stream by. It holds one BG's records at a time plus two hash sets
// (BG-Nummern; Kundennummer and month) of 8 bytes per entry.
type ptx struct {
	active   map[string]*Rule
	cat      Catalog
	month    schemas.Month
	traeger  string
	stichtag xsozial.Date
	emit     func(Finding)
	fig      *Figures
	kopf     xsozial.Record

	bg       xsozial.Record
	recs     []xsozial.Record
	bgSeen   hashSet
	kdMonth  maskSet             // Kundennummer → months of the window seen
	kdOther  map[uint64]struct{} // Kundennummer and month outside the window
	winFirst schemas.Month
	fin      []xsozial.Record
	zahlbet  int64

	// per-BG scratch, cleared for each BG
	bgMonths     map[int]int
	monthPersons map[int]bool
	personMonth  map[pmKey]bool
	persons      map[string]personInfo
	antrag       map[int]int
	phases       []phase
	maxBGRecords int
	skippedBGs   int
}

type pmKey struct {
	kd string
	m  int
}

type personInfo struct {
	birth xsozial.Date
	elb   bool
}

type phase struct {
	kd         string
	start, end xsozial.Date
	rec        int
}

func newPTX(spec *Spec, month schemas.Month, fig *Figures, emit func(Finding)) *ptx {
	p := &ptx{
		active:       map[string]*Rule{},
		cat:          spec.Catalog,
		month:        month,
		stichtag:     xsozial.LastDay(month),
		emit:         emit,
		fig:          fig,
		bgMonths:     map[int]int{},
		monthPersons: map[int]bool{},
		personMonth:  map[pmKey]bool{},
		persons:      map[string]personInfo{},
		antrag:       map[int]int{},
		kdOther:      map[uint64]struct{}{},
		maxBGRecords: 100000,
	}
	p.winFirst, _ = xsozial.Window(month)
	for i := range spec.Rules {
		r := &spec.Rules[i]
		if !month.Before(r.ValidFrom) {
			p.active[r.ID] = r
		}
	}
	return p
}

// find reports rule id for record r, pointing at field (or the record when
// field < 0).
func (p *ptx) find(id string, r *xsozial.Record, field int, detail string) {
	rule := p.active[id]
	if rule == nil {
		return
	}
	f := Finding{Stage: StagePTX, Rule: id, Severity: rule.Severity, Module: rule.Module, Merkmal: rule.Merkmal,
		Line: r.Line, Text: rule.Text, Detail: detail}
	if field >= 0 {
		f.Merkmal = r.Merkmal(field)
		f.Line = r.FieldLine(field)
	}
	if r.Kind != xsozial.KindFinanzen && r.Kind != xsozial.KindKopf {
		f.BG = p.bg.F[xsozial.BGNummer]
	}
	switch r.Kind {
	case xsozial.KindPerson, xsozial.KindAnspruch, xsozial.KindMassnahme, xsozial.KindArbeitsuche, xsozial.KindWiderspruch, xsozial.KindBuT:
		f.Kundennummer = r.F[0] // the Kundennummer is field 0 of each of these kinds
	}
	p.emit(f)
}

// above reports whether v exceeds the limit of rule id ("über 3000 EUR");
// false when the rule is not in force. v is in the limit's unit (cents,
// tenths of an hour).
func (p *ptx) above(id string, v int64) bool {
	r := p.active[id]
	return r != nil && r.Limit.Unit != "" && v > r.Limit.Value
}

// reaches reports whether age is at least the limit of rule id ("ab 25
// Jahren"); false when the rule is not in force.
func (p *ptx) reaches(id string, age int) bool {
	r := p.active[id]
	return r != nil && r.Limit.Unit != "" && int64(age) >= r.Limit.Value
}

// outside reports whether age lies outside the span of rule id: below its
// first age, or at its second or beyond ("15-67 Jahre": 14 and 67 are
// outside); false when the rule is not in force.
func (p *ptx) outside(id string, age int) bool {
	r := p.active[id]
	return r != nil && r.Limit.Span && (int64(age) < r.Limit.From || int64(age) >= r.Limit.Value)
}

// record takes one record of the reader.
func (p *ptx) record(r *xsozial.Record) {
	switch r.Kind {
	case xsozial.KindKopf:
		p.kopf = *r
		p.traeger = r.F[xsozial.KTraeger]
	case xsozial.KindBG:
		p.bg = *r
		p.recs = p.recs[:0]
	case xsozial.KindFinanzen:
		if len(p.fin) < 1000 {
			p.fin = append(p.fin, *r)
		}
	default:
		if len(p.recs) < p.maxBGRecords {
			p.recs = append(p.recs, *r)
		} else if len(p.recs) == p.maxBGRecords {
			p.skippedBGs++
		}
	}
}

func cents(s string) (int64, bool) { return xsozial.ParseCents(s) }

func (p *ptx) code(id, list string, r *xsozial.Record, field int) {
	if v := r.F[field]; v != "" && !p.cat.Has(list, v) {
		p.find(id, r, field, "Schlüssel "+v+" ist in der Liste \""+list+"\" nicht enthalten")
	}
}

// endBG evaluates the rules of the BG just read, one module at a time,
// in the order their rules depend on each other: module 2 counts the
// Zahlmonate that module 3 checks persons against; module 3 collects the
// persons that R2_0070 and modules 7 to 18 refer to. Modules 7 to 18 take
// the records in file order.
func (p *ptx) endBG() {
	clear(p.bgMonths)
	clear(p.monthPersons)
	clear(p.personMonth)
	clear(p.persons)
	clear(p.antrag)
	p.phases = p.phases[:0]
	p.fig.BGs++
	p.module2()
	p.module3()
	p.module2Members()
	for i := range p.recs {
		r := &p.recs[i]
		switch r.Kind {
		case xsozial.KindAnspruch:
			p.module7(r)
		case xsozial.KindMassnahme:
			p.module13(r)
		case xsozial.KindArbeitsuche:
			p.module14(r, i)
		case xsozial.KindWiderspruch:
			p.module16(r)
		case xsozial.KindBuT:
			p.module18(r)
		}
	}
	p.module14Overlaps()
	p.recs = p.recs[:0]
}

// module2 checks the BG (BG-Nummer) and its BG-Monate (Zahlmonat,
// Bewilligungszeitraum, KdU, Aktenzeichen), and counts the Zahlmonate.
func (p *ptx) module2() {
	bg := &p.bg
	if bgnr := bg.F[xsozial.BGNummer]; bgnr != "" {
		if p.traeger != "" && !strings.HasPrefix(bgnr, p.traeger) {
			p.find("R2_0010", bg, xsozial.BGNummer, "")
		}
		if !p.bgSeen.add(hashStr(bgnr, 0)) {
			p.find("R2_0020", bg, xsozial.BGNummer, "")
		}
	}
	var akz string
	nMonat := 0
	for i := range p.recs {
		r := &p.recs[i]
		if r.Kind != xsozial.KindBGMonat {
			continue
		}
		nMonat++
		p.fig.BGMonate++
		zm, okm := xsozial.ParseMonth(r.F[xsozial.MZahlmonat])
		if okm {
			if !xsozial.InWindow(zm, p.month) {
				p.find("R2_0030", r, xsozial.MZahlmonat, "Zahlmonat "+zm.String())
			}
			if p.bgMonths[zm.Index()]++; p.bgMonths[zm.Index()] > 1 {
				p.find("R2_0040", r, xsozial.MZahlmonat, "Zahlmonat "+zm.String())
			}
			if zm == p.month && p.bgMonths[zm.Index()] == 1 {
				p.fig.BGsImBerichtsmonat++
				if c, ok := cents(r.F[xsozial.MZahlbetrag]); ok {
					p.zahlbet += c
				}
			}
		}
		b, okb := xsozial.ParseDate(r.F[xsozial.MBewilligungBeginn])
		e, oke := xsozial.ParseDate(r.F[xsozial.MBewilligungEnde])
		if okb && oke && e < b {
			p.find("R2_0050", r, xsozial.MBewilligungEnde, "")
		} else if okb && oke && okm && (xsozial.LastDay(zm) < b || xsozial.FirstDay(zm) > e) {
			p.find("R2_0060", r, xsozial.MZahlmonat, "Zahlmonat "+zm.String())
		}
		p.code("R2_0090", "einstellungsgrund", r, xsozial.MEinstellungsgrund)
		if c, ok := cents(r.F[xsozial.MKdU]); ok && p.above("R2_0100", c) {
			p.find("R2_0100", r, xsozial.MKdU, "")
		}
		if a := r.F[xsozial.MAktenzeichen]; a != "" {
			if akz == "" {
				akz = a
			} else if a != akz {
				p.find("R2_0110", r, xsozial.MAktenzeichen, "")
			}
		}
	}
	if nMonat == 0 {
		p.find("R2_0080", bg, -1, "")
	}
}

// module2Members reports each Zahlmonat for which module 3 found no
// person (R2_0070); it runs after module3.
func (p *ptx) module2Members() {
	for i := range p.recs {
		r := &p.recs[i]
		if r.Kind != xsozial.KindBGMonat {
			continue
		}
		if zm, ok := xsozial.ParseMonth(r.F[xsozial.MZahlmonat]); ok && !p.monthPersons[zm.Index()] {
			p.monthPersons[zm.Index()] = true // report a month once
			p.find("R2_0070", r, xsozial.MZahlmonat, "Zahlmonat "+zm.String())
		}
	}
}

// module3 checks the persons of the BG and collects them (birth date,
// erwerbsfähig, months) for the modules after it.
func (p *ptx) module3() {
	for i := range p.recs {
		r := &p.recs[i]
		if r.Kind != xsozial.KindPerson {
			continue
		}
		p.fig.Personen++
		kd := r.F[xsozial.PKundennummer]
		m, okm := xsozial.ParseMonth(r.F[xsozial.PMonat])
		birth, okb := xsozial.ParseDate(r.F[xsozial.PGeburtsdatum])
		elb := r.F[xsozial.PErwerbsfaehig] == "J"
		if pi, seen := p.persons[kd]; !seen {
			p.persons[kd] = personInfo{birth: birth, elb: elb}
		} else if elb && !pi.elb {
			pi.elb = true
			p.persons[kd] = pi
		}
		for _, c := range []struct {
			list  string
			field int
		}{{"geschlecht", xsozial.PGeschlecht}, {"staatsangehoerigkeit", xsozial.PStaatsangehoerigkeit}, {"aufenthaltsstatus", xsozial.PAufenthaltsstatus}, {"stellung", xsozial.PStellung}} {
			p.code("R3_0050", c.list, r, c.field)
		}
		if c, ok := cents(r.F[xsozial.PEinkommen]); ok && p.above("R3_0080", c) {
			p.find("R3_0080", r, xsozial.PEinkommen, "")
		}
		if v := r.F[xsozial.PSchulabschluss]; v != "" && !p.cat.Has("schulabschluss", v) {
			p.find("R3_0090", r, xsozial.PSchulabschluss, "Schlüssel "+v+" ist in der Liste \"schulabschluss\" nicht enthalten")
		}
		if !okm {
			continue
		}
		p.monthPersons[m.Index()] = true
		p.personMonth[pmKey{kd, m.Index()}] = true
		if p.bgMonths[m.Index()] == 0 {
			p.find("R3_0010", r, xsozial.PMonat, "Monat "+m.String())
		}
		if kd != "" && !p.addKdMonth(kd, m) {
			p.find("R3_0020", r, xsozial.PKundennummer, "Monat "+m.String())
		}
		if m == p.month {
			p.fig.PersonenImBerichtsmonat++
			if elb {
				p.fig.ELbImBerichtsmonat++
			}
		}
		if r.F[xsozial.PStellung] == "1" {
			if p.antrag[m.Index()]++; p.antrag[m.Index()] == 2 {
				p.find("R3_0060", r, xsozial.PStellung, "Monat "+m.String())
			}
		}
		if !okb {
			continue
		}
		end := xsozial.LastDay(m)
		if birth > end {
			// The birth date itself is personal data and never shown.
			p.find("R3_0030", r, xsozial.PGeburtsdatum, "Monat "+m.String())
			continue
		}
		age := birth.AgeAt(end)
		if elb && p.outside("R3_0040", age) {
			p.find("R3_0040", r, xsozial.PErwerbsfaehig, "Monat "+m.String())
		}
		if r.F[xsozial.PStellung] == "3" && p.reaches("R3_0070", age) {
			p.find("R3_0070", r, xsozial.PStellung, "Monat "+m.String())
		}
		if elb && p.reaches("R3_0090", age) && r.F[xsozial.PSchulabschluss] == "" {
			p.find("R3_0090", r, xsozial.PSchulabschluss, "Monat "+m.String())
		}
	}
}

// module7 checks one Anspruch.
func (p *ptx) module7(r *xsozial.Record) {
	p.fig.Ansprueche++
	kd := r.F[xsozial.AKundennummer]
	if m, ok := xsozial.ParseMonth(r.F[xsozial.AAnspruchsmonat]); ok {
		if !xsozial.InWindow(m, p.month) {
			p.find("R7_0020", r, xsozial.AAnspruchsmonat, "Anspruchsmonat "+m.String())
		}
		if !p.personMonth[pmKey{kd, m.Index()}] {
			p.find("R7_0010", r, xsozial.AKundennummer, "Anspruchsmonat "+m.String())
		}
	}
	betrag, okb := cents(r.F[xsozial.ABetrag])
	if mind, ok := cents(r.F[xsozial.AMinderung]); ok && okb && mind > betrag {
		p.find("R7_0030", r, xsozial.AMinderung, "")
	}
	if okb && betrag == 0 {
		p.find("R7_0050", r, xsozial.ABetrag, "")
	}
	p.code("R7_0040", "leistungsart", r, xsozial.ALeistungsart)
}

// module13 checks one Maßnahme.
func (p *ptx) module13(r *xsozial.Record) {
	p.fig.Massnahmen++
	if pi, ok := p.persons[r.F[xsozial.NKundennummer]]; !ok {
		p.find("R13_0010", r, xsozial.NKundennummer, "")
	} else if !pi.elb {
		p.find("R13_0040", r, xsozial.NKundennummer, "")
	}
	b, okb := xsozial.ParseDate(r.F[xsozial.NBeginn])
	if e, ok := xsozial.ParseDate(r.F[xsozial.NEnde]); ok && okb && e < b {
		p.find("R13_0020", r, xsozial.NEnde, "")
	}
	if okb && b > p.stichtag {
		p.find("R13_0060", r, xsozial.NBeginn, "")
	}
	if h, ok := xsozial.ParseTenths(r.F[xsozial.NWochenstunden]); ok && p.above("R13_0030", h) {
		p.find("R13_0030", r, xsozial.NWochenstunden, "")
	}
	p.code("R13_0050", "massnahmeart", r, xsozial.NArt)
}

// module14 checks one phase of Arbeitsuche, record i of the BG, and keeps
// the phases of Arbeitslosigkeit for module14Overlaps.
func (p *ptx) module14(r *xsozial.Record, i int) {
	p.fig.Arbeitsuche++
	kd := r.F[xsozial.SKundennummer]
	if _, ok := p.persons[kd]; !ok {
		p.find("R14_0010", r, xsozial.SKundennummer, "")
	}
	b, okb := xsozial.ParseDate(r.F[xsozial.SBeginn])
	e, oke := xsozial.ParseDate(r.F[xsozial.SEnde])
	if oke && okb && e < b {
		p.find("R14_0020", r, xsozial.SEnde, "")
	}
	if r.F[xsozial.SEnde] != "" && r.F[xsozial.SAbgangsgrund] == "" {
		p.find("R14_0030", r, xsozial.SAbgangsgrund, "")
	}
	if r.F[xsozial.SEnde] == "" && r.F[xsozial.SAbgangsgrund] != "" {
		p.find("R14_0040", r, xsozial.SAbgangsgrund, "")
	}
	p.code("R14_0050", "arbeitsuchestatus", r, xsozial.SStatus)
	p.code("R14_0050", "abgangsgrund", r, xsozial.SAbgangsgrund)
	if r.F[xsozial.SStatus] == "2" && okb {
		if !oke {
			e = 99991231
		}
		p.phases = append(p.phases, phase{kd: kd, start: b, end: e, rec: i})
	}
}

// module14Overlaps reports phases of Arbeitslosigkeit of one person that
// overlap (R14_0060), once module14 has seen the whole BG.
func (p *ptx) module14Overlaps() {
	if len(p.phases) < 2 {
		return
	}
	sort.SliceStable(p.phases, func(i, j int) bool {
		if p.phases[i].kd != p.phases[j].kd {
			return p.phases[i].kd < p.phases[j].kd
		}
		return p.phases[i].start < p.phases[j].start
	})
	for i := 1; i < len(p.phases); i++ {
		a, b := p.phases[i-1], p.phases[i]
		if a.kd == b.kd && b.start <= a.end {
			p.find("R14_0060", &p.recs[b.rec], xsozial.SBeginn, "")
		}
	}
}

// module16 checks one Widerspruch or Klage.
func (p *ptx) module16(r *xsozial.Record) {
	p.fig.Widersprueche++
	if _, ok := p.persons[r.F[xsozial.WKundennummer]]; !ok {
		p.find("R16_0010", r, xsozial.WKundennummer, "")
	}
	in, okIn := xsozial.ParseDate(r.F[xsozial.WEingang])
	if out, ok := xsozial.ParseDate(r.F[xsozial.WErledigung]); ok && okIn && out < in {
		p.find("R16_0020", r, xsozial.WErledigung, "")
	}
	if (r.F[xsozial.WErledigung] == "") != (r.F[xsozial.WErgebnis] == "") {
		p.find("R16_0030", r, xsozial.WErgebnis, "")
	}
	if okIn && in > p.stichtag {
		p.find("R16_0050", r, xsozial.WEingang, "")
	}
	p.code("R16_0040", "widerspruchsart", r, xsozial.WArt)
	p.code("R16_0040", "gegenstand", r, xsozial.WGegenstand)
	p.code("R16_0040", "ergebnis", r, xsozial.WErgebnis)
}

// module18 checks one Leistung für Bildung und Teilhabe.
func (p *ptx) module18(r *xsozial.Record) {
	p.fig.BuT++
	kd := r.F[xsozial.BKundennummer]
	if m, ok := xsozial.ParseMonth(r.F[xsozial.BBedarfsmonat]); ok {
		if !xsozial.InWindow(m, p.month) {
			p.find("R18_0020", r, xsozial.BBedarfsmonat, "Bedarfsmonat "+m.String())
		}
		if !p.personMonth[pmKey{kd, m.Index()}] {
			p.find("R18_0010", r, xsozial.BKundennummer, "Bedarfsmonat "+m.String())
		}
		if pi, ok := p.persons[kd]; ok && pi.birth != 0 && pi.birth <= xsozial.LastDay(m) && p.reaches("R18_0030", pi.birth.AgeAt(xsozial.LastDay(m))) {
			p.find("R18_0030", r, xsozial.BKundennummer, "Bedarfsmonat "+m.String())
		}
	}
	if c, ok := cents(r.F[xsozial.BBetrag]); ok && p.above("R18_0050", c) {
		p.find("R18_0050", r, xsozial.BBetrag, "")
	}
	p.code("R18_0040", "butleistung", r, xsozial.BLeistung)
}

// end evaluates the file-level rules after the last record.
func (p *ptx) end() {
	p.module1()
	p.fig.ZahlbetragBerichtsmonat = formatCents(p.zahlbet)
}

// module1 checks the Finanzen (Einnahmen und Ausgaben) of the file: each
// month of the window at most once, the reporting month present.
func (p *ptx) module1() {
	seen := map[int]bool{}
	have := false
	for i := range p.fin {
		r := &p.fin[i]
		p.fig.Finanzmonate++
		m, ok := xsozial.ParseMonth(r.F[xsozial.FMonat])
		if !ok {
			continue
		}
		if !xsozial.InWindow(m, p.month) {
			p.find("R1_0010", r, xsozial.FMonat, "Monat "+m.String())
		}
		if seen[m.Index()] {
			p.find("R1_0020", r, xsozial.FMonat, "Monat "+m.String())
		}
		seen[m.Index()] = true
		if m == p.month {
			have = true
		}
	}
	if !have {
		k := p.kopf
		k.Kind = xsozial.KindKopf
		rule := p.active["R1_0030"]
		if rule != nil {
			p.emit(Finding{Stage: StagePTX, Rule: rule.ID, Severity: rule.Severity, Module: rule.Module, Merkmal: rule.Merkmal,
				Line: k.FieldLine(xsozial.KBerichtsmonat), Text: rule.Text, Detail: "Berichtsmonat " + p.month.String()})
		}
	}
}

func formatCents(c int64) string {
	s := itoa(c / 100)
	// thousands separators, German style
	var b strings.Builder
	for i, ch := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte('.')
		}
		b.WriteRune(ch)
	}
	r := c % 100
	b.WriteByte(',')
	b.WriteByte(byte('0' + r/10))
	b.WriteByte(byte('0' + r%10))
	return b.String()
}

func itoa(n int64) string {
	if n == 0 {
		return "0"
	}
	var buf [20]byte
	i := len(buf)
	for n > 0 {
		i--
		buf[i] = byte('0' + n%10)
		n /= 10
	}
	return string(buf[i:])
}

// addKdMonth records Kundennummer kd in month m and reports whether the
// pair is new.
func (p *ptx) addKdMonth(kd string, m schemas.Month) bool {
	off := m.Index() - p.winFirst.Index()
	if off < 0 || off > xsozial.WaitingMonths {
		h := hashStr(kd, m.Index())
		if _, dup := p.kdOther[h]; dup {
			return false
		}
		p.kdOther[h] = struct{}{}
		return true
	}
	return p.kdMonth.add(hashStr(kd, 0), uint64(1)<<off)
}
