package xsd_test

import (
	"strings"
	"testing"

	"meldeweg.dev/meldeweg/schemas/xsd"
)

const secretXSD = `<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">
  <xs:element name="r"><xs:complexType><xs:sequence>
    <xs:element name="d" type="xs:date" minOccurs="0" maxOccurs="unbounded"/>
    <xs:element name="p" minOccurs="0" maxOccurs="unbounded"><xs:simpleType><xs:restriction base="xs:string"><xs:pattern value="[A-Z]{3}"/></xs:restriction></xs:simpleType></xs:element>
    <xs:element name="e" minOccurs="0" maxOccurs="unbounded"><xs:simpleType><xs:restriction base="xs:string"><xs:enumeration value="A"/></xs:restriction></xs:simpleType></xs:element>
    <xs:element name="f" type="xs:string" fixed="FIX" minOccurs="0" maxOccurs="unbounded"/>
    <xs:element name="k" minOccurs="0" maxOccurs="unbounded"><xs:complexType><xs:attribute name="id" type="xs:ID"/><xs:attribute name="ref" type="xs:IDREF"/><xs:attribute name="n" type="xs:int"/><xs:attribute name="u" type="xs:string"/></xs:complexType></xs:element>
  </xs:sequence></xs:complexType>
  <xs:unique name="u"><xs:selector xpath="k"/><xs:field xpath="@u"/></xs:unique>
  </xs:element>
</xs:schema>`

// Every message that can carry a value of the document, with the value
// "Secret'Value" (a quote inside must not let a part escape).
func TestWithoutValuesWithholdsEveryValue(t *testing.T) {
	s, err := xsd.Compile(mapSource{entry: "/s.xsd", docs: map[string]string{"/s.xsd": secretXSD}})
	if err != nil {
		t.Fatal(err)
	}
	const v = "Secret&apos;Value"
	doc := `<r><d>` + v + `</d><p>` + v + `</p><e>` + v + `</e><f>` + v + `</f>` +
		`<k id="SecretId"/><k id="SecretId"/><k ref="SecretRef"/><k n="` + v + `"/>` +
		`<k u="` + v + `"/><k u="` + v + `"/></r>`
	res, probs, err := validate(t, s, doc)
	if err != nil {
		t.Fatal(err)
	}
	if res.Errors+res.Warnings < 8 {
		t.Fatalf("got %d errors, want at least one per kind of message: %v", res.Errors, probs)
	}
	shown := 0
	for _, p := range probs {
		if strings.Contains(p.Message, "Secret") {
			shown++
		}
		w := p.WithoutValues()
		if strings.Contains(w.Message, "Secret") || strings.Contains(w.Message, "Value'") {
			t.Errorf("value left in %q", w.Message)
		}
		if strings.Contains(p.Message, "Secret") && !strings.Contains(w.Message, xsd.Withheld) {
			t.Errorf("no %q in %q", xsd.Withheld, w.Message)
		}
		if w.Line != p.Line || w.Path != p.Path {
			t.Errorf("WithoutValues changed the position")
		}
	}
	if shown < 8 {
		t.Errorf("only %d messages carried the value; the test lost its teeth: %v", shown, probs)
	}
	// Schema facts stay: the enumeration and the type.
	for _, p := range probs {
		w := p.WithoutValues().Message
		if strings.Contains(p.Message, "{'A'}") && !strings.Contains(w, "{'A'}") {
			t.Errorf("the enumeration of the schema was withheld: %q", w)
		}
		if strings.Contains(p.Message, "'xs:int'") && !strings.Contains(w, "'xs:int'") {
			t.Errorf("the type was withheld: %q", w)
		}
	}
}
