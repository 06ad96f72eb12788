package msg

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/beevik/etree"

	"meldeweg.dev/meldeweg/schemas"
	"meldeweg.dev/meldeweg/schemas/xsd"
)

// Standard is the schema registry's name for eM@w.
const Standard = "emaw"

var (
	// ErrUnknownType is returned (wrapped) for a type not in the catalogue.
	ErrUnknownType = errors.New("unknown eM@w message type")
	// ErrNotMessage is returned (wrapped) for input that is not an eM@w
	// document: not XML, another root element or namespace.
	ErrNotMessage = errors.New("not an eM@w document")
	// ErrInvalid is matched by every *InvalidError.
	ErrInvalid = errors.New("invalid against the eM@w schema in force")
)

// InvalidError is a document the bundle in force rejects. It carries every
// problem the validator reported, with personal values removed.
type InvalidError struct {
	// Name is the document's name (file name, "<built Eintritt>").
	Name string
	// Bundle is the ID of the bundle in force, e.g. "emaw@2.18".
	Bundle string
	// Note explains a version mismatch, when there is one.
	Note     string
	Problems []xsd.Problem
}

func (e *InvalidError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s is not valid against %s", e.Name, e.Bundle)
	if e.Note != "" {
		fmt.Fprintf(&b, " (%s)", e.Note)
	}
	for i, p := range e.Problems {
		if i == 10 {
			fmt.Fprintf(&b, "\n  … and %d more", len(e.Problems)-10)
			break
		}
		b.WriteString("\n  ")
		b.WriteString(p.String())
	}
	return b.String()
}

// Is makes errors.Is(err, ErrInvalid) true.
func (e *InvalidError) Is(target error) bool { return target == ErrInvalid }

// personalElements are the elements whose values never appear in errors.
var personalElements = map[string]bool{
	"Kundennummer": true, "Cosachid": true, "Familienname": true, "Vorname": true, "Geburtsdatum": true,
}

var quoted = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`'[^']*'`) })

// redact removes quoted values from a problem about a personal element.
// libxml2 quotes the offending value ("The value 'X' has a length …").
func redact(p xsd.Problem) xsd.Problem {
	last := p.Path
	if i := strings.LastIndexByte(last, '/'); i >= 0 {
		last = last[i+1:]
	}
	if i := strings.IndexByte(last, ':'); i >= 0 {
		last = last[i+1:]
	}
	if personalElements[last] || containsPersonalElementName(p.Message) {
		p.Message = quoted().ReplaceAllStringFunc(p.Message, func(s string) string {
			inner := s[1 : len(s)-1]
			if personalElements[inner] || strings.HasPrefix(inner, "{") || strings.Contains(inner, ":") && !strings.ContainsAny(inner, " ") {
				return s // an element name, not a value
			}
			return "'[redacted]'"
		})
	}
	return p
}

func containsPersonalElementName(msg string) bool {
	for n := range personalElements {
		if strings.Contains(msg, "}"+n+"'") || strings.Contains(msg, "'"+n+"'") {
			return true
		}
	}
	return false
}

// Codec writes and reads messages, validating each against the schema
// bundle of standard "emaw" in force for the message's date. It is safe for
// concurrent use.
type Codec struct {
	reg *schemas.Registry
	// now gives today's date for documents whose own date cannot be read.
	now func() time.Time
}

// NewCodec returns a Codec over reg.
func NewCodec(reg *schemas.Registry) *Codec {
	return &Codec{reg: reg, now: time.Now}
}

// BundleFor returns the eM@w bundle in force on t: the one for t's month.
func (c *Codec) BundleFor(t time.Time) (*schemas.Bundle, error) {
	return c.reg.Select(Standard, schemas.MonthOf(t))
}

// Build returns the XML document for m written for the given schema
// version, without validating it. Use Codec.Marshal to get bytes that are
// known to be valid.
func Build(m Message, version string) (*etree.Document, error) {
	if _, ok := Lookup(m.Type()); !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownType, m.Type())
	}
	doc := etree.NewDocument()
	doc.CreateProcInst("xml", `version="1.0" encoding="UTF-8"`)
	root := doc.CreateElement("Nachricht")
	root.CreateAttr("xmlns", Namespace)
	root.CreateAttr("version", version)
	if err := encodeValue(root, "Kopf", reflect.ValueOf(m.Header()).Elem(), false); err != nil {
		return nil, fmt.Errorf("%s %s: %w", m.Type(), m.Header().NachrichtID, err)
	}
	body := root.CreateElement(string(m.Type()))
	if err := encodeFields(body, reflect.ValueOf(m).Elem()); err != nil {
		return nil, fmt.Errorf("%s %s: %w", m.Type(), m.Header().NachrichtID, err)
	}
	doc.Indent(2)
	return doc, nil
}

