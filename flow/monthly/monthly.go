// Package monthly runs the monthly XSozial-BA-SGB II delivery of one
// Träger (§ 51b SGB II), from the source records to the BA's feedback:
//
//	build  the complete snapshot for the reporting month (xsozial/source),
//	       with the bundle in force for that month (schemas), into the
//	       work directory
//	check  it in three stages like VTXSozial (xsozial/check); a delivery
//	       with Fehler is not sent
//	seal   it for the BA and queue it in the outbox (flow/outbox:
//	       transport/cms, the sealed payload store, transport/register);
//	       the plain dataset is removed from the work directory
//	send   it over mutual TLS until the BA's receipt confirms it
//	await  the BA's feedback, open it, and record it: acknowledged or
//	       rejected (xsozial/feedback, transport/register)
//
// PollFeedback collects the feedback of every delivery that is still
// waiting for it (what "meldeweg poll" does for XSozial).
//
// # Deliveries of a month
//
// Every step leaves an entry in the register under the correlation key of
// the delivery line: Trägernummer + month, production (register.XSozialKey)
// and test deliveries (register.XSozialTestKey) apart, with message IDs
// "xsozial-12345-2026-10-1" and "xsozial-12345-2026-10-test-1". Run reads
// the register first, so a run is idempotent per line: after an accepted
// delivery a rerun does nothing and says so; after a crash or a failure it
// resumes where the register says it stopped (a queued message is sent, a
// sent one awaits its feedback, a dead one is sent again as a linked
// resend). A correction is a new complete file (Lieferart 2) that
// supersedes the earlier delivery and is linked to it in the register.
//
// A delivery belongs to its data. The "built" entry names the data digest
// (SHA-256 of the records after the header, which does not change with the
// creation time), and a run for a month that has a delivery builds the
// source again and compares: the same data continues or confirms that
// delivery; other data gives the outcome Different and changes nothing
// (a replacement is a correction). No message ID ever holds entries of two
// datasets: a new delivery takes the next ID under which no other data
// was built.
//
// # Work directory
//
// The plain dataset exists only while it is built, checked and sealed:
// it is written 0600 into a work directory kept 0700 and removed as soon as
// the register holds it sealed, or its check failed. The check reports
// (0600) stay; they name record keys (BG-Nummer, Kundennummer), never
// names or birth dates. A run holds the lock of its line in the work
// directory (".XSOZIAL_12345_2026-10_P.lock") until its delivery is
// queued, so that two runs of a line never build into one file; with it
// held, it removes what a run that died left: the line's dataset and the
// temporary files of an interrupted write (".XSOZIAL_….tmp-…"), also of
// other lines whose lock is free. Params.Notice is told of each.
//
// # Limits
//
// The lock is a flock in the work directory (Linux and other Unix
// systems). Runs of one line that share a register but not a work
// directory (several hosts on one PostgreSQL register) are kept apart
// only by the register check, which two runs that start within the
// moment it takes to build can both pass; schedule a Träger's monthly run
// on one host. A register written before test deliveries had a line of
// their own holds them under the production key; a production run leaves
// out every delivery whose "built" entry names a test file. Comparing
// data costs a build on every rerun of a month
// that has a delivery. A delivery recorded before data digests were
// recorded (or queued by "meldeweg send") is not compared.
package monthly

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"meldeweg.dev/meldeweg/transport/atomicfile"

	"meldeweg.dev/meldeweg/flow/outbox"
	"meldeweg.dev/meldeweg/schemas"
	"meldeweg.dev/meldeweg/transport/register"
	"meldeweg.dev/meldeweg/xsozial"
	"meldeweg.dev/meldeweg/xsozial/check"
	"meldeweg.dev/meldeweg/xsozial/feedback"
	"meldeweg.dev/meldeweg/xsozial/source"
)

