package check

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/beevik/etree"

	"meldeweg.dev/meldeweg/schemas"
	"meldeweg.dev/meldeweg/xsozial"
)

// Severity is the weight of a finding, as the BA's VTXSozial names it.
type Severity string

const (
	// Fehler: the delivery would be rejected.
	Fehler Severity = "Fehler"
	// Hinweis: reported, but the delivery is not rejected for it.
	Hinweis Severity = "Hinweis"
)

// Rule is one plausibility rule of a bundle's rule table (regeln.csv).
type Rule struct {
	// ID is R<Modul>_<nnnn>, e.g. R13_0030.
	ID       string   `json:"id"`
	Severity Severity `json:"severity"`
	Module   string   `json:"module"`
	Merkmal  string   `json:"merkmal"`
	// ValidFrom is the first reporting month (Stichtag) the rule applies to.
	ValidFrom schemas.Month `json:"valid_from"`
	// Limit is the number the rule compares against (column grenze); the
	// zero Limit for a rule that compares against none.
	Limit Limit `json:"limit,omitzero"`
	// Text is the rule's German text.
	Text string `json:"text"`
}

// Limit is a rule's numeric bound as column grenze of the rule table
// writes it: an amount ("3000.00 EUR"), a number of hours ("40.0
// Stunden"), an age ("25 Jahre") or an age span ("15-67 Jahre"). What the
// rule does with it (above an amount, from an age on, outside a span) is
// the rule's code; the table says only how much.
type Limit struct {
	// Unit is "EUR" (Value in cents), "Stunden" (Value in tenths of an
	// hour) or "Jahre" (Value in years); "" for no limit.
	Unit string `json:"unit"`
	// Value is the bound; for an age span, its upper end.
	Value int64 `json:"value"`
	// From is the lower end of an age span ("15-67 Jahre": 15).
	From int64 `json:"from,omitempty"`
	// Span tells an age span from a single age.
	Span bool `json:"span,omitempty"`
}

// The units of column grenze.
const (
	unitEUR   = "EUR"
	unitHours = "Stunden"
	unitYears = "Jahre"
)

// String writes l the way the rule table does.
func (l Limit) String() string {
	switch {
	case l.Unit == "":
		return ""
	case l.Unit == unitEUR:
		return formatDecimal(l.Value, 2) + " " + l.Unit
	case l.Unit == unitHours:
		return formatDecimal(l.Value, 1) + " " + l.Unit
	case l.Span:
		return itoa(l.From) + "-" + itoa(l.Value) + " " + l.Unit
	default:
		return itoa(l.Value) + " " + l.Unit
	}
}

// formatDecimal writes v with its last places digits after a point.
func formatDecimal(v int64, places int) string {
	s := itoa(v)
	for len(s) <= places {
		s = "0" + s
	}
	return s[:len(s)-places] + "." + s[len(s)-places:]
}

// limitShape is what a rule's check needs of its limit.
type limitShape struct {
	unit string
	span bool
}

func (w limitShape) String() string {
	switch {
	case w.span:
		return "an age span in Jahre, e.g. 15-67 Jahre"
	case w.unit == unitEUR:
		return "an amount in EUR, e.g. 3000.00 EUR"
	case w.unit == unitHours:
		return "a number of Stunden, e.g. 40.0 Stunden"
	default:
		return "an age in Jahre, e.g. 25 Jahre"
	}
}

