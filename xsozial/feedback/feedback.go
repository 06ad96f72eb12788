// Package feedback reads and writes the BA's feedback (Rückmeldung) to an
// XSozial-BA-SGB II delivery, and maps every finding back to the source
// record it came from.
//
// # A model format
//
// The BA's feedback format is not public. Meldeweg models it from the
// public description (accepted or rejected, findings with rule codes):
//
//	<rueckmeldung xmlns="urn:meldeweg:modell:xsozial-ba-sgb2:rueckmeldung">
//	  <traegernummer>12345</traegernummer>
//	  <berichtsmonat>2026-10</berichtsmonat>
//	  <datei>XSOZIAL_12345_2026-10_P.xml</datei>
//	  <sha256>…hex of the received file…</sha256>
//	  <eingang>2026-11-03T10:00:00Z</eingang>
//	  <ergebnis>abgelehnt</ergebnis>           angenommen | abgelehnt
//	  <befund>                                  zero or more
//	    <stufe>PTX</stufe><regel>R3_0020</regel><schwere>Fehler</schwere>
//	    <modul>3</modul><merkmal>3.1</merkmal><zeile>1234</zeile>
//	    <bgnummer>12345BG0000007</bgnummer><kundennummer>123A000042</kundennummer>
//	    <text>Kundennummer im selben Monat mehrfach gemeldet.</text>
//	  </befund>
//	</rueckmeldung>
//
// [FromReport] turns a check report into such a file (the BA simulator uses
// it); [Parse] reads one; [MapToSource] finds the source line of each
// finding by rebuilding the dataset from the source and proving, by its
// SHA-256, that the rebuild is byte for byte the file that was sent.
package feedback

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/beevik/etree"

	"meldeweg.dev/meldeweg/schemas"
	"meldeweg.dev/meldeweg/xsozial"
	"meldeweg.dev/meldeweg/xsozial/check"
	"meldeweg.dev/meldeweg/xsozial/source"
)

// Namespace is the namespace of the feedback model.
const Namespace = "urn:meldeweg:modell:xsozial-ba-sgb2:rueckmeldung"

// Result is the BA's verdict on a delivery.
type Result string

const (
	// Accepted: the delivery was taken over (it may carry Hinweise).
	Accepted Result = "angenommen"
	// Rejected: the delivery was refused; the Träger must send a corrected
	// complete file.
	Rejected Result = "abgelehnt"
)

// Finding is one finding of the feedback.
type Finding struct {
	Stage        string `json:"stage,omitempty"`
	Rule         string `json:"rule"`
	Severity     string `json:"severity"`
	Module       string `json:"module,omitempty"`
	Merkmal      string `json:"merkmal,omitempty"`
	Line         int    `json:"line,omitempty"`
	BG           string `json:"bg,omitempty"`
	Kundennummer string `json:"kundennummer,omitempty"`
	Text         string `json:"text"`
}

// Feedback is one Rückmeldung.
type Feedback struct {
	Traeger  string    `json:"traeger"`
	Month    string    `json:"berichtsmonat"`
	File     string    `json:"file"`
	SHA256   string    `json:"sha256,omitempty"`
	Received string    `json:"received"`
	Result   Result    `json:"result"`
	Findings []Finding `json:"findings"`
}

// FromReport makes the feedback for a checked delivery: rejected when any
// stage did not pass, every finding listed. sum is the SHA-256 of the file
// as received (hex), or "".
func FromReport(rep *check.Report, file, sum string, received time.Time) *Feedback {
	fb := &Feedback{Traeger: rep.Traeger, Month: rep.Month, File: file, SHA256: sum,
		Received: received.UTC().Format(time.RFC3339), Result: Accepted, Findings: []Finding{}}
	if !rep.Passed {
		fb.Result = Rejected
	}
	for _, f := range rep.Findings {
		fb.Findings = append(fb.Findings, Finding{Stage: string(f.Stage), Rule: f.Rule, Severity: string(f.Severity),
			Module: f.Module, Merkmal: f.Merkmal, Line: f.Line, BG: f.BG, Kundennummer: f.Kundennummer, Text: f.Text})
	}
	return fb
}

