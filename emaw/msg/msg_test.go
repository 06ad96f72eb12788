package msg

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"meldeweg.dev/meldeweg/emaw"
	"meldeweg.dev/meldeweg/schemas"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/emaw")

// goldenDir is testdata/emaw at the repository root.
var goldenDir = filepath.Join("..", "..", "testdata", "emaw")

var (
	regOnce sync.Once
	reg     *schemas.Registry
	regErr  error
)

func testCodec(t testing.TB) *Codec {
	t.Helper()
	regOnce.Do(func() { reg, regErr = schemas.Load(schemas.Options{}) })
	if regErr != nil {
		t.Fatalf("loading schemas: %v", regErr)
	}
	return NewCodec(reg)
}

// golden compares got with the file at path, or rewrites it with -update.
func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (run go test -update after checking the change)\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

// exampleCase is one golden case: a message type in one direction.
type exampleCase struct {
	name string // file stem
	dir  string // "in" (BA to provider) or "out"
	m    Message
}

func exampleCases() []exampleCase {
	var out []exampleCase
	for _, info := range Catalogue() {
		for _, r := range info.Directions {
			m := Example(info.Type)
			m.Header().Richtung = r
			if r == BAanTraeger && len(info.Directions) > 1 {
				k := m.Header()
				k.NachrichtID += "-BA"
				k.Absender, k.Empfaenger = "BA-D123", "T4711"
			}
			dir := "out"
			if r == BAanTraeger {
				dir = "in"
			}
			out = append(out, exampleCase{name: string(info.Type), dir: dir, m: m})
		}
	}
	return out
}

