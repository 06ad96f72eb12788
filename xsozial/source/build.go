package source

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"meldeweg.dev/meldeweg/schemas"
	"meldeweg.dev/meldeweg/xsozial"
)

// Options are the parameters of a build.
type Options struct {
	// Traeger is the Trägernummer (K.1), five digits.
	Traeger string
	// Month is the reporting month (K.2).
	Month schemas.Month
	// Version is the schema version of the bundle in force for Month; it
	// decides which Merkmale exist (K.9).
	Version string
	// Created is the creation time (K.4). A build is deterministic only
	// when it is fixed; the command defaults it to SOURCE_DATE_EPOCH or the
	// newest modification time of the input files.
	Created time.Time
	// Software and SoftwareVersion name the sender (K.5, K.6).
	Software, SoftwareVersion string
	// Lieferart is K.7: "1" Regellieferung (default), "2" Korrekturlieferung.
	Lieferart string
	// Test marks a test delivery (K.8 "T"); otherwise "P".
	Test bool
	// OnRecord, if set, is called for every element written (the BG
	// block's start tag and each record) with its line in the output and
	// the source line it came from. The BG block start maps to the BG's
	// first source record.
	OnRecord func(outLine int, from Pos)
}

// Pos is a place in the source.
type Pos struct {
	File string `json:"file"`
	Line int    `json:"line"`
}

func (p Pos) String() string { return fmt.Sprintf("%s:%d", p.File, p.Line) }

// InputError is unusable input: it names file, line and, where one is at
// fault, the member (field) and its Merkmal.
type InputError struct {
	Pos
	Field   string
	Merkmal string
	Msg     string
}

func (e *InputError) Error() string {
	var b strings.Builder
	b.WriteString(e.Pos.String())
	b.WriteString(": ")
	if e.Field != "" {
		fmt.Fprintf(&b, "field %q", e.Field)
		if e.Merkmal != "" {
			fmt.Fprintf(&b, " (Merkmal %s)", e.Merkmal)
		}
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Stats sums up a build.
type Stats struct {
	// Files and Lines read.
	Files, Lines int
	// Written counts the records written, by source record type.
	Written map[string]int
	// Outside counts the records left out because they lie outside the
	// reporting window, by source record type.
	Outside map[string]int
	// BGs is the number of BG blocks written.
	BGs int
	// Bytes is the size of the dataset written.
	Bytes int64
	// WindowFirst and WindowLast are the months of the snapshot.
	WindowFirst, WindowLast schemas.Month
}

// maxGroup bounds the records of one BG, so one BG cannot exhaust memory.
const maxGroup = 100000

// maxFinanzen bounds module-1 records (one per month expected).
const maxFinanzen = 1000

// Files lists the source files of dir in build order, refusing anything
// that is not a *.jsonl file (hidden files excepted).
func Files(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") {
			continue
		}
		if e.IsDir() || !strings.HasSuffix(name, ".jsonl") {
			return nil, &InputError{Pos: Pos{File: filepath.Join(dir, name)}, Msg: "not a source file: a source directory holds only *.jsonl files"}
		}
		out = append(out, filepath.Join(dir, name))
	}
	sort.Strings(out)
	if len(out) == 0 {
		return nil, &InputError{Pos: Pos{File: dir}, Msg: "no *.jsonl source files"}
	}
	return out, nil
}

// Build reads the source in dir and writes the dataset to w. Unusable
// input stops it with an *InputError; nothing is written for a BG that
// was not fully read, but w may hold a partial file: write to a temporary
// file and rename on success.
func Build(ctx context.Context, dir string, w io.Writer, opts Options) (Stats, error) {
	files, err := Files(dir)
	if err != nil {
		return Stats{}, err
	}
	return BuildFiles(ctx, files, w, opts)
}

