package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// BenchmarkValidateShapes compares "meldeweg validate" with the engine it
// runs on: a small C program calling libxml2's xmlSchemaValidateFile
// (schemas/xsd/testdata/cref/xsdvalidate.c, compiled in the same run), and
// with "xmllint --stream --schema", on four structurally different
// generated schema/document pairs:
//
//	facets  pattern, date, dateTime, decimal and enumeration facets on short leaves
//	deep    nesting 24 levels deep with element names of ~40 characters
//	attrs   twelve typed attributes per element, almost no text
//	text    text nodes of 64 KiB to 1 MiB, and mixed content
//
// Each command runs $MELDEWEG_BENCH_REPS times (3), the three taking turns;
// the fastest wall time, the least CPU time and the highest peak RSS count; the ratios are given on wall time and on
// CPU time (user + system: steadier on a shared machine). Goal (issue 12):
// on every pair x-vs-cref ≥ 0.95 and peak RSS ≤ 32 MiB.
//
//	MELDEWEG_BENCH_MB=100 go test ./cmd/meldeweg -run '^$' -bench ValidateShapes -benchtime 1x
func BenchmarkValidateShapes(b *testing.B) {
	bin := meldewegBinary(b)
	cref := crefBinary(b)
	mb := benchMB(100)
	for _, sh := range benchShapes {
		b.Run(fmt.Sprintf("%s-%dMB", sh.name, mb), func(b *testing.B) {
			xsdPath, doc := generateShape(b, sh, mb)
			size := fileSize(b, doc)
			var ours, ref, lint procResult
			for i := 0; i < b.N; i++ {
				best := bestOfEach(
					func() procResult { return runMeasured(b, nil, bin, "validate", "--schema", xsdPath, doc) },
					func() procResult { return runMeasured(b, nil, cref, xsdPath, doc) },
					func() procResult {
						return runMeasured(b, nil, "xmllint", "--nonet", "--noout", "--stream", "--schema", xsdPath, doc)
					})
				ours, ref, lint = best[0], best[1], best[2]
			}
			for _, r := range []struct {
				who string
				res procResult
			}{{"meldeweg", ours}, {"xsdvalidate", ref}, {"xmllint", lint}} {
				if r.res.Exit != 0 {
					b.Fatalf("%s: exit %d, want 0 (the generated document is valid)\n%s%s", r.who, r.res.Exit, r.res.Stdout, r.res.Stderr)
				}
			}
			b.ReportMetric(mbps(size, ours.Wall), "MB/s")
			b.ReportMetric(mib(ours.MaxRSS), "peakRSS-MiB")
			b.ReportMetric(mbps(size, ref.Wall), "cref-MB/s")
			b.ReportMetric(mib(ref.MaxRSS), "cref-peakRSS-MiB")
			b.ReportMetric(ref.Wall.Seconds()/ours.Wall.Seconds(), "x-vs-cref")
			b.ReportMetric(lint.Wall.Seconds()/ours.Wall.Seconds(), "x-vs-xmllint-stream")
			b.ReportMetric(ref.CPU.Seconds()/ours.CPU.Seconds(), "x-vs-cref-cpu")
			b.ReportMetric(lint.CPU.Seconds()/ours.CPU.Seconds(), "x-vs-xmllint-stream-cpu")
		})
	}
}

var (
	crefOnce sync.Once
	crefPath string
	crefErr  error
)