// Params describe one monthly run.
type Params struct {
	// Traeger is the Trägernummer, Month the reporting month. Required.
	Traeger string
	Month   schemas.Month
	// SourceDir holds the exported source records (JSON Lines). Required
	// when the run has to build; when the month has a delivery, the run
	// builds from it too, to tell the same data from other data.
	SourceDir string
	// WorkDir receives the dataset while it is built, checked and sealed,
	// and the check reports. It is created 0700 (an existing one is
	// narrowed to 0700). Required.
	WorkDir string
	// Correction sends a new complete file that supersedes the last
	// delivery of the month.
	Correction bool
	// Test marks a test delivery (K.8 "T"). Test deliveries are a line of
	// their own: their own correlation key (register.XSozialTestKey),
	// message IDs ("xsozial-12345-2026-10-test-1") and file
	// (XSOZIAL_12345_2026-10_T.xml); a test delivery never counts for
	// the production month, nor the other way round.
	Test bool
	// Registry supplies the bundles. Required.
	Registry *schemas.Registry
	// Endpoint and Outbox deliver. Required.
	Endpoint *outbox.Endpoint
	Outbox   *outbox.Outbox
	// Software and SoftwareVersion name the sender in the header.
	Software, SoftwareVersion string
	// Now is the clock (creation time, "month not in the future").
	// Defaults to time.Now.
	Now func() time.Time
	// FeedbackWait is how long Run waits for the feedback after sending;
	// PollEvery how often it asks. Default 2 minutes and 1 second.
	FeedbackWait, PollEvery time.Duration
	// Progress, if set, is told about each step; long steps report bytes
	// through the writer it returns (see Progress).
	Progress Progress
	// Notice, if set, is told what the run did besides its steps that an
	// operator should know: leftovers of an earlier run removed, a work
	// directory narrowed to 0700, waiting for another run. No personal
	// data.
	Notice func(string)
}

// Progress reports a step. For steps with a size, total is the number of
// bytes expected (-1 if unknown) and the returned writer receives a write
// per chunk processed; done is called when the step ends.
type Progress func(step string, total int64) (w io.Writer, done func())

// Outcome is how a run ended.
type Outcome string

const (
	// Accepted: the BA accepted the delivery, in this run or earlier.
	Accepted Outcome = "accepted"
	// Rejected: the BA rejected the delivery; fix the data, run with
	// Correction.
	Rejected Outcome = "rejected"
	// CheckFailed: Meldeweg's own check found Fehler; nothing was sent.
	CheckFailed Outcome = "check-failed"
	// Dead: the delivery could not be sent after all attempts, or the BA
	// refused the upload as such. A rerun sends it again.
	Dead Outcome = "dead"
	// Pending: sent, but no feedback yet within FeedbackWait. A rerun (or
	// "meldeweg poll") collects it.
	Pending Outcome = "pending"
	// Different: the month has a delivery (Result.Message: queued, sent,
	// accepted, rejected or dead) built from other data than the source
	// now holds. Nothing was done: the run does not claim that delivery
	// for its data. Correction sends the data as a replacement.
	Different Outcome = "different"
)

// Result tells what a run did.
type Result struct {
	Outcome Outcome
	// Message is the delivery's outbox message, in its state at the end.
	Message register.Message
	// AlreadyDone: nothing was done because the month's delivery was
	// already settled (accepted, or rejected and no correction asked).
	AlreadyDone bool
	// Resumed names the step a run picked up from an earlier one ("send",
	// "await"); empty for a fresh or skipped run.
	Resumed string
	// Dataset names the dataset file built in this run. The file exists
	// only while the run needs it: it is removed once sealed into the
	// register, or when the check failed. Report is its check; the
	// reports stay next to where it was (Dataset without ".xml", plus
	// ".check.txt", ".check.html", ".check.json").
	Dataset string
	Report  *check.Report
	// Feedback is the BA's feedback, when it arrived in this run.
	Feedback *feedback.Feedback
	// Digest is the data digest (SHA-256 of the records after the
	// header) of the data built in this run, and RecordedDigest that of
	// Message as the register has it ("" if it does not say); they differ
	// for the outcome Different.
	Digest, RecordedDigest string
}

// MessageID is the ID of the n-th delivery (1 = the first, 2… =
// corrections or resends) of a Träger and month: "xsozial-12345-2026-10-1",
// for a test delivery "xsozial-12345-2026-10-test-1".
func MessageID(traeger string, month schemas.Month, test bool, n int) register.MessageID {
	if test {
		return register.MessageID(fmt.Sprintf("xsozial-%s-%s-test-%d", traeger, month, n))
	}
	return register.MessageID(fmt.Sprintf("xsozial-%s-%s-%d", traeger, month, n))
}

// Key is the correlation key of the deliveries of a Träger and month:
// register.XSozialKey, or register.XSozialTestKey for test deliveries.
func Key(traeger string, month schemas.Month, test bool) (register.CorrelationKey, error) {
	if test {
		return register.XSozialTestKey(traeger, month.String())
	}
	return register.XSozialKey(traeger, month.String())
}

