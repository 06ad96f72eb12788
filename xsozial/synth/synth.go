// Package synth generates realistic synthetic XSozial-BA-SGB II source
// records: households of different compositions, benefit months, income,
// measures, unemployment phases, appeals and BuT, for a Träger and a
// reporting month, deterministically from a seed. With faults it injects a
// known set of errors, each tagged with the PTX rule that must find it.
//
// No record describes a real person: Kundennummern are numbered, birth
// dates drawn at random.
package synth

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"

	"meldeweg.dev/meldeweg/schemas"
	"meldeweg.dev/meldeweg/xsozial"
)

// Options say what to generate.
type Options struct {
	// BGs is the number of Bedarfsgemeinschaften.
	BGs int
	// Seed makes the output reproducible.
	Seed uint64
	// Traeger is the Trägernummer, five digits.
	Traeger string
	// Month is the reporting month; records cover it and the waiting time.
	Month schemas.Month
	// Version is the schema version in force for Month (Merkmal 3.10
	// exists from 4.3.0).
	Version string
	// Faults injects the known faults of [FaultCatalog] into the first BGs.
	Faults bool
}

// BG is one generated Bedarfsgemeinschaft with its records.
type BG struct {
	Nummer  string
	Records []xsozial.Record
}

// Fault is one injected error.
type Fault struct {
	// Rule is the PTX rule that must report it.
	Rule         string `json:"rule"`
	BG           string `json:"bg"`
	Kundennummer string `json:"kundennummer,omitempty"`
	What         string `json:"what"`
}

type gen struct {
	opts   Options
	rng    *rand.Rand
	months []schemas.Month
	nextKd int
	prev   *BG
}

// Generate calls fn for each BG in order and returns the module-1 records
// and the faults injected.
func Generate(opts Options, fn func(*BG) error) ([]xsozial.Record, []Fault, error) {
	if ok, exp := xsozial.CheckValue(xsozial.TTraeger, opts.Traeger); !ok {
		return nil, nil, fmt.Errorf("Trägernummer %q: expected %s", opts.Traeger, exp)
	}
	if opts.Month.IsZero() || opts.Version == "" {
		return nil, nil, fmt.Errorf("synth: month and version are required")
	}
	g := &gen{opts: opts, rng: rand.New(rand.NewPCG(opts.Seed, 0x9e3779b97f4a7c15))}
	first, _ := xsozial.Window(opts.Month)
	for m := first; !opts.Month.Before(m); m = m.AddMonths(1) {
		g.months = append(g.months, m)
	}
	var faults []Fault
	catalog := FaultCatalog()
	for i := 0; i < opts.BGs; i++ {
		bg := g.household(i, opts.Faults && i < len(catalog))
		if opts.Faults && i < len(catalog) {
			f := catalog[i]
			if f.minVersion == "" || xsozial.CompareVersions(opts.Version, f.minVersion) >= 0 {
				kd := f.apply(g, bg)
				faults = append(faults, Fault{Rule: f.Rule, BG: bg.Nummer, Kundennummer: kd, What: f.What})
			}
		}
		if err := fn(bg); err != nil {
			return nil, nil, err
		}
		g.prev = bg
	}
	fin := g.finanzen()
	if opts.Faults && opts.BGs > 0 {
		// Module 1: the reporting month reported twice (R1_0020).
		dup := fin[len(fin)-1]
		fin = append(fin, dup)
		faults = append(faults, Fault{Rule: "R1_0020", What: "Einnahmen und Ausgaben des Berichtsmonats doppelt"})
	}
	return fin, faults, nil
}

func (g *gen) kd() string {
	g.nextKd++
	n := g.nextKd
	return fmt.Sprintf("%03d%c%06d", n/1000000%1000, 'A'+rune(n/1000000/1000%26), n%1000000)
}

func (g *gen) birth(minAge, maxAge int) string {
	ref := g.opts.Month.First()
	age := minAge + g.rng.IntN(maxAge-minAge+1)
	doy := g.rng.IntN(365)
	t := ref.AddDate(-age-1, 0, doy+1)
	return t.Format("2006-01-02")
}

func money(c int) string { return fmt.Sprintf("%d.%02d", c/100, c%100) }

type member struct {
	kd       string
	birth    string
	stellung string
	elb      bool
	sex      string
}

