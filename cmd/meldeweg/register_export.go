package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"meldeweg.dev/meldeweg/transport/atomicfile"
	"meldeweg.dev/meldeweg/transport/register"
)

type registerExportOptions struct {
	registerOptions
	format, output string
}

func registerExportCommand() *command {
	o := &registerExportOptions{}
	return &command{
		name:    "export",
		summary: "export the register for auditors as JSON Lines or CSV",
		usage:   `register export [--format jsonl|csv] [--output FILE] [--register LOCATION]`,
		help: `Writes every entry, oldest first, with all fields and both hashes (hex), so
an auditor can recompute the chain independently: each hash is SHA-256 over
the canonical encoding documented in transport/register (entry.go,
computeHash). Times are RFC 3339 UTC with microseconds. The register holds
no personal data: participants appear only as pseudonyms.

The export verifies the chain first and refuses to export a broken one
(exit 1); other findings of a verification (payloads, outbox, guards) are
warned about on standard error, and the intact chain is exported; --output is written to a temporary file and renamed into place,
so a failed export leaves no partial file.

EXIT CODES
  0  exported
  1  the chain is broken; nothing was exported
  2  usage error, or the register or the output cannot be read or written

EXAMPLES
  meldeweg register export > register.jsonl
  meldeweg register export --format csv --output audit-2026.csv`,
		setFlags: func(fs *flag.FlagSet) {
			o.registerOptions.bind(fs)
			fs.StringVar(&o.format, "format", "jsonl", "output `FORMAT`: jsonl or csv")
			fs.StringVar(&o.output, "output", "", "write to `FILE` instead of standard output")
		},
		settingsFlags: o.settingsFlags,
		run:           func(e *env, args []string) int { return runRegisterExport(e, o, args) },
	}
}

func runRegisterExport(e *env, o *registerExportOptions, args []string) int {
	if len(args) != 0 {
		return e.usageErrorf("unexpected argument %q", args[0])
	}
	format, output := o.format, o.output
	if format != "jsonl" && format != "csv" {
		return e.usageErrorf("--format %q: expected jsonl or csv", format)
	}
	s, loc, err := openExistingRegister(e)
	if err != nil {
		return e.failf(exitError, "%v", err)
	}
	defer s.Close()
	ctx := context.Background()
	rep, err := s.Verify(ctx, register.VerifyParams{})
	var fe *register.FindingsError
	switch {
	case errors.As(err, &fe):
		// The chain is intact and is what is exported; say that something
		// it vouches for disagrees.
		fmt.Fprintf(e.stderr, "%s: warning: register %s: %s; run \"meldeweg register verify\"\n", e.name, loc, fe)
	case err != nil:
		return runRegisterVerifyReport(e, loc, err)
	}

	write := register.ExportJSONL
	if format == "csv" {
		write = register.ExportCSV
	}
	// Only the entries that verified are exported, even if more were
	// appended meanwhile.
	entries := func(yield func(register.Entry, error) bool) {
		for en, err := range register.All(ctx, s, "") {
			if err == nil && en.Seq() > rep.Entries {
				return
			}
			if !yield(en, err) {
				return
			}
		}
	}
	var n int64
	export := func(w io.Writer) error {
		bw := bufio.NewWriter(w)
		var err error
		if n, err = write(bw, entries); err != nil {
			return err
		}
		return bw.Flush()
	}
	if output == "" {
		if err := export(e.stdout); err != nil {
			return e.failf(exitError, "exporting %s: %v", loc, err)
		}
		return exitOK
	}
	if err := atomicfile.Write(output, 0o600, export); err != nil {
		return e.failf(exitError, "exporting %s: %v", loc, err)
	}
	fmt.Fprintf(e.stderr, "%s: %d entries written to %s, head %s\n", e.name, n, output, rep.Head)
	return exitOK
}

// runRegisterVerifyReport turns a verification error into an exit code
// and message.
func runRegisterVerifyReport(e *env, loc string, err error) int {
	var ce *register.ChainError
	if errors.As(err, &ce) {
		return e.failf(exitFindings, "register %s is broken at entry %d (%s); run \"meldeweg register verify\"; nothing exported", loc, ce.Seq, ce.Reason)
	}
	return e.failf(exitError, "verifying %s: %v", loc, err)
}