// Marshal builds m for the bundle in force on m's Erstellt date and
// validates the result. It returns the bytes only when they are valid;
// otherwise an *InvalidError naming every problem.
func (c *Codec) Marshal(ctx context.Context, m Message) ([]byte, *schemas.Bundle, error) {
	b, err := c.BundleFor(m.Header().Erstellt)
	if err != nil {
		return nil, nil, fmt.Errorf("%s %s created %s: %w", m.Type(), m.Header().NachrichtID, m.Header().Erstellt.Format(time.DateOnly), err)
	}
	doc, err := Build(m, b.Version)
	if err != nil {
		return nil, nil, err
	}
	data, err := doc.WriteToBytes()
	if err != nil {
		return nil, nil, err
	}
	name := fmt.Sprintf("%s %s", m.Type(), m.Header().NachrichtID)
	if err := validate(ctx, b, data, name, ""); err != nil {
		return nil, b, err
	}
	return data, b, nil
}

// validate checks data against b.
func validate(ctx context.Context, b *schemas.Bundle, data []byte, name, note string) error {
	s, err := b.Schema()
	if err != nil {
		return err
	}
	var problems []xsd.Problem
	res, err := s.Validate(ctx, bytes.NewReader(data), name, func(p xsd.Problem) {
		if !p.Warning {
			problems = append(problems, redact(p))
		}
	})
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if !res.Valid() {
		return &InvalidError{Name: name, Bundle: b.ID(), Note: note, Problems: problems}
	}
	return nil
}

// head is what Unmarshal reads before validation: just enough to choose
// the bundle.
type head struct {
	Root     string
	Version  string
	Erstellt time.Time
}

// peekLen bounds what peek reads: Erstellt comes within the first few
// hundred bytes of every eM@w document (in Kopf, or at the top of a
// Quittung).
const peekLen = 64 << 10

// peek reads the root element, its version attribute and the first
// Erstellt element (Kopf/Erstellt or Quittung/Erstellt), reading no
// further, and never more than peekLen bytes. Input that does not start
// like XML (see Sniff), text outside the root element and nesting deeper
// than MaxDepth are refused with ErrNotMessage. It never resolves entities
// or external references.
func peek(data []byte) (head, error) {
	var h head
	if err := Sniff(data[:min(len(data), SniffLen)]); err != nil {
		return h, err
	}
	d := xml.NewDecoder(bytes.NewReader(data[:min(len(data), peekLen)]))
	d.Strict = true
	depth := 0
	inErstellt := false
	var text strings.Builder
	for {
		line, col := d.InputPos() // where the next token starts
		tok, err := d.Token()
		if err != nil {
			if h.Root == "" {
				return h, fmt.Errorf("%w: %v", ErrNotMessage, err)
			}
			if len(data) > peekLen {
				return h, fmt.Errorf("no Erstellt date in the first %d KiB", peekLen>>10)
			}
			return h, fmt.Errorf("no readable Erstellt date: %v", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			if depth > MaxDepth {
				return h, fmt.Errorf("%w: more than %d levels (the limit) at line %d, column %d", ErrTooDeep, MaxDepth, line, col)
			}
			if depth == 1 {
				if t.Name.Space != Namespace || (t.Name.Local != "Nachricht" && t.Name.Local != "Quittung") {
					return h, fmt.Errorf("%w: root element {%s}%s; expected Nachricht or Quittung in namespace %s", ErrNotMessage, t.Name.Space, t.Name.Local, Namespace)
				}
				h.Root = t.Name.Local
				for _, a := range t.Attr {
					if a.Name.Space == "" && a.Name.Local == "version" {
						h.Version = a.Value
					}
				}
			}
			if t.Name.Local == "Erstellt" && depth <= 3 {
				inErstellt = true
			}
		case xml.CharData:
			if inErstellt {
				text.Write(t)
			}
			if depth == 0 && len(bytes.TrimSpace(t)) > 0 {
				return h, fmt.Errorf("%w: text outside the root element at line %d, column %d", ErrNotMessage, line, col)
			}
		case xml.EndElement:
			depth--
			if inErstellt {
				ts, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(text.String()))
				if err != nil {
					return h, fmt.Errorf("Erstellt %q: expected a date and time such as 2026-03-10T08:00:00+01:00", strings.TrimSpace(text.String()))
				}
				h.Erstellt = ts
				return h, nil
			}
		case xml.Directive:
			// A DOCTYPE: leave it to the validator, which refuses entity
			// declarations and external subsets with a clear problem.
		}
	}
}

