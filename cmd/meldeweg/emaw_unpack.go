package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"

	"meldeweg.dev/meldeweg/emaw/pack"
)

// emawUnpackOptions are the flags of "emaw unpack".
type emawUnpackOptions struct {
	out             string
	requireManifest bool
	maxTotalMib     int64
	maxRatio        int64
}

func emawUnpackCommand() *command {
	o := &emawUnpackOptions{}
	return &command{
		name:    "unpack",
		summary: "check and unpack an eM@w upload ZIP safely",
		usage:   "emaw unpack UPLOAD.zip --out DIR [--require-manifest] [--max-total-mib N] [--max-ratio N]",
		help: `Checks the whole archive, nested event archives included, before anything
is written: path traversal, absolute paths, duplicate names, links, too many
or too large entries, compression ratios of zip bombs, deeper nesting, input
that is not a ZIP and a manifest that does not match each refuse the
archive. Then every event's XML is validated against the bundle in force.
Only when all of that passes is DIR created (it must not exist), holding
manifest.json and DIR/ID/ with each event's XML and PDFs.

POSITIONAL ARGUMENTS
  UPLOAD.zip   the archive; "-" reads standard input

EXIT CODES
  0  safe and valid; DIR written
  1  the archive was refused or an event is invalid; nothing written
  2  usage error, UPLOAD.zip cannot be read, or DIR exists or cannot be written

EXAMPLES
  meldeweg emaw unpack upload.zip --out in/upload-1
  meldeweg emaw unpack --require-manifest --max-total-mib 64 download.zip --out in/d1`,
		setFlags: func(fs *flag.FlagSet) {
			fs.StringVar(&o.out, "out", "", "extract into `DIR` (must not exist)")
			fs.BoolVar(&o.requireManifest, "require-manifest", false, "refuse an archive without manifest.json")
			fs.Int64Var(&o.maxTotalMib, "max-total-mib", 256, "largest total unpacked size in `MiB`")
			fs.Int64Var(&o.maxRatio, "max-ratio", 200, "highest compression ratio of one entry, `N`:1")
		},
		run: func(e *env, args []string) int { return runEmawUnpack(e, o, args) },
	}
}

func runEmawUnpack(e *env, o *emawUnpackOptions, args []string) int {
	out := o.out
	switch {
	case len(args) != 1:
		return e.usageErrorf("expected one UPLOAD.zip")
	case out == "":
		return e.usageErrorf("--out is required")
	}
	if _, err := os.Lstat(out); err == nil {
		return e.failf(exitError, "%s already exists; give a new directory", out)
	}
	lim := pack.Limits{RequireManifest: o.requireManifest, MaxTotalBytes: o.maxTotalMib, MaxRatio: o.maxRatio}
	if lim.MaxTotalBytes <= 0 || lim.MaxRatio <= 0 {
		return e.usageErrorf("--max-total-mib and --max-ratio must be positive")
	}
	lim.MaxTotalBytes <<= 20
	data, err := readInput(e, args[0], lim.MaxTotalBytes)
	if err != nil {
		return e.failf(exitError, "%s", describeEmawError(err))
	}
	up, err := pack.Open(data, args[0], lim)
	var ue *pack.UnsafeError
	if errors.As(err, &ue) {
		return e.failf(exitFindings, "%v", ue)
	}
	if err != nil {
		return e.failf(exitError, "%v", err)
	}
	c, err := emawCodec(e)
	if err != nil {
		return e.failf(exitError, "%v", err)
	}
	ctx := context.Background()
	bad := 0
	for _, ev := range up.Events {
		m, _, err := c.Unmarshal(ctx, ev.XML(), args[0]+"!"+ev.ID+".zip!"+ev.ID+".xml")
		if err == nil && m.Header().NachrichtID != ev.ID {
			err = fmt.Errorf("%s.zip: the XML's NachrichtID is %s", ev.ID, m.Header().NachrichtID)
		}
		if err != nil {
			fmt.Fprintf(e.stderr, "%s: %v\n", e.name, err)
			bad++
		}
	}
	if bad > 0 {
		return e.failf(exitFindings, "%d of %d events invalid; nothing was extracted", bad, len(up.Events))
	}
	if err := up.Extract(out); err != nil {
		return e.failf(exitError, "%v", err)
	}
	fmt.Fprintf(e.stdout, "%s: %d %s, all valid, extracted to %s\n", args[0], len(up.Events), plural(len(up.Events), "event", "events"), out)
	return exitOK
}
