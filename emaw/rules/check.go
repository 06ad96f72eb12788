package rules

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"meldeweg.dev/meldeweg/emaw"
	"meldeweg.dev/meldeweg/emaw/msg"
	"meldeweg.dev/meldeweg/schemas"
)

// Options adds what the message alone does not hold.
type Options struct {
	// Attachment is the PDF of a message with an Anhang. When nil, the
	// attachment's bytes are not checked (only its description); when set,
	// they must be a PDF matching Groesse and SHA256.
	Attachment []byte
}

// checker collects findings for one message.
type checker struct {
	m   msg.Message
	out []Finding
}

func (c *checker) add(rule Rule, field, value, expected string) {
	c.out = append(c.out, Finding{Rule: rule, Type: c.m.Type(), ID: c.m.Header().NachrichtID, Field: field, Value: value, Expected: expected})
}

// Check applies the business rules to m and returns every finding, in
// field order; none means m abides by the rules.
func Check(m msg.Message, o Options) []Finding {
	c := &checker{m: m}
	info, ok := msg.Lookup(m.Type())
	if !ok {
		c.add(RuleVerfahrenszweig, "", string(m.Type()), "a message type of the catalogue")
		return c.out
	}
	k := m.Header()
	body := string(m.Type())

	// Kopf.
	if !info.Allows(k.Richtung) {
		c.add(RuleRichtung, "Kopf/Richtung", string(k.Richtung), fmt.Sprintf("%s travels %s", m.Type(), directions(info)))
	}
	if err := k.Massnahme.Nummer.Check(); err != nil {
		c.add(RuleMassnahmenummer, "Kopf/Massnahme/Nummer", string(k.Massnahme.Nummer), "Dienststelle/lfd. Nr./Quelle/Jahr as NNN/NN/N/NN (e.g. 123/21/1/14) or the 8 digits 12321114")
	}
	z := k.Massnahme.Verfahrenszweig
	switch {
	case !z.Known():
		c.add(RuleVerfahrenszweig, "Kopf/Massnahme/Verfahrenszweig", string(z), "one of 01 (BNF), 06 (AGH), 10 (AsA)")
	case !info.InZweig(z):
		c.add(RuleVerfahrenszweig, "Kopf/Massnahme/Verfahrenszweig", string(z), fmt.Sprintf("%s exists only in Verfahrenszweig %s", m.Type(), zweige(info)))
	}
	period := k.Massnahme.Period()
	if period.To.Before(period.From) {
		c.add(RuleReihenfolge, "Kopf/Massnahme/Ende", period.To.String(), "not before Beginn "+period.From.String())
	}

	// Teilnehmer.
	if t := msg.ParticipantOf(m); t != nil {
		c.teilnehmer(body+"/Teilnehmer", *t)
	} else if info.Participant {
		c.add(RuleTeilnehmer, body+"/Teilnehmer", "", "the participant: Kundennummer and cosachid")
	}

	// Every date of the body inside the measure period.
	if !period.To.Before(period.From) {
		c.dates(body, reflect.ValueOf(m).Elem(), period)
	}

	// Bezug.
	if ref := msg.Reference(m); ref != "" && ref == k.NachrichtID {
		c.add(RuleBezug, body+"/Bezug", ref, "another event's NachrichtID, not the message's own")
	}

	switch v := m.(type) {
	case *msg.AnwesenheitMonat:
		c.anwesenheit(v, period)
	case *msg.WochenFehlzeit:
		c.wochenFehlzeit(v)
	case *msg.Austritt:
		c.austritt(body, v.Austrittsdaten)
	case *msg.AustrittBvB:
		c.austritt(body, v.Austrittsdaten)
	case *msg.AustrittBNF:
		c.austritt(body, v.Austrittsdaten)
	case *msg.Unterbrechung:
		if v.Bis.Before(v.Von) {
			c.add(RuleReihenfolge, body+"/Bis", v.Bis.String(), "not before Von "+v.Von.String())
		}
	case *msg.Verlaengerung:
		if !v.NeuesEnde.After(v.BisherigesEnde) {
			c.add(RuleReihenfolge, body+"/NeuesEnde", v.NeuesEnde.String(), "after BisherigesEnde "+v.BisherigesEnde.String())
		}
	case *msg.Planung:
		if v.Ende.Before(v.Beginn) {
			c.add(RuleReihenfolge, body+"/Ende", v.Ende.String(), "not before Beginn "+v.Beginn.String())
		}
	case *msg.Korrektur:
		if v.Ersatz != "" && v.Ersatz == v.Bezug {
			c.add(RuleKorrektur, body+"/Ersatz", v.Ersatz, "a new event, not the corrected one (Bezug)")
		}
	}
	if a, ok := m.(msg.WithAttachment); ok {
		c.anhang(body+"/Anhang", *a.Attachment(), o.Attachment)
	}
	return c.out
}