func TestGoldenEveryType(t *testing.T) {
	c := testCodec(t)
	ctx := context.Background()
	seen := map[Type]bool{}
	for _, tc := range exampleCases() {
		seen[tc.m.Type()] = true
		t.Run(tc.dir+"/"+tc.name, func(t *testing.T) {
			data, b, err := c.Marshal(ctx, tc.m)
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			if b.ID() != "emaw@2.18" {
				t.Errorf("bundle = %s, want emaw@2.18 for a message created in March 2026", b.ID())
			}
			xmlPath := filepath.Join(goldenDir, "messages", tc.dir, tc.name+".xml")
			golden(t, xmlPath, data)

			// The input form "emaw new" reads.
			in, err := json.MarshalIndent(tc.m, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			golden(t, filepath.Join(goldenDir, "events", tc.dir, tc.name+".json"), append(in, '\n'))

			// Reading the golden file gives the same message back.
			got, b2, err := c.Unmarshal(ctx, data, xmlPath)
			if err != nil {
				t.Fatalf("Unmarshal: %v", err)
			}
			if b2 != b {
				t.Errorf("Unmarshal chose %s, Marshal %s", b2.ID(), b.ID())
			}
			if !sameMessage(got, tc.m) {
				t.Errorf("round trip changed the message:\ngot  %#v\nwant %#v", got, tc.m)
			}

			var text, js bytes.Buffer
			if err := Print(&text, got, PrintOptions{Version: b.Version}); err != nil {
				t.Fatal(err)
			}
			if err := PrintJSON(&js, got, PrintOptions{Version: b.Version}); err != nil {
				t.Fatal(err)
			}
			golden(t, filepath.Join(goldenDir, "show", tc.dir, tc.name+".txt"), text.Bytes())
			golden(t, filepath.Join(goldenDir, "show", tc.dir, tc.name+".json"), js.Bytes())
			for _, secret := range []string{"123A456789", "C0000001", "Mustermann", "Erika", "2004-05-17"} {
				if bytes.Contains(text.Bytes(), []byte(secret)) || bytes.Contains(js.Bytes(), []byte(secret)) {
					t.Errorf("show output contains personal value %q", secret)
				}
			}
		})
	}
	for _, info := range Catalogue() {
		if !seen[info.Type] {
			t.Errorf("no golden case for %s", info.Type)
		}
	}
}

// sameMessage compares messages, with Erstellt compared as an instant.
func sameMessage(a, b Message) bool {
	if a.Type() != b.Type() || !a.Header().Erstellt.Equal(b.Header().Erstellt) {
		return false
	}
	ka, kb := *a.Header(), *b.Header()
	ka.Erstellt, kb.Erstellt = time.Time{}, time.Time{}
	if ka != kb {
		return false
	}
	ca := reflect.New(reflect.TypeOf(a).Elem())
	ca.Elem().Set(reflect.ValueOf(a).Elem())
	cb := reflect.New(reflect.TypeOf(b).Elem())
	cb.Elem().Set(reflect.ValueOf(b).Elem())
	*ca.Interface().(Message).Header() = Kopf{}
	*cb.Interface().(Message).Header() = Kopf{}
	return reflect.DeepEqual(ca.Interface(), cb.Interface())
}

// TestGoldenAgainstXmllint has xmllint, an independent validator, judge
// every golden message against the bundle's XSD.
func TestGoldenAgainstXmllint(t *testing.T) {
	xmllint, err := exec.LookPath("xmllint")
	if err != nil {
		t.Skip("xmllint not installed (apt-get install libxml2-utils)")
	}
	files, _ := filepath.Glob(filepath.Join(goldenDir, "messages", "*", "*.xml"))
	if len(files) < len(Catalogue()) {
		t.Fatalf("found %d golden messages, want at least %d", len(files), len(Catalogue()))
	}
	xsd := filepath.Join("..", "..", "schemas", "bundles", "emaw-2.18", "emaw.xsd")
	out, err := exec.Command(xmllint, append([]string{"--noout", "--schema", xsd}, files...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("xmllint rejects golden messages: %v\n%s", err, out)
	}
}

func TestVersionInForce(t *testing.T) {
	c := testCodec(t)
	ctx := context.Background()
	june2024 := time.Date(2024, time.June, 3, 9, 0, 0, 0, time.UTC)

	// emaw@2.15 is in force in June 2024 and has no WochenFehlzeit.
	w := Example(TypeWochenFehlzeit)
	w.Header().Erstellt = june2024
	_, b, err := c.Marshal(ctx, w)
	var inv *InvalidError
	if !errors.As(err, &inv) {
		t.Fatalf("WochenFehlzeit in 2024: err = %v, want *InvalidError", err)
	}
	if b.ID() != "emaw@2.15" || inv.Bundle != "emaw@2.15" {
		t.Errorf("bundle = %s / %s, want emaw@2.15", b.ID(), inv.Bundle)
	}
	if !strings.Contains(inv.Error(), "WochenFehlzeit") {
		t.Errorf("error does not name the element: %v", inv)
	}

	// The same type is fine under 2.18, and Eintritt is fine under both.
	w.Header().Erstellt = time.Date(2025, time.January, 1, 0, 0, 0, 0, time.UTC)
	if _, b, err := c.Marshal(ctx, w); err != nil || b.Version != "2.18" {
		t.Errorf("WochenFehlzeit in 2025-01: bundle %v, err %v; want 2.18, nil", b, err)
	}
	e := Example(TypeEintritt)
	e.Header().Erstellt = june2024
	data, b, err := c.Marshal(ctx, e)
	if err != nil || b.Version != "2.15" {
		t.Fatalf("Eintritt in 2024: bundle %v, err %v; want 2.15, nil", b, err)
	}
	if !bytes.Contains(data, []byte(`version="2.15"`)) {
		t.Errorf("Eintritt in 2024 not written as version 2.15:\n%s", data)
	}

	// A document written for 2.18 but dated when 2.15 was in force is
	// judged by 2.15, and the error says why.
	doc, err := Build(e, "2.18")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := doc.WriteToBytes()
	_, _, err = c.Unmarshal(ctx, raw, "eintritt.xml")
	if !errors.As(err, &inv) || inv.Bundle != "emaw@2.15" || !strings.Contains(inv.Note, `says version "2.18"`) {
		t.Errorf("2.18 document dated 2024: err = %v, want invalid against emaw@2.15 with a version note", err)
	}
}

func TestUnmarshalRefuses(t *testing.T) {
	c := testCodec(t)
	ctx := context.Background()
	good, _, err := c.Marshal(ctx, Example(TypeEintritt))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		data    string
		wantIs  error
		wantMsg []string
		notMsg  []string
	}{
		{name: "not xml", data: "PK\x03\x04 this is a zip", wantIs: ErrNotMessage},
		{name: "empty", data: "", wantIs: ErrNotMessage},
		{name: "other root", data: `<Nachricht xmlns="urn:other"/>`, wantIs: ErrNotMessage, wantMsg: []string{"urn:other"}},
		{name: "acknowledgement", data: `<Quittung xmlns="urn:meldeweg:model:emaw" version="2.18"><QuittungID>Q</QuittungID><Erstellt>2026-03-10T08:00:00Z</Erstellt></Quittung>`, wantIs: ErrNotMessage},
		{
			name:    "missing date falls back to today's bundle",
			data:    strings.Replace(string(good), "<Erstellt>2026-03-10T08:00:00+01:00</Erstellt>", "<Erstellt>gestern</Erstellt>", 1),
			wantIs:  ErrInvalid,
			wantMsg: []string{"Erstellt", "gestern"},
		},
		{
			name:    "wrong date field",
			data:    strings.Replace(string(good), "<Eintrittsdatum>2026-03-02</Eintrittsdatum>", "<Eintrittsdatum>02.03.2026</Eintrittsdatum>", 1),
			wantIs:  ErrInvalid,
			wantMsg: []string{"Eintrittsdatum", "02.03.2026", "in.xml:21:"},
		},
		{
			name:    "personal value is not repeated",
			data:    strings.Replace(string(good), "<Kundennummer>123A456789</Kundennummer>", "<Kundennummer>123A456789123A456789XYZ</Kundennummer>", 1),
			wantIs:  ErrInvalid,
			wantMsg: []string{"Kundennummer", "[redacted]"},
			notMsg:  []string{"123A456789"},
		},
		{
			name: "birth date is not repeated",
			data: func() string {
				b, _, err := c.Marshal(ctx, Example(TypeAnmeldungBAE))
				if err != nil {
					t.Fatal(err)
				}
				return strings.Replace(string(b), "<Geburtsdatum>2004-05-17</Geburtsdatum>", "<Geburtsdatum>17.05.2004</Geburtsdatum>", 1)
			}(),
			wantIs:  ErrInvalid,
			wantMsg: []string{"Geburtsdatum", "[redacted]", "xs:date"},
			notMsg:  []string{"17.05.2004", "Mustermann"},
		},
		{
			name:   "external entity refused",
			data:   strings.Replace(string(good), `<?xml version="1.0" encoding="UTF-8"?>`, `<?xml version="1.0"?><!DOCTYPE Nachricht [<!ENTITY x SYSTEM "file:///etc/passwd">]>`, 1),
			wantIs: ErrInvalid,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, _, err := c.Unmarshal(ctx, []byte(tt.data), "in.xml")
			if m != nil || !errors.Is(err, tt.wantIs) {
				t.Fatalf("got %v, %v; want nil, %v", m, err, tt.wantIs)
			}
			for _, s := range tt.wantMsg {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not contain %q", err, s)
				}
			}
			for _, s := range tt.notMsg {
				if strings.Contains(err.Error(), s) {
					t.Errorf("error %q contains %q", err, s)
				}
			}
		})
	}
}

func TestNewUnknownType(t *testing.T) {
	if _, err := New("Anmeldung"); !errors.Is(err, ErrUnknownType) {
		t.Errorf("New(Anmeldung) err = %v, want ErrUnknownType", err)
	}
	if got := len(Catalogue()); got != 28 {
		t.Errorf("catalogue has %d types, want 28", got)
	}
}

func TestExamplesObeyCodeLists(t *testing.T) {
	m := Example(TypeAnwesenheitMonat).(*AnwesenheitMonat)
	for _, d := range m.Tag {
		if _, ok := emaw.LookupTagesart(d.Art); !ok {
			t.Errorf("example Tag %s has unknown Art %q", d.Datum, d.Art)
		}
	}
}