// Write writes fb in the model format.
func Write(w io.Writer, fb *Feedback) error {
	doc := etree.NewDocument()
	doc.CreateProcInst("xml", `version="1.0" encoding="UTF-8"`)
	root := doc.CreateElement("rueckmeldung")
	root.CreateAttr("xmlns", Namespace)
	add := func(e *etree.Element, name, v string) {
		if v != "" {
			e.CreateElement(name).SetText(v)
		}
	}
	add(root, "traegernummer", fb.Traeger)
	add(root, "berichtsmonat", fb.Month)
	add(root, "datei", fb.File)
	add(root, "sha256", fb.SHA256)
	add(root, "eingang", fb.Received)
	add(root, "ergebnis", string(fb.Result))
	for _, f := range fb.Findings {
		b := root.CreateElement("befund")
		add(b, "stufe", f.Stage)
		add(b, "regel", f.Rule)
		add(b, "schwere", f.Severity)
		add(b, "modul", f.Module)
		add(b, "merkmal", f.Merkmal)
		if f.Line > 0 {
			add(b, "zeile", strconv.Itoa(f.Line))
		}
		add(b, "bgnummer", f.BG)
		add(b, "kundennummer", f.Kundennummer)
		add(b, "text", f.Text)
	}
	doc.Indent(2)
	_, err := doc.WriteTo(w)
	return err
}

// ErrFormat is wrapped by every error about a malformed feedback file.
var ErrFormat = errors.New("not a feedback file of the model format")

// Limits of Parse. The model nests three levels (rueckmeldung, befund, a
// field of it), so deeper nesting is refused at the first element that
// does not belong, wherever it appears.
const (
	// maxBytes bounds a feedback file: about a million findings.
	maxBytes = 256 << 20
	// maxValue bounds one element's text.
	maxValue = 64 << 10
)

// Parse reads a feedback file, streaming: unknown or misplaced elements, a
// DOCTYPE, a missing verdict or a bad line number are errors naming the
// element and its line. Memory stays that of the findings read: no tree is
// built, and no element nests deeper than the model.
func Parse(r io.Reader) (*Feedback, error) { return parse(r, maxBytes) }

// parse reads a feedback file of at most limit bytes.
func parse(r io.Reader, limit int64) (*Feedback, error) {
	cr := &capReader{r: r, limit: limit, left: limit + 1}
	d := xml.NewDecoder(cr)
	d.Strict = true
	fb := &Feedback{Findings: []Finding{}}
	var (
		path  []string // the open elements' local names
		text  strings.Builder
		f     Finding
		found bool // the root was seen
	)
	for {
		line, col := d.InputPos() // where the next token starts
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			if cr.readErr != nil {
				return nil, cr.readErr // reading failed: not a verdict on the file
			}
			return nil, fmt.Errorf("%w: %v", ErrFormat, err)
		}
		at := fmt.Sprintf("at line %d, column %d", line, col)
		switch t := tok.(type) {
		case xml.Directive:
			return nil, fmt.Errorf("%w: DOCTYPE declarations are refused (%s)", ErrFormat, at)
		case xml.StartElement:
			name := t.Name.Local
			switch {
			case len(path) == 0:
				if found || name != "rueckmeldung" || t.Name.Space != Namespace {
					return nil, fmt.Errorf("%w: expected the root element <rueckmeldung xmlns=%q>, found <%s> %s", ErrFormat, Namespace, name, at)
				}
				found = true
			case len(path) == 1:
				switch name {
				case "traegernummer", "berichtsmonat", "datei", "sha256", "eingang", "ergebnis":
				case "befund":
					f = Finding{}
				default:
					return nil, fmt.Errorf("%w: unknown element <%s> %s", ErrFormat, name, at)
				}
			case len(path) == 2 && path[1] == "befund":
				switch name {
				case "stufe", "regel", "schwere", "modul", "merkmal", "zeile", "bgnummer", "kundennummer", "text":
				default:
					return nil, fmt.Errorf("%w: befund %d: unknown element <%s> %s", ErrFormat, len(fb.Findings)+1, name, at)
				}
			default:
				return nil, fmt.Errorf("%w: element <%s> inside <%s> %s: the model nests no deeper than rueckmeldung, befund and its fields", ErrFormat, name, path[len(path)-1], at)
			}
			path = append(path, name)
			text.Reset()
		case xml.CharData:
			if text.Len()+len(t) > maxValue {
				return nil, fmt.Errorf("%w: the text of <%s> exceeds %d KiB (%s)", ErrFormat, path[len(path)-1], maxValue>>10, at)
			}
			text.Write(t)
		case xml.EndElement:
			v := strings.TrimSpace(text.String())
			text.Reset()
			switch {
			case len(path) == 2 && path[1] == "befund":
				if f.Rule == "" || (f.Severity != "Fehler" && f.Severity != "Hinweis") {
					return nil, fmt.Errorf("%w: befund %d: <regel> and <schwere> (Fehler or Hinweis) are required", ErrFormat, len(fb.Findings)+1)
				}
				fb.Findings = append(fb.Findings, f)
			case len(path) == 2:
				setField(fb, path[1], v)
			case len(path) == 3:
				if err := setFinding(&f, path[2], v, len(fb.Findings)+1); err != nil {
					return nil, err
				}
			}
			path = path[:len(path)-1]
		}
	}
	switch {
	case !found:
		return nil, fmt.Errorf("%w: expected the root element <rueckmeldung xmlns=%q>", ErrFormat, Namespace)
	case fb.Result != Accepted && fb.Result != Rejected:
		return nil, fmt.Errorf("%w: <ergebnis> %q: expected angenommen or abgelehnt", ErrFormat, fb.Result)
	case fb.Traeger == "" || fb.Month == "":
		return nil, fmt.Errorf("%w: <traegernummer> and <berichtsmonat> are required", ErrFormat)
	}
	if _, err := schemas.ParseMonth(fb.Month); err != nil {
		return nil, fmt.Errorf("%w: <berichtsmonat>: %v", ErrFormat, err)
	}
	return fb, nil
}