// BuildFiles is [Build] over an explicit list of files, read in the given
// order.
func BuildFiles(ctx context.Context, files []string, w io.Writer, opts Options) (Stats, error) {
	if ok, exp := xsozial.CheckValue(xsozial.TTraeger, opts.Traeger); !ok {
		return Stats{}, fmt.Errorf("Trägernummer %q: expected %s", opts.Traeger, exp)
	}
	if opts.Month.IsZero() || opts.Version == "" {
		return Stats{}, errors.New("build: month and schema version are required")
	}
	if opts.Lieferart == "" {
		opts.Lieferart = "1"
	}
	if opts.Lieferart != "1" && opts.Lieferart != "2" {
		return Stats{}, fmt.Errorf("Lieferart %q: expected 1 (Regellieferung) or 2 (Korrekturlieferung)", opts.Lieferart)
	}
	if opts.Software == "" {
		opts.Software = "meldeweg"
	}
	if opts.SoftwareVersion == "" {
		opts.SoftwareVersion = "dev"
	}
	cw := &countWriter{w: w}
	b := &builder{
		opts:  opts,
		out:   xsozial.NewWriter(cw, opts.Version),
		seen:  map[uint64]int32{},
		stats: Stats{Written: map[string]int{}, Outside: map[string]int{}},
	}
	b.stats.WindowFirst, b.stats.WindowLast = xsozial.Window(opts.Month)
	b.winFirst = xsozial.FirstDay(b.stats.WindowFirst)
	b.winLast = xsozial.LastDay(opts.Month)

	var k xsozial.Record
	k.Reset(xsozial.KindKopf)
	k.F[xsozial.KTraeger] = opts.Traeger
	k.F[xsozial.KBerichtsmonat] = opts.Month.String()
	k.F[xsozial.KStichtag] = opts.Month.Last().Format("2006-01-02")
	k.F[xsozial.KErstellt] = opts.Created.UTC().Format(time.RFC3339)
	k.F[xsozial.KSoftware] = opts.Software
	k.F[xsozial.KSoftwareversion] = opts.SoftwareVersion
	k.F[xsozial.KLieferart] = opts.Lieferart
	k.F[xsozial.KVerwendung] = "P"
	if opts.Test {
		k.F[xsozial.KVerwendung] = "T"
	}
	k.F[xsozial.KSchemaversion] = opts.Version
	for _, i := range []int{xsozial.KSoftware, xsozial.KSoftwareversion} {
		if ok, exp := xsozial.CheckValue(xsozial.TText, k.F[i]); !ok {
			return Stats{}, fmt.Errorf("header Merkmal %s %q: expected %s", k.Merkmal(i), k.F[i], exp)
		}
	}
	if err := b.out.Kopf(&k); err != nil {
		return Stats{}, err
	}
	for fi, name := range files {
		if err := b.readFile(ctx, fi, name); err != nil {
			return b.stats, err
		}
	}
	if err := b.flush(); err != nil {
		return b.stats, err
	}
	for i := range b.finanzen {
		line, err := b.out.Record(&b.finanzen[i].rec)
		if err != nil {
			return b.stats, err
		}
		b.stats.Written["finanzen"]++
		if opts.OnRecord != nil {
			opts.OnRecord(line, b.finanzen[i].pos)
		}
	}
	if err := b.out.Close(); err != nil {
		return b.stats, err
	}
	b.stats.Bytes = cw.n
	return b.stats, nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

type srcRecord struct {
	rec xsozial.Record
	pos Pos
}

type builder struct {
	opts              Options
	out               *xsozial.Writer
	stats             Stats
	winFirst, winLast xsozial.Date

	group    []srcRecord // records of the current BG
	groupBG  string
	groupAt  Pos
	seen     map[uint64]int32 // BG hash → index into seenAt
	seenAt   []Pos
	finanzen []srcRecord
	members  []member
	files    []string
}

func (b *builder) readFile(ctx context.Context, fi int, name string) error {
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	b.stats.Files++
	br := bufio.NewReaderSize(f, 256<<10)
	lineNo := 0
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			return &InputError{Pos: Pos{name, lineNo + 1}, Msg: "line longer than 256 KiB; one record per line"}
		}
		if len(line) > 0 {
			lineNo++
			b.stats.Lines++
			if lineNo%4096 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			if e := b.line(Pos{name, lineNo}, bytes.TrimRight(line, "\r\n")); e != nil {
				return e
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading %s: %w", name, err)
		}
	}
}

