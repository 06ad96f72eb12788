package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"meldeweg.dev/meldeweg/cmd/meldeweg/internal/settings"
	"meldeweg.dev/meldeweg/emaw"
	"meldeweg.dev/meldeweg/emaw/due"
	"meldeweg.dev/meldeweg/emaw/msg"
	"meldeweg.dev/meldeweg/flow/status"
	"meldeweg.dev/meldeweg/transport/baapi"
	"meldeweg.dev/meldeweg/transport/register"
)

// statusOptions are the flags of "status".
type statusOptions struct {
	format, payloads, pki string
	registerOptions
}

func (o *statusOptions) settingsFlags() []settings.Flag {
	return append(append(settings.TestPKIFlags("--pki", o.pki), o.registerOptions.settingsFlags()...),
		settings.Flag{Name: "--payloads", Field: "payloads", Value: o.payloads})
}

func statusCommand() *command {
	o := &statusOptions{}
	return &command{
		name:    "status",
		summary: "where each delivery, the outbox, the mailbox, deadlines and certificates stand",
		usage:   `status [--format text|json] [--register LOCATION] [--payloads DIR] [--pki DIR]`,
		help: `Reads the register (and nothing else that changes), so it answers the same
whether "meldeweg serve" runs or not:

  XSozial    per Träger and month, production and test deliveries apart:
             built, checked, sent, accepted, rejected (with the Fehler and
             Hinweise counts and the rule codes of the BA's feedback),
             whether a correction is pending
  outbox     messages by channel and state, the oldest still to be sent
             and the oldest sent without an answer
  mailbox    the eM@w messages received, by type; acknowledgements; the
             time of the last inbound entry
  deadlines  the eM@w reports due and overdue today (as "emaw due
             --register"); inbound messages are opened with the eM@w
             encryption identity (endpoints.emaw, or --pki)
  certificates  the configured certificates ("certificates") with the days
             they have left (as "certs check")

Then it lists what needs a person. --format json prints the same as one
JSON object whose field names are stable (see docs/operations.md). No
personal data is printed: deliveries by message ID, participants by
pseudonym.

EXIT CODES
  0  nothing needs a person
  1  something does: a check failure, a rejected month without a
     correction, a message that could not be delivered, an overdue report,
     a certificate expiring, expired or unreadable
  2  usage, configuration or register error

EXAMPLES
  meldeweg --config /etc/meldeweg/meldeweg.json status
  meldeweg status --register demo/register.db --format json`,
		setFlags: func(fs *flag.FlagSet) {
			fs.StringVar(&o.format, "format", "text", "output `FORMAT`: text or json")
			o.registerOptions.bind(fs)
			fs.StringVar(&o.payloads, "payloads", "", payloadsUsage)
			fs.StringVar(&o.pki, "pki", "", "test PKI `DIR`: opens inbound eM@w messages for the deadlines with its emaw-encrypt identity (overrides endpoints.emaw)")
		},
		settingsFlags: o.settingsFlags,
		run:           func(e *env, args []string) int { return runStatus(e, o, args) },
	}
}

func runStatus(e *env, o *statusOptions, args []string) int {
	if len(args) > 0 {
		return e.usageErrorf("unexpected argument %q", args[0])
	}
	if o.format != "text" && o.format != "json" {
		return e.usageErrorf("--format %q: expected text or json", o.format)
	}
	s, err := e.settings()
	if err != nil {
		return e.failf(exitError, "%v", err)
	}
	ctx := context.Background()
	store, err := openRegister(ctx, s, true)
	if err != nil {
		return e.failf(exitError, "%v", err)
	}
	now := time.Now()
	rep, err := status.Read(ctx, store, now)
	store.Close()
	if err != nil {
		return e.failf(exitError, "reading the register %s: %v", s.Register, err)
	}
	if err := statusDeadlines(ctx, e, s, rep); err != nil {
		return e.failf(exitError, "%v", err)
	}
	var certs []status.CertificateInput
	for _, c := range s.Certificates {
		list, err := loadForCheck(c)
		certs = append(certs, status.CertificateInput{Name: c.Name, Certs: list, Err: err})
	}
	rep.AddCertificates(certs, time.Duration(s.CertWarnDays)*24*time.Hour)

	if o.format == "json" {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return e.failf(exitError, "%v", err)
		}
	} else {
		writeStatusText(e.stdout, s.Register.String(), rep)
	}
	if len(rep.Attention) > 0 {
		return exitFindings
	}
	return exitOK
}