func directions(info msg.Info) string {
	var s []string
	for _, d := range info.Directions {
		s = append(s, string(d))
	}
	return strings.Join(s, " or ")
}

func zweige(info msg.Info) string {
	var s []string
	for _, z := range info.Zweige {
		s = append(s, string(z))
	}
	return strings.Join(s, ", ")
}

func (c *checker) teilnehmer(path string, t msg.Teilnehmer) {
	switch {
	case t.Kundennummer == "" && t.Cosachid == "":
		c.add(RuleTeilnehmer, path, "", "both Kundennummer and cosachid; both are missing")
		return
	case t.Kundennummer == "":
		c.add(RuleTeilnehmer, path+"/Kundennummer", "", "a Kundennummer next to the cosachid (the BA matches the pair)")
	case t.Cosachid == "":
		c.add(RuleTeilnehmer, path+"/Cosachid", "", "a cosachid next to the Kundennummer (the BA matches the pair)")
	}
	if t.Kundennummer != "" {
		if err := emaw.CheckKundennummer(t.Kundennummer); err != nil {
			c.add(RuleTeilnehmer, path+"/Kundennummer", "", err.Error())
		}
	}
	if t.Cosachid != "" {
		if err := emaw.CheckCosachID(t.Cosachid); err != nil {
			c.add(RuleTeilnehmer, path+"/Cosachid", "", err.Error())
		}
	}
}

var (
	dateType  = reflect.TypeOf(emaw.Date{})
	monthType = reflect.TypeOf(schemas.Month{})
	wocheType = reflect.TypeOf(emaw.Woche{})
	kopfType  = reflect.TypeOf(msg.Kopf{})
	personTyp = reflect.TypeOf(msg.Person{})
)

// dates checks every date, month and week in struct v against period.
// Birth dates are not measure dates and are skipped.
func (c *checker) dates(path string, v reflect.Value, period emaw.Period) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f, fv := t.Field(i), v.Field(i)
		if !f.IsExported() || f.Type == kopfType || f.Type == personTyp {
			continue
		}
		p := path + "/" + f.Name
		if f.Anonymous {
			p = path
		}
		c.dateValue(p, fv, period)
	}
}

func (c *checker) dateValue(p string, fv reflect.Value, period emaw.Period) {
	switch {
	case fv.Kind() == reflect.Pointer:
		if !fv.IsNil() {
			c.dateValue(p, fv.Elem(), period)
		}
	case fv.Kind() == reflect.Slice:
		for j := 0; j < fv.Len(); j++ {
			c.dateValue(fmt.Sprintf("%s[%d]", p, j+1), fv.Index(j), period)
		}
	case fv.Type() == dateType:
		d := fv.Interface().(emaw.Date)
		if !d.IsZero() && !period.Contains(d) {
			c.add(RuleZeitraum, p, d.String(), "a day inside the measure period "+period.String())
		}
	case fv.Type() == monthType:
		m := fv.Interface().(schemas.Month)
		if !m.IsZero() && !overlaps(period, emaw.DateOf(m.First()), emaw.DateOf(m.Last())) {
			c.add(RuleZeitraum, p, m.String(), "a month overlapping the measure period "+period.String())
		}
	case fv.Type() == wocheType:
		w := fv.Interface().(emaw.Woche)
		if !w.IsZero() && !overlaps(period, w.Monday(), w.Sunday()) {
			c.add(RuleZeitraum, p, w.String(), "a week overlapping the measure period "+period.String())
		}
	case fv.Kind() == reflect.Struct:
		c.dates(p, fv, period)
	}
}

func overlaps(p emaw.Period, from, to emaw.Date) bool {
	return !to.Before(p.From) && (p.To.IsZero() || !from.After(p.To))
}

// tage checks entries: inside [from, to], one per day, known Art, and
// absences as whole days; absentOnly refuses attendance types.
func (c *checker) tage(path string, tage []msg.Tag, from, to emaw.Date, span string, absentOnly bool) map[emaw.Date]bool {
	seen := map[emaw.Date]int{}
	for i, t := range tage {
		p := fmt.Sprintf("%s/Tag[%d]", path, i+1)
		if t.Datum.Before(from) || t.Datum.After(to) {
			c.add(RuleZeitraum, p+"/Datum", t.Datum.String(), "a day of "+span)
		}
		if j, dup := seen[t.Datum]; dup {
			c.add(RuleEinTagEinEintrag, p+"/Datum", t.Datum.String(), fmt.Sprintf("one entry per participant and day; Tag[%d] already reports this day", j))
		} else {
			seen[t.Datum] = i + 1
		}
		art, ok := emaw.LookupTagesart(t.Art)
		switch {
		case !ok:
			c.add(RuleTagesart, p+"/Art", t.Art, "a Tagesart: "+tagesartList(false))
		case absentOnly && art.Kind != emaw.Absent:
			c.add(RuleTagesart, p+"/Art", t.Art, "an absence type ("+art.Name+" is attendance): "+tagesartList(true))
		case art.Kind == emaw.Absent && t.Anteil != nil && *t.Anteil != 1:
			c.add(RuleGanzeTage, p+"/Anteil", strconv.FormatFloat(*t.Anteil, 'f', -1, 64), "absences only as whole days: leave Anteil out or write 1")
		}
	}
	days := make(map[emaw.Date]bool, len(seen))
	for d := range seen {
		days[d] = true
	}
	return days
}

