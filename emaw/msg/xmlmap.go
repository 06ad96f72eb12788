package msg

import (
	"encoding"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"github.com/beevik/etree"
)

// The mapping between message structs and XML is written once, over
// reflection, instead of per type: a struct field is an element of the
// same name (or the name in an `emaw:"Name"` tag), in field order, which
// is the schema's sequence order. Values that implement
// encoding.TextMarshaler (dates, months, weeks, amounts, time.Time) are
// text; other structs are nested elements; slices repeat the element;
// pointers and `emaw:",omitempty"` fields are optional. Embedded structs
// are inlined, except Kopf, which the caller writes itself.

var (
	kopfType            = reflect.TypeOf(Kopf{})
	textMarshalerType   = reflect.TypeOf((*encoding.TextMarshaler)(nil)).Elem()
	textUnmarshalerType = reflect.TypeOf((*encoding.TextUnmarshaler)(nil)).Elem()
)

type fieldInfo struct {
	name      string
	index     []int
	omitempty bool
}

// fieldsOf lists the XML fields of struct type t in order, with embedded
// structs other than Kopf inlined.
func fieldsOf(t reflect.Type) []fieldInfo {
	var out []fieldInfo
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(f.Tag.Get("emaw"), ",")
		if name == "-" {
			continue
		}
		if f.Anonymous {
			if f.Type == kopfType {
				continue
			}
			for _, sub := range fieldsOf(f.Type) {
				sub.index = append([]int{i}, sub.index...)
				out = append(out, sub)
			}
			continue
		}
		if name == "" {
			name = f.Name
		}
		out = append(out, fieldInfo{name: name, index: []int{i}, omitempty: opts == "omitempty"})
	}
	return out
}

// encodeFields writes the fields of struct v as children of parent.
func encodeFields(parent *etree.Element, v reflect.Value) error {
	for _, f := range fieldsOf(v.Type()) {
		if err := encodeValue(parent, f.name, v.FieldByIndex(f.index), f.omitempty); err != nil {
			return err
		}
	}
	return nil
}

func encodeValue(parent *etree.Element, name string, v reflect.Value, omitempty bool) error {
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return nil
		}
		v = v.Elem()
	}
	if v.Kind() == reflect.Slice {
		for i := 0; i < v.Len(); i++ {
			if err := encodeValue(parent, name, v.Index(i), false); err != nil {
				return err
			}
		}
		return nil
	}
	if omitempty && v.IsZero() {
		return nil
	}
	if v.Type().Implements(textMarshalerType) {
		b, err := v.Interface().(encoding.TextMarshaler).MarshalText()
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		parent.CreateElement(name).SetText(string(b))
		return nil
	}
	switch v.Kind() {
	case reflect.String:
		parent.CreateElement(name).SetText(v.String())
	case reflect.Int, reflect.Int64, reflect.Int32:
		parent.CreateElement(name).SetText(strconv.FormatInt(v.Int(), 10))
	case reflect.Float64:
		parent.CreateElement(name).SetText(strconv.FormatFloat(v.Float(), 'f', -1, 64))
	case reflect.Bool:
		parent.CreateElement(name).SetText(strconv.FormatBool(v.Bool()))
	case reflect.Struct:
		return encodeFields(parent.CreateElement(name), v)
	default:
		return fmt.Errorf("%s: cannot write a %s", name, v.Type())
	}
	return nil
}

// FieldError is a value in a message that cannot be read into its Go
// type. Path is the element path, with a 1-based index for repeated
// elements, e.g. /Nachricht/AnwesenheitMonat/Tag[3]/Datum.
type FieldError struct {
	Path string
	Err  error
}

func (e *FieldError) Error() string { return fmt.Sprintf("%s: %v", e.Path, e.Err) }

func (e *FieldError) Unwrap() error { return e.Err }

// decodeFields reads the child elements of el into struct v. Every child
// must map to a field; a non-slice field may appear once.
func decodeFields(el *etree.Element, v reflect.Value, path string) error {
	fields := fieldsOf(v.Type())
	byName := make(map[string]fieldInfo, len(fields))
	for _, f := range fields {
		byName[f.name] = f
	}
	seen := map[string]int{}
	for _, c := range el.ChildElements() {
		p := path + "/" + c.Tag
		f, ok := byName[c.Tag]
		if !ok || c.NamespaceURI() != Namespace {
			return &FieldError{Path: p, Err: fmt.Errorf("unexpected element")}
		}
		fv := v.FieldByIndex(f.index)
		seen[c.Tag]++
		if fv.Kind() == reflect.Slice {
			p = fmt.Sprintf("%s[%d]", p, seen[c.Tag])
		} else if seen[c.Tag] > 1 {
			return &FieldError{Path: p, Err: fmt.Errorf("element appears more than once")}
		}
		if err := decodeValue(c, fv, p); err != nil {
			return err
		}
	}
	return nil
}

func decodeValue(el *etree.Element, v reflect.Value, path string) error {
	switch v.Kind() {
	case reflect.Pointer:
		nv := reflect.New(v.Type().Elem())
		if err := decodeValue(el, nv.Elem(), path); err != nil {
			return err
		}
		v.Set(nv)
		return nil
	case reflect.Slice:
		nv := reflect.New(v.Type().Elem()).Elem()
		if err := decodeValue(el, nv, path); err != nil {
			return err
		}
		v.Set(reflect.Append(v, nv))
		return nil
	}
	text := strings.TrimSpace(el.Text())
	fail := func(err error) error { return &FieldError{Path: path, Err: err} }
	if reflect.PointerTo(v.Type()).Implements(textUnmarshalerType) {
		if err := v.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(text)); err != nil {
			return fail(err)
		}
		return nil
	}
	switch v.Kind() {
	case reflect.String:
		// Strings keep their text exactly (no trimming): nothing accepted
		// is silently changed.
		v.SetString(el.Text())
	case reflect.Int, reflect.Int64, reflect.Int32:
		n, err := strconv.ParseInt(text, 10, 64)
		if err != nil || v.OverflowInt(n) {
			return fail(fmt.Errorf("%q: expected a whole number", text))
		}
		v.SetInt(n)
	case reflect.Float64:
		f, err := strconv.ParseFloat(text, 64)
		if err != nil {
			return fail(fmt.Errorf("%q: expected a decimal number", text))
		}
		v.SetFloat(f)
	case reflect.Bool:
		b, err := strconv.ParseBool(text)
		if err != nil {
			return fail(fmt.Errorf("%q: expected true or false", text))
		}
		v.SetBool(b)
	case reflect.Struct:
		return decodeFields(el, v, path)
	default:
		return fail(fmt.Errorf("cannot read into a %s", v.Type()))
	}
	return nil
}
