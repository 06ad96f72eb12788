package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"meldeweg.dev/meldeweg/transport/register"
)

func registerExportCommand() *command {
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
			addRegisterFlag(fs)
			fs.String("format", "jsonl", "output `FORMAT`: jsonl or csv")
			fs.String("output", "", "write to `FILE` instead of standard output")
		},
		run: runRegisterExport,
	}
}

func runRegisterExport(e *env, fs *flag.FlagSet, args []string) int {
	if len(args) != 0 {
		return e.usageErrorf("unexpected argument %q", args[0])
	}
	format := fs.Lookup("format").Value.String()
	if format != "jsonl" && format != "csv" {
		return e.usageErrorf("--format %q: expected jsonl or csv", format)
	}
	output := fs.Lookup("output").Value.String()
	s, loc, err := registerFromFlags(e, fs)
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

	var w io.Writer = e.stdout
	var tmp *os.File
	if output != "" {
		tmp, err = os.CreateTemp(filepath.Dir(output), ".export-*")
		if err != nil {
			return e.failf(exitError, "%v", err)
		}
		defer os.Remove(tmp.Name())
		defer tmp.Close()
		w = tmp
	}
	bw := bufio.NewWriter(w)
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
	n, err := write(bw, entries)
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		return e.failf(exitError, "exporting %s: %v", loc, err)
	}
	if tmp != nil {
		if err := tmp.Sync(); err != nil {
			return e.failf(exitError, "%v", err)
		}
		if err := tmp.Close(); err != nil {
			return e.failf(exitError, "%v", err)
		}
		if err := os.Rename(tmp.Name(), output); err != nil {
			return e.failf(exitError, "%v", err)
		}
		fmt.Fprintf(e.stderr, "%s: %d entries written to %s, head %s\n", e.name, n, output, rep.Head)
	}
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
