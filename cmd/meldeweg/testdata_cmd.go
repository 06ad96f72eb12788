package main

import (
	"flag"
	"fmt"
	"time"

	"meldeweg.dev/meldeweg/schemas"
	"meldeweg.dev/meldeweg/xsozial/synth"
)

func testdataCommand() *command {
	return &command{
		name:    "testdata",
		summary: "write synthetic test data (no real persons)",
		usage:   "testdata xsozial --bgs N --seed S --out DIR [--month YYYY-MM] [--traeger NR] [--faults]",
		sub:     []*command{testdataXsozialCommand()},
	}
}

// testdataXsozialOptions are the flags of "testdata xsozial".
type testdataXsozialOptions struct {
	bgs     int
	seed    uint64
	out     string
	month   string
	traeger string
	faults  bool
}

func testdataXsozialCommand() *command {
	o := &testdataXsozialOptions{}
	return &command{
		name:    "xsozial",
		summary: "write synthetic XSozial source records for N BGs",
		usage:   "testdata xsozial --bgs N --seed S --out DIR [--month YYYY-MM] [--traeger NR] [--faults]",
		help: `Writes realistic synthetic source records in the JSON Lines source format:
households of different compositions (singles, couples, single parents,
children, young adults), benefit months in the waiting-time window, income,
measures, unemployment phases, appeals and BuT. The same seed gives the
same files. Nothing describes a real person.

DIR gets faelle.jsonl (modules 2–18, BG by BG) and finanzen.jsonl (module 1).
With --faults the first BGs carry a known set of errors, one per PTX rule
that a build can carry, listed in DIR/.faults.jsonl (rule, BG, Kundennummer;
a dot file, so a build skips it).

POSITIONAL ARGUMENTS
  none

EXIT CODES
  0  written
  2  usage or I/O error

EXAMPLES
  meldeweg testdata xsozial --bgs 1000 --seed 42 --month 2026-10 --out src
  meldeweg testdata xsozial --bgs 60 --seed 1 --month 2026-10 --out faulty --faults`,
		setFlags: func(fs *flag.FlagSet) {
			fs.IntVar(&o.bgs, "bgs", 100, "number of Bedarfsgemeinschaften `N`")
			fs.Uint64Var(&o.seed, "seed", 1, "random `SEED`")
			fs.StringVar(&o.out, "out", "", "output `DIR`ectory")
			fs.StringVar(&o.month, "month", "", "reporting `MONTH` YYYY-MM (default: last month)")
			fs.StringVar(&o.traeger, "traeger", "12345", "Trägernummer `NR`")
			fs.BoolVar(&o.faults, "faults", false, "inject the known faults")
		},
		run: func(e *env, args []string) int { return runTestdataXsozial(e, o, args) },
	}
}

func runTestdataXsozial(e *env, o *testdataXsozialOptions, args []string) int {
	if len(args) != 0 {
		return e.usageErrorf("unexpected argument %q", args[0])
	}
	out := o.out
	if out == "" {
		return e.usageErrorf("--out is required")
	}
	bgs := o.bgs
	if bgs < 0 {
		return e.usageErrorf("--bgs %d: expected a number ≥ 0", bgs)
	}
	month := schemas.MonthOf(time.Now()).AddMonths(-1)
	if s := o.month; s != "" {
		m, err := schemas.ParseMonth(s)
		if err != nil {
			return e.usageErrorf("--month: %v", err)
		}
		month = m
	}
	b, err := xsozialBundle(e, month)
	if err != nil {
		return e.failf(exitError, "%v", err)
	}
	st, err := synth.WriteSource(out, synth.Options{BGs: bgs, Seed: o.seed, Traeger: o.traeger,
		Month: month, Version: b.Version, Faults: o.faults})
	if err != nil {
		return e.failf(exitError, "%v", err)
	}
	fmt.Fprintf(e.stderr, "%s: wrote %d records for %d BGs, reporting month %s (%s), to %s", e.name, st.Records, bgs, month, b.ID(), out)
	if len(st.Faults) > 0 {
		fmt.Fprintf(e.stderr, "; %d faults listed in %s/%s", len(st.Faults), out, synth.FaultsFile)
	}
	fmt.Fprintln(e.stderr)
	return exitOK
}
