package xsd_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"meldeweg.dev/meldeweg/schemas/xsd"
)

// mapSource serves schema documents from memory, by URI.
type mapSource struct {
	entry string
	docs  map[string]string
}

func (m mapSource) EntryURI() string { return m.entry }

func (m mapSource) Resolve(uri string) ([]byte, error) {
	d, ok := m.docs[uri]
	if !ok {
		return nil, fmt.Errorf("%s is not in the test source", uri)
	}
	return []byte(d), nil
}

const mainXSD = `<?xml version="1.0"?>
<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema"
  xmlns:t="urn:test" xmlns:c="urn:codes" targetNamespace="urn:test" elementFormDefault="qualified">
  <xs:import namespace="urn:codes" schemaLocation="http://codes.example/codes.xsd"/>
  <xs:element name="root">
    <xs:complexType>
      <xs:sequence>
        <xs:element name="rec" maxOccurs="unbounded">
          <xs:complexType>
            <xs:sequence>
              <xs:element name="amount" type="t:Amount"/>
              <xs:element name="kind" type="c:Kind"/>
            </xs:sequence>
            <xs:attribute name="id" type="xs:int" use="required"/>
          </xs:complexType>
        </xs:element>
      </xs:sequence>
    </xs:complexType>
  </xs:element>
  <xs:simpleType name="Amount">
    <xs:restriction base="xs:decimal"><xs:fractionDigits value="2"/></xs:restriction>
  </xs:simpleType>
</xs:schema>`

const codesXSD = `<?xml version="1.0"?>
<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:codes">
  <xs:simpleType name="Kind">
    <xs:restriction base="xs:string"><xs:enumeration value="A"/><xs:enumeration value="B"/></xs:restriction>
  </xs:simpleType>
</xs:schema>`

func testSchema(t testing.TB) *xsd.Schema {
	t.Helper()
	s, err := xsd.Compile(mapSource{entry: "/test/main.xsd", docs: map[string]string{
		"/test/main.xsd":                 mainXSD,
		"http://codes.example/codes.xsd": codesXSD,
	}})
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return s
}

func validate(t testing.TB, s *xsd.Schema, doc string) (xsd.Result, []xsd.Problem, error) {
	t.Helper()
	var got []xsd.Problem
	res, err := s.Validate(context.Background(), strings.NewReader(doc), "doc.xml", func(p xsd.Problem) { got = append(got, p) })
	return res, got, err
}

func TestValidateValid(t *testing.T) {
	s := testSchema(t)
	res, probs, err := validate(t, s, `<root xmlns="urn:test"><rec id="1"><amount>1.50</amount><kind>A</kind></rec></root>`)
	if err != nil || !res.Valid() || len(probs) != 0 {
		t.Fatalf("got res=%+v err=%v problems=%v, want valid", res, err, probs)
	}
	if res.Bytes == 0 {
		t.Errorf("Bytes = 0, want the document size")
	}
}

func TestValidateReportsEveryErrorWithPosition(t *testing.T) {
	s := testSchema(t)
	doc := `<root xmlns="urn:test">
  <rec id="x">
    <amount>1.5</amount>
    <kind>A</kind>
  </rec>
  <rec id="2">
    <amount>1.555</amount>
    <kind>Z</kind>
  </rec>
  <rec id="3">
    <amount>2</amount>
  </rec>
</root>`
	res, probs, err := validate(t, s, doc)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		line, col int
		path, msg string
	}{
		{2, 14, "/root/rec", "attribute 'id': 'x' is not a valid value of the atomic type 'xs:int'"},
		{7, 12, "/root/rec/amount", "[facet 'fractionDigits'] The value '1.555' has more fractional digits"},
		{8, 10, "/root/rec/kind", "[facet 'enumeration'] The value 'Z' is not an element of the set {'A', 'B'}"},
		{10, 14, "/root/rec", "Missing child element(s). Expected is ( {urn:test}kind )"},
	}
	if len(probs) != len(want) || res.Errors != len(want) || res.Valid() || !res.WellFormed {
		t.Fatalf("got %d problems (res %+v), want %d:\n%v", len(probs), res, len(want), probs)
	}
	for i, w := range want {
		p := probs[i]
		if p.Line != w.line || p.Column != w.col || p.Path != w.path || !strings.Contains(p.Message, w.msg) || p.Kind != xsd.Validity {
			t.Errorf("problem %d = %d:%d %s %q (%v), want %d:%d %s containing %q", i, p.Line, p.Column, p.Path, p.Message, p.Kind, w.line, w.col, w.path, w.msg)
		}
		if p.File != "doc.xml" {
			t.Errorf("problem %d File = %q, want doc.xml", i, p.File)
		}
	}
}

