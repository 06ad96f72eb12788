package synth

import (
	"meldeweg.dev/meldeweg/xsozial"
)

// FaultSpec is one kind of injectable fault.
type FaultSpec struct {
	// Rule is the PTX rule that must report the fault.
	Rule string
	// What describes the fault (no personal data).
	What string
	// minVersion: the fault needs this schema version (its rule is newer).
	minVersion string
	// apply changes the BG and returns the Kundennummer concerned, if any.
	apply func(g *gen, bg *BG) string
}

func (bg *BG) first(k xsozial.Kind) *xsozial.Record {
	for i := range bg.Records {
		if bg.Records[i].Kind == k {
			return &bg.Records[i]
		}
	}
	return nil
}

func (bg *BG) add(r xsozial.Record) { bg.Records = append(bg.Records, r) }

// adult returns the first adult's person record.
func (bg *BG) adult() *xsozial.Record {
	for i := range bg.Records {
		r := &bg.Records[i]
		if r.Kind == xsozial.KindPerson && r.F[xsozial.PStellung] == "1" {
			return r
		}
	}
	return nil
}

func (g *gen) lastMonth() string { return g.opts.Month.String() }

// personIn returns the person record of the BG for the reporting month.
func (bg *BG) personIn(month string) *xsozial.Record {
	for i := range bg.Records {
		r := &bg.Records[i]
		if r.Kind == xsozial.KindPerson && r.F[xsozial.PMonat] == month && r.F[xsozial.PStellung] == "1" {
			return r
		}
	}
	return nil
}

// setAll sets field i of every record of kind k for Kundennummer kd.
func (bg *BG) setAll(k xsozial.Kind, kd string, i int, v string) {
	for j := range bg.Records {
		r := &bg.Records[j]
		if r.Kind == k && r.F[0] == kd {
			r.F[i] = v
		}
	}
}

// newRecord makes a record of kind k for person kd with defaults that break
// no rule.
func (g *gen) newRecord(k xsozial.Kind, kd string) xsozial.Record {
	var r xsozial.Record
	r.Reset(k)
	r.F[0] = kd
	first := xsozial.FirstDay(g.months[0])
	switch k {
	case xsozial.KindMassnahme:
		r.F[xsozial.NArt] = "10"
		r.F[xsozial.NBeginn] = fmtDate(first + 4)
		r.F[xsozial.NWochenstunden] = "20.0"
		r.F[xsozial.NKosten] = "1000.00"
	case xsozial.KindArbeitsuche:
		r.F[xsozial.SStatus] = "2"
		r.F[xsozial.SBeginn] = fmtDate(first + 2)
	case xsozial.KindWiderspruch:
		r.F[xsozial.WArt] = "1"
		r.F[xsozial.WEingang] = fmtDate(first + 9)
		r.F[xsozial.WGegenstand] = "1"
	case xsozial.KindBuT:
		r.F[xsozial.BLeistung] = "6"
		r.F[xsozial.BBetrag] = "50.00"
		r.F[xsozial.BBedarfsmonat] = g.lastMonth()
	case xsozial.KindAnspruch:
		r.F[xsozial.ALeistungsart] = "1"
		r.F[xsozial.ABetrag] = "400.00"
		r.F[xsozial.AAnspruchsmonat] = g.lastMonth()
	}
	return r
}

