package check

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"sync"

	"github.com/beevik/etree"

	"meldeweg.dev/meldeweg/schemas"
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
	// Text is the rule's German text.
	Text string `json:"text"`
}

// RulesFile and CatalogFile are the names of the rule table and the
// Schlüsselkatalog inside a bundle.
const (
	RulesFile   = "regeln.csv"
	CatalogFile = "schluesselkatalog.xml"
)

var ruleID = regexp.MustCompile(`^R([0-9]{1,2})_([0-9]{4})$`)

// ParseRules reads a rule table: lines "id;schwere;modul;merkmal;gueltig_ab;text",
// "#" comments, an optional header line starting with "id". Errors name
// the line.
func ParseRules(data []byte) ([]Rule, error) {
	r := csv.NewReader(bytes.NewReader(data))
	r.Comma = ';'
	r.Comment = '#'
	r.FieldsPerRecord = 6
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
		if rec[0] == "id" {
			continue
		}
		m := ruleID.FindStringSubmatch(rec[0])
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
		if seen[rec[0]] {
			return nil, fmt.Errorf("line %d: rule %s appears twice", line, rec[0])
		}
		seen[rec[0]] = true
		if strings.TrimSpace(rec[5]) == "" {
			return nil, fmt.Errorf("line %d: rule %s has no text", line, rec[0])
		}
		out = append(out, Rule{ID: rec[0], Severity: sev, Module: rec[2], Merkmal: rec[3], ValidFrom: from, Text: rec[5]})
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