// crefBinary compiles the C reference once per test process.
func crefBinary(tb testing.TB) string {
	tb.Helper()
	crefOnce.Do(func() {
		repo, _ := filepath.Abs(filepath.Join("..", ".."))
		src := filepath.Join(repo, "schemas", "xsd", "testdata", "cref", "xsdvalidate.c")
		dir, err := os.MkdirTemp("", "meldeweg-cref-")
		if err != nil {
			crefErr = err
			return
		}
		crefPath = filepath.Join(dir, "xsdvalidate")
		flags, err := exec.Command("pkg-config", "--cflags", "--libs", "libxml-2.0").Output()
		if err != nil {
			crefErr = fmt.Errorf("pkg-config libxml-2.0: %v", err)
			return
		}
		args := append([]string{"-O2", "-o", crefPath, src}, strings.Fields(string(flags))...)
		if out, err := exec.Command("cc", args...).CombinedOutput(); err != nil {
			crefErr = fmt.Errorf("cc %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	})
	if crefErr != nil {
		tb.Fatalf("building the C reference: %v", crefErr)
	}
	return crefPath
}

type benchShape struct {
	name string
	xsd  string
	head string
	// record writes the i-th record.
	record func(w *bufio.Writer, i int)
	tail   string
}

var benchShapes = []benchShape{
	{
		name: "facets",
		xsd: `<?xml version="1.0"?>
<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns="urn:bench:facets" targetNamespace="urn:bench:facets" elementFormDefault="qualified">
  <xs:simpleType name="BG"><xs:restriction base="xs:string"><xs:pattern value="[0-9]{5}BG[0-9]{7}"/></xs:restriction></xs:simpleType>
  <xs:simpleType name="KdNr"><xs:restriction base="xs:string"><xs:pattern value="[0-9]{3}[A-Z][0-9]{6}"/></xs:restriction></xs:simpleType>
  <xs:simpleType name="PLZ"><xs:restriction base="xs:token"><xs:pattern value="\d{5}"/></xs:restriction></xs:simpleType>
  <xs:simpleType name="Betrag"><xs:restriction base="xs:decimal"><xs:fractionDigits value="2"/><xs:minInclusive value="0"/></xs:restriction></xs:simpleType>
  <xs:simpleType name="Art"><xs:restriction base="xs:string"><xs:enumeration value="ALG2"/><xs:enumeration value="KdU"/><xs:enumeration value="MEHR"/></xs:restriction></xs:simpleType>
  <xs:element name="d"><xs:complexType><xs:sequence><xs:element name="r" maxOccurs="unbounded"><xs:complexType><xs:sequence>
    <xs:element name="bg" type="BG"/><xs:element name="kd" type="KdNr"/><xs:element name="plz" type="PLZ"/>
    <xs:element name="von" type="xs:date"/><xs:element name="bis" type="xs:date"/><xs:element name="am" type="xs:dateTime"/>
    <xs:element name="monat" type="xs:gYearMonth"/><xs:element name="betrag" type="Betrag"/><xs:element name="art" type="Art"/>
  </xs:sequence></xs:complexType></xs:element></xs:sequence></xs:complexType></xs:element>
</xs:schema>`,
		head: `<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<d xmlns="urn:bench:facets">` + "\n",
		record: func(w *bufio.Writer, i int) {
			fmt.Fprintf(w, "<r><bg>%05dBG%07d</bg><kd>%03dD%06d</kd><plz>%05d</plz><von>2025-%02d-01</von><bis>2026-%02d-28</bis>"+
				"<am>2026-11-03T08:%02d:00Z</am><monat>2026-%02d</monat><betrag>%d.%02d</betrag><art>%s</art></r>\n",
				i%100000, i%10000000, i%1000, i%1000000, 10000+i%89999, i%12+1, i%12+1, i%60, i%12+1, i%5000, i%100,
				[]string{"ALG2", "KdU", "MEHR"}[i%3])
		},
		tail: "</d>\n",
	},
	{
		name: "deep",
		xsd:  deepXSD(24),
		head: `<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<Wurzelelement_mit_einem_sehr_langen_Namen xmlns="urn:bench:deep">` + "\n",
		record: func(w *bufio.Writer, i int) {
			for d := 0; d < 24; d++ {
				fmt.Fprintf(w, "<%s>", deepName(d))
			}
			fmt.Fprintf(w, "%d", i)
			for d := 23; d >= 0; d-- {
				fmt.Fprintf(w, "</%s>", deepName(d))
			}
			w.WriteByte('\n')
		},
		tail: "</Wurzelelement_mit_einem_sehr_langen_Namen>\n",
	},
	{
		name: "attrs",
		xsd: `<?xml version="1.0"?>
<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns="urn:bench:attrs" targetNamespace="urn:bench:attrs" elementFormDefault="qualified">
  <xs:simpleType name="Code"><xs:restriction base="xs:string"><xs:pattern value="[A-Z]{2}[0-9]{4}"/></xs:restriction></xs:simpleType>
  <xs:element name="d"><xs:complexType><xs:sequence><xs:element name="p" maxOccurs="unbounded"><xs:complexType>
    <xs:attribute name="nr" type="xs:positiveInteger" use="required"/>
    <xs:attribute name="code" type="Code" use="required"/>
    <xs:attribute name="von" type="xs:date"/>
    <xs:attribute name="bis" type="xs:date"/>
    <xs:attribute name="betrag" type="xs:decimal"/>
    <xs:attribute name="anteil" type="xs:double"/>
    <xs:attribute name="aktiv" type="xs:boolean"/>
    <xs:attribute name="stufe" type="xs:unsignedByte"/>
    <xs:attribute name="art"><xs:simpleType><xs:restriction base="xs:NMTOKEN"><xs:enumeration value="a"/><xs:enumeration value="b"/><xs:enumeration value="c"/></xs:restriction></xs:simpleType></xs:attribute>
    <xs:attribute name="name" type="xs:string"/>
    <xs:attribute name="sprache" type="xs:language"/>
    <xs:attribute name="zeit" type="xs:time"/>
  </xs:complexType></xs:element></xs:sequence></xs:complexType></xs:element>
</xs:schema>`,
		head: `<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<d xmlns="urn:bench:attrs">` + "\n",
		record: func(w *bufio.Writer, i int) {
			fmt.Fprintf(w, `<p nr="%d" code="%c%c%04d" von="2025-%02d-01" bis="2026-%02d-15" betrag="%d.%02d" anteil="0.%d" aktiv="%t" stufe="%d" art="%c" name="Eintrag %d" sprache="de-DE" zeit="08:%02d:00"/>`+"\n",
				i+1, 'A'+i%26, 'A'+(i/26)%26, i%10000, i%12+1, i%12+1, i%100000, i%100, i%1000, i%2 == 0, i%256, 'a'+i%3, i, i%60)
		},
		tail: "</d>\n",
	},
	{
		name: "text",
		xsd: `<?xml version="1.0"?>
<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns="urn:bench:text" targetNamespace="urn:bench:text" elementFormDefault="qualified">
  <xs:complexType name="Inline" mixed="true"><xs:choice minOccurs="0" maxOccurs="unbounded"><xs:element name="b" type="xs:string"/><xs:element name="i" type="xs:string"/></xs:choice></xs:complexType>
  <xs:element name="d"><xs:complexType><xs:sequence><xs:element name="doc" maxOccurs="unbounded"><xs:complexType><xs:sequence>
    <xs:element name="titel"><xs:simpleType><xs:restriction base="xs:string"><xs:maxLength value="200"/></xs:restriction></xs:simpleType></xs:element>
    <xs:element name="absatz" type="Inline" maxOccurs="unbounded"/>
    <xs:element name="anlage" type="xs:base64Binary" minOccurs="0"/>
    <xs:element name="text" type="xs:string"/>
  </xs:sequence></xs:complexType></xs:element></xs:sequence></xs:complexType></xs:element>
</xs:schema>`,
		head: `<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<d xmlns="urn:bench:text">` + "\n",
		record: func(w *bufio.Writer, i int) {
			const words = "Der Antrag wurde am Montag gestellt und ist vollständig; die Unterlagen liegen vor. "
			fmt.Fprintf(w, "<doc><titel>Dokument %d</titel>\n", i)
			for p := 0; p < 20; p++ {
				w.WriteString("<absatz>")
				for s := 0; s < 8; s++ {
					w.WriteString(words)
					if s%3 == 1 {
						w.WriteString("<b>wichtig</b> und <i>kursiv</i> ")
					}
				}
				w.WriteString("</absatz>\n")
			}
			// A 64 KiB base64 attachment and a text node of 64 KiB to 1 MiB.
			w.WriteString("<anlage>")
			for k := 0; k < 64<<10/64; k++ {
				w.WriteString("QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2\n")
			}
			w.WriteString("</anlage><text>")
			n := (64 << 10) << (i % 5)
			for k := 0; k < n/len(words); k++ {
				w.WriteString(words)
			}
			w.WriteString("</text></doc>\n")
		},
		tail: "</d>\n",
	},
}

func deepName(d int) string {
	return fmt.Sprintf("Verschachtelungsebene_%02d_mit_einem_langen_Namen", d)
}

func deepXSD(depth int) string {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0"?>
<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns="urn:bench:deep" targetNamespace="urn:bench:deep" elementFormDefault="qualified">
  <xs:element name="Wurzelelement_mit_einem_sehr_langen_Namen"><xs:complexType><xs:sequence>
    <xs:element ref="` + deepName(0) + `" maxOccurs="unbounded"/>
  </xs:sequence></xs:complexType></xs:element>
`)
	for d := 0; d < depth; d++ {
		if d == depth-1 {
			fmt.Fprintf(&b, "  <xs:element name=%q type=\"xs:nonNegativeInteger\"/>\n", deepName(d))
			continue
		}
		fmt.Fprintf(&b, "  <xs:element name=%q><xs:complexType><xs:sequence><xs:element ref=%q/></xs:sequence></xs:complexType></xs:element>\n",
			deepName(d), deepName(d+1))
	}
	b.WriteString("</xs:schema>\n")
	return b.String()
}

// generateShape writes the schema and a document of about mb megabytes for
// sh, once per test process.
func generateShape(b *testing.B, sh benchShape, mb int64) (xsdPath, doc string) {
	ef := exampleBundle(b)
	key := fmt.Sprintf("shape-%s-%d", sh.name, mb)
	xsdPath = filepath.Join(ef.dir, sh.name+".xsd")
	benchGenMu.Lock()
	defer benchGenMu.Unlock()
	if p, ok := benchGenerated[key]; ok {
		return xsdPath, p
	}
	if err := os.WriteFile(xsdPath, []byte(sh.xsd), 0o644); err != nil {
		b.Fatal(err)
	}
	doc = filepath.Join(ef.dir, key+".xml")
	f, err := os.Create(doc)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	w.WriteString(sh.head)
	limit := mb * 1e6
	var written int64
	for i := 0; written < limit; i++ {
		before := w.Buffered()
		sh.record(w, i)
		if w.Buffered() < before || i%64 == 0 {
			st, _ := f.Stat()
			written = st.Size() + int64(w.Buffered())
		}
	}
	w.WriteString(sh.tail)
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	f.Close()
	benchGenerated[key] = doc
	return xsdPath, doc
}
