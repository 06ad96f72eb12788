package xsd

/*
#cgo pkg-config: libxml-2.0
#include <stdlib.h>
#include "bridge.h"
*/
import "C"

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/cgo"
	"strings"
	"sync"
	"unsafe"
)

// Source serves the schema documents of one schema set.
type Source interface {
	// EntryURI is the URI of the schema document to compile. It is also the
	// base against which relative references in it are resolved.
	EntryURI() string
	// Resolve returns the document behind uri: the entry, anything it
	// includes or imports (by relative or absolute location), transitively.
	// An error explains why uri is not available; it is reported as a
	// problem of the compilation.
	Resolve(uri string) ([]byte, error)
}

// Kind says what sort of problem a [Problem] is.
type Kind int

const (
	// WellFormedness: the document is not well-formed XML; parsing stopped.
	WellFormedness Kind = C.MW_KIND_WELLFORMED
	// Validity: the document breaks the schema.
	Validity Kind = C.MW_KIND_VALIDITY
	// Security: the document asked for something that is refused: an
	// external DTD or entity, or a DTD entity declaration. Parsing stopped.
	Security Kind = C.MW_KIND_SECURITY
	// IO: the document could not be read to its end.
	IO Kind = C.MW_KIND_IO
	// SchemaProblem: a problem of the schema itself, found while compiling.
	SchemaProblem Kind = C.MW_KIND_SCHEMA
)

func (k Kind) String() string {
	switch k {
	case WellFormedness:
		return "not-well-formed"
	case Validity:
		return "invalid"
	case Security:
		return "refused"
	case IO:
		return "io"
	case SchemaProblem:
		return "schema"
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// Problem is one finding of a compilation or validation.
type Problem struct {
	Kind Kind
	// Warning is true for libxml2 warnings; they do not make a document
	// invalid.
	Warning bool
	// File is the document (or for compile problems, the schema document)
	// the problem is in.
	File string
	// Line and Column are 1-based; 0 where libxml2 knows no position.
	Line, Column int
	// Path is the element path, e.g. /xsozial/bg/person, where known.
	Path string
	// Message is libxml2's message, without trailing newline.
	Message string
	// Code is libxml2's numeric error code (xmlParserErrors).
	Code int
	// Count is how often this problem occurred in a row at this element
	// (the same message at the same position); it is reported once.
	Count int
}

// sameAs reports whether q repeats p: same element, same message.
func (p Problem) sameAs(q Problem) bool {
	return p.Kind == q.Kind && p.Warning == q.Warning && p.Line == q.Line && p.Column == q.Column &&
		p.Code == q.Code && p.Path == q.Path && p.Message == q.Message && p.File == q.File
}

func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.File)
	fmt.Fprintf(&b, ":%d:%d: ", p.Line, p.Column)
	if p.Warning {
		b.WriteString("warning: ")
	}
	b.WriteString(p.Message)
	if p.Path != "" {
		fmt.Fprintf(&b, " (element %s)", p.Path)
	}
	if p.Count > 1 {
		fmt.Fprintf(&b, " [%d times]", p.Count)
	}
	return b.String()
}

// CompileError is returned when a schema cannot be compiled. It holds every
// problem libxml2 and the Source reported.
type CompileError struct {
	Entry    string
	Problems []Problem
}

func (e *CompileError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "schema %s cannot be compiled", e.Entry)
	for i, p := range e.Problems {
		if i == 10 {
			fmt.Fprintf(&b, "\n  … and %d more", len(e.Problems)-10)
			break
		}
		b.WriteString("\n  ")
		if p.File != "" {
			fmt.Fprintf(&b, "%s:%d: ", p.File, p.Line)
		}
		b.WriteString(p.Message)
	}
	return b.String()
}

// Schema is a compiled schema, safe for concurrent use.
type Schema struct {
	ptr   C.xmlSchemaPtr
	entry string
	once  sync.Once
}

// compileState is what the C resolver callbacks reach through a handle.
type compileState struct {
	src      Source
	problems []Problem
}

// compileMu serialises compilation: libxml2's schema parser is re-entrant,
// but compiling is rare and this keeps its global set-up simple to reason
// about.
var compileMu sync.Mutex

