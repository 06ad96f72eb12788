// Package check checks an XSozial-BA-SGB II dataset the way the BA's
// VTXSozial does, in three stages, and reports every finding of every
// stage:
//
//   - RTX, file level: header sane, Trägernummer as configured, reporting
//     month not in the future, file name convention, UTF-8, size limit.
//   - VTX: XSD validation against the bundle in force for the file's
//     reporting month (libxml2, streaming).
//   - PTX: the plausibility rules of the same bundle's rule table
//     (regeln.csv), codes against its Schlüsselkatalog. The table also
//     holds each rule's numeric limit (column grenze: "3000.00 EUR",
//     "25 Jahre"); the code of a module decides how to compare, the table
//     how much. A table whose limits are missing or malformed does not
//     load, and PTX is then incomplete with the error naming line and rule.
//
// A stage is passed only when it ran to its end and found no Fehler; a
// stage that could not run to its end is "incomplete", never passed.
//
// # Speed and memory
//
// VTX (libxml2, in C) and PTX (a scanner for the model's own layout,
// [xsozial.Reader]) run concurrently over the same bytes, read once and
// handed to both in 256 KiB chunks. On two cores the check then takes about
// as long as the slower of the two, which is what lets it keep up with
// xmllint --stream --schema while doing both. Measured with
// BenchmarkXsozial (cmd/meldeweg) on 2 shared cores: 710 MB (100k BGs) at
// 86 MB/s and 44 MiB peak RSS, 1.16× xmllint's throughput on the same file;
// encoding/xml was not considered: its token API alone is slower than
// libxml2's validator (libraries.md). PTX holds one BG at a time plus two
// 8-byte-per-entry hash sets; findings are kept up to [Options.MaxFindings]
// per stage and counted beyond.
//
// # Limits
//
// VTX findings carry the BG-Nummer of the block they are in but no
// Kundennummer (libxml2 reports positions, not records). PTX has code
// for the rules listed in [Implemented]; a rule of an operator's table
// that is not among them is loaded but never found. Duplicate
// detection across BGs uses 64-bit hashes: a collision could hide a
// duplicate (about 3·10⁻⁸ for a million keys), never invent one.
package check

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"meldeweg.dev/meldeweg/schemas"
	"meldeweg.dev/meldeweg/schemas/xsd"
	"meldeweg.dev/meldeweg/xsozial"
)

// Stage is one of the three check stages.
type Stage string

const (
	StageRTX Stage = "RTX"
	StageVTX Stage = "VTX"
	StagePTX Stage = "PTX"
)

// Status is the outcome of one stage.
type Status string

const (
	// StatusPassed: the stage ran to its end and found no Fehler.
	StatusPassed Status = "passed"
	// StatusFailed: the stage ran to its end and found at least one Fehler.
	StatusFailed Status = "failed"
	// StatusIncomplete: the stage could not run to its end (no bundle for
	// the month, a structure it cannot follow); it is never passed.
	StatusIncomplete Status = "incomplete"
)

// Finding is one finding of a stage. It names records by their keys
// (BG-Nummer, Kundennummer), never by names or birth dates.
type Finding struct {
	Stage    Stage    `json:"stage"`
	Rule     string   `json:"rule"`
	Severity Severity `json:"severity"`
	// Module is the BA module ("2", "13"; "K" for the header).
	Module  string `json:"module,omitempty"`
	Merkmal string `json:"merkmal,omitempty"`
	// Line is the line in the dataset (0 where none applies).
	Line         int    `json:"line,omitempty"`
	BG           string `json:"bg,omitempty"`
	Kundennummer string `json:"kundennummer,omitempty"`
	Text         string `json:"text"`
	Detail       string `json:"detail,omitempty"`
}

// StageResult sums up one stage.
type StageResult struct {
	Stage    Stage  `json:"stage"`
	Status   Status `json:"status"`
	Fehler   int    `json:"fehler"`
	Hinweise int    `json:"hinweise"`
	// Omitted counts findings beyond Options.MaxFindings, counted above
	// but not listed.
	Omitted int `json:"omitted,omitempty"`
	// Note says why a stage is incomplete.
	Note string `json:"note,omitempty"`
}