// statusDeadlines adds the eM@w deadlines to rep. A register without eM@w
// traffic owes nothing and needs no identity; with traffic, the inbound
// messages are opened with the eM@w encryption identity, and when none is
// configured the section says so instead.
func statusDeadlines(ctx context.Context, e *env, s *settings.Settings, rep *status.Report) error {
	day := emaw.DateOf(rep.GeneratedAt.In(berlin()))
	emawTraffic := len(rep.Mailbox.Received) > 0 || rep.Mailbox.Acknowledgements > 0
	for _, c := range rep.Outbox {
		emawTraffic = emawTraffic || c.Channel == register.ChannelEmaw
	}
	if !emawTraffic {
		return rep.AddDeadlines(due.State{}, day, nil)
	}
	ep, err := buildEndpoint(s, baapi.ChannelEmaw, useReading, 0)
	if err != nil {
		rep.NoDeadlines(day, fmt.Sprintf("not computed: %v", err))
		return nil
	}
	ob, err := openOutbox(ctx, s, true)
	if err != nil {
		return err
	}
	defer ob.Store.Close()
	reg, err := e.registry()
	if err != nil {
		return err
	}
	st, err := emawState(ctx, ob, ep, msg.NewCodec(reg))
	if err != nil {
		return fmt.Errorf("eM@w deadlines: %w", err)
	}
	if err := rep.AddDeadlines(st.State, day, st.Skipped); err != nil {
		return fmt.Errorf("eM@w deadlines: %w", err)
	}
	return nil
}

// berlin is the time zone deadlines are judged in; UTC when the system
// has no zone data.
func berlin() *time.Location {
	if l, err := time.LoadLocation("Europe/Berlin"); err == nil {
		return l
	}
	return time.UTC
}

const statusTime = "2006-01-02T15:04:05Z"

func fmtTime(t *time.Time) string {
	if t == nil || t.IsZero() {
		return "-"
	}
	return t.UTC().Format(statusTime)
}