// household generates BG number i.
func (g *gen) household(i int, full bool) *BG {
	r := g.rng
	bg := &BG{Nummer: fmt.Sprintf("%sBG%07d", g.opts.Traeger, i+1)}
	var ms []member
	adult := func(stellung string) member {
		return member{kd: g.kd(), birth: g.birth(18, 64), stellung: stellung, elb: true, sex: []string{"1", "2"}[r.IntN(2)]}
	}
	kind := r.IntN(10)
	ms = append(ms, adult("1"))
	if kind >= 5 { // couple
		ms = append(ms, adult("2"))
	}
	if kind >= 3 && kind != 5 { // children
		for n := 1 + r.IntN(3); n > 0; n-- {
			c := member{kd: g.kd(), birth: g.birth(1, 17), stellung: "3", sex: []string{"1", "2"}[r.IntN(2)]}
			c.elb = ageAt(c.birth, g.opts.Month) >= 15
			ms = append(ms, c)
		}
	}
	if r.IntN(20) == 0 { // a young adult child
		ms = append(ms, member{kd: g.kd(), birth: g.birth(18, 23), stellung: "3", elb: true, sex: "1"})
	}
	// Active months: most BGs all four, some start late or end early.
	from, to := 0, len(g.months)-1
	switch r.IntN(10) {
	case 0:
		if !full {
			from = 1 + r.IntN(len(g.months)-1)
		}
	case 1:
		if !full {
			to = r.IntN(len(g.months) - 1)
		}
	}
	nat := []string{"0", "0", "0", "1", "2", "3", "9"}[r.IntN(7)]
	start := g.months[from].AddMonths(-r.IntN(6))
	bewBeginn := xsozial.FirstDay(start)
	bewEnde := xsozial.LastDay(start.AddMonths(11))
	flaeche := 35 + 15*len(ms) + r.IntN(20)
	kdu := 35000 + 12000*len(ms) + r.IntN(20000)
	akz := fmt.Sprintf("%s-%06d", g.opts.Traeger[:3], i+1)
	for mi := from; mi <= to; mi++ {
		m := g.months[mi]
		var rec xsozial.Record
		rec.Reset(xsozial.KindBGMonat)
		rec.F[xsozial.MAktenzeichen] = akz
		rec.F[xsozial.MBewilligungBeginn] = fmtDate(bewBeginn)
		rec.F[xsozial.MBewilligungEnde] = fmtDate(bewEnde)
		if mi == to && to < len(g.months)-1 {
			rec.F[xsozial.MEinstellungsgrund] = []string{"1", "2", "3", "4", "9"}[r.IntN(5)]
		}
		rec.F[xsozial.MWohnflaeche] = fmt.Sprintf("%d.%d", flaeche, r.IntN(10))
		rec.F[xsozial.MKdU] = money(kdu)
		rec.F[xsozial.MZahlmonat] = m.String()
		rec.F[xsozial.MZahlbetrag] = money(kdu + 50000*len(ms) + r.IntN(30000))
		bg.Records = append(bg.Records, rec)
	}
	for _, p := range ms {
		income := 0
		if p.elb && p.stellung != "3" && r.IntN(4) == 0 {
			income = 20000 + r.IntN(150000)
		}
		for mi := from; mi <= to; mi++ {
			m := g.months[mi]
			var rec xsozial.Record
			rec.Reset(xsozial.KindPerson)
			rec.F[xsozial.PKundennummer] = p.kd
			rec.F[xsozial.PMonat] = m.String()
			rec.F[xsozial.PGeburtsdatum] = p.birth
			rec.F[xsozial.PGeschlecht] = p.sex
			rec.F[xsozial.PStaatsangehoerigkeit] = nat
			if nat != "0" {
				rec.F[xsozial.PAufenthaltsstatus] = map[string]string{"1": "4", "2": "2", "3": "3", "9": "1"}[nat]
			}
			rec.F[xsozial.PStellung] = p.stellung
			elb := p.elb
			if p.stellung == "3" {
				elb = ageAt(p.birth, m) >= 15
			}
			rec.F[xsozial.PErwerbsfaehig] = jn(elb)
			rec.F[xsozial.PEinkommen] = money(income)
			if xsozial.CompareVersions(g.opts.Version, "4.3.0") >= 0 && elb && ageAt(p.birth, m) >= 25 {
				rec.F[xsozial.PSchulabschluss] = []string{"0", "1", "2", "3", "4"}[r.IntN(5)]
			}
			bg.Records = append(bg.Records, rec)
		}
	}
	for _, p := range ms {
		for mi := from; mi <= to; mi++ {
			m := g.months[mi]
			var rec xsozial.Record
			rec.Reset(xsozial.KindAnspruch)
			rec.F[xsozial.AKundennummer] = p.kd
			rec.F[xsozial.ALeistungsart] = "1"
			if !p.elb {
				rec.F[xsozial.ALeistungsart] = "4"
			}
			betrag := 35700 + r.IntN(20000)
			rec.F[xsozial.ABetrag] = money(betrag)
			if p.elb && r.IntN(50) == 0 {
				rec.F[xsozial.AMinderung] = money(betrag / 10)
			}
			rec.F[xsozial.AAnspruchsmonat] = m.String()
			bg.Records = append(bg.Records, rec)
		}
	}
	windowStart := xsozial.FirstDay(g.months[0])
	for _, p := range ms {
		if !p.elb || p.stellung == "3" {
			continue
		}
		if r.IntN(10) == 0 {
			var rec xsozial.Record
			rec.Reset(xsozial.KindMassnahme)
			rec.F[xsozial.NKundennummer] = p.kd
			rec.F[xsozial.NArt] = []string{"10", "20", "30", "40", "50", "60"}[r.IntN(6)]
			b := g.months[r.IntN(len(g.months))]
			rec.F[xsozial.NBeginn] = fmtDate(xsozial.FirstDay(b) + xsozial.Date(r.IntN(20)))
			if r.IntN(2) == 0 {
				rec.F[xsozial.NEnde] = fmtDate(xsozial.LastDay(b.AddMonths(2 + r.IntN(6))))
			}
			rec.F[xsozial.NWochenstunden] = fmt.Sprintf("%d.%d", 10+r.IntN(30), r.IntN(10))
			rec.F[xsozial.NKosten] = money(50000 + r.IntN(500000))
			bg.Records = append(bg.Records, rec)
		}
		if r.IntN(5) < 2 {
			var rec xsozial.Record
			rec.Reset(xsozial.KindArbeitsuche)
			rec.F[xsozial.SKundennummer] = p.kd
			rec.F[xsozial.SStatus] = []string{"1", "2", "2"}[r.IntN(3)]
			b := windowStart + xsozial.Date(r.IntN(25))
			rec.F[xsozial.SBeginn] = fmtDate(b)
			if r.IntN(3) == 0 {
				rec.F[xsozial.SEnde] = fmtDate(xsozial.LastDay(g.months[1+r.IntN(len(g.months)-1)]))
				rec.F[xsozial.SAbgangsgrund] = []string{"1", "2", "3", "4", "5", "9"}[r.IntN(6)]
			}
			bg.Records = append(bg.Records, rec)
		}
	}
	if r.IntN(30) == 0 {
		var rec xsozial.Record
		rec.Reset(xsozial.KindWiderspruch)
		rec.F[xsozial.WKundennummer] = ms[0].kd
		rec.F[xsozial.WArt] = []string{"1", "1", "1", "2"}[r.IntN(4)]
		in := windowStart + xsozial.Date(r.IntN(20))
		rec.F[xsozial.WEingang] = fmtDate(in)
		rec.F[xsozial.WGegenstand] = []string{"1", "2", "3", "4", "9"}[r.IntN(5)]
		if r.IntN(2) == 0 {
			rec.F[xsozial.WErledigung] = fmtDate(xsozial.LastDay(g.months[2]))
			rec.F[xsozial.WErgebnis] = []string{"1", "2", "3", "4"}[r.IntN(4)]
		}
		bg.Records = append(bg.Records, rec)
	}
	for _, p := range ms {
		a := ageAt(p.birth, g.opts.Month)
		if p.stellung != "3" || a < 6 || a > 17 || r.IntN(2) == 0 {
			continue
		}
		m := g.months[from+r.IntN(to-from+1)]
		var rec xsozial.Record
		rec.Reset(xsozial.KindBuT)
		rec.F[xsozial.BKundennummer] = p.kd
		l := []string{"1", "2", "3", "4", "5", "6", "7"}[r.IntN(7)]
		rec.F[xsozial.BLeistung] = l
		rec.F[xsozial.BBetrag] = money(1500 + r.IntN(15000))
		rec.F[xsozial.BBedarfsmonat] = m.String()
		bg.Records = append(bg.Records, rec)
	}
	return bg
}