// lestrrat-go/libxml2 stops at 32 errors; every one must come through here.
func TestValidateReportsThousandsOfErrors(t *testing.T) {
	s := testSchema(t)
	var b strings.Builder
	b.WriteString(`<root xmlns="urn:test">` + "\n")
	for i := 0; i < 5000; i++ {
		fmt.Fprintf(&b, "<rec id=\"%d\"><amount>1.001</amount><kind>A</kind></rec>\n", i)
	}
	b.WriteString("</root>")
	res, probs, err := validate(t, s, b.String())
	if err != nil {
		t.Fatal(err)
	}
	if res.Errors != 5000 || len(probs) != 5000 {
		t.Fatalf("got %d errors (%d reported), want 5000", res.Errors, len(probs))
	}
	if last := probs[4999]; last.Line != 5001 {
		t.Errorf("last error on line %d, want 5001", last.Line)
	}
}

func TestNotWellFormedStopsWithPosition(t *testing.T) {
	s := testSchema(t)
	tests := []struct {
		name, doc  string
		line, col  int
		msgContain string
	}{
		{"mismatched tag", "<root xmlns=\"urn:test\">\n<rec id=\"1\"><amount>1</amount><kind>A</kind></rex>\n</root>", 2, 51, "Opening and ending tag mismatch"},
		{"truncated", "<root xmlns=\"urn:test\">\n<rec id=\"1\">\n<amount>1", 3, 10, "Premature end of data"},
		{"empty", "", 1, 1, "Document is empty"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, probs, err := validate(t, s, tc.doc)
			if err != nil {
				t.Fatal(err)
			}
			if res.WellFormed || res.Valid() {
				t.Fatalf("res = %+v, want not well-formed", res)
			}
			var first *xsd.Problem
			for i := range probs {
				if probs[i].Kind == xsd.WellFormedness {
					first = &probs[i]
					break
				}
			}
			if first == nil {
				t.Fatalf("no well-formedness problem in %v", probs)
			}
			if first.Line != tc.line || first.Column != tc.col || !strings.Contains(first.Message, tc.msgContain) {
				t.Errorf("got %d:%d %q, want %d:%d containing %q", first.Line, first.Column, first.Message, tc.line, tc.col, tc.msgContain)
			}
		})
	}
}

func TestConcurrentValidationsShareOneSchema(t *testing.T) {
	s := testSchema(t)
	docs := []struct {
		doc    string
		errors int
	}{
		{`<root xmlns="urn:test"><rec id="1"><amount>1</amount><kind>A</kind></rec></root>`, 0},
		{`<root xmlns="urn:test"><rec id="1"><amount>1.123</amount><kind>C</kind></rec></root>`, 2},
		{`<root xmlns="urn:test"><rec id="q"><amount>1</amount></rec></root>`, 2},
	}
	var wg sync.WaitGroup
	var bad atomic.Int32
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				d := docs[(g+i)%len(docs)]
				res, err := s.Validate(context.Background(), strings.NewReader(d.doc), "d", nil)
				if err != nil || res.Errors != d.errors {
					bad.Add(1)
				}
			}
		}(g)
	}
	wg.Wait()
	if n := bad.Load(); n != 0 {
		t.Fatalf("%d of 3200 concurrent validations gave a wrong result", n)
	}
}

// countingServer is a loopback HTTP server that counts every request. The
// validator must never reach it.
func countingServer(t *testing.T) (*httptest.Server, *atomic.Int32) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.Write([]byte(`<!ENTITY x "from the network">`))
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func TestSchemaImportsNeverFetchedFromNetwork(t *testing.T) {
	srv, hits := countingServer(t)
	url := srv.URL + "/codes.xsd"
	_, err := xsd.Compile(mapSource{entry: "/t/main.xsd", docs: map[string]string{
		"/t/main.xsd": strings.Replace(mainXSD, "http://codes.example/codes.xsd", url, 1),
	}})
	var ce *xsd.CompileError
	if !errors.As(err, &ce) {
		t.Fatalf("Compile error = %v, want *CompileError", err)
	}
	if !strings.Contains(err.Error(), url) {
		t.Errorf("error does not name the unresolvable URL %s:\n%v", url, err)
	}
	if hits.Load() != 0 {
		t.Fatalf("the loopback server got %d requests; the validator must never fetch", hits.Load())
	}
}