func writeStatusText(w io.Writer, where string, r *status.Report) {
	fmt.Fprintf(w, "Register %s: %d entries, as of %s\n", where, r.Entries, r.GeneratedAt.Format(statusTime))

	fmt.Fprintf(w, "\nXSOZIAL DELIVERIES\n")
	if len(r.XSozial.Lines) == 0 && len(r.XSozial.Unassigned) == 0 {
		fmt.Fprintln(w, "  none recorded")
	} else {
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "TRÄGER\tMONTH\tLINE\tSTATUS\tDELIVERY\tUPDATED\tFEEDBACK\tNOTE")
		for _, l := range r.XSozial.Lines {
			last := l.Deliveries[len(l.Deliveries)-1]
			kind := "production"
			if l.Test {
				kind = "test"
			}
			var notes []string
			if l.CorrectionPending {
				notes = append(notes, "correction pending")
			}
			if last.Kind != "first" {
				notes = append(notes, last.Kind+" of "+last.Supersedes)
			}
			if n := len(l.Deliveries); n > 1 {
				notes = append(notes, fmt.Sprintf("%d deliveries", n))
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", l.Traeger, l.Month, kind, l.Status, last.ID,
				last.UpdatedAt.Format(statusTime), feedbackText(lastFeedback(l)), dashIfEmpty(strings.Join(notes, "; ")))
		}
		for _, d := range r.XSozial.Unassigned {
			fmt.Fprintf(tw, "-\t-\t-\t%s\t%s\t%s\t%s\t%s\n", d.Status, d.ID, d.UpdatedAt.Format(statusTime), feedbackText(d.Feedback), "no Träger and month recorded")
		}
		tw.Flush()
	}

	fmt.Fprintf(w, "\nOUTBOX\n")
	if len(r.Outbox) == 0 {
		fmt.Fprintln(w, "  empty")
	} else {
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		head := []string{"CHANNEL"}
		for _, s := range register.MessageStates() {
			head = append(head, strings.ToUpper(string(s)))
		}
		fmt.Fprintln(tw, strings.Join(append(head, "OLDEST PENDING", "OLDEST UNANSWERED"), "\t"))
		for _, c := range r.Outbox {
			row := []string{string(c.Channel)}
			for _, s := range register.MessageStates() {
				row = append(row, fmt.Sprint(c.States[s]))
			}
			fmt.Fprintln(tw, strings.Join(append(row, pendingText(c.OldestPending), pendingText(c.OldestUnanswered)), "\t"))
		}
		tw.Flush()
	}

	fmt.Fprintf(w, "\nMAILBOX (eM@w)\n")
	var received []string
	for _, t := range sortedCounts(r.Mailbox.Received) {
		received = append(received, t)
	}
	fmt.Fprintf(w, "  received:          %s\n", dashIfEmpty(strings.Join(received, ", ")))
	fmt.Fprintf(w, "  acknowledgements:  %d\n", r.Mailbox.Acknowledgements)
	fmt.Fprintf(w, "  last inbound:      %s\n", fmtTime(r.Mailbox.LastInboundAt))

	if d := r.Deadlines; d != nil {
		fmt.Fprintf(w, "\nDEADLINES (eM@w, on %s)\n", d.Date)
		switch {
		case !d.Available:
			fmt.Fprintf(w, "  %s\n", d.Note)
		case len(d.Items) == 0:
			fmt.Fprintln(w, "  nothing due")
		default:
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "DEADLINE\tSTATUS\tTYPE\tMASSNAHME\tTEILNEHMER\tPERIOD")
			for _, it := range d.Items {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", it.Deadline, it.Status, it.Type, it.Massnahme, dashIfEmpty(it.Teilnehmer), it.Period)
			}
			tw.Flush()
			fmt.Fprintf(w, "  %d due, %d overdue\n", d.Due, d.Overdue)
		}
		for _, s := range d.Skipped {
			fmt.Fprintf(w, "  left out: %s\n", s)
		}
	}

	fmt.Fprintf(w, "\nCERTIFICATES\n")
	if len(r.Certificates) == 0 {
		fmt.Fprintln(w, "  none configured (\"certificates\")")
	} else {
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "STATUS\tDAYS\tNOT AFTER\tNAME\tSUBJECT")
		for _, c := range r.Certificates {
			if c.Status == status.StatusUnreadable {
				fmt.Fprintf(tw, "%s\t-\t-\t%s\t%s\n", c.Status, c.Name, c.Error)
				continue
			}
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\n", c.Status, c.DaysLeft, c.NotAfter.Format("2006-01-02"), c.Name, c.Subject)
		}
		tw.Flush()
	}

	fmt.Fprintf(w, "\nATTENTION\n")
	if len(r.Attention) == 0 {
		fmt.Fprintln(w, "  nothing needs a person")
	}
	for _, a := range r.Attention {
		fmt.Fprintf(w, "  - %s\n", a)
	}
}

// lastFeedback is the feedback of the line's last delivery that has one.
func lastFeedback(l status.Line) *status.Feedback {
	for i := len(l.Deliveries) - 1; i >= 0; i-- {
		if f := l.Deliveries[i].Feedback; f != nil {
			return f
		}
	}
	return nil
}

func feedbackText(f *status.Feedback) string {
	if f == nil {
		return "-"
	}
	if f.Fehler < 0 {
		return f.Result
	}
	s := fmt.Sprintf("%s: %d Fehler, %d Hinweise", f.Result, f.Fehler, f.Hinweise)
	if len(f.Rules) > 0 {
		s += " (" + strings.Join(f.Rules, ", ") + ")"
	}
	return s
}

func pendingText(p *status.Pending) string {
	if p == nil {
		return "-"
	}
	return p.ID + " since " + p.Since.Format(statusTime)
}

func sortedCounts(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		out = append(out, fmt.Sprintf("%s %d", k, m[k]))
	}
	return out
}

func dashIfEmpty(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
