package msg

import (
	"encoding"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"time"

	"meldeweg.dev/meldeweg/emaw"
)

// Redacted replaces personal values in Print and PrintJSON output.
const Redacted = "[redacted]"

// PrintOptions control Print and PrintJSON.
type PrintOptions struct {
	// Version is the schema version the message was read or written with,
	// shown in the title line.
	Version string
	// Personal shows names, birth dates, Kundennummer and cosachid.
	// Defaults to false: they print as "[redacted]".
	Personal bool
}

// Print writes m readably: a title line, then one "Field: value" line per
// field, nested fields indented, codes followed by their meaning.
func Print(w io.Writer, m Message, o PrintOptions) error {
	k := m.Header()
	dir := "provider → BA"
	if k.Richtung == BAanTraeger {
		dir = "BA → provider"
	}
	title := fmt.Sprintf("eM@w %s (%s)", m.Type(), dir)
	if o.Version != "" {
		title += ", version " + o.Version
	}
	var b strings.Builder
	b.WriteString(title + "\n")
	p := printer{w: &b, personal: o.Personal}
	p.value("Kopf", reflect.ValueOf(k).Elem(), 1)
	for _, f := range fieldsOf(reflect.TypeOf(m).Elem()) {
		p.value(f.name, reflect.ValueOf(m).Elem().FieldByIndex(f.index), 1)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

type printer struct {
	w        *strings.Builder
	personal bool
	// within is the name of the enclosing element (Tag, Austritt…), to
	// explain codes.
}

func (p *printer) value(name string, v reflect.Value, depth int) {
	ind := strings.Repeat("  ", depth)
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return
		}
		v = v.Elem()
	}
	if v.Kind() == reflect.Slice {
		for i := 0; i < v.Len(); i++ {
			p.value(fmt.Sprintf("%s[%d]", name, i+1), v.Index(i), depth)
		}
		return
	}
	if v.Kind() == reflect.Struct && !v.Type().Implements(textMarshalerType) {
		if v.Type() == reflect.TypeOf(Tag{}) {
			// One line per day keeps a month readable.
			t := v.Interface().(Tag)
			fmt.Fprintf(p.w, "%s%s: %s %s %s%s\n", ind, name, t.Datum, t.Datum.Weekday().String()[:3], t.Art, explainTagesart(t.Art))
			if t.Anteil != nil {
				fmt.Fprintf(p.w, "%s  Anteil: %s\n", ind, strconv.FormatFloat(*t.Anteil, 'f', -1, 64))
			}
			return
		}
		fmt.Fprintf(p.w, "%s%s:\n", ind, name)
		for _, f := range fieldsOf(v.Type()) {
			p.value(f.name, v.FieldByIndex(f.index), depth+1)
		}
		return
	}
	if v.IsZero() && v.Kind() == reflect.String {
		return
	}
	if v.Type() == reflect.TypeOf(emaw.Date{}) && v.IsZero() {
		return
	}
	text := scalar(v)
	if personalElements[name] && !p.personal {
		text = Redacted
	}
	switch name {
	case "Grund", "Verbleib":
		if s, ok := explainAustritt(name, text); ok {
			text += s
		}
	}
	fmt.Fprintf(p.w, "%s%s: %s\n", ind, name, text)
}

func scalar(v reflect.Value) string {
	if t, ok := v.Interface().(time.Time); ok {
		return t.Format(time.RFC3339)
	}
	if m, ok := v.Interface().(encoding.TextMarshaler); ok {
		b, err := m.MarshalText()
		if err != nil {
			return fmt.Sprintf("(%v)", err)
		}
		return string(b)
	}
	switch v.Kind() {
	case reflect.Float64:
		return strconv.FormatFloat(v.Float(), 'f', -1, 64)
	}
	return fmt.Sprint(v.Interface())
}

func explainTagesart(code string) string {
	if t, ok := emaw.LookupTagesart(code); ok {
		return fmt.Sprintf(" (%s, %s)", t.Name, t.Kind)
	}
	return " (unknown Tagesart)"
}

// explainAustritt names Austritt codes; other Grund fields are free text.
func explainAustritt(field, code string) (string, bool) {
	if len(code) != 2 {
		return "", false
	}
	list := emaw.Austrittsgruende()
	if field == "Verbleib" {
		list = emaw.Verbleibe()
	}
	if s, ok := emaw.LookupSchluessel(list, code); ok {
		return " (" + s.Name + ")", true
	}
	return " (unknown code)", true
}

// jsonView is the JSON form of a message for "emaw show --format json".
type jsonView struct {
	Type      Type     `json:"type"`
	Version   string   `json:"version,omitempty"`
	Richtung  Richtung `json:"richtung"`
	Redacted  bool     `json:"redacted"`
	Nachricht any      `json:"nachricht"`
}

// PrintJSON writes m as indented JSON: type, version, direction and the
// message in the same shape "emaw new" reads, personal values redacted
// unless o.Personal.
func PrintJSON(w io.Writer, m Message, o PrintOptions) error {
	raw, err := json.Marshal(m)
	if err != nil {
		return err
	}
	var tree any
	if err := json.Unmarshal(raw, &tree); err != nil {
		return err
	}
	if !o.Personal {
		tree = redactJSON(tree)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(jsonView{Type: m.Type(), Version: o.Version, Richtung: m.Header().Richtung, Redacted: !o.Personal, Nachricht: tree})
}

func redactJSON(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			if personalElements[k] {
				t[k] = Redacted
			} else {
				t[k] = redactJSON(x)
			}
		}
	case []any:
		for i, x := range t {
			t[i] = redactJSON(x)
		}
	}
	return v
}