// Figures are the key figures of a dataset, like VTXSozial's.
type Figures struct {
	BGs                     int    `json:"bgs"`
	BGMonate                int    `json:"bg_monate"`
	BGsImBerichtsmonat      int    `json:"bgs_im_berichtsmonat"`
	Personen                int    `json:"personen"`
	PersonenImBerichtsmonat int    `json:"personen_im_berichtsmonat"`
	ELbImBerichtsmonat      int    `json:"elb_im_berichtsmonat"`
	Ansprueche              int    `json:"ansprueche"`
	Massnahmen              int    `json:"massnahmen"`
	Arbeitsuche             int    `json:"arbeitsuche"`
	Widersprueche           int    `json:"widersprueche"`
	BuT                     int    `json:"but"`
	Finanzmonate            int    `json:"finanzmonate"`
	ZahlbetragBerichtsmonat string `json:"zahlbetrag_berichtsmonat"`
}

// Report is the result of a check.
type Report struct {
	File    string `json:"file"`
	Bytes   int64  `json:"bytes"`
	Traeger string `json:"traeger,omitempty"`
	Month   string `json:"berichtsmonat,omitempty"`
	Bundle  string `json:"bundle,omitempty"`
	// Model is true when the bundle is Meldeweg's model, not the BA's.
	Model    bool          `json:"model"`
	Stages   []StageResult `json:"stages"`
	Figures  Figures       `json:"figures"`
	Findings []Finding     `json:"findings"`
	Passed   bool          `json:"passed"`
}

// Stage returns the result of stage s.
func (r *Report) Stage(s Stage) StageResult {
	for _, st := range r.Stages {
		if st.Stage == s {
			return st
		}
	}
	return StageResult{Stage: s, Status: StatusIncomplete}
}

// Rules returns the set of rule IDs found, for tests and feedback.
func (r *Report) Rules() map[string]int {
	out := map[string]int{}
	for _, f := range r.Findings {
		out[f.Rule]++
	}
	return out
}

// Options configure a check.
type Options struct {
	// Registry supplies the bundles. Required.
	Registry *schemas.Registry
	// Traeger is the configured Trägernummer. Empty: not compared, and RTX
	// says so with a Hinweis.
	Traeger string
	// Now is the clock for "not in the future". Defaults to time.Now.
	Now func() time.Time
	// MaxFindings bounds the findings listed per stage. Defaults to 10000.
	MaxFindings int
	// MaxBytes is the size limit of a delivery. Defaults to 2 GiB.
	MaxBytes int64
}

// DefaultMaxBytes is the default size limit (an assumption; the BA's
// public material names none).
const DefaultMaxBytes = 2 << 30