// Run performs or resumes the month's delivery; see the package doc. The
// error is set when the run could not complete for a technical reason
// (configuration, I/O, transport, register); outcomes the data or the BA
// decide are in Result.Outcome.
func Run(ctx context.Context, p Params) (Result, error) {
	if err := p.validate(); err != nil {
		return Result{}, err
	}
	key, err := Key(p.Traeger, p.Month, p.Test)
	if err != nil {
		return Result{}, err
	}
	note, err := privateDir(p.WorkDir)
	if err != nil {
		return Result{}, err
	}
	if note != "" {
		p.notice(note)
	}
	// One run of the line at a time in this work directory: until the
	// delivery is queued, the register does not show that a run is under
	// way, and the dataset file is shared.
	stem := strings.TrimSuffix(check.FileName(p.Traeger, p.Month, p.Test), ".xml")
	lock, err := lockLine(ctx, p.WorkDir, stem, p.notice)
	if err != nil {
		return Result{}, err
	}
	defer lock.release()
	notes, err := cleanLeftovers(p.WorkDir, stem)
	for _, n := range notes {
		p.notice(n)
	}
	if err != nil {
		return Result{}, fmt.Errorf("removing leftovers in %s: %w", p.WorkDir, err)
	}
	r := run{Params: &p, key: key, lock: lock}
	return r.run(ctx)
}

// run is one Run with its work directory locked.
type run struct {
	*Params
	key  register.CorrelationKey
	lock *lineLock
}

func (r *run) run(ctx context.Context) (Result, error) {
	earlier, err := r.Outbox.Store.Messages(ctx, register.MessagesParams{Correlation: r.key, Limit: 10000})
	if err != nil {
		return Result{}, err
	}
	if !r.Test {
		if earlier, err = r.withoutOldTestDeliveries(ctx, earlier); err != nil {
			return Result{}, err
		}
	}
	var last *register.Message
	if n := len(earlier); n > 0 {
		last = &earlier[n-1]
	}
	if r.Correction {
		if last == nil {
			return Result{}, fmt.Errorf("no earlier delivery for Träger %s, month %s to correct; run without --correction", r.Traeger, r.describeMonth())
		}
		switch last.State {
		case register.MessageQueued, register.MessageSending, register.MessageRetryWait:
			return Result{Message: *last}, fmt.Errorf("delivery %s is still in the outbox (%s); let it finish (run again without --correction) before correcting it", last.ID, last.State)
		}
		return r.fresh(ctx, len(earlier)+1, last.ID)
	}
	if last == nil {
		return r.fresh(ctx, len(earlier)+1, "")
	}
	// The month has a delivery. It is this run's only if it holds the
	// same data: build again (into no file) and compare.
	res := Result{Message: *last}
	if r.SourceDir != "" {
		if res.Digest, err = r.digestSource(ctx); err != nil {
			return res, err
		}
		if res.RecordedDigest, err = r.recordedDigest(ctx, *last); err != nil {
			return res, err
		}
		if res.RecordedDigest != "" && res.RecordedDigest != res.Digest {
			res.Outcome = Different
			return res, nil
		}
	}
	switch last.State {
	case register.MessageAcknowledged:
		res.Outcome, res.AlreadyDone = Accepted, true
		return res, nil
	case register.MessageRejected:
		res.Outcome, res.AlreadyDone = Rejected, true
		return res, nil
	case register.MessageDead:
		// Send the same sealed payload again, as a new message linked to
		// the dead one.
		next, err := r.nextID(ctx, len(earlier)+1, "")
		if err != nil {
			return res, err
		}
		m, err := r.Outbox.Store.Enqueue(ctx, register.EnqueueParams{ID: next, Channel: register.ChannelXSozial, Endpoint: r.Endpoint.URL,
			Correlation: r.key, Payload: last.Payload, ResendOf: last.ID, Actor: r.Outbox.Actor, Detail: "resend of " + string(last.ID)})
		if err != nil {
			return res, err
		}
		r.lock.release() // the register now shows the resend to other runs
		res.Resumed, res.Message = "send", m
		return r.sendAndAwait(ctx, res)
	case register.MessageSent:
		r.lock.release()
		res.Resumed = "await"
		return r.await(ctx, res)
	default: // queued, sending, retry-wait
		r.lock.release()
		res.Resumed = "send"
		return r.sendAndAwait(ctx, res)
	}
}