// parseLimit reads column grenze; "" is no limit.
func parseLimit(s string) (Limit, error) {
	if s == "" {
		return Limit{}, nil
	}
	num, unit, ok := strings.Cut(s, " ")
	if !ok {
		return Limit{}, errors.New("expected a number and a unit (EUR, Stunden or Jahre), e.g. 3000.00 EUR, 40.0 Stunden, 25 Jahre, 15-67 Jahre")
	}
	l := Limit{Unit: unit}
	switch unit {
	case unitEUR:
		c, ok := xsozial.ParseCents(num)
		if !ok {
			return Limit{}, fmt.Errorf("amount %q: expected euros with two decimals, e.g. 3000.00 EUR", num)
		}
		l.Value = c
	case unitHours:
		h, ok := xsozial.ParseTenths(num)
		if !ok {
			return Limit{}, fmt.Errorf("hours %q: expected a number with at most one decimal, e.g. 40.0 Stunden", num)
		}
		l.Value = h
	case unitYears:
		from, to, span := strings.Cut(num, "-")
		if !span {
			to = from
		}
		a, okA := years(from)
		b, okB := years(to)
		switch {
		case !okA || !okB:
			return Limit{}, fmt.Errorf("age %q: expected whole years up to 150, e.g. 25 Jahre or 15-67 Jahre", num)
		case span && a >= b:
			return Limit{}, fmt.Errorf("age span %q: the first age must be below the second", num)
		}
		l.Value, l.Span = b, span
		if span {
			l.From = a
		}
	default:
		return Limit{}, fmt.Errorf("unit %q: expected EUR, Stunden or Jahre", unit)
	}
	return l, nil
}

func years(s string) (int64, bool) {
	if s == "" || len(s) > 3 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int64(s[i]-'0')
	}
	return n, n <= 150
}

// checkLimit checks that the limit of rule id has the shape its code
// needs (ruleLimits): present, in the right unit, a span or not. A rule
// whose code compares against no number must leave grenze empty; a rule
// Meldeweg has no code for may carry any well-formed limit.
func checkLimit(id string, l Limit) error {
	want, ok := ruleLimits[id]
	switch {
	case !ok && l.Unit != "" && slices.Contains(Implemented, id):
		return fmt.Errorf("grenze %q: this rule compares against no number; leave the column empty", l)
	case !ok:
		return nil
	case l.Unit == "":
		return fmt.Errorf("grenze is empty; the rule needs %s", want)
	case l.Unit != want.unit || l.Span != want.span:
		return fmt.Errorf("grenze %q: the rule needs %s", l, want)
	}
	return nil
}

// RulesFile and CatalogFile are the names of the rule table and the
// Schlüsselkatalog inside a bundle.
const (
	RulesFile   = "regeln.csv"
	CatalogFile = "schluesselkatalog.xml"
)