// Compile parses the schema set behind src.
func Compile(src Source) (*Schema, error) {
	compileMu.Lock()
	defer compileMu.Unlock()
	st := &compileState{src: src}
	h := cgo.NewHandle(st)
	defer h.Delete()
	entry := C.CString(src.EntryURI())
	defer C.free(unsafe.Pointer(entry))

	runtime.LockOSThread()
	ptr := C.mw_compile(entry, C.uintptr_t(h))
	runtime.UnlockOSThread()

	var errs []Problem
	for _, p := range st.problems {
		if !p.Warning {
			errs = append(errs, p)
		}
	}
	if ptr == nil || len(errs) > 0 {
		if ptr != nil {
			C.xmlSchemaFree(ptr)
		}
		if len(st.problems) == 0 {
			st.problems = []Problem{{Kind: SchemaProblem, Message: "libxml2 could not compile the schema and gave no reason"}}
		}
		return nil, &CompileError{Entry: src.EntryURI(), Problems: st.problems}
	}
	s := &Schema{ptr: ptr, entry: src.EntryURI()}
	runtime.AddCleanup(s, func(p C.xmlSchemaPtr) { C.xmlSchemaFree(p) }, ptr)
	return s, nil
}

//export meldewegResolve
func meldewegResolve(handle C.uintptr_t, url *C.char, out **C.char, outlen *C.size_t) C.int {
	st := cgo.Handle(handle).Value().(*compileState)
	uri := C.GoString(url)
	data, err := st.src.Resolve(uri)
	if err != nil {
		st.problems = append(st.problems, Problem{Kind: SchemaProblem, File: uri, Message: err.Error()})
		return 1
	}
	p := C.malloc(C.size_t(len(data)) + 1)
	if len(data) > 0 {
		copy(unsafe.Slice((*byte)(p), len(data)), data)
	}
	*out = (*C.char)(p)
	*outlen = C.size_t(len(data))
	return 0
}

//export meldewegSchemaProblem
func meldewegSchemaProblem(handle C.uintptr_t, level, domain, code C.int, file *C.char, line C.int, msg *C.char) {
	st := cgo.Handle(handle).Value().(*compileState)
	p := Problem{
		Kind:    SchemaProblem,
		Warning: level == C.XML_ERR_WARNING,
		Line:    int(line),
		Message: strings.TrimRight(C.GoString(msg), "\n "),
		Code:    int(code),
	}
	if file != nil {
		p.File = C.GoString(file)
	}
	st.problems = append(st.problems, p)
}

// Result sums up one validation.
type Result struct {
	// Errors counts the problems that make the document unacceptable.
	Errors int
	// Warnings counts libxml2 warnings.
	Warnings int
	// WellFormed is false when parsing stopped before the end of the
	// document (not well-formed, refused, or unreadable).
	WellFormed bool
	// Bytes is how much of the document was read.
	Bytes int64
	// Omitted counts the errors and warnings found after
	// Options.MaxProblems problems had been reported; they are in Errors
	// and Warnings but were not reported.
	Omitted int
}

// Valid reports whether the document is well-formed and schema-valid.
func (r Result) Valid() bool { return r.WellFormed && r.Errors == 0 }

type validateState struct {
	ctx     context.Context
	r       io.Reader
	name    string
	report  func(Problem)
	opt     Options
	res     Result
	readErr error
	fatal   bool
	// held is the last problem, not yet reported: identical problems of
	// the same element that follow it are counted into it.
	held     Problem
	holding  bool
	reported int
}

// Validate reads the document from r to its end and reports every problem
// to report, as it is found (report may be nil), with the default
// [Options]. name is used as Problem.File. The returned error is set only
// when the document could not be read (the read error, or ctx's error);
// problems in the document itself are in the Result.
func (s *Schema) Validate(ctx context.Context, r io.Reader, name string, report func(Problem)) (Result, error) {
	return s.ValidateWith(ctx, r, name, Options{}, report)
}