func setField(fb *Feedback, name, v string) {
	switch name {
	case "traegernummer":
		fb.Traeger = v
	case "berichtsmonat":
		fb.Month = v
	case "datei":
		fb.File = v
	case "sha256":
		fb.SHA256 = strings.ToLower(v)
	case "eingang":
		fb.Received = v
	case "ergebnis":
		fb.Result = Result(v)
	}
}

// setFinding sets one field of the n-th finding.
func setFinding(f *Finding, name, v string, n int) error {
	switch name {
	case "stufe":
		f.Stage = v
	case "regel":
		f.Rule = v
	case "schwere":
		f.Severity = v
	case "modul":
		f.Module = v
	case "merkmal":
		f.Merkmal = v
	case "zeile":
		l, err := strconv.Atoi(v)
		if err != nil || l < 1 {
			return fmt.Errorf("%w: befund %d: <zeile> %q: expected a line number", ErrFormat, n, v)
		}
		f.Line = l
	case "bgnummer":
		f.BG = v
	case "kundennummer":
		f.Kundennummer = v
	case "text":
		f.Text = v
	}
	return nil
}

// capReader reads at most left bytes of r and then fails, so a feedback
// file larger than limit is refused rather than cut. It also
// fails on a run of more than maxValue bytes without a '<': encoding/xml
// gathers a text node whole before it returns it, so a value (or a file
// that is not XML) of any size would be held in memory before Parse could
// judge it.
type capReader struct {
	r     io.Reader
	limit int64
	left  int64 // limit+1 at the start
	off   int64 // bytes read
	text  int64 // bytes since the last '<'
	// readErr is the first error of r other than io.EOF.
	readErr error
}