func TestDocumentsCannotReachOut(t *testing.T) {
	srv, hits := countingServer(t)
	secret := filepath.Join(t.TempDir(), "secret.txt")
	if err := os.WriteFile(secret, []byte("TOPSECRET"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := testSchema(t)
	tests := []struct {
		name string
		doc  string
		kind xsd.Kind
		msg  string
	}{
		{"external entity (XXE)",
			`<?xml version="1.0"?><!DOCTYPE root [<!ENTITY x SYSTEM "file://` + secret + `">]>` +
				`<root xmlns="urn:test"><rec id="1"><amount>1</amount><kind>&x;</kind></rec></root>`,
			xsd.Security, `DTD entity declaration "x" refused`},
		{"external DTD over http",
			`<?xml version="1.0"?><!DOCTYPE root SYSTEM "` + srv.URL + `/x.dtd">` +
				`<root xmlns="urn:test"><rec id="1"><amount>1</amount><kind>A</kind></rec></root>`,
			xsd.Security, "external DTD subset"},
		{"parameter entity over http",
			`<?xml version="1.0"?><!DOCTYPE root [<!ENTITY % p SYSTEM "` + srv.URL + `/p.ent"> %p;]>` +
				`<root xmlns="urn:test"/>`,
			xsd.Security, `DTD entity declaration "p" refused`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, probs, err := validate(t, s, tc.doc)
			if err != nil {
				t.Fatal(err)
			}
			if res.Valid() || res.WellFormed {
				t.Fatalf("res = %+v, want refused", res)
			}
			found := false
			for _, p := range probs {
				if strings.Contains(p.Message, "TOPSECRET") {
					t.Fatalf("the secret file's content leaked into a message: %q", p.Message)
				}
				if p.Kind == tc.kind && strings.Contains(p.Message, tc.msg) {
					found = true
				}
			}
			if !found {
				t.Errorf("no %v problem containing %q in %v", tc.kind, tc.msg, probs)
			}
		})
	}
	t.Run("xsi:schemaLocation is ignored", func(t *testing.T) {
		res, _, err := validate(t, s, `<root xmlns="urn:test" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="urn:test `+srv.URL+`/other.xsd"><rec id="1"><amount>1</amount><kind>A</kind></rec></root>`)
		if err != nil || !res.Valid() {
			t.Fatalf("res=%+v err=%v, want valid against the compiled schema only", res, err)
		}
	})
	if hits.Load() != 0 {
		t.Fatalf("the loopback server got %d requests; documents must never make the validator fetch", hits.Load())
	}
}

func TestBillionLaughsFailsFast(t *testing.T) {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0"?><!DOCTYPE root [<!ENTITY lol0 "lol">`)
	for i := 1; i <= 12; i++ {
		fmt.Fprintf(&b, `<!ENTITY lol%d "%s">`, i, strings.Repeat(fmt.Sprintf("&lol%d;", i-1), 10))
	}
	b.WriteString(`]><root xmlns="urn:test"><rec id="1"><amount>1</amount><kind>&lol12;</kind></rec></root>`)
	s := testSchema(t)
	res, probs, err := validate(t, s, b.String())
	if err != nil {
		t.Fatal(err)
	}
	if res.Valid() || len(probs) == 0 {
		t.Fatalf("res = %+v, want refused", res)
	}
	if p := probs[0]; p.Kind != xsd.Security || !strings.Contains(p.Message, `DTD entity declaration "lol0" refused`) || p.Line != 1 {
		t.Errorf("first problem = %+v, want the refusal of lol0 on line 1", p)
	}
	if res.Bytes > int64(b.Len()) {
		t.Errorf("read %d bytes of a %d byte document", res.Bytes, b.Len())
	}
}

type failingReader struct{ err error }

func (f failingReader) Read([]byte) (int, error) { return 0, f.err }

func TestReadErrorsAreReturnedNotJudged(t *testing.T) {
	s := testSchema(t)
	boom := errors.New("disk on fire")
	res, err := s.Validate(context.Background(), failingReader{boom}, "broken.xml", nil)
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want the read error", err)
	}
	if res.Valid() {
		t.Fatalf("an unreadable document was reported valid")
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = s.Validate(ctx, strings.NewReader("<root/>"), "x", nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestCompileErrorsNameFileAndLine(t *testing.T) {
	_, err := xsd.Compile(mapSource{entry: "/t/main.xsd", docs: map[string]string{
		"/t/main.xsd": "<xs:schema xmlns:xs=\"http://www.w3.org/2001/XMLSchema\">\n<xs:element name=\"a\" type=\"xs:nosuchtype\"/>\n</xs:schema>",
	}})
	var ce *xsd.CompileError
	if !errors.As(err, &ce) || len(ce.Problems) == 0 {
		t.Fatalf("err = %v, want *CompileError with problems", err)
	}
	p := ce.Problems[0]
	if p.File != "/t/main.xsd" || p.Line != 2 || !strings.Contains(p.Message, "nosuchtype") {
		t.Errorf("problem = %+v, want /t/main.xsd line 2 naming nosuchtype", p)
	}
}