var ruleID = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^R([0-9]{1,2})_([0-9]{4})$`) })

// ruleColumns are the columns of a rule table, in order.
const ruleColumns = "id;schwere;modul;merkmal;gueltig_ab;grenze;text"

// ParseRules reads a rule table: lines "id;schwere;modul;merkmal;gueltig_ab;grenze;text",
// "#" comments, an optional header line starting with "id". grenze is
// the rule's limit (see Limit), empty for a rule without one; a rule whose
// check compares against a number must have it, in the unit the check
// needs. Errors name the line and the rule.
func ParseRules(data []byte) ([]Rule, error) {
	r := csv.NewReader(bytes.NewReader(data))
	r.Comma = ';'
	r.Comment = '#'
	r.FieldsPerRecord = -1
	var out []Rule
	seen := map[string]bool{}
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		line, _ := r.FieldPos(0)
		if len(rec) != 7 {
			what := "rule " + rec[0]
			if rec[0] == "id" {
				what = "header"
			}
			return nil, fmt.Errorf("line %d: %s: %d columns, expected 7: %s", line, what, len(rec), ruleColumns)
		}
		if rec[0] == "id" {
			continue
		}
		m := ruleID().FindStringSubmatch(rec[0])
		if m == nil {
			return nil, fmt.Errorf("line %d: rule id %q: expected R<Modul>_<nnnn>, e.g. R13_0030", line, rec[0])
		}
		if m[1] != rec[2] {
			return nil, fmt.Errorf("line %d: rule %s: module %q does not match the id's module %s", line, rec[0], rec[2], m[1])
		}
		if !strings.HasPrefix(rec[3], rec[2]+".") {
			return nil, fmt.Errorf("line %d: rule %s: Merkmal %q is not of module %s", line, rec[0], rec[3], rec[2])
		}
		sev := Severity(rec[1])
		if sev != Fehler && sev != Hinweis {
			return nil, fmt.Errorf("line %d: rule %s: severity %q: expected Fehler or Hinweis", line, rec[0], rec[1])
		}
		from, err := schemas.ParseMonth(rec[4])
		if err != nil {
			return nil, fmt.Errorf("line %d: rule %s: gueltig_ab: %v", line, rec[0], err)
		}
		limit, err := parseLimit(rec[5])
		if err != nil {
			return nil, fmt.Errorf("line %d: rule %s: grenze %q: %v", line, rec[0], rec[5], err)
		}
		if err := checkLimit(rec[0], limit); err != nil {
			return nil, fmt.Errorf("line %d: rule %s: %v", line, rec[0], err)
		}
		if seen[rec[0]] {
			return nil, fmt.Errorf("line %d: rule %s appears twice", line, rec[0])
		}
		seen[rec[0]] = true
		if strings.TrimSpace(rec[6]) == "" {
			return nil, fmt.Errorf("line %d: rule %s has no text", line, rec[0])
		}
		out = append(out, Rule{ID: rec[0], Severity: sev, Module: rec[2], Merkmal: rec[3], ValidFrom: from, Limit: limit, Text: rec[6]})
	}
	return out, nil
}

// Catalog is a Schlüsselkatalog: list name → code → label.
type Catalog map[string]map[string]string

// Has reports whether code is in list.
func (c Catalog) Has(list, code string) bool {
	_, ok := c[list][code]
	return ok
}

// ParseCatalog reads a schluesselkatalog.xml.
func ParseCatalog(data []byte) (Catalog, error) {
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(data); err != nil {
		return nil, err
	}
	root := doc.SelectElement("schluesselkatalog")
	if root == nil {
		return nil, errors.New("no <schluesselkatalog> root element")
	}
	c := Catalog{}
	for _, l := range root.SelectElements("liste") {
		name := l.SelectAttrValue("name", "")
		if name == "" {
			return nil, errors.New("a <liste> without name")
		}
		codes := map[string]string{}
		for _, s := range l.SelectElements("schluessel") {
			code := s.SelectAttrValue("code", "")
			if code == "" {
				return nil, fmt.Errorf("liste %s: a <schluessel> without code", name)
			}
			codes[code] = strings.TrimSpace(s.Text())
		}
		c[name] = codes
	}
	return c, nil
}

// Spec is what a bundle contributes to a check: its rules and catalog.
type Spec struct {
	Bundle  *schemas.Bundle
	Rules   []Rule
	Catalog Catalog
}

var specCache sync.Map // *schemas.Bundle → *Spec

// LoadSpec reads the rule table and the Schlüsselkatalog of b (once per
// bundle). An official bundle without them gets an error naming the
// missing file.
func LoadSpec(b *schemas.Bundle) (*Spec, error) {
	if s, ok := specCache.Load(b); ok {
		return s.(*Spec), nil
	}
	rd, err := b.ReadFile(RulesFile)
	if err != nil {
		return nil, fmt.Errorf("bundle %s: rule table: %w", b.ID(), err)
	}
	rules, err := ParseRules(rd)
	if err != nil {
		return nil, fmt.Errorf("bundle %s: %s: %w", b.ID(), RulesFile, err)
	}
	cd, err := b.ReadFile(CatalogFile)
	if err != nil {
		return nil, fmt.Errorf("bundle %s: Schlüsselkatalog: %w", b.ID(), err)
	}
	cat, err := ParseCatalog(cd)
	if err != nil {
		return nil, fmt.Errorf("bundle %s: %s: %w", b.ID(), CatalogFile, err)
	}
	s := &Spec{Bundle: b, Rules: rules, Catalog: cat}
	specCache.Store(b, s)
	return s, nil
}