func (c *capReader) Read(p []byte) (int, error) {
	if c.left <= 0 {
		return 0, fmt.Errorf("larger than %d KiB", c.limit>>10)
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	if err != nil && err != io.EOF && c.readErr == nil {
		c.readErr = err
	}
	if i := bytes.LastIndexByte(p[:n], '<'); i >= 0 {
		c.text = int64(n - i - 1)
	} else {
		c.text += int64(n)
	}
	if c.text > maxValue {
		return 0, fmt.Errorf("more than %d KiB of text without markup before byte %d", maxValue>>10, c.off+int64(n))
	}
	c.left -= int64(n)
	c.off += int64(n)
	return n, err
}

// Mapped is a finding with the source record it came from.
type Mapped struct {
	Finding
	// Source is the source line of the record the finding's line lies in;
	// nil for findings about the header or the file as a whole.
	Source *source.Pos `json:"source,omitempty"`
}

// ErrSourceChanged is returned when the source no longer builds the
// delivered file: line numbers would point at the wrong records.
var ErrSourceChanged = errors.New("the source no longer builds the delivered dataset")

// MapToSource maps each finding of fb to its source record. dataset is the
// file that was delivered (its header gives the build options: Träger,
// month, version, creation time, software, Lieferart, test/production);
// sourceDir the source it was built from. The dataset is rebuilt in
// memory-flat streaming and must hash to the delivered file's SHA-256 (and
// to fb's, when it names one), otherwise ErrSourceChanged.
func MapToSource(ctx context.Context, fb *Feedback, dataset, sourceDir string) ([]Mapped, error) {
	opts, sum, err := datasetOptions(dataset)
	if err != nil {
		return nil, err
	}
	if fb.SHA256 != "" && fb.SHA256 != sum {
		return nil, fmt.Errorf("the feedback concerns a file with SHA-256 %s, but %s has %s: not the delivered file", fb.SHA256, dataset, sum)
	}
	if opts.Traeger != fb.Traeger || opts.Month.String() != fb.Month {
		return nil, fmt.Errorf("the feedback is for Träger %s, month %s; %s is for %s, %s", fb.Traeger, fb.Month, dataset, opts.Traeger, opts.Month)
	}
	out := make([]Mapped, len(fb.Findings))
	order := make([]int, 0, len(fb.Findings))
	for i, f := range fb.Findings {
		out[i].Finding = f
		if f.Line > 0 {
			order = append(order, i)
		}
	}
	sort.SliceStable(order, func(a, b int) bool { return fb.Findings[order[a]].Line < fb.Findings[order[b]].Line })
	next := 0
	var prev *source.Pos
	prevLine := 0
	assign := func(upTo int) { // findings with line < upTo belong to prev
		for next < len(order) && fb.Findings[order[next]].Line < upTo {
			if prev != nil && fb.Findings[order[next]].Line >= prevLine {
				p := *prev
				out[order[next]].Source = &p
			}
			next++
		}
	}
	opts.OnRecord = func(line int, from source.Pos) {
		assign(line)
		p := from
		prev, prevLine = &p, line
	}
	h := sha256.New()
	if _, err := source.Build(ctx, sourceDir, h, opts); err != nil {
		return nil, err
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != sum {
		return nil, fmt.Errorf("%w: rebuilding from %s gives SHA-256 %s, the delivered %s has %s", ErrSourceChanged, sourceDir, got, dataset, sum)
	}
	assign(int(^uint(0) >> 1))
	return out, nil
}

// datasetOptions reads the build options from a dataset's header and
// hashes the file.
func datasetOptions(path string) (source.Options, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return source.Options{}, "", err
	}
	defer f.Close()
	h := sha256.New()
	rd := xsozial.NewReader(io.TeeReader(f, h))
	var k xsozial.Record
	if _, err := rd.Next(&k); err != nil || k.Kind != xsozial.KindKopf {
		return source.Options{}, "", fmt.Errorf("%s: no readable <kopf>: %v", path, err)
	}
	if _, err := io.Copy(h, f); err != nil {
		return source.Options{}, "", err
	}
	// The reader may have buffered past the header: hash what it read, then
	// the rest. TeeReader saw every byte the reader pulled, so h is whole.
	m, ok := xsozial.ParseMonth(k.F[xsozial.KBerichtsmonat])
	if !ok {
		return source.Options{}, "", fmt.Errorf("%s: <berichtsmonat> %q is not a month", path, k.F[xsozial.KBerichtsmonat])
	}
	created, err := time.Parse(time.RFC3339, k.F[xsozial.KErstellt])
	if err != nil {
		return source.Options{}, "", fmt.Errorf("%s: <erstellt>: %v", path, err)
	}
	return source.Options{
		Traeger: k.F[xsozial.KTraeger], Month: m, Version: k.F[xsozial.KSchemaversion], Created: created,
		Software: k.F[xsozial.KSoftware], SoftwareVersion: k.F[xsozial.KSoftwareversion],
		Lieferart: k.F[xsozial.KLieferart], Test: k.F[xsozial.KVerwendung] == "T",
	}, hex.EncodeToString(h.Sum(nil)), nil
}
