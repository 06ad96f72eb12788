package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"text/tabwriter"
)

func schemasCommand() *command {
	return &command{
		name:    "schemas",
		summary: "list the schema bundles and which one is in force when",
		usage:   "schemas list [--format text|json]",
		sub:     []*command{schemasListCommand()},
	}
}

// schemasListOptions are the flags of "schemas list".
type schemasListOptions struct {
	format string
}

func schemasListCommand() *command {
	o := &schemasListOptions{}
	return &command{
		name:    "list",
		summary: "list schema bundles: standard, version, validity, entry point",
		usage:   "schemas list [--format text|json]",
		help: `Lists every schema bundle Meldeweg knows: those embedded in the binary (models
of the BA's schemas, marked "model") and those added with --schema-dir or the
configuration. A bundle applies from its first reporting month (Stichtag) up
to the month before the next bundle of its standard. Once the operator adds a
bundle for a standard, the embedded models of that standard are no longer
used ("shadowed").

EXIT CODES
  0  listed
  2  a bundle cannot be loaded (e.g. two bundles claim the same standard and month)

EXAMPLES
  meldeweg schemas list
  meldeweg --schema-dir /etc/meldeweg/schemas schemas list --format json`,
		setFlags: func(fs *flag.FlagSet) {
			fs.StringVar(&o.format, "format", "text", "output `FORMAT`: text or json")
		},
		run: func(e *env, args []string) int { return runSchemasList(e, o, args) },
	}
}

type bundleRow struct {
	Standard   string `json:"standard"`
	Version    string `json:"version"`
	ValidFrom  string `json:"valid_from"`
	ValidUntil string `json:"valid_until,omitempty"`
	Entry      string `json:"entry"`
	Origin     string `json:"origin"`
	Model      bool   `json:"model"`
	InForce    bool   `json:"in_force"`
}

func runSchemasList(e *env, o *schemasListOptions, args []string) int {
	format := o.format
	if len(args) > 0 {
		return e.usageErrorf("unexpected argument %q", args[0])
	}
	if format != "text" && format != "json" {
		return e.usageErrorf("--format %q: expected text or json", format)
	}
	reg, err := e.registry()
	if err != nil {
		return e.failf(exitError, "%v", err)
	}
	var rows []bundleRow
	for _, b := range reg.All() {
		rows = append(rows, bundleRow{
			Standard: b.Standard, Version: b.Version,
			ValidFrom: b.ValidFrom.String(), ValidUntil: reg.ValidUntil(b).String(),
			Entry: b.Entry, Origin: b.Origin, Model: b.Model, InForce: reg.InForce(b),
		})
	}
	if format == "json" {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		if rows == nil {
			rows = []bundleRow{}
		}
		enc.Encode(rows)
		return exitOK
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STANDARD\tVERSION\tVALID\tENTRY\tORIGIN\tNOTE")
	for _, r := range rows {
		valid := r.ValidFrom + " –"
		if r.ValidUntil != "" {
			valid += " " + r.ValidUntil
		}
		note := ""
		if r.Model {
			note = "model"
		}
		if !r.InForce {
			note += " (shadowed by operator bundles)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Standard, r.Version, valid, r.Entry, r.Origin, note)
	}
	tw.Flush()
	return exitOK
}