// FileNamePattern is the file name convention RTX checks:
// XSOZIAL_<Trägernummer>_<YYYY-MM>_<T|P>.xml (a Meldeweg assumption).
var FileNamePattern = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^XSOZIAL_([0-9]{5})_([0-9]{4}-[0-9]{2})_([TP])\.xml$`)
})

// FileName returns the conventional file name for a delivery.
func FileName(traeger string, month schemas.Month, test bool) string {
	v := "P"
	if test {
		v = "T"
	}
	return fmt.Sprintf("XSOZIAL_%s_%s_%s.xml", traeger, month, v)
}

// CheckFile checks the dataset at path. The error is set only when the
// file cannot be read; findings are in the report.
func CheckFile(ctx context.Context, path string, opts Options) (*Report, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Check(ctx, f, path, opts)
}

// prefixSize is how much is read before the stages start, to find the
// header (and with it the reporting month that selects the bundle).
const prefixSize = 64 << 10

// Check checks the dataset read from r to its end. name is the file name
// for the file-name convention and messages; "" or "-" skips the
// convention (standard input). The error is set only when r cannot be
// read; findings are in the report.
func Check(ctx context.Context, r io.Reader, name string, opts Options) (*Report, error) {
	if opts.Registry == nil {
		return nil, errors.New("check: no schema registry")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxFindings <= 0 {
		opts.MaxFindings = 10000
	}
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = DefaultMaxBytes
	}
	rep := &Report{File: name}
	if name == "" || name == "-" {
		rep.File = "<stdin>"
	}
	c := &run{opts: opts, rep: rep, lists: map[Stage]*list{}}
	for _, s := range []Stage{StageRTX, StageVTX, StagePTX} {
		c.lists[s] = &list{max: opts.MaxFindings}
	}

	prefix := make([]byte, prefixSize)
	n, err := io.ReadFull(r, prefix)
	prefix = prefix[:n]
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, fmt.Errorf("reading %s: %w", rep.File, err)
	}
	kopf, kerr := readKopf(prefix)
	rtx := &rtxState{run: c, name: name, kopf: kopf, kopfErr: kerr}
	rtx.header()

	var spec *Spec
	var schema *xsd.Schema
	vtxNote, ptxNote := "", ""
	if month, ok := rtx.month(); ok {
		b, err := opts.Registry.Select(xsozial.Standard, month)
		if err != nil {
			vtxNote = err.Error()
		} else {
			rep.Bundle, rep.Model = b.ID(), b.Model
			rtx.bundle(b)
			if schema, err = b.Schema(); err != nil {
				vtxNote = err.Error()
			}
			if spec, err = LoadSpec(b); err != nil {
				ptxNote = err.Error()
			}
		}
	} else {
		vtxNote = "no readable reporting month in the header, so no bundle could be chosen"
	}
	if ptxNote == "" && spec == nil {
		ptxNote = vtxNote
	}

	src := io.MultiReader(bytesReader(prefix), r)
	fan := newFanout(src, rtx.observe)
	var vtxTap, ptxTap *tap
	if schema != nil {
		vtxTap = fan.tap()
	}
	if spec != nil {
		ptxTap = fan.tap()
	}
	go fan.run()

	var wg sync.WaitGroup
	var vtxErr error
	var vtxRes xsd.Result
	bgIdx := &bgIndex{}
	if vtxTap != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer vtxTap.close()
			vtxRes, vtxErr = schema.Validate(ctx, vtxTap, rep.File, c.vtxProblem)
		}()
	}
	var ptxErr error
	var skipped, skippedLine int
	if ptxTap != nil {
		month, _ := rtx.month()
		p := newPTX(spec, month, &rep.Figures, c.lists[StagePTX].add)
		skipped, skippedLine, ptxErr = runPTX(ctx, ptxTap, p, bgIdx)
		ptxTap.close()
		if p.skippedBGs > 0 && ptxNote == "" {
			ptxNote = fmt.Sprintf("%d BG(s) with more than %d records were checked only in part", p.skippedBGs, p.maxBGRecords)
		}
	}
	wg.Wait()
	fan.wait()
	rtx.finish(fan.total)
	rep.Bytes = fan.total
	if fan.err != nil {
		return nil, fmt.Errorf("reading %s: %w", rep.File, fan.err)
	}
	if vtxErr != nil {
		return nil, vtxErr
	}
	var se *xsozial.SyntaxError
	switch {
	case ptxErr == nil:
	case errors.As(ptxErr, &se):
		ptxNote = fmt.Sprintf("PTX stopped at line %d: %s", se.Line, se.Msg)
	default:
		return nil, ptxErr
	}
	if ptxNote == "" && skipped > 0 {
		ptxNote = fmt.Sprintf("%d element(s) of an unknown kind were skipped, the first at line %d; PTX checked only what it could read (see VTX)", skipped, skippedLine)
	}
	_ = vtxRes
	// VTX findings: the BG-Nummer from the PTX scan's index.
	for i := range c.lists[StageVTX].items {
		f := &c.lists[StageVTX].items[i]
		f.BG = bgIdx.at(f.Line)
	}
	rep.Stages = []StageResult{
		c.lists[StageRTX].result(StageRTX, ""),
		c.lists[StageVTX].result(StageVTX, vtxNote),
		c.lists[StagePTX].result(StagePTX, ptxNote),
	}
	rep.Passed = true
	for _, s := range rep.Stages {
		if s.Status != StatusPassed {
			rep.Passed = false
		}
	}
	for _, s := range []Stage{StageRTX, StageVTX, StagePTX} {
		items := c.lists[s].items
		sort.SliceStable(items, func(i, j int) bool {
			a, b := items[i], items[j]
			if a.Line != b.Line {
				return a.Line < b.Line
			}
			if a.Rule != b.Rule {
				return a.Rule < b.Rule
			}
			return a.Merkmal < b.Merkmal
		})
		rep.Findings = append(rep.Findings, items...)
	}
	if rep.Findings == nil {
		rep.Findings = []Finding{}
	}
	return rep, nil
}

// run is the state of one check.
type run struct {
	opts  Options
	rep   *Report
	lists map[Stage]*list
}

// list collects the findings of one stage; only its stage's goroutine
// adds to it.
type list struct {
	items            []Finding
	max              int
	fehler, hinweise int
	omitted          int
}

func (l *list) add(f Finding) {
	if f.Severity == Fehler {
		l.fehler++
	} else {
		l.hinweise++
	}
	if len(l.items) >= l.max {
		l.omitted++
		return
	}
	l.items = append(l.items, f)
}

func (l *list) result(s Stage, note string) StageResult {
	r := StageResult{Stage: s, Fehler: l.fehler, Hinweise: l.hinweise, Omitted: l.omitted, Note: note}
	switch {
	case note != "":
		r.Status = StatusIncomplete
	case l.fehler > 0:
		r.Status = StatusFailed
	default:
		r.Status = StatusPassed
	}
	return r
}

var nsPrefix = "{" + xsozial.Namespace + "}"

// quoted matches the value in libxml2's messages about a value.
var (
	valueRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(The value |': )'[^']*'`) })
)