func (b *builder) line(pos Pos, line []byte) error {
	if len(bytes.TrimSpace(line)) == 0 {
		return nil
	}
	if !utf8.Valid(line) {
		return &InputError{Pos: pos, Msg: "not UTF-8: the source format is UTF-8 encoded"}
	}
	ms, err := parseFlat(line, b.members)
	if err != nil {
		return &InputError{Pos: pos, Msg: "not a JSON object of the source format: " + err.Error()}
	}
	b.members = ms
	var satz, bg string
	var satzSeen bool
	for _, m := range ms {
		if m.key == "satz" {
			if m.kind != 's' {
				return &InputError{Pos: pos, Field: "satz", Msg: "expected a string naming the record type"}
			}
			satz, satzSeen = m.val, true
		}
	}
	if !satzSeen {
		return &InputError{Pos: pos, Field: "satz", Msg: "missing: expected the record type, one of " + strings.Join(xsozial.Satzarten(), ", ")}
	}
	kind, ok := xsozial.KindBySatz(satz)
	if !ok {
		return &InputError{Pos: pos, Field: "satz", Msg: fmt.Sprintf("unknown record type %q: expected one of %s", satz, strings.Join(xsozial.Satzarten(), ", "))}
	}
	sr := srcRecord{pos: pos}
	sr.rec.Reset(kind)
	info := kind.Info()
	var have [xsozial.MaxFields]bool
	var bgSeen bool
	for _, m := range ms {
		if m.key == "satz" {
			continue
		}
		if m.key == "bg" && kind != xsozial.KindFinanzen {
			if bgSeen {
				return &InputError{Pos: pos, Field: "bg", Msg: "appears twice"}
			}
			bgSeen = true
			if m.kind != 's' {
				return &InputError{Pos: pos, Field: "bg", Merkmal: "2.1", Msg: "expected a string, the BG-Nummer"}
			}
			if ok, exp := xsozial.CheckValue(xsozial.TBGNummer, m.val); !ok {
				return &InputError{Pos: pos, Field: "bg", Merkmal: "2.1", Msg: fmt.Sprintf("%q: expected %s", m.val, exp)}
			}
			bg = m.val
			continue
		}
		idx := -1
		for i, f := range info.Fields {
			if f.JSON == m.key {
				idx = i
				break
			}
		}
		if idx < 0 {
			return &InputError{Pos: pos, Field: m.key, Msg: fmt.Sprintf("not a member of a %q record (members: %s)", satz, memberList(kind))}
		}
		f := info.Fields[idx]
		if have[idx] {
			return &InputError{Pos: pos, Field: m.key, Merkmal: f.Merkmal, Msg: "appears twice"}
		}
		have[idx] = true
		if m.kind == 'z' {
			continue
		}
		if !kind.HasField(idx, b.opts.Version) {
			return &InputError{Pos: pos, Field: m.key, Merkmal: f.Merkmal, Msg: fmt.Sprintf("exists only from schema version %s; the reporting month %s uses version %s", f.Since, b.opts.Month, b.opts.Version)}
		}
		v, err := convert(f, m)
		if err != nil {
			// Personal values (birth dates) are not repeated in messages.
			return &InputError{Pos: pos, Field: m.key, Merkmal: f.Merkmal, Msg: err.Error()}
		}
		sr.rec.F[idx] = v
	}
	for i, f := range info.Fields {
		if sr.rec.F[i] == "" && !f.Optional {
			return &InputError{Pos: pos, Field: f.JSON, Merkmal: f.Merkmal, Msg: "missing: " + expectedJSON(f)}
		}
	}
	if kind == xsozial.KindFinanzen {
		if b.outside(&sr.rec) {
			b.stats.Outside[satz]++
			return nil
		}
		if len(b.finanzen) >= maxFinanzen {
			return &InputError{Pos: pos, Msg: fmt.Sprintf("more than %d finanzen records in the window", maxFinanzen)}
		}
		b.finanzen = append(b.finanzen, sr)
		return nil
	}
	if !bgSeen {
		return &InputError{Pos: pos, Field: "bg", Merkmal: "2.1", Msg: "missing: expected the BG-Nummer the record belongs to"}
	}
	if bg != b.groupBG {
		if err := b.flush(); err != nil {
			return err
		}
		h := hashBG(bg)
		if at, dup := b.seen[h]; dup {
			return &InputError{Pos: pos, Field: "bg", Merkmal: "2.1", Msg: fmt.Sprintf("records of BG %s must stand together, but they began at %s and another BG came between", bg, b.seenAt[at])}
		}
		b.seen[h] = int32(len(b.seenAt))
		b.seenAt = append(b.seenAt, pos)
		b.groupBG, b.groupAt = bg, pos
	}
	if b.outside(&sr.rec) {
		b.stats.Outside[satz]++
		return nil
	}
	if len(b.group) >= maxGroup {
		return &InputError{Pos: pos, Field: "bg", Msg: fmt.Sprintf("BG %s has more than %d records", bg, maxGroup)}
	}
	b.group = append(b.group, sr)
	return nil
}

func hashBG(bg string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(bg))
	return h.Sum64()
}