func tagesartList(absentOnly bool) string {
	var s []string
	for _, t := range emaw.Tagesarten() {
		if !absentOnly || t.Kind == emaw.Absent {
			s = append(s, t.Code+" "+t.Name)
		}
	}
	return strings.Join(s, ", ")
}

func (c *checker) anwesenheit(v *msg.AnwesenheitMonat, period emaw.Period) {
	path := string(v.Type())
	first, last := emaw.DateOf(v.Monat.First()), emaw.DateOf(v.Monat.Last())
	end := last
	if !v.Bis.IsZero() {
		if v.Bis.Before(first) || v.Bis.After(last) {
			c.add(RuleZeitraum, path+"/Bis", v.Bis.String(), "a day of "+v.Monat.String())
		} else {
			end = v.Bis
		}
	}
	days := c.tage(path, v.Tag, first, end, v.Monat.String()+" up to "+end.String(), false)
	// The whole month: every working day in the month, the measure period
	// and up to Bis.
	from, to := first, end
	if from.Before(period.From) {
		from = period.From
	}
	if !period.To.IsZero() && to.After(period.To) {
		to = period.To
	}
	var missing []string
	for d := from; !d.After(to); d = d.AddDays(1) {
		if wd := d.Weekday(); wd == time.Saturday || wd == time.Sunday {
			continue
		}
		if !days[d] {
			missing = append(missing, d.String())
		}
	}
	if len(missing) > 0 {
		c.add(RuleMonatVollstaendig, path+"/Tag", "", fmt.Sprintf("an entry for every working day of %s from %s to %s; missing %d: %s",
			v.Monat, from, to, len(missing), strings.Join(missing, ", ")))
	}
}

func (c *checker) wochenFehlzeit(v *msg.WochenFehlzeit) {
	c.tage(string(v.Type()), v.Tag, v.Woche.Monday(), v.Woche.Sunday(), "week "+v.Woche.String(), true)
}

func (c *checker) austritt(path string, a msg.Austrittsdaten) {
	if a.Grund == "" {
		c.add(RuleAustritt, path+"/Grund", "", "the Grund of the exit, one of "+codes(emaw.Austrittsgruende()))
	} else if _, ok := emaw.LookupSchluessel(emaw.Austrittsgruende(), a.Grund); !ok {
		c.add(RuleAustritt, path+"/Grund", a.Grund, "one of "+codes(emaw.Austrittsgruende()))
	}
	if a.Verbleib == "" {
		c.add(RuleAustritt, path+"/Verbleib", "", "where the participant went (Verbleib), one of "+codes(emaw.Verbleibe()))
	} else if _, ok := emaw.LookupSchluessel(emaw.Verbleibe(), a.Verbleib); !ok {
		c.add(RuleAustritt, path+"/Verbleib", a.Verbleib, "one of "+codes(emaw.Verbleibe()))
	}
}

func codes(list []emaw.Schluessel) string {
	var s []string
	for _, k := range list {
		s = append(s, k.Code+" "+k.Name)
	}
	return strings.Join(s, ", ")
}

func (c *checker) anhang(path string, a msg.Anhang, data []byte) {
	if !strings.HasSuffix(strings.ToLower(a.Dateiname), ".pdf") {
		c.add(RuleAnhang, path+"/Dateiname", a.Dateiname, "a PDF file name ending in .pdf")
	}
	if data == nil {
		return
	}
	if !bytes.HasPrefix(data, []byte("%PDF-")) {
		c.add(RuleAnhang, path, a.Dateiname, "a PDF (the file does not start with %PDF-)")
	}
	if int64(len(data)) != a.Groesse {
		c.add(RuleAnhang, path+"/Groesse", strconv.FormatInt(a.Groesse, 10), fmt.Sprintf("the size of the attached file, %d bytes", len(data)))
	}
	sum := sha256.Sum256(data)
	if got := hex.EncodeToString(sum[:]); got != a.SHA256 {
		c.add(RuleAnhang, path+"/SHA256", a.SHA256, "the SHA-256 of the attached file, "+got)
	}
}
