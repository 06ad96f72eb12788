package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"meldeweg.dev/meldeweg/cmd/meldeweg/internal/settings"
	"meldeweg.dev/meldeweg/flow/monthly"
	"meldeweg.dev/meldeweg/schemas"
	"meldeweg.dev/meldeweg/transport/baapi"
)

// xsozialRunOptions are the flags of "xsozial run".
type xsozialRunOptions struct {
	month, traeger, in, work string
	correction, test         bool
	endpoint                 endpointOptions
	feedbackWait, timeout    time.Duration
}

// settingsFlags are the flags that override configuration fields.
func (o *xsozialRunOptions) settingsFlags() []settings.Flag {
	return append(o.endpoint.settingsFlags(),
		settings.Flag{Name: "--traeger", Field: "traeger", Value: o.traeger},
		settings.Flag{Name: "--in", Field: "xsozial_source", Value: o.in},
		settings.Flag{Name: "--work", Field: "work_dir", Value: o.work})
}

func xsozialRunCommand() *command {
	o := &xsozialRunOptions{}
	return &command{
		name:    "run",
		summary: "the monthly delivery: build, check, seal, send, await feedback, record (idempotent)",
		usage:   `xsozial run --month YYYY-MM [--traeger NR] [--in DIR] [--work DIR] [--correction] [ENDPOINT OPTIONS]`,
		help: `Runs the month's XSozial-BA-SGB II delivery end to end: builds the complete
snapshot from the source records in --in, checks it in three stages (RTX,
VTX, PTX; reports next to the dataset in --work), seals it for the BA,
queues it in the outbox, sends it over mutual TLS, waits for the BA's
feedback and records it. Every step is an entry in the register under the
Trägernummer and month.

Test deliveries (--test, K.8 "T") are deliveries of their own: their own
message IDs (xsozial-12345-2026-10-test-1), correlation key and file
(XSOZIAL_12345_2026-10_T.xml). A test run never counts for the production
month, nor the other way round.

The run is idempotent per (Träger, month): once the BA has accepted the
month's delivery, running again with the same data does nothing and says
so. After a crash or a failure it resumes where the register says it
stopped: a queued message is sent, a sent one awaits its feedback, one
that could not be delivered is sent again (a new message linked to the old
one). A delivery that fails Meldeweg's own check is not sent. When the
month has a delivery built from other data than --in now holds, the run
does nothing and exits 1: it does not take that delivery for its data. To
send the new data, or to replace a rejected delivery, run with
--correction: a new complete file (Lieferart 2) is built and sent, linked
in the register to the one it supersedes.

Plain personal data stays in --work only while it is processed: the
directory is kept 0700, the dataset and its reports are 0600, and the
dataset is removed once it is sealed into the register (or its check
failed); the reports stay. A run removes what a killed run left there
(the dataset, ".XSOZIAL_….tmp-…" files) and says so on standard error.
Two runs of a month in one --work directory run one after the other.

Progress bars are shown on long steps when standard error is a terminal.

POSITIONAL ARGUMENTS
  none

EXIT CODES
  0  accepted by the BA (now, or already before: nothing to do)
  1  the check found Fehler (nothing sent), the BA rejected the delivery,
     it could not be delivered after all attempts, or the month has a
     delivery of other data (nothing done; --correction replaces it)
  2  usage, configuration, I/O, register or transport error, or no feedback
     within --feedback-wait (run again later: it resumes)

EXAMPLES
  meldeweg --config /etc/meldeweg/meldeweg.json xsozial run --month 2026-10
  meldeweg xsozial run --month 2026-10 --traeger 12345 --in export/ --pki demo/pki --url https://127.0.0.1:8443
  meldeweg xsozial run --month 2026-10 --correction`,
		setFlags: func(fs *flag.FlagSet) {
			fs.StringVar(&o.month, "month", "", "reporting `MONTH` (Berichtsmonat), YYYY-MM (required)")
			fs.StringVar(&o.traeger, "traeger", "", "Trägernummer `NR` (overrides \"traeger\")")
			fs.StringVar(&o.in, "in", "", "source record `DIR` (JSON Lines; overrides \"xsozial_source\")")
			fs.StringVar(&o.work, "work", "", "`DIR` for the dataset and check reports (overrides \"work_dir\"; default meldeweg-out)")
			fs.BoolVar(&o.correction, "correction", false, "send a new complete file that supersedes the month's last delivery")
			fs.BoolVar(&o.test, "test", false, "mark the delivery as a test delivery (K.8 \"T\")")
			o.endpoint.bind(fs)
			fs.DurationVar(&o.feedbackWait, "feedback-wait", 2*time.Minute, "wait at most `DURATION` for the feedback after sending")
			fs.DurationVar(&o.timeout, "timeout", time.Hour, "give up the whole run after `DURATION` (a rerun resumes)")
		},
		settingsFlags: o.settingsFlags,
		run:           func(e *env, args []string) int { return runXsozialRun(e, o, args) },
	}
}

