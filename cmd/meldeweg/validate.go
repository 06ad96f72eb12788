package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"meldeweg.dev/meldeweg/schemas"
	"meldeweg.dev/meldeweg/schemas/xsd"
)

// validateOptions are the flags of "validate".
type validateOptions struct {
	bundle  string
	schema  string
	catalog string
	format  string
	// maxErrors caps the problems printed per file; showValues prints
	// document values (test data only).
	maxErrors  int
	showValues bool
}

func validateCommand() *command {
	o := &validateOptions{}
	return &command{
		name:    "validate",
		summary: "validate XML files against a schema bundle or an XSD (streaming)",
		usage: `validate --bundle STANDARD@VERSION [--format text|json] [--max-errors N] [--show-values] FILE...
validate --schema FILE.xsd [--catalog CATALOG.xml] [--format text|json] [--max-errors N] [--show-values] FILE...`,
		help: `Validates each FILE in constant memory with libxml2's streaming XSD validator
and reports each error as "file:line:col: message (element PATH)", then a
one-line verdict per file. The verdict is that of "xmllint --schema"; the
package documentation of schemas/xsd lists the few deliberate differences.
Schemas are never fetched from the network: absolute schema URLs resolve
through the bundle's URL map or the catalog. Documents that declare DTD
entities or name an external DTD are refused, and so are text nodes and
attribute values over 10,000,000 bytes and names over 50,000 bytes.

Values from the document are withheld in messages ("The value (value
withheld) is not accepted by the pattern …"): validated files hold personal
data. --show-values prints them, for work on test data only.

The same problem at the same element is reported once, with "[N times]".
After --max-errors problems per file the rest are counted, not printed
("… and N more"); the verdict and its error count stay exact.

POSITIONAL ARGUMENTS
  FILE   an XML file; "-" reads standard input

EXIT CODES
  0  every file is well-formed and valid
  1  at least one file is invalid, not well-formed or refused
  2  usage error, a schema that cannot be loaded, or a file that cannot be read

EXAMPLES
  meldeweg validate --bundle xsozial-ba-sgb2@4.2.0 out/delivery.xml
  meldeweg --schema-dir /etc/meldeweg/schemas validate --bundle emaw@2.18 in/*.xml
  meldeweg validate --schema xwasser.xsd --catalog catalog.xml --format json msg.xml`,
		setFlags: func(fs *flag.FlagSet) {
			fs.StringVar(&o.bundle, "bundle", "", "schema bundle `STANDARD@VERSION` (see \"meldeweg schemas list\")")
			fs.StringVar(&o.schema, "schema", "", "validate against this XSD `FILE` instead of a bundle")
			fs.StringVar(&o.catalog, "catalog", "", "with --schema: an OASIS XML catalog `FILE` mapping schema URLs to local files")
			fs.StringVar(&o.format, "format", "text", "output `FORMAT`: text or json (JSON Lines)")
			fs.IntVar(&o.maxErrors, "max-errors", 100, "print at most `N` problems per file (0: all); the rest are counted")
			fs.BoolVar(&o.showValues, "show-values", false, "print values from the document in messages (test data only: they may be personal data)")
		},
		run: func(e *env, args []string) int { return runValidate(e, o, args) },
	}
}

func runValidate(e *env, o *validateOptions, files []string) int {
	bundleID := o.bundle
	schemaPath := o.schema
	catalog := o.catalog
	format := o.format
	maxErrors := o.maxErrors
	showValues := o.showValues
	switch {
	case (bundleID == "") == (schemaPath == ""):
		return e.usageErrorf("give exactly one of --bundle and --schema")
	case catalog != "" && schemaPath == "":
		return e.usageErrorf("--catalog goes with --schema; a bundle carries its own URL map")
	case format != "text" && format != "json":
		return e.usageErrorf("--format %q: expected text or json", format)
	case len(files) == 0:
		return e.usageErrorf("no FILE to validate")
	case maxErrors < 0:
		return e.usageErrorf("--max-errors %d: expected 0 (all) or more", maxErrors)
	}

	var b *schemas.Bundle
	var err error
	if bundleID != "" {
		reg, rerr := e.registry()
		if rerr != nil {
			return e.failf(exitError, "%v", rerr)
		}
		b, err = reg.Get(bundleID)
	} else {
		b, err = schemas.FromFile(schemaPath, catalog)
	}
	if err != nil {
		return e.failf(exitError, "%v", err)
	}
	schema, err := b.Schema()
	if err != nil {
		return e.failf(exitError, "%v", err)
	}

	out := newValidateOutput(e.stdout, format, showValues)
	opt := xsd.Options{MaxProblems: maxErrors}
	code := exitOK
	for _, name := range files {
		res, err := validateOne(schema, name, e.stdin, opt, out.problem)
		if err != nil {
			out.verdict(name, res, err)
			code = exitError
			continue
		}
		out.verdict(name, res, nil)
		if !res.Valid() && code == exitOK {
			code = exitFindings
		}
	}
	return code
}

