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
}

func validateCommand() *command {
	o := &validateOptions{}
	return &command{
		name:    "validate",
		summary: "validate XML files against a schema bundle or an XSD (streaming)",
		usage: `validate --bundle STANDARD@VERSION [--format text|json] FILE...
validate --schema FILE.xsd [--catalog CATALOG.xml] [--format text|json] FILE...`,
		help: `Validates each FILE in constant memory with libxml2's streaming XSD validator
and reports every error as "file:line:col: message (element PATH)", then a
one-line verdict per file. Schemas are never fetched from the network:
absolute schema URLs resolve through the bundle's URL map or the catalog.
Documents that declare DTD entities or name an external DTD are refused.

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
		},
		run: func(e *env, args []string) int { return runValidate(e, o, args) },
	}
}

func runValidate(e *env, o *validateOptions, files []string) int {
	bundleID := o.bundle
	schemaPath := o.schema
	catalog := o.catalog
	format := o.format
	switch {
	case (bundleID == "") == (schemaPath == ""):
		return e.usageErrorf("give exactly one of --bundle and --schema")
	case catalog != "" && schemaPath == "":
		return e.usageErrorf("--catalog goes with --schema; a bundle carries its own URL map")
	case format != "text" && format != "json":
		return e.usageErrorf("--format %q: expected text or json", format)
	case len(files) == 0:
		return e.usageErrorf("no FILE to validate")
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

	out := newValidateOutput(e.stdout, format)
	code := exitOK
	for _, name := range files {
		res, err := validateOne(schema, name, e.stdin, out.problem)
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

func validateOne(s *xsd.Schema, name string, stdin io.Reader, report func(xsd.Problem)) (xsd.Result, error) {
	ctx := context.Background()
	if name == "-" {
		return s.Validate(ctx, stdin, "<stdin>", report)
	}
	return s.ValidateFile(ctx, name, report)
}

// validateOutput writes problems and verdicts as text or JSON Lines.
type validateOutput struct {
	w    io.Writer
	json *json.Encoder
}

func newValidateOutput(w io.Writer, format string) *validateOutput {
	o := &validateOutput{w: w}
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
}

type jsonVerdict struct {
	Type     string `json:"type"`
	File     string `json:"file"`
	Verdict  string `json:"verdict"`
	Errors   int    `json:"errors"`
	Warnings int    `json:"warnings"`
	Bytes    int64  `json:"bytes"`
	Error    string `json:"error,omitempty"`
}

func (o *validateOutput) problem(p xsd.Problem) {
	if o.json != nil {
		level := "error"
		if p.Warning {
			level = "warning"
		}
		o.json.Encode(jsonProblem{Type: "problem", File: p.File, Line: p.Line, Column: p.Column, Path: p.Path,
			Kind: p.Kind.String(), Level: level, Code: p.Code, Message: p.Message})
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
	if o.json != nil {
		v := jsonVerdict{Type: "verdict", File: name, Verdict: word, Errors: res.Errors, Warnings: res.Warnings, Bytes: res.Bytes}
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