func (g *gen) finanzen() []xsozial.Record {
	var out []xsozial.Record
	for _, m := range g.months {
		var rec xsozial.Record
		rec.Reset(xsozial.KindFinanzen)
		n := g.opts.BGs + 1
		rec.F[xsozial.FMonat] = m.String()
		rec.F[xsozial.FRegelbedarf] = money(n*90000 + g.rng.IntN(100000))
		rec.F[xsozial.FUnterkunft] = money(n*60000 + g.rng.IntN(100000))
		rec.F[xsozial.FEingliederung] = money(n*8000 + g.rng.IntN(100000))
		rec.F[xsozial.FEinnahmen] = money(n*3000 + g.rng.IntN(10000))
		out = append(out, rec)
	}
	return out
}

func jn(b bool) string {
	if b {
		return "J"
	}
	return "N"
}

func fmtDate(d xsozial.Date) string {
	return fmt.Sprintf("%04d-%02d-%02d", d.Year(), d.Month(), d.Day())
}

func ageAt(birth string, m schemas.Month) int {
	b, _ := xsozial.ParseDate(birth)
	return b.AgeAt(xsozial.LastDay(m))
}

// Stats sums up what WriteSource wrote.
type Stats struct {
	Files   []string
	Records int
	Faults  []Fault
}

