package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"os"
	"runtime/debug"
	"time"

	"meldeweg.dev/meldeweg/transport/atomicfile"

	"meldeweg.dev/meldeweg/xsozial/check"
)

func xsozialCheckCommand() *command {
	o := &xsozialCheckOptions{}
	return &command{
		name:    "check",
		summary: "check a dataset in three stages like VTXSozial (RTX, VTX, PTX)",
		usage:   "xsozial check FILE [--format text|json|html] [--out REPORT] [--traeger NR]",
		help: `Checks FILE the way the BA's VTXSozial does and reports every finding of
every stage:

  RTX  file level: header complete and sane, Trägernummer as configured,
       reporting month not in the future, Stichtag, schema version for the
       month, file name XSOZIAL_<Träger>_<YYYY-MM>_<T|P>.xml, UTF-8, size
  VTX  XSD validation against the bundle in force for the file's month
  PTX  the plausibility rules of that bundle (R<Modul>_<nnnn>, Fehler or
       Hinweis), codes against its Schlüsselkatalog

Each finding names stage, rule, severity, module, Merkmal, line and the
record keys (BG-Nummer, Kundennummer), never names or birth dates. The
report also gives key figures (BGs, persons, erwerbsfähige
Leistungsberechtigte, measures, …). A stage that could not run to its end
is "incomplete" and never counts as passed. VTX and PTX run concurrently
over one read of the file, in constant memory.

POSITIONAL ARGUMENTS
  FILE   the dataset; "-" reads standard input (no file-name check)

EXIT CODES
  0  all three stages passed (Hinweise allowed)
  1  a stage failed or was incomplete: the delivery would be rejected
  2  usage error, a file that cannot be read, or a configuration error

EXAMPLES
  meldeweg xsozial check XSOZIAL_12345_2026-10_P.xml --traeger 12345
  meldeweg xsozial check XSOZIAL_12345_2026-10_P.xml --format html --out report.html
  meldeweg --config meldeweg.json xsozial check --format json XSOZIAL_12345_2026-10_P.xml`,
		setFlags: func(fs *flag.FlagSet) {
			fs.StringVar(&o.format, "format", "text", "report `FORMAT`: text, json or html")
			fs.StringVar(&o.out, "out", "", "write the report to `FILE` instead of standard output")
			fs.StringVar(&o.traeger, "traeger", "", "the Trägernummer `NR` the file must carry (overrides \"traeger\" of the configuration)")
		},
		settingsFlags: traegerFlag(&o.traeger),
		run:           func(e *env, args []string) int { return runXsozialCheck(e, o, args) },
	}
}

// xsozialCheckOptions are the flags of "xsozial check".
type xsozialCheckOptions struct{ format, out, traeger string }

func runXsozialCheck(e *env, o *xsozialCheckOptions, args []string) int {
	format := o.format
	switch {
	case len(args) != 1:
		return e.usageErrorf("expected exactly one FILE")
	case format != "text" && format != "json" && format != "html":
		return e.usageErrorf("--format %q: expected text, json or html", format)
	}
	traeger, err := xsozialTraeger(e)
	if err != nil {
		return e.failf(exitError, "%v", err)
	}
	reg, err := e.registry()
	if err != nil {
		return e.failf(exitError, "%v", err)
	}
	// The check's live heap is small but it allocates a value per field;
	// a tighter GC target keeps the peak RSS of 100k-BG files well under
	// 64 MiB at a few percent of throughput (see bench_xsozial_test.go).
	defer debug.SetGCPercent(debug.SetGCPercent(50))
	opts := check.Options{Registry: reg, Traeger: traeger, Now: time.Now}
	ctx := context.Background()
	var rep *check.Report
	if args[0] == "-" {
		rep, err = check.Check(ctx, e.stdin, "-", opts)
	} else {
		rep, err = check.CheckFile(ctx, args[0], opts)
	}
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			return e.failf(exitError, "cannot %s %s: %v", pe.Op, pe.Path, pe.Err)
		}
		return e.failf(exitError, "%v", err)
	}
	write := func(w io.Writer) error {
		switch format {
		case "json":
			return rep.WriteJSON(w)
		case "html":
			return rep.WriteHTML(w)
		}
		return rep.WriteText(w)
	}
	if out := o.out; out != "" {
		err = atomicfile.Write(out, 0o600, write) // the monthly flow keeps its reports 0600 too
	} else {
		err = write(e.stdout)
	}
	if err != nil {
		return e.failf(exitError, "writing the report: %v", err)
	}
	if !rep.Passed {
		return exitFindings
	}
	return exitOK
}