// bundleFor chooses the bundle to validate data with: the one in force on
// its Erstellt date, or, when that cannot be read, the one in force today
// (whose validator then reports what is wrong with the document).
func (c *Codec) bundleFor(data []byte, name string) (*schemas.Bundle, head, string, error) {
	h, err := peek(data)
	if errors.Is(err, ErrNotMessage) {
		return nil, h, "", fmt.Errorf("%s: %w", name, err)
	}
	when := h.Erstellt
	note := ""
	if err != nil {
		when = c.now()
		note = err.Error() + "; judged by the bundle in force today"
	}
	b, berr := c.BundleFor(when)
	if berr != nil {
		return nil, h, "", fmt.Errorf("%s: %w", name, berr)
	}
	if err == nil && h.Version != b.Version {
		note = fmt.Sprintf("the document says version %q, but on %s %s is in force", h.Version, when.Format(time.DateOnly), b.ID())
	}
	return b, h, note, nil
}

// Unmarshal validates data against the bundle in force for its Erstellt
// date, then reads it. name is used in errors (a file name). It returns
// ErrNotMessage for non-eM@w input, *InvalidError for schema problems and
// *FieldError for a value the Go type cannot hold.
func (c *Codec) Unmarshal(ctx context.Context, data []byte, name string) (Message, *schemas.Bundle, error) {
	b, h, note, err := c.bundleFor(data, name)
	if err != nil {
		return nil, nil, err
	}
	if h.Root != "Nachricht" {
		return nil, b, fmt.Errorf("%s: %w: root element %s is an acknowledgement, not a message", name, ErrNotMessage, h.Root)
	}
	if err := validate(ctx, b, data, name, note); err != nil {
		return nil, b, err
	}
	m, err := decode(data)
	if err != nil {
		return nil, b, fmt.Errorf("%s: %w", name, err)
	}
	return m, b, nil
}

// ValidateDocument validates any eM@w document (message or Quittung)
// against the bundle in force for its date, without reading it further.
// It returns the document's root element name.
func (c *Codec) ValidateDocument(ctx context.Context, data []byte, name string) (string, *schemas.Bundle, error) {
	b, h, note, err := c.bundleFor(data, name)
	if err != nil {
		return "", nil, err
	}
	return h.Root, b, validate(ctx, b, data, name, note)
}

// decode reads a message document. It does not validate: callers outside
// this package go through Codec.Unmarshal.
func decode(data []byte) (Message, error) {
	doc := etree.NewDocument()
	doc.ReadSettings.Permissive = false
	if err := doc.ReadFromBytes(data); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotMessage, err)
	}
	root := doc.Root()
	if root == nil || root.Tag != "Nachricht" || root.NamespaceURI() != Namespace {
		return nil, fmt.Errorf("%w: expected root element Nachricht in namespace %s", ErrNotMessage, Namespace)
	}
	kids := root.ChildElements()
	if len(kids) != 2 || kids[0].Tag != "Kopf" || kids[1].NamespaceURI() != Namespace {
		return nil, fmt.Errorf("%w: expected Kopf and one message element under Nachricht", ErrNotMessage)
	}
	m, err := New(Type(kids[1].Tag))
	if err != nil {
		return nil, &FieldError{Path: "/Nachricht/" + kids[1].Tag, Err: err}
	}
	if err := decodeValue(kids[0], reflect.ValueOf(m.Header()).Elem(), "/Nachricht/Kopf"); err != nil {
		return nil, err
	}
	if err := decodeFields(kids[1], reflect.ValueOf(m).Elem(), "/Nachricht/"+kids[1].Tag); err != nil {
		return nil, err
	}
	return m, nil
}
