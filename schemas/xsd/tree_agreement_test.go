package xsd_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"meldeweg.dev/meldeweg/schemas/xsd"
)

// Agreement with libxml2's tree mode ("xmllint --schema") is the
// contract of this package. Each case runs the same schema and document
// through Validate and through xmllint, and compares the verdicts. The
// places where the package decides otherwise on purpose are cases too,
// with the reason, so that the difference stays known (see the package
// doc, "Where streaming and tree mode differ").

const idXSD = `<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">
  <xs:simpleType name="MyID"><xs:restriction base="xs:ID"><xs:maxLength value="10"/></xs:restriction></xs:simpleType>
  <xs:simpleType name="MyRef"><xs:restriction base="xs:IDREF"/></xs:simpleType>
  <xs:simpleType name="RefList"><xs:list itemType="MyRef"/></xs:simpleType>
  <xs:complexType name="Typed"><xs:simpleContent><xs:extension base="xs:ID"><xs:attribute name="lang" type="xs:language"/></xs:extension></xs:simpleContent></xs:complexType>
  <xs:attribute name="gid" type="xs:ID"/>
  <xs:element name="r"><xs:complexType><xs:sequence>
    <xs:element name="a" minOccurs="0" maxOccurs="unbounded"><xs:complexType>
      <xs:attribute name="id" type="MyID"/>
      <xs:attribute name="plain" type="xs:ID"/>
      <xs:attribute name="ref" type="xs:IDREF"/>
      <xs:attribute name="refs" type="xs:IDREFS"/>
      <xs:attribute name="mine" type="RefList"/>
      <xs:attribute name="ent" type="xs:ENTITY"/>
    </xs:complexType></xs:element>
    <xs:element name="w" minOccurs="0" maxOccurs="unbounded"><xs:complexType><xs:anyAttribute processContents="lax"/></xs:complexType></xs:element>
    <xs:element name="s" minOccurs="0" maxOccurs="unbounded"><xs:complexType><xs:anyAttribute processContents="skip"/></xs:complexType></xs:element>
    <xs:element name="e" type="xs:ID" minOccurs="0" maxOccurs="unbounded"/>
    <xs:element name="t" type="Typed" minOccurs="0" maxOccurs="unbounded"/>
    <xs:element name="f" type="xs:IDREF" minOccurs="0" maxOccurs="unbounded"/>
    <xs:element name="x" minOccurs="0" maxOccurs="unbounded"><xs:complexType/></xs:element>
    <xs:element name="n" type="xs:int" minOccurs="0" maxOccurs="unbounded"/>
    <xs:element name="any" minOccurs="0"><xs:complexType><xs:sequence><xs:any processContents="skip" maxOccurs="unbounded"/></xs:sequence></xs:complexType></xs:element>
  </xs:sequence></xs:complexType></xs:element>
</xs:schema>`

type treeCase struct {
	name, doc string
	// valid is the verdict of Validate.
	valid bool
	// differs, when set, says why xmllint --schema gives the opposite
	// verdict, on purpose.
	differs string
	// msg is a part of the message of the first problem, if invalid.
	msg string
	// warn, if set, is a part of the message of a warning that must be
	// reported (with line, if set) although the document is valid.
	warn string
	// line of the first problem, if invalid and not 0.
	line int
	// errors is how many errors Validate finds, if invalid; 0 means 1.
	errors int
}