func (p *Params) validate() error {
	switch {
	case p.Traeger == "":
		return errors.New("no Trägernummer")
	case p.Month.IsZero():
		return errors.New("no reporting month")
	case p.WorkDir == "":
		return errors.New("no work directory")
	case p.Registry == nil || p.Endpoint == nil || p.Outbox == nil:
		return errors.New("monthly.Params: Registry, Endpoint and Outbox are required")
	}
	now := p.now()
	if schemas.MonthOf(now).Before(p.Month) {
		return fmt.Errorf("reporting month %s lies in the future", p.Month)
	}
	return nil
}

func (p *Params) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

func (p *Params) notice(s string) {
	if p.Notice != nil {
		p.Notice(s)
	}
}

// describeMonth is "2026-10", or "2026-10 (test deliveries)".
func (p *Params) describeMonth() string {
	if p.Test {
		return p.Month.String() + " (test deliveries)"
	}
	return p.Month.String()
}

// buildOptions are the source.Options of this run's dataset.
func (p *Params) buildOptions(lieferart string) (source.Options, *schemas.Bundle, error) {
	b, err := p.Registry.Select(xsozial.Standard, p.Month)
	if err != nil {
		return source.Options{}, nil, err
	}
	return source.Options{Traeger: p.Traeger, Month: p.Month, Version: b.Version, Created: p.now().UTC().Truncate(time.Second),
		Software: p.Software, SoftwareVersion: p.SoftwareVersion, Lieferart: lieferart, Test: p.Test}, b, nil
}

// digestSource builds the month from the source into no file and returns
// its data digest.
func (r *run) digestSource(ctx context.Context) (string, error) {
	files, err := source.Files(r.SourceDir)
	if err != nil {
		return "", err
	}
	opts, _, err := r.buildOptions("1")
	if err != nil {
		return "", err
	}
	d := newDataDigest()
	pw, done := r.progress("build (to compare with the month's delivery)", -1)
	_, err = source.BuildFiles(ctx, files, io.MultiWriter(d, pw), opts)
	done()
	if err != nil {
		return "", err
	}
	return d.Sum(), nil
}

// recordedDigest returns the data digest the register names for message
// m ("" when it does not say: a delivery recorded by an older version, or
// queued by other means).
func (r *run) recordedDigest(ctx context.Context, m register.Message) (string, error) {
	d, err := r.builtDetail(ctx, m)
	return digestOf(d), err
}

// builtDetail returns the detail of the "built" entry of message m, or,
// for a resend, of the message it resends; "" when there is none.
func (r *run) builtDetail(ctx context.Context, m register.Message) (string, error) {
	id := m.ID
	for range 100 {
		for e, err := range register.All(ctx, r.Outbox.Store, id) {
			if err != nil {
				return "", err
			}
			if e.MessageID() == id && e.Event() == register.EventBuilt {
				return e.Detail(), nil
			}
		}
		mm, err := r.Outbox.Store.Message(ctx, id)
		if err != nil || mm.ResendOf == "" {
			return "", nil
		}
		id = mm.ResendOf
	}
	return "", nil
}

// withoutOldTestDeliveries drops from msgs (production deliveries by
// their key) the test deliveries that versions before the test line
// recorded under the production key: their "built" entry names a test
// file (XSOZIAL_…_T.xml). They never count for the production month.
func (r *run) withoutOldTestDeliveries(ctx context.Context, msgs []register.Message) ([]register.Message, error) {
	out := msgs[:0:0]
	for _, m := range msgs {
		d, err := r.builtDetail(ctx, m)
		if err != nil {
			return nil, err
		}
		if strings.HasPrefix(d, "built ") && strings.Contains(d, "_T.xml with ") {
			continue
		}
		out = append(out, m)
	}
	return out, nil
}

