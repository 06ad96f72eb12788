package xsd_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"meldeweg.dev/meldeweg/schemas/xsd"
)

const limitXSD = `<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">
  <xs:element name="r"><xs:complexType><xs:sequence>
    <xs:element name="v" type="xs:string" minOccurs="0" maxOccurs="unbounded"/>
    <xs:element name="i" minOccurs="0" maxOccurs="unbounded"><xs:complexType><xs:attribute name="id" type="xs:ID"/><xs:attribute name="ref" type="xs:IDREF"/><xs:attribute name="refs" type="xs:IDREFS"/><xs:anyAttribute processContents="skip"/></xs:complexType></xs:element>
    <xs:element name="n" type="xs:int" minOccurs="0" maxOccurs="unbounded"/>
  </xs:sequence></xs:complexType></xs:element>
</xs:schema>`

func limitSchema(t testing.TB) *xsd.Schema {
	t.Helper()
	s, err := xsd.Compile(mapSource{entry: "/l.xsd", docs: map[string]string{"/l.xsd": limitXSD}})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func validateWith(t testing.TB, s *xsd.Schema, opt xsd.Options, doc string) (xsd.Result, []xsd.Problem) {
	t.Helper()
	var got []xsd.Problem
	res, err := s.ValidateWith(context.Background(), strings.NewReader(doc), "doc.xml", opt, func(p xsd.Problem) { got = append(got, p) })
	if err != nil {
		t.Fatal(err)
	}
	return res, got
}

func TestLimitsRefuseOversizedInput(t *testing.T) {
	s := limitSchema(t)
	lim := xsd.Limits{MaxTextLength: 100, MaxNameLength: 20}
	long := strings.Repeat("x", 101)
	tests := []struct {
		name, doc, msg string
	}{
		{"text node", "<r>\n<v>" + long + "</v></r>", "text node longer than 100 bytes refused"},
		{"text node of entity references", "<r><v>" + strings.Repeat("&amp;", 101) + "</v></r>", "text node longer than 100 bytes refused"},
		{"text node in element-only content", "<r>" + long + "</r>", "text node longer than 100 bytes refused"},
		{"CDATA section", "<r><v><![CDATA[" + long + "]]></v></r>", "CDATA section longer than 100 bytes refused"},
		{"attribute value", `<r><i other="` + long + `"/></r>`, "attribute value longer than 100 bytes refused"},
		{"element name", "<r><" + strings.Repeat("n", 21) + "/></r>", "element name longer than 20 bytes refused"},
		{"attribute name", "<r><i " + strings.Repeat("a", 21) + `="1"/></r>`, "attribute name longer than 20 bytes refused"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, probs := validateWith(t, s, xsd.Options{Limits: lim}, tc.doc)
			if res.Valid() || res.WellFormed {
				t.Fatalf("res = %+v, want refused (not well-formed)", res)
			}
			if len(probs) != 1 || probs[0].Kind != xsd.Security || !strings.Contains(probs[0].Message, tc.msg) {
				t.Fatalf("problems %v, want one refusal containing %q", probs, tc.msg)
			}
		})
	}
	t.Run("at the limit", func(t *testing.T) {
		at := strings.Repeat("x", 100)
		doc := "<r><v>" + at + "</v><v>" + at + "<!-- a comment ends a text node -->" + at + "</v><i other=\"" + at + "\"/><" + strings.Repeat("n", 1) + ">1</n></r>"
		res, probs := validateWith(t, s, xsd.Options{Limits: lim}, doc)
		if !res.Valid() {
			t.Fatalf("res = %+v %v, want valid", res, probs)
		}
	})
	t.Run("at the defaults libxml2's parser refuses names and attribute values", func(t *testing.T) {
		for _, tc := range []struct{ doc, msg string }{
			{`<r><i other="` + strings.Repeat("v", xsd.DefaultMaxTextLength+1) + `"/></r>`, "attribute value or markup longer than 10000000 bytes refused"},
			{"<r><" + strings.Repeat("n", xsd.DefaultMaxNameLength+1) + "/></r>", "name longer than 50000 bytes refused"},
			{"<r><i " + strings.Repeat("a", xsd.DefaultMaxNameLength+1) + `="1"/></r>`, "name longer than 50000 bytes refused"},
		} {
			res, probs := validateWith(t, s, xsd.Options{}, tc.doc)
			if res.WellFormed || len(probs) == 0 || probs[0].Kind != xsd.Security || !strings.Contains(probs[0].Message, tc.msg) {
				t.Fatalf("res = %+v, problems %.300v, want refused: %q", res, probs, tc.msg)
			}
		}
	})
	t.Run("default is libxml2's 10,000,000 bytes", func(t *testing.T) {
		res, probs := validateWith(t, s, xsd.Options{}, "<r><v>"+strings.Repeat("y", xsd.DefaultMaxTextLength+1)+"</v></r>")
		if res.WellFormed || len(probs) != 1 || !strings.Contains(probs[0].Message, "longer than 10000000 bytes refused") {
			t.Fatalf("res = %+v, problems %v, want the refusal", res, probs)
		}
	})
}

