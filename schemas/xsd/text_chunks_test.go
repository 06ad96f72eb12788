package xsd_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"meldeweg.dev/meldeweg/schemas/xsd"
)

// The parser hands a text node to the bridge in chunks (at entity
// references, comments, CDATA sections, and every few hundred bytes). The
// bridge passes the first chunk of a text node through as it comes and
// gathers the rest (see bridge.c, add_text); the validator must still see
// the whole value, once, as a tree would hold it.

const chunkXSD = `<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">
  <xs:simpleType name="Len5000"><xs:restriction base="xs:string"><xs:length value="5000"/></xs:restriction></xs:simpleType>
  <xs:element name="r"><xs:complexType><xs:sequence>
    <xs:element name="s" type="Len5000" minOccurs="0" maxOccurs="unbounded"/>
    <xs:element name="n" type="xs:int" minOccurs="0" maxOccurs="unbounded"/>
    <xs:element name="p" minOccurs="0" maxOccurs="unbounded"><xs:simpleType><xs:restriction base="xs:string"><xs:pattern value="(ab)+"/></xs:restriction></xs:simpleType></xs:element>
  </xs:sequence></xs:complexType></xs:element>
</xs:schema>`

func TestChunkedTextIsValidatedWhole(t *testing.T) {
	needXmllint(t)
	s, err := xsd.Compile(mapSource{entry: "/c.xsd", docs: map[string]string{"/c.xsd": chunkXSD}})
	if err != nil {
		t.Fatal(err)
	}
	xsdFile := filepath.Join(t.TempDir(), "c.xsd")
	if err := os.WriteFile(xsdFile, []byte(chunkXSD), 0o600); err != nil {
		t.Fatal(err)
	}
	// 5000 characters: "abc&amp;" is four, and every reference ends a chunk.
	exact := strings.Repeat("abc&amp;", 1250)
	tests := []struct {
		name, doc string
		valid     bool
	}{
		{"5000 characters in 2500 chunks", "<r><s>" + exact + "</s></r>", true},
		{"one character more", "<r><s>" + exact + "x</s></r>", false},
		{"one character less", "<r><s>" + exact[1:] + "</s></r>", false},
		{"5000 characters in one run of plain text", "<r><s>" + strings.Repeat("x", 5000) + "</s></r>", true},
		{"5000 characters, CDATA in the middle", "<r><s>" + strings.Repeat("x", 2000) + "<![CDATA[" + strings.Repeat("y", 1000) + "]]>" + strings.Repeat("z", 2000) + "</s></r>", true},
		{"a number split by a comment", "<r><n>12<!-- c -->34</n></r>", true},
		{"a number split by a comment, second part bad", "<r><n>12<!-- c -->x4</n></r>", false},
		{"a pattern over three chunks", "<r><p>ab<![CDATA[ab]]>ab</p></r>", true},
		{"a pattern broken in the last chunk", "<r><p>ab<![CDATA[ab]]>a</p></r>", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, probs, err := validate(t, s, tc.doc)
			if err != nil {
				t.Fatal(err)
			}
			if res.Valid() != tc.valid {
				t.Fatalf("valid = %v, want %v; problems: %v", res.Valid(), tc.valid, probs)
			}
			if !tc.valid && res.Errors != 1 {
				t.Errorf("errors = %d, want 1 (the value checked once); problems: %v", res.Errors, probs)
			}
			if tree, out := xmllintTreeVerdict(t, xsdFile, tc.doc); tree != tc.valid {
				t.Errorf("xmllint --schema says valid=%v:\n%s", tree, out)
			}
		})
	}
}