// nextID returns the message ID for a new delivery of the month, the n-th
// or a later one: the first that no message has and under which no data
// other than digest was built (a run whose check failed leaves "built"
// and "checked" entries without a message). digest "" takes only an ID
// with no entries at all. Two datasets are thus never recorded under one
// message ID.
func (r *run) nextID(ctx context.Context, n int, digest string) (register.MessageID, error) {
	for ; ; n++ {
		id := MessageID(r.Traeger, r.Month, r.Test, n)
		if _, err := r.Outbox.Store.Message(ctx, id); err == nil {
			continue
		} else if !errors.Is(err, register.ErrNotFound) {
			return "", err
		}
		free := true
		for e, err := range register.All(ctx, r.Outbox.Store, id) {
			if err != nil {
				return "", err
			}
			if e.MessageID() != id {
				continue // an entry of a later message that names id as related
			}
			if digest == "" || (e.Event() == register.EventBuilt && digestOf(e.Detail()) != digest) {
				free = false
				break
			}
		}
		if free {
			return id, nil
		}
	}
}

// fresh builds, checks, seals, queues, sends and awaits a new delivery,
// the n-th of the month or a later one (see nextID). The plain dataset
// exists only until it is sealed into the register (or the check failed).
func (r *run) fresh(ctx context.Context, n int, supersedes register.MessageID) (Result, error) {
	if r.SourceDir == "" {
		return Result{}, errors.New("no source directory to build from")
	}
	lieferart := "1"
	if supersedes != "" {
		lieferart = "2"
	}
	opts, b, err := r.buildOptions(lieferart)
	if err != nil {
		return Result{}, err
	}
	res := Result{Dataset: filepath.Join(r.WorkDir, check.FileName(r.Traeger, r.Month, r.Test))}
	defer os.Remove(res.Dataset)

	// build
	files, err := source.Files(r.SourceDir)
	if err != nil {
		return res, err
	}
	var st source.Stats
	d := newDataDigest()
	err = atomicfile.Write(res.Dataset, 0o600, func(w io.Writer) error {
		pw, done := r.progress("build "+filepath.Base(res.Dataset), -1)
		defer done()
		st, err = source.BuildFiles(ctx, files, io.MultiWriter(w, d, pw), opts)
		return err
	})
	if err != nil {
		return res, err
	}
	res.Digest = d.Sum()
	id, err := r.nextID(ctx, n, res.Digest)
	if err != nil {
		return res, err
	}
	ref, err := hashFile(res.Dataset)
	if err != nil {
		return res, err
	}
	reg := appender{p: r.Params, id: id, key: r.key, related: supersedes}
	if err := reg.add(ctx, register.EventBuilt, ref, fmt.Sprintf("built %s with %s: %d BGs, %s to %s, Lieferart %s, %s%s",
		filepath.Base(res.Dataset), b.ID(), st.BGs, st.WindowFirst, st.WindowLast, lieferart, digestDetail, res.Digest)); err != nil {
		return res, err
	}

	// check
	rep, err := r.check(ctx, res.Dataset, ref.Size)
	if err != nil {
		return res, err
	}
	res.Report = rep
	if err := reg.add(ctx, register.EventChecked, ref, checkSummary(rep)); err != nil {
		return res, err
	}
	if !rep.Passed {
		res.Outcome = CheckFailed
		return res, nil
	}

	// seal and queue; the register keeps the sealed dataset from here on
	_, done := r.progress("seal and queue", -1)
	m, _, err := r.Outbox.Submit(ctx, r.Endpoint, outbox.SubmitParams{ID: id, Correlation: r.key, ResendOf: supersedes,
		Plain: res.Dataset, Detail: "monthly delivery " + r.Traeger + " " + r.describeMonth()})
	done()
	if err != nil {
		return res, err
	}
	res.Message = m
	if err := os.Remove(res.Dataset); err != nil {
		return res, fmt.Errorf("removing the plain dataset after sealing: %w", err)
	}
	r.lock.release()
	return r.sendAndAwait(ctx, res)
}

// check runs the three stages and writes the reports (0600: they name
// record keys) next to the dataset.
func (p *Params) check(ctx context.Context, dataset string, size int64) (*check.Report, error) {
	f, err := os.Open(dataset)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	pw, done := p.progress("check (RTX, VTX, PTX)", size)
	rep, err := check.Check(ctx, io.TeeReader(f, pw), dataset, check.Options{Registry: p.Registry, Traeger: p.Traeger, Now: p.Now})
	done()
	if err != nil {
		return nil, err
	}
	base := strings.TrimSuffix(dataset, ".xml")
	for ext, write := range map[string]func(io.Writer) error{".check.txt": rep.WriteText, ".check.html": rep.WriteHTML, ".check.json": rep.WriteJSON} {
		if err := atomicfile.Write(base+ext, 0o600, write); err != nil {
			return nil, err
		}
	}
	return rep, nil
}

