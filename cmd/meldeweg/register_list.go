package main

import (
	"context"
	"flag"
	"fmt"
	"text/tabwriter"

	"meldeweg.dev/meldeweg/transport/register"
)

type registerListOptions struct {
	registerOptions
	message string
	after   int64
	limit   int
	// accessed lists only the reads of personal data, for the
	// data-protection officer; format is text or json.
	accessed bool
	format   string
}

func registerListCommand() *command {
	o := &registerListOptions{}
	return &command{
		name:    "list",
		summary: "list register entries, oldest first",
		usage: `register list [--message ID] [--after SEQ] [--limit N] [--register LOCATION]
register list --accessed [--format text|json] [--after SEQ] [--limit N] [--register LOCATION]`,
		help: `Prints one line per entry: sequence number, time (UTC), event, direction,
channel, message ID, attempt, actor and detail. Use "register show SEQ" for
every field of one entry and "register export" for machine-readable output.

With --accessed, only the reads of personal data ("accessed" entries), for
the data-protection officer: who (and whether an operating-system user or
a user the console authenticated), when, what view, which message, payload
or case, and the purpose given. The data itself is never in the register.

EXIT CODES
  0  the entries were listed (also when there are none)
  2  usage error, or the register cannot be opened or read

EXAMPLES
  meldeweg register list
  meldeweg register list --message emaw-0001
  meldeweg register list --after 100 --limit 50
  meldeweg register list --accessed --format json`,
		setFlags: func(fs *flag.FlagSet) {
			o.registerOptions.bind(fs)
			fs.StringVar(&o.message, "message", "", "only entries of message `ID` (also those linked to it)")
			fs.Int64Var(&o.after, "after", 0, "only entries after sequence number `SEQ`")
			fs.IntVar(&o.limit, "limit", 0, "at most `N` entries (0: all)")
			fs.BoolVar(&o.accessed, "accessed", false, "only the reads of personal data (who, what, why)")
			fs.StringVar(&o.format, "format", "text", "output `FORMAT` of --accessed: text or json")
		},
		settingsFlags: o.settingsFlags,
		run:           func(e *env, args []string) int { return runRegisterList(e, o, args) },
	}
}

func runRegisterList(e *env, o *registerListOptions, args []string) int {
	if len(args) != 0 {
		return e.usageErrorf("unexpected argument %q", args[0])
	}
	after, limit, msg := o.after, o.limit, register.MessageID(o.message)
	if after < 0 || limit < 0 {
		return e.usageErrorf("--after and --limit must not be negative")
	}
	if o.format != "text" && o.format != "json" || o.format == "json" && !o.accessed {
		return e.usageErrorf("--format %q: expected text, or json with --accessed", o.format)
	}
	if o.accessed {
		return runRegisterListAccessed(e, o)
	}
	s, _, err := openExistingRegister(e)
	if err != nil {
		return e.failf(exitError, "%v", err)
	}
	defer s.Close()

	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tTIME\tEVENT\tDIR\tCHANNEL\tMESSAGE\tATTEMPT\tACTOR\tDETAIL")
	n := 0
	ctx := context.Background()
	for {
		page, err := s.List(ctx, register.ListParams{After: after, MessageID: msg})
		if err != nil {
			tw.Flush()
			return e.failf(exitError, "reading the register: %v", err)
		}
		for _, en := range page {
			if limit > 0 && n == limit {
				break
			}
			attempt := ""
			if en.Attempt() > 0 {
				attempt = fmt.Sprint(en.Attempt())
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", en.Seq(), en.Time().Format("2006-01-02T15:04:05Z"),
				en.Event(), dash(string(en.Direction())), dash(string(en.Channel())), dash(string(en.MessageID())), attempt, en.Actor(), en.Detail())
			n++
		}
		if len(page) == 0 || (limit > 0 && n == limit) {
			break
		}
		after = page[len(page)-1].Seq()
	}
	tw.Flush()
	return exitOK
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