// FaultsFile is the name, inside the source directory, of the list of
// injected faults (JSON Lines). It starts with a dot, so a build skips it.
const FaultsFile = ".faults.jsonl"

// WriteSource writes the generated records to dir in the source format:
// faelle.jsonl (modules 2–18, BG by BG) and finanzen.jsonl (module 1), and
// with faults the list of injected faults to dir/.faults.jsonl.
func WriteSource(dir string, opts Options) (Stats, error) {
	var st Stats
	// The source format carries personal data in production; synthetic
	// data is kept the same way, so the checks on xsozial_source pass.
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return st, err
	}
	fw, err := newJSONLFile(filepath.Join(dir, "faelle.jsonl"))
	if err != nil {
		return st, err
	}
	fin, faults, err := Generate(opts, func(bg *BG) error {
		for i := range bg.Records {
			if err := fw.record(bg.Nummer, &bg.Records[i]); err != nil {
				return err
			}
			st.Records++
		}
		return nil
	})
	if err != nil {
		fw.f.Close()
		return st, err
	}
	if err := fw.close(); err != nil {
		return st, err
	}
	ff, err := newJSONLFile(filepath.Join(dir, "finanzen.jsonl"))
	if err != nil {
		return st, err
	}
	for i := range fin {
		if err := ff.record("", &fin[i]); err != nil {
			return st, err
		}
		st.Records++
	}
	if err := ff.close(); err != nil {
		return st, err
	}
	st.Files = []string{"faelle.jsonl", "finanzen.jsonl"}
	st.Faults = faults
	fp := filepath.Join(dir, FaultsFile)
	if !opts.Faults {
		os.Remove(fp)
		return st, nil
	}
	var b strings.Builder
	for _, f := range faults {
		fmt.Fprintf(&b, "{\"rule\":%q,\"bg\":%q,\"kundennummer\":%q,\"what\":%q}\n", f.Rule, f.BG, f.Kundennummer, f.What)
	}
	return st, os.WriteFile(fp, []byte(b.String()), 0o600)
}

type jsonlFile struct {
	f *os.File
	w *bufio.Writer
	b []byte
}

func newJSONLFile(p string) (*jsonlFile, error) {
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, err
	}
	return &jsonlFile{f: f, w: bufio.NewWriterSize(f, 256<<10)}, nil
}

func (j *jsonlFile) close() error {
	if err := j.w.Flush(); err != nil {
		j.f.Close()
		return err
	}
	return j.f.Close()
}

// record writes r as one source line.
func (j *jsonlFile) record(bg string, r *xsozial.Record) error {
	info := r.Kind.Info()
	b := j.b[:0]
	b = append(b, `{"satz":"`...)
	b = append(b, info.Satz...)
	b = append(b, '"')
	if r.Kind != xsozial.KindFinanzen {
		b = append(b, `,"bg":"`...)
		b = append(b, bg...)
		b = append(b, '"')
	}
	for i, f := range info.Fields {
		v := r.F[i]
		if v == "" {
			continue
		}
		b = append(b, `,"`...)
		b = append(b, f.JSON...)
		b = append(b, `":`...)
		switch f.Type {
		case xsozial.TBetrag, xsozial.TStunden, xsozial.TFlaeche:
			b = append(b, v...)
		case xsozial.TJaNein:
			if v == "J" {
				b = append(b, "true"...)
			} else {
				b = append(b, "false"...)
			}
		default:
			b = append(b, '"')
			b = append(b, v...) // generated values need no escaping
			b = append(b, '"')
		}
	}
	b = append(b, "}\n"...)
	j.b = b
	_, err := j.w.Write(b)
	return err
}