func treeCases() []treeCase {
	return []treeCase{
		{name: "distinct IDs", doc: `<r><a id="x"/><a id="y"/><a plain="z"/></r>`, valid: true},
		{name: "duplicate ID attribute", doc: "<r>\n<a id=\"x\"/>\n<a id=\"x\"/></r>", msg: "is not unique", line: 3},
		{name: "duplicate across ID attributes", doc: `<r><a id="x"/><a plain="x"/></r>`, msg: "already used on line 1"},
		{name: "duplicate ID after whitespace", doc: `<r><a id="x"/><a id=" x "/></r>`, msg: "is not unique"},
		{name: "duplicate ID via lax wildcard and global attribute", doc: `<r><a id="x"/><w gid="x"/></r>`, msg: "is not unique"},
		{name: "skip wildcard attributes are not assessed", doc: `<r><a id="x"/><s gid="x"/></r>`, valid: true},
		{name: "skipped content is not assessed", doc: `<r><a id="x"/><any><a id="x"/></any></r>`, valid: true},
		{name: "invalid ID value is reported once, as invalid", doc: `<r><a id="1x"/><a id="1x"/></r>`, msg: "is not a valid value", errors: 2},
		{name: "IDREF to an ID before", doc: `<r><a id="x"/><a ref="x" refs="x x" mine="x"/></r>`, valid: true},
		{name: "IDREF to an ID after", doc: `<r><a ref="y" refs="y"/><a id="y"/></r>`, valid: true},
		{name: "ENTITY without an unparsed entity", doc: `<r><a ent="y"/></r>`, msg: "ENTITY"},
		{name: "text split by a comment is one value", doc: `<r><n>12<!-- c -->34</n></r>`, valid: true},
		{name: "text split by a processing instruction is one value", doc: `<r><n>1<?p x?>2</n></r>`, valid: true},
		{name: "whitespace in empty content", doc: `<r><x> </x></r>`, msg: "content type is empty"},
		{name: "whitespace CDATA in element-only content", doc: `<r><![CDATA[ ]]><x/></r>`, msg: "element-only"},
		{name: "text in element-only content", doc: "<r>\n" + strings.Repeat("text ", 20000) + "<x/></r>", msg: "element-only", line: 1},
		{name: "DTD ID attributes count against schema IDs", doc: `<!DOCTYPE r [<!ATTLIST a ref ID #IMPLIED>]><r><a ref="x"/><a id="x"/></r>`, msg: "is not unique"},
		{name: "DTD ID attributes after the schema ID count too", doc: `<!DOCTYPE r [<!ATTLIST a ref ID #IMPLIED>]><r><a id="x"/><a ref="x"/></r>`, msg: "is not unique"},
		{name: "DTD ID attributes never clash with each other", doc: `<!DOCTYPE r [<!ATTLIST a ref ID #IMPLIED>]><r><a ref="x"/><a ref="x"/></r>`, valid: true},
		{name: "xml:id counts against schema IDs", doc: `<r><a id="x"/><s xml:id="x"/></r>`, msg: "is not unique"},
		{name: "xml:id never clashes with xml:id", doc: `<r><s xml:id="x"/><s xml:id="x"/></r>`, valid: true},
		{name: "DTD attribute defaults are not applied", doc: `<!DOCTYPE r [<!ATTLIST x bogus CDATA "v">]><r><x/></r>`, valid: true},

		// What XML Schema's cvc-id asks beyond tree mode is a warning:
		// reported with its line, the verdict stays the reference's.
		{name: "duplicate ID element", doc: "<r>\n<e>x</e>\n<e>x</e></r>", valid: true, warn: "is not unique", line: 3},
		{name: "duplicate ID element and attribute", doc: `<r><a id="x"/><t>x</t></r>`, valid: true, warn: "is not unique"},
		{name: "dangling IDREF attribute", doc: "<r>\n<a ref=\"nope\"/></r>", valid: true, warn: "not a valid reference", line: 2},
		{name: "dangling IDREFS item", doc: `<r><a id="x"/><a refs="x nope"/></r>`, valid: true, warn: "not a valid reference"},
		{name: "dangling IDREF element", doc: `<r><f>nope</f></r>`, valid: true, warn: "not a valid reference"},
		{name: "DTD entity declarations are refused", doc: `<!DOCTYPE r [<!ENTITY e "x">]><r><a id="&e;"/></r>`, msg: "refused",
			differs: "Meldeweg never expands DTD entities (XXE, entity expansion)"},
	}
}

func xmllintTreeVerdict(t *testing.T, xsdFile, doc string) (bool, string) {
	t.Helper()
	f := filepath.Join(t.TempDir(), "doc.xml")
	if err := os.WriteFile(f, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("xmllint", "--nonet", "--noout", "--schema", xsdFile, f).CombinedOutput()
	if err == nil {
		return true, string(out)
	}
	if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() >= 1 && ee.ExitCode() <= 4 {
		return false, string(out)
	}
	t.Fatalf("xmllint: %v\n%s", err, out)
	return false, ""
}

func needXmllint(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("xmllint"); err != nil {
		t.Fatalf("xmllint is the referee of these tests: apt-get install -y libxml2-utils")
	}
}

func TestAgreesWithTreeMode(t *testing.T) {
	needXmllint(t)
	xsdFile := filepath.Join(t.TempDir(), "id.xsd")
	if err := os.WriteFile(xsdFile, []byte(idXSD), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := xsd.Compile(mapSource{entry: "/id.xsd", docs: map[string]string{"/id.xsd": idXSD}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range treeCases() {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			res, probs, err := validate(t, s, tc.doc)
			if err != nil {
				t.Fatal(err)
			}
			if res.Valid() != tc.valid {
				t.Fatalf("Validate: valid=%v, want %v; problems %v", res.Valid(), tc.valid, probs)
			}
			if tc.warn != "" {
				found := false
				for _, p := range probs {
					if p.Warning && strings.Contains(p.Message, tc.warn) && (tc.line == 0 || p.Line == tc.line) {
						found = true
					}
				}
				if !found || res.Errors != 0 {
					t.Errorf("want a warning containing %q (line %d) and no error; got %d errors, problems %v", tc.warn, tc.line, res.Errors, probs)
				}
			}
			if !tc.valid {
				if len(probs) == 0 || !strings.Contains(probs[0].Message, tc.msg) {
					t.Errorf("first problem %v, want one containing %q", probs, tc.msg)
				} else if tc.line != 0 && probs[0].Line != tc.line {
					t.Errorf("first problem on line %d, want %d", probs[0].Line, tc.line)
				}
				want := max(tc.errors, 1)
				if len(probs) != want || probs[0].Count != 1 || res.Errors != want {
					t.Errorf("got %d problems, %d errors, want %d: %v", len(probs), res.Errors, want, probs)
				}
			}
			treeValid, out := xmllintTreeVerdict(t, xsdFile, tc.doc)
			switch {
			case tc.differs == "" && treeValid != tc.valid:
				t.Errorf("xmllint --schema says valid=%v, Validate %v:\n%s", treeValid, tc.valid, out)
			case tc.differs != "" && treeValid == tc.valid:
				t.Errorf("documented difference (%s) is gone: xmllint --schema now agrees; update the package doc", tc.differs)
			}
		})
	}
}