func (c *run) vtxProblem(p xsd.Problem) {
	module, merkmal := xsozial.ElemMerkmal(p.Path)
	msg := strings.ReplaceAll(p.Message, nsPrefix, "")
	if personalPath(p.Path) {
		msg = valueRE().ReplaceAllString(msg, "${1}(value withheld: personal data)")
	}
	sev := Fehler
	if p.Warning {
		sev = Hinweis
	}
	rule := fmt.Sprintf("VTX_%04d", p.Code)
	if p.Kind == xsd.WellFormedness || p.Kind == xsd.Security {
		rule = "VTX_XML"
	}
	c.lists[StageVTX].add(Finding{Stage: StageVTX, Rule: rule, Severity: sev, Module: module, Merkmal: merkmal, Line: p.Line, Text: msg})
}

func personalPath(path string) bool {
	i := strings.LastIndexByte(path, '/')
	leaf := path[i+1:]
	if j := strings.LastIndexAny(leaf, ":}"); j >= 0 {
		leaf = leaf[j+1:]
	}
	for _, k := range xsozial.Kinds() {
		for _, f := range k.Info().Fields {
			if f.Personal && f.Elem == leaf {
				return true
			}
		}
	}
	return false
}

// bgIndex maps lines to the BG block they are in, for VTX findings: 22
// bytes per BG (two line numbers and the 14-byte BG-Nummer in one arena).
type bgIndex struct {
	starts []int32
	ends   []int32
	bgs    []byte // bgLen bytes per BG, zero-padded
}

const bgLen = 14

func (x *bgIndex) begin(line int, bg string) {
	x.starts = append(x.starts, int32(line))
	var b [bgLen]byte
	copy(b[:], bg)
	x.bgs = append(x.bgs, b[:]...)
}

func (x *bgIndex) at(line int) string {
	i := sort.Search(len(x.starts), func(i int) bool { return int(x.starts[i]) > line }) - 1
	if i >= 0 && (i >= len(x.ends) || line <= int(x.ends[i])) {
		// a block without end is open to the end of the file
		return strings.TrimRight(string(x.bgs[i*bgLen:(i+1)*bgLen]), "\x00")
	}
	return ""
}

func runPTX(ctx context.Context, r io.Reader, p *ptx, idx *bgIndex) (skipped, skippedLine int, err error) {
	rd := xsozial.NewReader(r)
	var rec xsozial.Record
	n := 0
	for {
		ev, err := rd.Next(&rec)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return rd.Skipped, rd.SkippedLine, err
		}
		if n++; n%8192 == 0 {
			if err := ctx.Err(); err != nil {
				return rd.Skipped, rd.SkippedLine, err
			}
		}
		if ev == xsozial.EventEndBG {
			idx.ends = append(idx.ends, int32(rd.Line()))
			p.endBG()
			continue
		}
		if rec.Kind == xsozial.KindBG {
			idx.begin(rec.Line, rec.F[xsozial.BGNummer])
		}
		p.record(&rec)
	}
	p.end()
	return rd.Skipped, rd.SkippedLine, nil
}

