package emaw

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"
)

// Massnahmenummer identifies a measure: Dienststelle (3 digits), laufende
// Nummer (2), Quelle (1) and Jahr (2), written "123/21/1/14" or compact
// "12321114". The value is kept exactly as written; [Massnahmenummer.Compact]
// gives the compact form for comparisons.
type Massnahmenummer string

var (
	reNummerSlashed = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^([0-9]{3})/([0-9]{2})/([0-9])/([0-9]{2})$`) })
	reNummerCompact = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[0-9]{8}$`) })
)

// ErrMassnahmenummer is returned (wrapped) for a malformed Maßnahmenummer.
var ErrMassnahmenummer = errors.New("malformed Maßnahmenummer")

// Check reports whether n has one of the two accepted forms.
func (n Massnahmenummer) Check() error {
	s := string(n)
	if reNummerSlashed().MatchString(s) || reNummerCompact().MatchString(s) {
		return nil
	}
	return fmt.Errorf("%w %q: expected Dienststelle/lfd. Nr./Quelle/Jahr as NNN/NN/N/NN (e.g. 123/21/1/14) or the 8 digits 12321114", ErrMassnahmenummer, s)
}

// Compact returns the 8-digit form, or n unchanged when it is malformed.
func (n Massnahmenummer) Compact() string {
	if m := reNummerSlashed().FindStringSubmatch(string(n)); m != nil {
		return m[1] + m[2] + m[3] + m[4]
	}
	return string(n)
}

// Verfahrenszweig is the two-digit procedure branch of a measure.
type Verfahrenszweig string

// The Verfahrenszweige the model covers.
const (
	// ZweigBNF: 01, Berufsausbildung/-vorbereitung (BNF: abH, BaE, BvB).
	ZweigBNF Verfahrenszweig = "01"
	// ZweigAGH: 06, Arbeitsgelegenheiten (§ 16d SGB II), with the Jobcenter.
	ZweigAGH Verfahrenszweig = "06"
	// ZweigAsA: 10, Assistierte Ausbildung.
	ZweigAsA Verfahrenszweig = "10"
)

// Verfahrenszweige lists every Verfahrenszweig the model covers.
func Verfahrenszweige() []Verfahrenszweig {
	return []Verfahrenszweig{ZweigBNF, ZweigAGH, ZweigAsA}
}

// Known reports whether z is one of [Verfahrenszweige].
func (z Verfahrenszweig) Known() bool {
	for _, k := range Verfahrenszweige() {
		if z == k {
			return true
		}
	}
	return false
}

// Massnahmeschluessel is Maßnahmenummer plus Verfahrenszweig: the key of
// a measure.
type Massnahmeschluessel struct {
	Nummer Massnahmenummer
	Zweig  Verfahrenszweig
}

// String is "12321114-01": compact number, dash, Verfahrenszweig.
func (k Massnahmeschluessel) String() string { return k.Nummer.Compact() + "-" + string(k.Zweig) }

var (
	reKundennummer = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[0-9]{3}[A-Z][0-9]{6}$`) })
	reCosachID     = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[0-9A-Za-z]{1,20}$`) })
)

// CheckKundennummer reports whether k has the form of a BA Kundennummer:
// three digits, a capital letter, six digits (the form 999X999999). The error
// does not repeat the value: a Kundennummer is personal data.
func CheckKundennummer(k string) error {
	if !reKundennummer().MatchString(k) {
		return fmt.Errorf("expected three digits, a capital letter and six digits (the form 999X999999), got %d characters", len([]rune(k)))
	}
	return nil
}

// CheckCosachID reports whether c has the form of a cosachid (model
// assumption: 1 to 20 letters or digits).
func CheckCosachID(c string) error {
	if !reCosachID().MatchString(c) {
		return fmt.Errorf("expected 1 to 20 letters or digits, got %d characters", len([]rune(c)))
	}
	return nil
}

// Date is a calendar day without time zone (xs:date). The zero Date is
// "no date". Dates compare with ==, [Date.Before] and [Date.After].
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// ParseDate parses "YYYY-MM-DD".
func ParseDate(s string) (Date, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil || len(s) != 10 {
		return Date{}, fmt.Errorf("date %q: expected YYYY-MM-DD, e.g. 2026-03-09", s)
	}
	return DateOf(t), nil
}