func checkSummary(rep *check.Report) string {
	var parts []string
	for _, s := range rep.Stages {
		parts = append(parts, fmt.Sprintf("%s %s (%d Fehler, %d Hinweise)", s.Stage, s.Status, s.Fehler, s.Hinweise))
	}
	return "check " + rep.Verdict() + ": " + strings.Join(parts, "; ")
}

// sendAndAwait delivers res.Message, then waits for its feedback.
func (p *Params) sendAndAwait(ctx context.Context, res Result) (Result, error) {
	_, done := p.progress("send "+string(res.Message.ID), -1)
	m, err := p.Outbox.Deliver(ctx, p.Endpoint, res.Message.ID)
	done()
	res.Message = m
	if err != nil {
		return res, err
	}
	switch m.State {
	case register.MessageDead:
		res.Outcome = Dead
		return res, nil
	case register.MessageRejected:
		res.Outcome = Rejected
		return res, nil
	}
	return p.await(ctx, res)
}

// await waits for the feedback of a sent delivery and records it.
func (p *Params) await(ctx context.Context, res Result) (Result, error) {
	wait, every := p.FeedbackWait, p.PollEvery
	if wait <= 0 {
		wait = 2 * time.Minute
	}
	if every <= 0 {
		every = time.Second
	}
	_, done := p.progress("await feedback", -1)
	wctx, cancel := context.WithTimeout(ctx, wait)
	r, err := p.Outbox.AwaitReply(wctx, p.Endpoint, res.Message.ID, every)
	cancel()
	done()
	if err != nil {
		if ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
			res.Outcome = Pending
			return res, nil
		}
		return res, err
	}
	fb, err := feedback.Parse(strings.NewReader(string(r.Plain)))
	if err != nil {
		return res, fmt.Errorf("feedback for %s: %w", res.Message.ID, err)
	}
	res.Feedback = fb
	m, _, err := p.Outbox.Settle(ctx, res.Message.ID, r, Verdict(fb))
	if err != nil {
		return res, err
	}
	res.Message = m
	switch m.State {
	case register.MessageAcknowledged:
		res.Outcome = Accepted
	case register.MessageRejected:
		res.Outcome = Rejected
	default:
		return res, fmt.Errorf("delivery %s is %s after its feedback", m.ID, m.State)
	}
	return res, nil
}

// Verdict reads a Rückmeldung: accepted or rejected, with the codes of the
// rules that found Fehler (no record keys: they may identify persons).
func Verdict(fb *feedback.Feedback) outbox.Verdict {
	codes := map[string]bool{}
	fehler, hinweise := 0, 0
	for _, f := range fb.Findings {
		if f.Severity == string(check.Fehler) {
			fehler++
			codes[f.Rule] = true
		} else {
			hinweise++
		}
	}
	summary := fmt.Sprintf("%s: %d Fehler, %d Hinweise", fb.Result, fehler, hinweise)
	if len(codes) > 0 {
		list := make([]string, 0, len(codes))
		for c := range codes {
			list = append(list, c)
		}
		sort.Strings(list)
		summary += " (" + strings.Join(list, ", ") + ")"
	}
	return outbox.Verdict{Accepted: fb.Result == feedback.Accepted, Summary: summary}
}

func (p *Params) progress(step string, total int64) (io.Writer, func()) {
	if p.Progress == nil {
		return io.Discard, func() {}
	}
	return p.Progress(step, total)
}

// appender records the steps before the message is queued.
type appender struct {
	p       *Params
	id      register.MessageID
	related register.MessageID
	key     register.CorrelationKey
}

func (a appender) add(ctx context.Context, ev register.Event, ref register.PayloadRef, detail string) error {
	_, err := a.p.Outbox.Store.Append(ctx, register.AppendParams{Direction: register.DirectionOut, Channel: register.ChannelXSozial,
		Event: ev, Actor: a.p.Outbox.Actor, Endpoint: a.p.Endpoint.URL, MessageID: a.id, Related: a.related, Correlation: a.key,
		Payload: ref, Detail: detail})
	return err
}

func hashFile(path string) (register.PayloadRef, error) {
	f, err := os.Open(path)
	if err != nil {
		return register.PayloadRef{}, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return register.PayloadRef{}, err
	}
	var ref register.PayloadRef
	h.Sum(ref.SHA256[:0])
	ref.Size = n
	return ref, nil
}