// ValidateWith is [Schema.Validate] with options.
func (s *Schema) ValidateWith(ctx context.Context, r io.Reader, name string, opt Options, report func(Problem)) (Result, error) {
	if report == nil {
		report = func(Problem) {}
	}
	lim := opt.Limits.withDefaults()
	st := &validateState{ctx: ctx, r: r, name: name, report: report, opt: opt}
	st.res.WellFormed = true
	h := cgo.NewHandle(st)
	defer h.Delete()
	ret := C.mw_validate(s.ptr, C.uintptr_t(h), C.struct_mw_limits{
		max_text: C.long(lim.MaxTextLength),
		max_name: C.long(lim.MaxNameLength),
		max_ids:  C.long(lim.MaxIDs),
	})
	runtime.KeepAlive(s)
	st.flush()
	if ret == C.MW_ERR_VERSION {
		return st.res, fmt.Errorf("%s: cannot validate: the libxml2 loaded at run time is version %s, "+
			"but this build of Meldeweg reads private structures of libxml2 2.9.14 (see schemas/xsd/libxml2_private.h)",
			name, C.GoString(C.xmlParserVersion))
	}
	if ret == C.MW_ERR_PLUG {
		return st.res, fmt.Errorf("%s: cannot validate: libxml2's validator is not plugged into the parser as expected", name)
	}
	if st.fatal {
		st.res.WellFormed = false
	}
	if st.readErr != nil {
		st.res.WellFormed = false
		return st.res, st.readErr
	}
	if ret < 0 && !st.fatal {
		return st.res, fmt.Errorf("%s: libxml2 internal error %d during validation", name, int(ret))
	}
	if ret > 0 && st.res.Errors == 0 {
		// libxml2 said no without reporting why; never pass it as valid.
		st.res.Errors++
		report(Problem{Kind: Validity, File: name, Count: 1, Message: fmt.Sprintf("libxml2 rejected the document (code %d) without a message", int(ret))})
	}
	return st.res, nil
}

// ValidateFile opens path and validates it; see [Schema.Validate].
func (s *Schema) ValidateFile(ctx context.Context, path string, report func(Problem)) (Result, error) {
	f, err := os.Open(path)
	if err != nil {
		return Result{}, err
	}
	defer f.Close()
	return s.Validate(ctx, f, path, report)
}

//export meldewegRead
func meldewegRead(handle C.uintptr_t, buf *C.char, n C.int) C.int {
	st := cgo.Handle(handle).Value().(*validateState)
	if err := st.ctx.Err(); err != nil {
		st.readErr = err
		return -1
	}
	if n <= 0 {
		return 0
	}
	dst := unsafe.Slice((*byte)(unsafe.Pointer(buf)), int(n))
	for {
		k, err := st.r.Read(dst)
		st.res.Bytes += int64(k)
		if k > 0 {
			return C.int(k)
		}
		if errors.Is(err, io.EOF) {
			return 0
		}
		if err != nil {
			st.readErr = fmt.Errorf("reading %s: %w", st.name, err)
			return -1
		}
	}
}

//export meldewegProblem
func meldewegProblem(handle C.uintptr_t, kind, level, domain, code, line, col C.int, msg, path *C.char) {
	st := cgo.Handle(handle).Value().(*validateState)
	if st.readErr != nil {
		// libxml2 reports the aborted read as an I/O error; the caller gets
		// the real cause as the returned error instead.
		return
	}
	p := Problem{
		Kind:    Kind(kind),
		Warning: level == C.XML_ERR_WARNING,
		File:    st.name,
		Line:    int(line),
		Column:  int(col),
		Path:    C.GoString(path),
		Message: strings.TrimRight(C.GoString(msg), "\n "),
		Code:    int(code),
		Count:   1,
	}
	if p.Kind != Validity && level >= C.XML_ERR_FATAL {
		st.fatal = true
	}
	if p.Warning {
		st.res.Warnings++
	} else {
		st.res.Errors++
	}
	st.add(p)
}

// add reports p, or counts it into the held problem when it repeats it.
func (st *validateState) add(p Problem) {
	if st.holding && st.held.sameAs(p) {
		st.held.Count++
		return
	}
	st.flush()
	st.held, st.holding = p, true
}

// flush reports the held problem, unless MaxProblems have been reported.
func (st *validateState) flush() {
	if !st.holding {
		return
	}
	st.holding = false
	if st.opt.MaxProblems > 0 && st.reported >= st.opt.MaxProblems {
		st.res.Omitted += st.held.Count
		return
	}
	st.reported++
	st.report(st.held)
}