func runXsozialRun(e *env, o *xsozialRunOptions, args []string) int {
	if len(args) != 0 {
		return e.usageErrorf("unexpected argument %q", args[0])
	}
	if o.month == "" {
		return e.usageErrorf("--month is required")
	}
	month, err := schemas.ParseMonth(o.month)
	if err != nil {
		return e.usageErrorf("--month: %v", err)
	}
	if o.feedbackWait <= 0 || o.timeout <= 0 {
		return e.usageErrorf("--feedback-wait and --timeout must be positive durations")
	}
	cfg, err := e.settings()
	if err != nil {
		return e.failf(exitError, "%v", err)
	}
	traeger := cfg.Traeger
	if traeger == "" {
		return e.usageErrorf("no Trägernummer: give --traeger or set \"traeger\" in the configuration")
	}
	src, work := cfg.XSozialSource, cfg.WorkDir
	reg, err := e.registry()
	if err != nil {
		return e.failf(exitError, "%v", err)
	}
	ep, err := e.endpoint(baapi.ChannelXSozial, 0)
	if err != nil {
		return e.failf(exitError, "%v", err)
	}
	defer ep.Client.Close()
	ob, err := e.outbox()
	if err != nil {
		return e.failf(exitError, "%v", err)
	}
	defer ob.Store.Close()
	ob.Attempt = e.reportAttempt

	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()
	res, err := monthly.Run(ctx, monthly.Params{
		Traeger: traeger, Month: month, SourceDir: src, WorkDir: work,
		Correction: o.correction, Test: o.test,
		Registry: reg, Endpoint: ep, Outbox: ob,
		Software: "meldeweg", SoftwareVersion: version,
		FeedbackWait: o.feedbackWait,
		Progress:     e.progress(),
		Notice:       func(s string) { fmt.Fprintf(e.stderr, "%s: %s\n", e.name, s) },
	})
	id := res.Message.ID
	what := "month " + month.String()
	if o.test {
		what += " (test delivery)"
	}
	if err != nil {
		return e.failf(exitError, "Träger %s, %s: %v", traeger, what, err)
	}
	if res.Resumed != "" {
		fmt.Fprintf(e.stderr, "%s: resumed delivery %s at step %q\n", e.name, id, res.Resumed)
	}
	switch res.Outcome {
	case monthly.Accepted:
		if res.AlreadyDone {
			fmt.Fprintf(e.stdout, "Träger %s, %s: already delivered and accepted by the BA as %s (%s); nothing to do. Use --correction to replace it.\n",
				traeger, what, id, res.Message.UpdatedAt.UTC().Format(time.RFC3339))
			return exitOK
		}
		fmt.Fprintf(e.stdout, "Träger %s, %s: %s accepted by the BA (%s)\n", traeger, what, id, monthly.Verdict(res.Feedback).Summary)
		return exitOK
	case monthly.CheckFailed:
		fmt.Fprintf(e.stdout, "Träger %s, %s: check %s; nothing was sent\n", traeger, what, res.Report.Verdict())
		for _, s := range res.Report.Stages {
			fmt.Fprintf(e.stdout, "  %-3s %-7s %d Fehler, %d Hinweise\n", s.Stage, s.Status, s.Fehler, s.Hinweise)
		}
		fmt.Fprintf(e.stdout, "  reports: %s.check.{txt,html,json}\n", trimXML(res.Dataset))
		return exitFindings
	case monthly.Rejected:
		fmt.Fprintf(e.stdout, "Träger %s, %s: %s was rejected by the BA: %s\nFix the source data and run again with --correction.\n", traeger, what, id, res.Message.LastError)
		return exitFindings
	case monthly.Dead:
		fmt.Fprintf(e.stdout, "Träger %s, %s: %s could not be delivered: %s\nRun again to send it anew.\n", traeger, what, id, res.Message.LastError)
		return exitFindings
	case monthly.Different:
		fmt.Fprintf(e.stdout, "Träger %s, %s: a different delivery for the month exists: %s (%s) was built from other data than %s holds (data SHA-256 %.16s…, now %.16s…); nothing was done.\nUse --correction to send a replacement.\n",
			traeger, what, id, res.Message.State, src, res.RecordedDigest, res.Digest)
		return exitFindings
	case monthly.Pending:
		return e.failf(exitError, "Träger %s, %s: %s was sent, but no feedback arrived within --feedback-wait; run again later (it resumes) or use \"meldeweg poll\"", traeger, what, id)
	}
	return e.failf(exitError, "unexpected outcome %q", res.Outcome)
}

func trimXML(p string) string {
	if len(p) > 4 && p[len(p)-4:] == ".xml" {
		return p[:len(p)-4]
	}
	return p
}

// progress returns a monthly.Progress: progress bars when standard error
// is a terminal, else one line per step.
func (e *env) progress() monthly.Progress {
	f, ok := e.stderr.(*os.File)
	tty := ok && term.IsTerminal(int(f.Fd()))
	return func(step string, total int64) (io.Writer, func()) {
		if !tty {
			fmt.Fprintf(e.stderr, "%s: %s\n", e.name, step)
			return io.Discard, func() {}
		}
		bar := progressbar.NewOptions64(total,
			progressbar.OptionSetWriter(e.stderr),
			progressbar.OptionSetDescription(step),
			progressbar.OptionShowBytes(true),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionClearOnFinish(),
			progressbar.OptionSpinnerType(14),
		)
		return bar, func() { bar.Finish(); fmt.Fprintf(e.stderr, "%s: %s done\n", e.name, step) }
	}
}