// readKopf reads the header from the start of the file.
func readKopf(prefix []byte) (*xsozial.Record, error) {
	rd := xsozial.NewReader(bytesReader(prefix))
	var rec xsozial.Record
	for {
		ev, err := rd.Next(&rec)
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil, errors.New("the file has no <kopf>")
			}
			return nil, err
		}
		if ev == xsozial.EventRecord && rec.Kind == xsozial.KindKopf {
			return &rec, nil
		}
		return nil, fmt.Errorf("line %d: the file does not start with <kopf>", rec.Line)
	}
}

type byteReader struct {
	b []byte
}

func bytesReader(b []byte) io.Reader { return &byteReader{b} }

func (r *byteReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.b)
	r.b = r.b[n:]
	return n, nil
}

// fanout reads a source once and hands each chunk to every tap.
type fanout struct {
	src     io.Reader
	observe func([]byte)
	taps    []*tap
	total   int64
	err     error
	done    chan struct{}
}

type chunk struct {
	b    []byte
	n    int
	refs atomic.Int32
}

const chunkSize = 256 << 10

var chunkPool = sync.Pool{New: func() any { return &chunk{b: make([]byte, chunkSize)} }}

func (c *chunk) release() {
	if c.refs.Add(-1) == 0 {
		chunkPool.Put(c)
	}
}

func newFanout(src io.Reader, observe func([]byte)) *fanout {
	return &fanout{src: src, observe: observe, done: make(chan struct{})}
}

// tap is one reader of the fanned-out stream.
type tap struct {
	ch     chan *chunk
	quit   chan struct{}
	closed atomic.Bool
	cur    *chunk
	off    int
	f      *fanout
}

func (f *fanout) tap() *tap {
	t := &tap{ch: make(chan *chunk, 4), quit: make(chan struct{}), f: f}
	f.taps = append(f.taps, t)
	return t
}

func (f *fanout) run() {
	defer close(f.done)
	defer func() {
		for _, t := range f.taps {
			close(t.ch)
		}
	}()
	for {
		c := chunkPool.Get().(*chunk)
		n, err := io.ReadFull(f.src, c.b)
		c.n = n
		if n > 0 {
			f.total += int64(n)
			f.observe(c.b[:n])
			c.refs.Store(int32(len(f.taps)) + 1)
			for _, t := range f.taps {
				select {
				case t.ch <- c:
				case <-t.quit:
					c.release()
				}
			}
			c.release()
		} else {
			chunkPool.Put(c)
		}
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
				f.err = err
			}
			return
		}
	}
}

func (f *fanout) wait() { <-f.done }

// errSourceFailed is what taps return when the source could not be read;
// the real error is in fanout.err once it is done.
var errSourceFailed = errors.New("the input could not be read")

func (t *tap) Read(p []byte) (int, error) {
	for t.cur == nil || t.off >= t.cur.n {
		if t.cur != nil {
			t.cur.release()
			t.cur = nil
		}
		c, ok := <-t.ch
		if !ok {
			<-t.f.done
			if t.f.err != nil {
				return 0, errSourceFailed
			}
			return 0, io.EOF
		}
		t.cur, t.off = c, 0
	}
	n := copy(p, t.cur.b[t.off:t.cur.n])
	t.off += n
	return n, nil
}

// close gives up the tap; the fanout no longer waits for it.
func (t *tap) close() {
	if t.closed.CompareAndSwap(false, true) {
		close(t.quit)
		if t.cur != nil {
			t.cur.release()
			t.cur = nil
		}
	}
}

// utf8Tail returns how many trailing bytes of b may be the start of an
// incomplete UTF-8 sequence.
func utf8Tail(b []byte) int {
	for i := 1; i <= 3 && i <= len(b); i++ {
		c := b[len(b)-i]
		if c < 0x80 {
			return 0
		}
		if utf8.RuneStart(c) {
			if !utf8.FullRune(b[len(b)-i:]) {
				return i
			}
			return 0
		}
	}
	return 0
}