// MustDate is ParseDate for constants in tests and examples; it panics on
// a malformed date.
func MustDate(s string) Date {
	d, err := ParseDate(s)
	if err != nil {
		panic(err)
	}
	return d
}

// DateOf returns the calendar day of t in t's location.
func DateOf(t time.Time) Date {
	y, m, d := t.Date()
	return Date{y, m, d}
}

// Time returns midnight UTC of d.
func (d Date) Time() time.Time { return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, time.UTC) }

// IsZero reports whether d is the zero Date.
func (d Date) IsZero() bool { return d == Date{} }

func (d Date) String() string {
	if d.IsZero() {
		return ""
	}
	return fmt.Sprintf("%04d-%02d-%02d", d.Year, int(d.Month), d.Day)
}

// AddDays returns d shifted by n days.
func (d Date) AddDays(n int) Date { return DateOf(d.Time().AddDate(0, 0, n)) }

// Before reports whether d is earlier than o.
func (d Date) Before(o Date) bool { return d.Time().Before(o.Time()) }

// After reports whether d is later than o.
func (d Date) After(o Date) bool { return d.Time().After(o.Time()) }

// Weekday returns the day of the week of d.
func (d Date) Weekday() time.Weekday { return d.Time().Weekday() }

// Monday returns the Monday of d's week (weeks run Monday to Sunday).
func (d Date) Monday() Date {
	return d.AddDays(-((int(d.Weekday()) + 6) % 7))
}

// MarshalText implements encoding.TextMarshaler.
func (d Date) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Date) UnmarshalText(b []byte) error {
	v, err := ParseDate(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// Period is a closed range of days; a zero To means open-ended.
type Period struct {
	From, To Date
}

// Contains reports whether d lies in p.
func (p Period) Contains(d Date) bool {
	if d.Before(p.From) {
		return false
	}
	return p.To.IsZero() || !d.After(p.To)
}

func (p Period) String() string { return p.From.String() + " – " + p.To.String() }

// Woche is a calendar week, written as ISO week "2026-W10". Weeks run from
// Monday to Sunday.
type Woche struct {
	Year, Week int
}

// WeekOf returns the ISO week d falls in.
func WeekOf(d Date) Woche {
	y, w := d.Time().ISOWeek()
	return Woche{y, w}
}

// ParseWoche parses "YYYY-Www".
func ParseWoche(s string) (Woche, error) {
	var w Woche
	if len(s) != 8 || s[4:6] != "-W" {
		return w, fmt.Errorf("week %q: expected YYYY-Www, e.g. 2026-W10", s)
	}
	if _, err := fmt.Sscanf(s, "%4d-W%2d", &w.Year, &w.Week); err != nil || w.Week < 1 || w.Week > 53 {
		return Woche{}, fmt.Errorf("week %q: expected YYYY-Www, e.g. 2026-W10", s)
	}
	if WeekOf(w.Monday()) != w {
		return Woche{}, fmt.Errorf("week %q: year %d has no week %d", s, w.Year, w.Week)
	}
	return w, nil
}

// Monday returns the first day of w.
func (w Woche) Monday() Date {
	// 4 January is always in week 1.
	jan4 := Date{w.Year, time.January, 4}
	return jan4.Monday().AddDays(7 * (w.Week - 1))
}

// Sunday returns the last day of w.
func (w Woche) Sunday() Date { return w.Monday().AddDays(6) }

// IsZero reports whether w is the zero Woche.
func (w Woche) IsZero() bool { return w == Woche{} }

func (w Woche) String() string {
	if w.IsZero() {
		return ""
	}
	return fmt.Sprintf("%04d-W%02d", w.Year, w.Week)
}

// MarshalText implements encoding.TextMarshaler.
func (w Woche) MarshalText() ([]byte, error) { return []byte(w.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (w *Woche) UnmarshalText(b []byte) error {
	v, err := ParseWoche(string(b))
	if err != nil {
		return err
	}
	*w = v
	return nil
}

// trimCode is used by the code lists.
func trimCode(s string) string { return strings.TrimSpace(s) }
