package settings

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strconv"
	"strings"
)

// scanJSON walks the JSON document data against the Go type t before it
// is decoded, because encoding/json names neither the line nor the full
// path (map keys, list indexes) of an unknown field or a value of the
// wrong kind. It returns the line of every key by its path
// ("endpoints.xsozial.url", "certificates[0].path"), or the first
// problem as an *Error without Source. Keys match json tags exactly
// (encoding/json would also take "URL" for "url").
func scanJSON(data []byte, t reflect.Type) (map[string]int, error) {
	s := &scanner{dec: json.NewDecoder(bytes.NewReader(data)), data: data, lines: map[string]int{}}
	s.dec.UseNumber()
	if err := s.value(t, ""); err != nil {
		return nil, err
	}
	if _, err := s.dec.Token(); err != io.EOF {
		return nil, &Error{Line: s.line(s.dec.InputOffset()), Err: errors.New("unexpected data after the configuration object")}
	}
	return s.lines, nil
}

type scanner struct {
	dec   *json.Decoder
	data  []byte
	lines map[string]int
}

var (
	jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// line is the 1-based line of byte offset off.
func (s *scanner) line(off int64) int {
	if off > int64(len(s.data)) {
		off = int64(len(s.data))
	}
	return 1 + bytes.Count(s.data[:off], []byte{'\n'})
}

// token reads the next token, turning a syntax error into an *Error with
// its line.
func (s *scanner) token() (json.Token, error) {
	tok, err := s.dec.Token()
	if err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, &Error{Line: s.line(se.Offset), Err: fmt.Errorf("not valid JSON: %v", se)}
		}
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, &Error{Line: s.line(s.dec.InputOffset()), Err: fmt.Errorf("not valid JSON: %v", err)}
	}
	return tok, nil
}

func (s *scanner) value(t reflect.Type, path string) error {
	start := s.dec.InputOffset()
	tok, err := s.token()
	if err != nil {
		return err
	}
	line := s.line(s.dec.InputOffset())
	if tok == nil { // null: the zero value, as encoding/json does
		return nil
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	wrong := func(want string) error {
		return &Error{Line: line, Field: path, Err: fmt.Errorf("%s, want %s", describe(tok), want)}
	}
	if pt := reflect.PointerTo(t); pt.Implements(jsonUnmarshaler) || pt.Implements(textUnmarshaler) {
		if err := s.skip(tok); err != nil {
			return err
		}
		raw := bytes.TrimLeft(s.data[start:s.dec.InputOffset()], " \t\r\n:,")
		v := reflect.New(t).Interface()
		if u, ok := v.(json.Unmarshaler); ok {
			err = u.UnmarshalJSON(raw)
		} else {
			str, isStr := tok.(string)
			if !isStr {
				return wrong("a string")
			}
			err = v.(encoding.TextUnmarshaler).UnmarshalText([]byte(str))
		}
		if err != nil {
			return &Error{Line: line, Field: path, Err: err}
		}
		return nil
	}
	switch t.Kind() {
	case reflect.Struct:
		if tok != json.Delim('{') {
			return wrong("an object")
		}
		for s.dec.More() {
			key, err := s.key()
			if err != nil {
				return err
			}
			p, kl := join(path, key), s.line(s.dec.InputOffset())
			f, ok := fieldByTag(t, key)
			if !ok {
				return &Error{Line: kl, Field: p, Err: fmt.Errorf("%w (known here: %s)", ErrUnknownField, strings.Join(tags(t), ", "))}
			}
			s.lines[p] = kl
			if err := s.value(f.Type, p); err != nil {
				return err
			}
		}
		_, err = s.token()
		return err
	case reflect.Map:
		if tok != json.Delim('{') {
			return wrong("an object")
		}
		for s.dec.More() {
			key, err := s.key()
			if err != nil {
				return err
			}
			p := join(path, key)
			s.lines[p] = s.line(s.dec.InputOffset())
			if err := s.value(t.Elem(), p); err != nil {
				return err
			}
		}
		_, err = s.token()
		return err
	case reflect.Slice:
		if tok != json.Delim('[') {
			return wrong("a list")
		}
		for i := 0; s.dec.More(); i++ {
			p := fmt.Sprintf("%s[%d]", path, i)
			s.lines[p] = s.line(s.dec.InputOffset())
			if err := s.value(t.Elem(), p); err != nil {
				return err
			}
		}
		_, err = s.token()
		return err
	case reflect.String:
		if _, ok := tok.(string); !ok {
			return wrong("a string")
		}
	case reflect.Int, reflect.Int64, reflect.Int32:
		n, ok := tok.(json.Number)
		if !ok {
			return wrong("a whole number")
		}
		if _, err := strconv.ParseInt(string(n), 10, t.Bits()); err != nil {
			return wrong("a whole number")
		}
	case reflect.Bool:
		if _, ok := tok.(bool); !ok {
			return wrong("true or false")
		}
	default:
		return &Error{Line: line, Field: path, Err: fmt.Errorf("internal: no JSON rule for %s", t)}
	}
	return nil
}

func (s *scanner) key() (string, error) {
	tok, err := s.token()
	if err != nil {
		return "", err
	}
	return tok.(string), nil // the decoder allows only strings as keys
}

// skip consumes the rest of a value whose first token was tok.
func (s *scanner) skip(tok json.Token) error {
	if d, ok := tok.(json.Delim); !ok || (d != '{' && d != '[') {
		return nil
	}
	for depth := 1; depth > 0; {
		tok, err := s.token()
		if err != nil {
			return err
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
	}
	return nil
}

func describe(tok json.Token) string {
	switch v := tok.(type) {
	case json.Delim:
		if v == '{' {
			return "an object"
		}
		return "a list"
	case string:
		return "a string"
	case json.Number:
		return "the number " + string(v)
	case bool:
		return strconv.FormatBool(v)
	}
	return fmt.Sprint(tok)
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func tagName(f reflect.StructField) string {
	if !f.IsExported() {
		return ""
	}
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	if name == "-" {
		return ""
	}
	if name == "" {
		return f.Name
	}
	return name
}

func fieldByTag(t reflect.Type, key string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		if f := t.Field(i); tagName(f) == key {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

func tags(t reflect.Type) []string {
	var out []string
	for i := range t.NumField() {
		if n := tagName(t.Field(i)); n != "" {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}