// FaultCatalog lists the faults --faults injects, one per BG from the
// first BG on, in this order. Every fault passes the build (the source is
// well-formed) and is found by exactly its PTX rule.
func FaultCatalog() []FaultSpec {
	return []FaultSpec{
		{Rule: "R2_0010", What: "BG-Nummer mit fremder Trägernummer", apply: func(g *gen, bg *BG) string {
			bg.Nummer = "99999" + bg.Nummer[5:]
			return ""
		}},
		{Rule: "R2_0040", What: "Zahlmonat doppelt", apply: func(g *gen, bg *BG) string {
			bg.add(*bg.first(xsozial.KindBGMonat))
			return ""
		}},
		{Rule: "R2_0050", What: "Bewilligungsende vor Beginn", apply: func(g *gen, bg *BG) string {
			r := bg.first(xsozial.KindBGMonat)
			r.F[xsozial.MBewilligungEnde] = "2000-01-31"
			return ""
		}},
		{Rule: "R2_0060", What: "Zahlmonat außerhalb der Bewilligung", apply: func(g *gen, bg *BG) string {
			r := bg.first(xsozial.KindBGMonat)
			zm, _ := xsozial.ParseMonth(r.F[xsozial.MZahlmonat])
			r.F[xsozial.MBewilligungBeginn] = fmtDate(xsozial.FirstDay(zm.AddMonths(1)))
			r.F[xsozial.MBewilligungEnde] = fmtDate(xsozial.LastDay(zm.AddMonths(12)))
			return ""
		}},
		{Rule: "R2_0070", What: "Zahlmonat ohne Personen", apply: func(g *gen, bg *BG) string {
			r := bg.first(xsozial.KindBGMonat)
			extra := *r
			extra.F[xsozial.MZahlmonat] = g.opts.Month.AddMonths(-xsozial.WaitingMonths).String()
			// make sure the month is one the BG had no persons in: remove them
			var keep []xsozial.Record
			for _, x := range bg.Records {
				if (x.Kind == xsozial.KindPerson && x.F[xsozial.PMonat] == extra.F[xsozial.MZahlmonat]) ||
					(x.Kind == xsozial.KindAnspruch && x.F[xsozial.AAnspruchsmonat] == extra.F[xsozial.MZahlmonat]) ||
					(x.Kind == xsozial.KindBuT && x.F[xsozial.BBedarfsmonat] == extra.F[xsozial.MZahlmonat]) ||
					(x.Kind == xsozial.KindBGMonat && x.F[xsozial.MZahlmonat] == extra.F[xsozial.MZahlmonat]) {
					continue
				}
				keep = append(keep, x)
			}
			extra.F[xsozial.MBewilligungBeginn] = fmtDate(xsozial.FirstDay(g.months[0]))
			bg.Records = append(keep, extra)
			for i := range bg.Records {
				if bg.Records[i].Kind == xsozial.KindBGMonat {
					bg.Records[i].F[xsozial.MBewilligungBeginn] = extra.F[xsozial.MBewilligungBeginn]
					bg.Records[i].F[xsozial.MBewilligungEnde] = fmtDate(xsozial.LastDay(g.opts.Month.AddMonths(6)))
				}
			}
			return ""
		}},
		{Rule: "R2_0090", What: "Einstellungsgrund nicht im Katalog", apply: func(g *gen, bg *BG) string {
			bg.first(xsozial.KindBGMonat).F[xsozial.MEinstellungsgrund] = "7"
			return ""
		}},
		{Rule: "R2_0100", What: "KdU über 3000 EUR", apply: func(g *gen, bg *BG) string {
			bg.first(xsozial.KindBGMonat).F[xsozial.MKdU] = "3500.00"
			return ""
		}},
		{Rule: "R2_0110", What: "Aktenzeichen wechselt", apply: func(g *gen, bg *BG) string {
			n := 0
			for i := range bg.Records {
				if bg.Records[i].Kind == xsozial.KindBGMonat {
					if n++; n == 2 {
						bg.Records[i].F[xsozial.MAktenzeichen] = "ANDERES-AZ"
						return ""
					}
				}
			}
			extra := *bg.first(xsozial.KindBGMonat)
			extra.F[xsozial.MAktenzeichen] = "ANDERES-AZ"
			bg.add(extra) // also a duplicate month; the fault list names both
			return ""
		}},
		{Rule: "R3_0020", What: "Kundennummer im selben Monat in zwei BGs", apply: func(g *gen, bg *BG) string {
			p := *g.prev.personIn(g.lastMonth())
			var bm *xsozial.Record
			for i := range bg.Records {
				if bg.Records[i].Kind == xsozial.KindBGMonat && bg.Records[i].F[xsozial.MZahlmonat] == g.lastMonth() {
					bm = &bg.Records[i]
				}
			}
			if bm == nil {
				m := *bg.first(xsozial.KindBGMonat)
				m.F[xsozial.MZahlmonat] = g.lastMonth()
				m.F[xsozial.MEinstellungsgrund] = ""
				bg.add(m)
			}
			p.F[xsozial.PStellung] = "4"
			bg.add(p)
			return p.F[xsozial.PKundennummer]
		}},
		{Rule: "R3_0030", What: "Geburtsdatum nach dem Meldemonat", apply: func(g *gen, bg *BG) string {
			a := bg.adult()
			bg.setAll(xsozial.KindPerson, a.F[0], xsozial.PGeburtsdatum, fmtDate(xsozial.LastDay(g.opts.Month.AddMonths(1))))
			return a.F[0]
		}},
		{Rule: "R3_0040", What: "erwerbsfähig mit 12 Jahren", apply: func(g *gen, bg *BG) string {
			a := bg.adult()
			bg.setAll(xsozial.KindPerson, a.F[0], xsozial.PGeburtsdatum, fmtDate(xsozial.FirstDay(g.opts.Month.AddMonths(-12*12-6))))
			bg.setAll(xsozial.KindPerson, a.F[0], xsozial.PSchulabschluss, "")
			return a.F[0]
		}},
		{Rule: "R3_0050", What: "Geschlecht nicht im Katalog", apply: func(g *gen, bg *BG) string {
			a := bg.adult()
			a.F[xsozial.PGeschlecht] = "7"
			return a.F[0]
		}},
		{Rule: "R3_0060", What: "zwei antragstellende Personen", apply: func(g *gen, bg *BG) string {
			a := bg.adult()
			p := *a
			p.F[xsozial.PKundennummer] = g.kd()
			bg.add(p)
			return p.F[0]
		}},
		{Rule: "R3_0070", What: "Kind mit 30 Jahren", apply: func(g *gen, bg *BG) string {
			a := bg.adult()
			p := *a
			p.F[xsozial.PKundennummer] = g.kd()
			p.F[xsozial.PStellung] = "3"
			p.F[xsozial.PGeburtsdatum] = fmtDate(xsozial.FirstDay(g.opts.Month.AddMonths(-30 * 12)))
			if xsozial.CompareVersions(g.opts.Version, "4.3.0") >= 0 {
				p.F[xsozial.PSchulabschluss] = "2"
			}
			bg.add(p)
			return p.F[0]
		}},
		{Rule: "R3_0080", What: "Erwerbseinkommen über 8000 EUR", apply: func(g *gen, bg *BG) string {
			a := bg.adult()
			a.F[xsozial.PEinkommen] = "9000.00"
			return a.F[0]
		}},
		{Rule: "R3_0090", What: "Schulabschluss fehlt", minVersion: "4.3.0", apply: func(g *gen, bg *BG) string {
			a := bg.personIn(g.lastMonth())
			p := *a
			p.F[xsozial.PKundennummer] = g.kd()
			p.F[xsozial.PStellung] = "2"
			p.F[xsozial.PGeburtsdatum] = fmtDate(xsozial.FirstDay(g.opts.Month.AddMonths(-40 * 12)))
			p.F[xsozial.PSchulabschluss] = ""
			p.F[xsozial.PErwerbsfaehig] = "J"
			bg.add(p)
			return p.F[0]
		}},
		{Rule: "R7_0010", What: "Anspruch für eine fremde Person", apply: func(g *gen, bg *BG) string {
			r := g.newRecord(xsozial.KindAnspruch, g.kd())
			bg.add(r)
			return r.F[0]
		}},
		{Rule: "R7_0030", What: "Minderung größer als Anspruch", apply: func(g *gen, bg *BG) string {
			r := bg.first(xsozial.KindAnspruch)
			r.F[xsozial.AMinderung] = "9999.00"
			return r.F[0]
		}},
		{Rule: "R7_0040", What: "Leistungsart nicht im Katalog", apply: func(g *gen, bg *BG) string {
			r := bg.first(xsozial.KindAnspruch)
			r.F[xsozial.ALeistungsart] = "9"
			return r.F[0]
		}},
		{Rule: "R7_0050", What: "Anspruchsbetrag 0", apply: func(g *gen, bg *BG) string {
			r := bg.first(xsozial.KindAnspruch)
			r.F[xsozial.ABetrag] = "0.00"
			r.F[xsozial.AMinderung] = ""
			return r.F[0]
		}},
		{Rule: "R13_0010", What: "Maßnahme für eine fremde Person", apply: func(g *gen, bg *BG) string {
			r := g.newRecord(xsozial.KindMassnahme, g.kd())
			bg.add(r)
			return r.F[0]
		}},
		{Rule: "R13_0020", What: "Maßnahmeende vor Beginn", apply: func(g *gen, bg *BG) string {
			r := g.newRecord(xsozial.KindMassnahme, bg.adult().F[0])
			b, _ := xsozial.ParseDate(r.F[xsozial.NBeginn])
			r.F[xsozial.NEnde] = fmtDate(b - 2)
			bg.add(r)
			return r.F[0]
		}},
		{Rule: "R13_0030", What: "45 Wochenstunden", apply: func(g *gen, bg *BG) string {
			r := g.newRecord(xsozial.KindMassnahme, bg.adult().F[0])
			r.F[xsozial.NWochenstunden] = "45.0"
			bg.add(r)
			return r.F[0]
		}},
		{Rule: "R13_0040", What: "Maßnahme für nicht erwerbsfähige Person", apply: func(g *gen, bg *BG) string {
			a := bg.adult()
			kd := a.F[0]
			bg.setAll(xsozial.KindPerson, kd, xsozial.PErwerbsfaehig, "N")
			bg.setAll(xsozial.KindPerson, kd, xsozial.PSchulabschluss, "")
			var keep []xsozial.Record
			for _, x := range bg.Records { // the generated measures of that person go
				if x.Kind == xsozial.KindMassnahme && x.F[0] == kd {
					continue
				}
				keep = append(keep, x)
			}
			bg.Records = keep
			bg.add(g.newRecord(xsozial.KindMassnahme, kd))
			return kd
		}},
		{Rule: "R13_0050", What: "Maßnahmeart nicht im Katalog", apply: func(g *gen, bg *BG) string {
			r := g.newRecord(xsozial.KindMassnahme, bg.adult().F[0])
			r.F[xsozial.NArt] = "99"
			bg.add(r)
			return r.F[0]
		}},
		{Rule: "R14_0010", What: "Arbeitsuche einer fremden Person", apply: func(g *gen, bg *BG) string {
			r := g.newRecord(xsozial.KindArbeitsuche, g.kd())
			r.F[xsozial.SStatus] = "1"
			bg.add(r)
			return r.F[0]
		}},
		{Rule: "R14_0020", What: "Phasenende vor Beginn", apply: func(g *gen, bg *BG) string {
			r := g.newRecord(xsozial.KindArbeitsuche, bg.adult().F[0])
			r.F[xsozial.SStatus] = "1"
			b, _ := xsozial.ParseDate(r.F[xsozial.SBeginn])
			r.F[xsozial.SBeginn] = fmtDate(b + 10)
			r.F[xsozial.SEnde] = fmtDate(b)
			r.F[xsozial.SAbgangsgrund] = "1"
			bg.add(r)
			return r.F[0]
		}},
		{Rule: "R14_0030", What: "Abgangsgrund fehlt", apply: func(g *gen, bg *BG) string {
			r := g.newRecord(xsozial.KindArbeitsuche, bg.adult().F[0])
			r.F[xsozial.SStatus] = "1"
			r.F[xsozial.SEnde] = fmtDate(xsozial.LastDay(g.months[1]))
			bg.add(r)
			return r.F[0]
		}},
		{Rule: "R14_0040", What: "Abgangsgrund ohne Ende", apply: func(g *gen, bg *BG) string {
			r := g.newRecord(xsozial.KindArbeitsuche, bg.adult().F[0])
			r.F[xsozial.SStatus] = "1"
			r.F[xsozial.SAbgangsgrund] = "1"
			bg.add(r)
			return r.F[0]
		}},
		{Rule: "R14_0050", What: "Status nicht im Katalog", apply: func(g *gen, bg *BG) string {
			r := g.newRecord(xsozial.KindArbeitsuche, bg.adult().F[0])
			r.F[xsozial.SStatus] = "8"
			bg.add(r)
			return r.F[0]
		}},
		{Rule: "R14_0060", What: "überschneidende Arbeitslosigkeit", apply: func(g *gen, bg *BG) string {
			kd := bg.adult().F[0]
			var keep []xsozial.Record
			for _, x := range bg.Records {
				if x.Kind == xsozial.KindArbeitsuche && x.F[0] == kd {
					continue
				}
				keep = append(keep, x)
			}
			bg.Records = keep
			a := g.newRecord(xsozial.KindArbeitsuche, kd)
			b := a
			d, _ := xsozial.ParseDate(a.F[xsozial.SBeginn])
			b.F[xsozial.SBeginn] = fmtDate(d + 5)
			bg.add(a)
			bg.add(b)
			return kd
		}},
		{Rule: "R16_0010", What: "Widerspruch einer fremden Person", apply: func(g *gen, bg *BG) string {
			r := g.newRecord(xsozial.KindWiderspruch, g.kd())
			bg.add(r)
			return r.F[0]
		}},
		{Rule: "R16_0020", What: "Erledigung vor Eingang", apply: func(g *gen, bg *BG) string {
			r := g.newRecord(xsozial.KindWiderspruch, bg.adult().F[0])
			d, _ := xsozial.ParseDate(r.F[xsozial.WEingang])
			r.F[xsozial.WErledigung] = fmtDate(d - 3)
			r.F[xsozial.WErgebnis] = "3"
			bg.add(r)
			return r.F[0]
		}},
		{Rule: "R16_0030", What: "Ergebnis fehlt", apply: func(g *gen, bg *BG) string {
			r := g.newRecord(xsozial.KindWiderspruch, bg.adult().F[0])
			r.F[xsozial.WErledigung] = fmtDate(xsozial.LastDay(g.months[2]))
			bg.add(r)
			return r.F[0]
		}},
		{Rule: "R16_0040", What: "Gegenstand nicht im Katalog", apply: func(g *gen, bg *BG) string {
			r := g.newRecord(xsozial.KindWiderspruch, bg.adult().F[0])
			r.F[xsozial.WGegenstand] = "6"
			bg.add(r)
			return r.F[0]
		}},
		{Rule: "R18_0010", What: "BuT für eine fremde Person", apply: func(g *gen, bg *BG) string {
			r := g.newRecord(xsozial.KindBuT, g.kd())
			bg.add(r)
			return r.F[0]
		}},
		{Rule: "R18_0030", What: "BuT für eine erwachsene Person", apply: func(g *gen, bg *BG) string {
			a := bg.personIn(g.lastMonth())
			kd := a.F[0]
			bg.setAll(xsozial.KindPerson, kd, xsozial.PGeburtsdatum, fmtDate(xsozial.FirstDay(g.opts.Month.AddMonths(-35*12))))
			if xsozial.CompareVersions(g.opts.Version, "4.3.0") >= 0 {
				bg.setAll(xsozial.KindPerson, kd, xsozial.PSchulabschluss, "1")
			}
			bg.add(g.newRecord(xsozial.KindBuT, kd))
			return kd
		}},
		{Rule: "R18_0040", What: "BuT-Leistung nicht im Katalog", apply: func(g *gen, bg *BG) string {
			r := g.newRecord(xsozial.KindBuT, bg.personIn(g.lastMonth()).F[0])
			r.F[xsozial.BLeistung] = "8"
			bg.add(r)
			return r.F[0]
		}},
	}
}
