package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"meldeweg.dev/meldeweg/transport/atomicfile"

	"meldeweg.dev/meldeweg/schemas"
	"meldeweg.dev/meldeweg/xsozial/source"
)

func xsozialBuildCommand() *command {
	o := &xsozialBuildOptions{}
	return &command{
		name:    "build",
		summary: "build the monthly dataset from JSON Lines source records",
		usage:   "xsozial build --traeger NR --month YYYY-MM --in DIR --out FILE [--created TIME] [--test] [--lieferart 1|2]",
		help: `Reads the source records in DIR (files *.jsonl, one JSON record per line;
the format is described in docs/xsozial-source-format.md) and
writes the complete snapshot for the Träger and reporting month: the month
and the three months of waiting time before it. Records outside that window
are left out and counted on standard error, never silently. Memory stays
flat; the output is UTF-8 and byte-identical for the same input and options.

The schema version (and the Merkmale allowed) is that of the bundle in force
for the month. The creation time (K.4) is --created, else $SOURCE_DATE_EPOCH,
else the newest modification time of the input files, so that a rebuild of
the same input gives the same file.

The file is written under a temporary name and renamed when complete; on
unusable input nothing is left at FILE.

POSITIONAL ARGUMENTS
  none

EXIT CODES
  0  the dataset was written
  2  usage error, unusable input (the message names file, line and field),
     or an I/O error

EXAMPLES
  meldeweg testdata xsozial --bgs 100 --seed 1 --month 2026-10 --out src
  meldeweg xsozial build --traeger 12345 --month 2026-10 --in src --out XSOZIAL_12345_2026-10_P.xml
  meldeweg xsozial build --month 2026-10 --in src --out XSOZIAL_12345_2026-10_T.xml --test --created 2026-11-02T08:00:00Z`,
		setFlags: func(fs *flag.FlagSet) {
			fs.StringVar(&o.traeger, "traeger", "", "Trägernummer `NR` (five digits; overrides \"traeger\" of the configuration)")
			fs.StringVar(&o.month, "month", "", "reporting `MONTH` YYYY-MM")
			fs.StringVar(&o.in, "in", "", "source `DIR`ectory of *.jsonl files")
			fs.StringVar(&o.out, "out", "", "dataset `FILE` to write (\"-\" for standard output)")
			fs.StringVar(&o.created, "created", "", "creation `TIME` (RFC 3339) for the header")
			fs.BoolVar(&o.test, "test", false, "mark the delivery as a test delivery (K.8 = T)")
			fs.StringVar(&o.lieferart, "lieferart", "1", "`KEY` of K.7: 1 Regellieferung, 2 Korrekturlieferung")
		},
		settingsFlags: traegerFlag(&o.traeger),
		run:           func(e *env, args []string) int { return runXsozialBuild(e, o, args) },
	}
}

// xsozialBuildOptions are the flags of "xsozial build".
type xsozialBuildOptions struct {
	traeger, month, in, out, created, lieferart string
	test                                        bool
}

func runXsozialBuild(e *env, o *xsozialBuildOptions, args []string) int {
	if len(args) != 0 {
		return e.usageErrorf("unexpected argument %q", args[0])
	}
	if o.month == "" || o.in == "" || o.out == "" {
		return e.usageErrorf("--month, --in and --out are required")
	}
	month, err := schemas.ParseMonth(o.month)
	if err != nil {
		return e.usageErrorf("--month: %v", err)
	}
	traeger, err := xsozialTraeger(e)
	if err != nil {
		return e.failf(exitError, "%v", err)
	}
	if traeger == "" {
		return e.usageErrorf("no Trägernummer: give --traeger or set \"traeger\" in the configuration")
	}
	b, err := xsozialBundle(e, month)
	if err != nil {
		return e.failf(exitError, "%v", err)
	}
	files, err := source.Files(o.in)
	if err != nil {
		return e.failf(exitError, "%v", err)
	}
	created, err := buildCreated(o.created, files)
	if err != nil {
		return e.usageErrorf("%v", err)
	}
	opts := source.Options{
		Traeger: traeger, Month: month, Version: b.Version, Created: created,
		Software: "meldeweg", SoftwareVersion: version, Lieferart: o.lieferart,
		Test: o.test,
	}
	ctx := context.Background()
	var st source.Stats
	build := func(w io.Writer) error {
		var err error
		st, err = source.BuildFiles(ctx, files, w, opts)
		return err
	}
	out := o.out
	if out == "-" {
		err = build(e.stdout)
	} else {
		err = atomicfile.Write(out, 0o600, build) // the dataset holds personal data
	}
	if err != nil {
		var ie *source.InputError
		if errors.As(err, &ie) {
			return e.failf(exitError, "unusable input: %v", ie)
		}
		return e.failf(exitError, "%v", err)
	}
	name := out
	if out == "-" {
		name = "<stdout>"
	}
	written := 0
	for _, n := range st.Written {
		written += n
	}
	fmt.Fprintf(e.stderr, "%s: wrote %s (%s, %s to %s): %d BGs, %d records, %d bytes\n",
		e.name, name, b.ID(), st.WindowFirst, st.WindowLast, st.BGs, written, st.Bytes)
	if len(st.Outside) > 0 {
		var parts []string
		total := 0
		for _, k := range sortedKeys(st.Outside) {
			parts = append(parts, fmt.Sprintf("%s: %d", k, st.Outside[k]))
			total += st.Outside[k]
		}
		fmt.Fprintf(e.stderr, "%s: left out %d records outside %s to %s (%s)\n", e.name, total, st.WindowFirst, st.WindowLast, strings.Join(parts, ", "))
	}
	return exitOK
}

func sortedKeys(m map[string]int) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// buildCreated picks the creation time: the flag, $SOURCE_DATE_EPOCH, or
// the newest modification time of the input files.
func buildCreated(flagValue string, files []string) (time.Time, error) {
	if flagValue != "" {
		t, err := time.Parse(time.RFC3339, flagValue)
		if err != nil {
			return time.Time{}, fmt.Errorf("--created %q: expected RFC 3339, e.g. 2026-11-02T08:00:00Z", flagValue)
		}
		return t, nil
	}
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return time.Time{}, fmt.Errorf("$SOURCE_DATE_EPOCH %q: expected seconds since 1970", s)
		}
		return time.Unix(n, 0).UTC(), nil
	}
	var newest time.Time
	for _, f := range files {
		st, err := os.Stat(f)
		if err != nil {
			return time.Time{}, err
		}
		if st.ModTime().After(newest) {
			newest = st.ModTime()
		}
	}
	return newest.UTC().Truncate(time.Second), nil
}