// flush writes the current BG block.
func (b *builder) flush() error {
	if b.groupBG == "" {
		return nil
	}
	defer func() { b.group = b.group[:0]; b.groupBG = "" }()
	if len(b.group) == 0 {
		return nil // every record outside the window
	}
	sort.SliceStable(b.group, func(i, j int) bool { return b.group[i].rec.Kind < b.group[j].rec.Kind })
	line, err := b.out.BeginBG(b.groupBG)
	if err != nil {
		return err
	}
	if b.opts.OnRecord != nil {
		b.opts.OnRecord(line, b.groupAt)
	}
	for i := range b.group {
		line, err := b.out.Record(&b.group[i].rec)
		if err != nil {
			return &InputError{Pos: b.group[i].pos, Msg: err.Error()}
		}
		b.stats.Written[b.group[i].rec.Kind.Info().Satz]++
		if b.opts.OnRecord != nil {
			b.opts.OnRecord(line, b.group[i].pos)
		}
	}
	b.stats.BGs++
	return b.out.EndBG()
}

// outside reports whether r lies outside the snapshot's window.
func (b *builder) outside(r *xsozial.Record) bool {
	month := func(i int) bool {
		m, _ := xsozial.ParseMonth(r.F[i])
		return !xsozial.InWindow(m, b.opts.Month)
	}
	period := func(from, to int) bool {
		start, _ := xsozial.ParseDate(r.F[from])
		if start > b.winLast {
			return true
		}
		if r.F[to] == "" {
			return false
		}
		end, _ := xsozial.ParseDate(r.F[to])
		return end < b.winFirst && start < b.winFirst
	}
	switch r.Kind {
	case xsozial.KindBGMonat:
		return month(xsozial.MZahlmonat)
	case xsozial.KindPerson:
		return month(xsozial.PMonat)
	case xsozial.KindAnspruch:
		return month(xsozial.AAnspruchsmonat)
	case xsozial.KindBuT:
		return month(xsozial.BBedarfsmonat)
	case xsozial.KindFinanzen:
		return month(xsozial.FMonat)
	case xsozial.KindMassnahme:
		return period(xsozial.NBeginn, xsozial.NEnde)
	case xsozial.KindArbeitsuche:
		return period(xsozial.SBeginn, xsozial.SEnde)
	case xsozial.KindWiderspruch:
		return period(xsozial.WEingang, xsozial.WErledigung)
	}
	return false
}

func memberList(k xsozial.Kind) string {
	names := []string{"satz"}
	if k != xsozial.KindFinanzen {
		names = append(names, "bg")
	}
	for _, f := range k.Info().Fields {
		names = append(names, f.JSON)
	}
	return strings.Join(names, ", ")
}

func expectedJSON(f xsozial.Field) string {
	switch f.Type {
	case xsozial.TBetrag:
		return "expected a JSON number with at most two decimals, not negative"
	case xsozial.TStunden, xsozial.TFlaeche:
		return "expected a JSON number with at most one decimal"
	case xsozial.TJaNein:
		return "expected true or false"
	}
	_, exp := xsozial.CheckValue(f.Type, "")
	return "expected a string: " + exp
}

// convert turns a JSON member into the XML value of field f.
func convert(f xsozial.Field, m member) (string, error) {
	bad := func() error {
		if f.Personal {
			return errors.New("value withheld (personal data): " + expectedJSON(f))
		}
		return fmt.Errorf("%s: %s", shown(m), expectedJSON(f))
	}
	switch f.Type {
	case xsozial.TBetrag:
		if m.kind != 'n' {
			return "", bad()
		}
		ip, fp, _ := strings.Cut(m.val, ".")
		if len(fp) > 2 || strings.ContainsAny(m.val, "eE+-") {
			return "", bad()
		}
		v := ip + "." + fp + strings.Repeat("0", 2-len(fp))
		if ok, _ := xsozial.CheckValue(f.Type, v); !ok {
			return "", bad()
		}
		return v, nil
	case xsozial.TStunden, xsozial.TFlaeche:
		if m.kind != 'n' {
			return "", bad()
		}
		if ok, _ := xsozial.CheckValue(f.Type, m.val); !ok {
			return "", bad()
		}
		return m.val, nil
	case xsozial.TJaNein:
		if m.kind != 'b' {
			return "", bad()
		}
		if m.val == "true" {
			return "J", nil
		}
		return "N", nil
	}
	if m.kind != 's' {
		return "", bad()
	}
	if ok, _ := xsozial.CheckValue(f.Type, m.val); !ok {
		return "", bad()
	}
	return m.val, nil
}

func shown(m member) string {
	if m.kind == 's' {
		return fmt.Sprintf("%q", m.val)
	}
	return m.val
}