// A large text node where none is allowed used to give one error per
// chunk the parser delivered (13,110 for one node); a tree has one node,
// and xmllint --schema reports it once.
func TestOneErrorPerTextNode(t *testing.T) {
	s := limitSchema(t)
	res, probs := validateWith(t, s, xsd.Options{}, "<r>"+strings.Repeat("not allowed here ", 50000)+"<v/></r>")
	if res.Errors != 1 || len(probs) != 1 || !strings.Contains(probs[0].Message, "element-only") {
		t.Fatalf("got %d errors, problems %v, want one", res.Errors, probs)
	}
}

func TestRepeatedProblemsAreCountedAndCapped(t *testing.T) {
	s := limitSchema(t)
	var b strings.Builder
	b.WriteString("<r>\n")
	for i := 0; i < 30; i++ {
		fmt.Fprintf(&b, "<n>x%d</n>\n", i)
	}
	b.WriteString("</r>")
	doc := b.String()

	res, probs := validateWith(t, s, xsd.Options{MaxProblems: 10}, doc)
	if res.Errors != 30 || len(probs) != 10 || res.Omitted != 20 || res.Valid() {
		t.Fatalf("res %+v, %d problems; want 30 errors, 10 reported, 20 omitted", res, len(probs))
	}
	if probs[9].Line != 11 {
		t.Errorf("10th problem on line %d, want 11", probs[9].Line)
	}

	res, probs = validateWith(t, s, xsd.Options{}, doc)
	if res.Errors != 30 || len(probs) != 30 || res.Omitted != 0 {
		t.Fatalf("without MaxProblems: res %+v, %d problems; want all 30", res, len(probs))
	}
}

func TestIdenticalProblemsOfOneElementAreReportedOnce(t *testing.T) {
	// An IDREFS value naming the same missing ID three times gives the same
	// message for the same element three times; other elements stay apart.
	s := limitSchema(t)
	res, probs := validateWith(t, s, xsd.Options{}, "<r><i id=\"a\"/>\n<i refs=\"b b b\"/><i refs=\"b\"/></r>")
	// (Dangling IDREFs are warnings: tree mode, the reference, does not
	// resolve them.)
	if res.Warnings != 4 || len(probs) != 2 || probs[0].Count != 3 || probs[1].Count != 1 {
		t.Fatalf("res %+v problems %v, want 4 warnings in 2 problems, the first counted 3 times", res, probs)
	}
	if got := probs[0].String(); !strings.HasSuffix(got, "[3 times]") || probs[0].Line != 2 {
		t.Errorf("first problem %q, want line 2 and \"[3 times]\"", got)
	}
}

func TestIDLimitRefuses(t *testing.T) {
	s := limitSchema(t)
	var b strings.Builder
	b.WriteString("<r>")
	for i := 0; i < 11; i++ {
		fmt.Fprintf(&b, `<i id="id%d"/>`, i)
	}
	b.WriteString("</r>")
	res, probs := validateWith(t, s, xsd.Options{Limits: xsd.Limits{MaxIDs: 10}}, b.String())
	if res.WellFormed || len(probs) != 1 || probs[0].Kind != xsd.Security || !strings.Contains(probs[0].Message, "more than 10 xs:ID values") {
		t.Fatalf("res %+v problems %v, want the refusal", res, probs)
	}
	res, _ = validateWith(t, s, xsd.Options{Limits: xsd.Limits{MaxIDs: 11}}, b.String())
	if !res.Valid() {
		t.Fatalf("11 IDs with MaxIDs 11: res %+v, want valid", res)
	}
}
