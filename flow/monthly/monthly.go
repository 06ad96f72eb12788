// Package monthly runs the monthly XSozial-BA-SGB II delivery of one
// Träger (§ 51b SGB II), from the source records to the BA's feedback:
//
//	build  the complete snapshot for the reporting month (xsozial/source),
//	       with the bundle in force for that month (schemas)
//	check  it in three stages like VTXSozial (xsozial/check); a delivery
//	       with Fehler is not sent
//	seal   it for the BA and queue it in the outbox (flow/outbox:
//	       transport/cms, the sealed payload store, transport/register)
//	send   it over mutual TLS until the BA's receipt confirms it
//	await  the BA's feedback, open it, and record it: acknowledged or
//	       rejected (xsozial/feedback, transport/register)
//
// Every step leaves an entry in the register under the correlation key
// Trägernummer + month, and Run reads the register first, so a run is
// idempotent per (Träger, month): after an accepted delivery a rerun does
// nothing and says so; after a crash or a failure it resumes where the
// register says it stopped (a queued message is sent, a sent one awaits
// its feedback, a dead one is sent again as a linked resend). A correction
// is a new complete file (Lieferart 2) that supersedes the earlier
// delivery and is linked to it in the register.
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
	// when the run has to build.
	SourceDir string
	// WorkDir receives the dataset and the check reports. Required.
	WorkDir string
	// Correction sends a new complete file that supersedes the last
	// delivery of the month.
	Correction bool
	// Test marks a test delivery (K.8 "T").
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
	// Dataset is the dataset file built in this run; Report its check.
	Dataset string
	Report  *check.Report
	// Feedback is the BA's feedback, when it arrived in this run.
	Feedback *feedback.Feedback
}

// MessageID is the ID of the n-th delivery (1 = the first, 2… =
// corrections or resends) for a Träger and month.
func MessageID(traeger string, month schemas.Month, n int) register.MessageID {
	return register.MessageID(fmt.Sprintf("xsozial-%s-%s-%d", traeger, month, n))
}

// Run performs or resumes the month's delivery; see the package doc. The
// error is set when the run could not complete for a technical reason
// (configuration, I/O, transport, register); outcomes the data or the BA
// decide are in Result.Outcome.
func Run(ctx context.Context, p Params) (Result, error) {
	if err := p.validate(); err != nil {
		return Result{}, err
	}
	key, err := register.XSozialKey(p.Traeger, p.Month.String())
	if err != nil {
		return Result{}, err
	}
	earlier, err := p.Outbox.Store.Messages(ctx, register.MessagesParams{Correlation: key})
	if err != nil {
		return Result{}, err
	}
	var last *register.Message
	if n := len(earlier); n > 0 {
		last = &earlier[n-1]
	}
	next := MessageID(p.Traeger, p.Month, len(earlier)+1)

	if p.Correction {
		if last == nil {
			return Result{}, fmt.Errorf("no earlier delivery for Träger %s, month %s to correct; run without --correction", p.Traeger, p.Month)
		}
		switch last.State {
		case register.MessageQueued, register.MessageSending, register.MessageRetryWait:
			return Result{Message: *last}, fmt.Errorf("delivery %s is still in the outbox (%s); let it finish (run again without --correction) before correcting it", last.ID, last.State)
		}
		return p.fresh(ctx, key, next, last.ID)
	}
	if last == nil {
		return p.fresh(ctx, key, next, "")
	}
	switch last.State {
	case register.MessageAcknowledged:
		return Result{Outcome: Accepted, Message: *last, AlreadyDone: true}, nil
	case register.MessageRejected:
		return Result{Outcome: Rejected, Message: *last, AlreadyDone: true}, nil
	case register.MessageDead:
		// Send the same sealed payload again, as a new message linked to
		// the dead one.
		m, err := p.Outbox.Store.Enqueue(ctx, register.EnqueueParams{ID: next, Channel: register.ChannelXSozial, Endpoint: p.Endpoint.URL,
			Correlation: key, Payload: last.Payload, ResendOf: last.ID, Actor: p.Outbox.Actor, Detail: "resend of " + string(last.ID)})
		if err != nil {
			return Result{}, err
		}
		return p.sendAndAwait(ctx, Result{Resumed: "send", Message: m})
	case register.MessageSent:
		return p.await(ctx, Result{Resumed: "await", Message: *last})
	default: // queued, sending, retry-wait
		return p.sendAndAwait(ctx, Result{Resumed: "send", Message: *last})
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

// fresh builds, checks, seals, queues, sends and awaits a new delivery.
func (p *Params) fresh(ctx context.Context, key register.CorrelationKey, id, supersedes register.MessageID) (Result, error) {
	if p.SourceDir == "" {
		return Result{}, errors.New("no source directory to build from")
	}
	b, err := p.Registry.Select(xsozial.Standard, p.Month)
	if err != nil {
		return Result{}, err
	}
	if err := os.MkdirAll(p.WorkDir, 0o700); err != nil {
		return Result{}, err
	}
	res := Result{Dataset: filepath.Join(p.WorkDir, check.FileName(p.Traeger, p.Month, p.Test))}
	reg := appender{p: p, id: id, key: key, related: supersedes}

	// build
	files, err := source.Files(p.SourceDir)
	if err != nil {
		return res, err
	}
	lieferart := "1"
	if supersedes != "" {
		lieferart = "2"
	}
	opts := source.Options{Traeger: p.Traeger, Month: p.Month, Version: b.Version, Created: p.now().UTC().Truncate(time.Second),
		Software: p.Software, SoftwareVersion: p.SoftwareVersion, Lieferart: lieferart, Test: p.Test}
	var st source.Stats
	err = atomicfile.Write(res.Dataset, 0o640, func(w io.Writer) error {
		pw, done := p.progress("build "+filepath.Base(res.Dataset), -1)
		defer done()
		st, err = source.BuildFiles(ctx, files, io.MultiWriter(w, pw), opts)
		return err
	})
	if err != nil {
		return res, err
	}
	ref, err := hashFile(res.Dataset)
	if err != nil {
		return res, err
	}
	if err := reg.add(ctx, register.EventBuilt, ref, fmt.Sprintf("built %s with %s: %d BGs, %s to %s, Lieferart %s",
		filepath.Base(res.Dataset), b.ID(), st.BGs, st.WindowFirst, st.WindowLast, lieferart)); err != nil {
		return res, err
	}

	// check
	rep, err := p.check(ctx, res.Dataset, ref.Size)
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

	// seal and queue
	_, done := p.progress("seal and queue", -1)
	m, _, err := p.Outbox.Submit(ctx, p.Endpoint, outbox.SubmitParams{ID: id, Correlation: key, ResendOf: supersedes,
		Plain: res.Dataset, Detail: "monthly delivery " + p.Traeger + " " + p.Month.String()})
	done()
	if err != nil {
		return res, err
	}
	res.Message = m
	return p.sendAndAwait(ctx, res)
}

// check runs the three stages and writes the reports next to the dataset.
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
		if err := atomicfile.Write(base+ext, 0o640, write); err != nil {
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