func validateOne(s *xsd.Schema, name string, stdin io.Reader, opt xsd.Options, report func(xsd.Problem)) (xsd.Result, error) {
	ctx := context.Background()
	if name == "-" {
		return s.ValidateWith(ctx, stdin, "<stdin>", opt, report)
	}
	f, err := os.Open(name)
	if err != nil {
		return xsd.Result{}, err
	}
	defer f.Close()
	return s.ValidateWith(ctx, f, name, opt, report)
}

// validateOutput writes problems and verdicts as text or JSON Lines.
type validateOutput struct {
	w          io.Writer
	json       *json.Encoder
	showValues bool
}

func newValidateOutput(w io.Writer, format string, showValues bool) *validateOutput {
	o := &validateOutput{w: w, showValues: showValues}
	if format == "json" {
		o.json = json.NewEncoder(w)
	}
	return o
}

type jsonProblem struct {
	Type    string `json:"type"`
	File    string `json:"file"`
	Line    int    `json:"line"`
	Column  int    `json:"column"`
	Path    string `json:"path,omitempty"`
	Kind    string `json:"kind"`
	Level   string `json:"level"`
	Code    int    `json:"code"`
	Message string `json:"message"`
	Count   int    `json:"count"`
}

type jsonVerdict struct {
	Type     string `json:"type"`
	File     string `json:"file"`
	Verdict  string `json:"verdict"`
	Errors   int    `json:"errors"`
	Warnings int    `json:"warnings"`
	Bytes    int64  `json:"bytes"`
	Omitted  int    `json:"omitted,omitempty"`
	Error    string `json:"error,omitempty"`
}

func (o *validateOutput) problem(p xsd.Problem) {
	if !o.showValues {
		p = p.WithoutValues()
	}
	if o.json != nil {
		level := "error"
		if p.Warning {
			level = "warning"
		}
		o.json.Encode(jsonProblem{Type: "problem", File: p.File, Line: p.Line, Column: p.Column, Path: p.Path,
			Kind: p.Kind.String(), Level: level, Code: p.Code, Message: p.Message, Count: p.Count})
		return
	}
	fmt.Fprintln(o.w, p.String())
}

// verdictWord is the one-word verdict for a file.
func verdictWord(res xsd.Result, err error) string {
	switch {
	case err != nil:
		return "error"
	case res.Valid():
		return "valid"
	case !res.WellFormed:
		return "not-well-formed"
	}
	return "invalid"
}

func (o *validateOutput) verdict(name string, res xsd.Result, err error) {
	if name == "-" {
		name = "<stdin>"
	}
	word := verdictWord(res, err)
	if res.Omitted > 0 && o.json == nil {
		fmt.Fprintf(o.w, "%s: … and %d more (--max-errors)\n", name, res.Omitted)
	}
	if o.json != nil {
		v := jsonVerdict{Type: "verdict", File: name, Verdict: word, Errors: res.Errors, Warnings: res.Warnings, Bytes: res.Bytes, Omitted: res.Omitted}
		if err != nil {
			v.Error = describeIOError(err)
		}
		o.json.Encode(v)
		return
	}
	switch word {
	case "error":
		fmt.Fprintf(o.w, "%s: error: %s\n", name, describeIOError(err))
	case "valid":
		fmt.Fprintf(o.w, "%s: valid\n", name)
	default:
		fmt.Fprintf(o.w, "%s: %s (%d %s)\n", name, word, res.Errors, plural(res.Errors, "error", "errors"))
	}
}

func describeIOError(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return fmt.Sprintf("cannot %s: %v", pe.Op, pe.Err)
	}
	return err.Error()
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
