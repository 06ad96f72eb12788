package main

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"regexp"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"meldeweg.dev/meldeweg/cmd/meldeweg/internal/settings"
	"meldeweg.dev/meldeweg/emaw"
	"meldeweg.dev/meldeweg/emaw/due"
	"meldeweg.dev/meldeweg/emaw/msg"
	"meldeweg.dev/meldeweg/flow/alert"
	"meldeweg.dev/meldeweg/flow/exchange"
	"meldeweg.dev/meldeweg/flow/monthly"
	"meldeweg.dev/meldeweg/flow/outbox"
	"meldeweg.dev/meldeweg/flow/scheduler"
	"meldeweg.dev/meldeweg/schemas"
	"meldeweg.dev/meldeweg/transport/baapi"
	"meldeweg.dev/meldeweg/transport/pki"
	"meldeweg.dev/meldeweg/transport/register"
	"meldeweg.dev/meldeweg/xsozial/check"
)

// generation is one loaded configuration of "serve": its endpoints,
// bundles, alert routes and watched certificates, and the jobs built from
// them. SIGHUP builds a new one; a configuration that does not build is
// refused and the old generation stays.
type generation struct {
	cfg    *settings.Settings
	ob     *outbox.Outbox
	xs, em *outbox.Endpoint // nil when the channel is not configured
	reg    *schemas.Registry
	alerts *alert.Alerts
	certs  []watchedCert
	log    *slog.Logger
	now    func() time.Time
	// overdue is the number of overdue eM@w deadlines the last daily
	// check found (a metric).
	overdue atomic.Int64
	// observeStep, if set, is told how long each step of a delivery took
	// (the step-duration metric).
	observeStep func(ch register.Channel, step string, d time.Duration)
}

// stepTimer is the monthly flow's Progress hook that times each step
// ("build", "check", "seal", "send", "await") for the step-duration metric.
func (g *generation) stepTimer(ch register.Channel) monthly.Progress {
	if g.observeStep == nil {
		return nil
	}
	return func(step string, total int64) (io.Writer, func()) {
		name, _, _ := strings.Cut(step, " ")
		start := time.Now()
		return io.Discard, func() { g.observeStep(ch, name, time.Since(start)) }
	}
}

type watchedCert struct {
	name string
	cert *x509.Certificate
}

func newGeneration(e *env, cfg *settings.Settings, ob *outbox.Outbox, log *slog.Logger) (*generation, error) {
	g := &generation{cfg: cfg, ob: ob, log: log, now: time.Now}
	reg, err := e.registry()
	if err != nil {
		return nil, err
	}
	g.reg = reg
	if _, ok := cfg.Endpoints[baapi.ChannelXSozial]; ok {
		if g.xs, err = e.endpoint(baapi.ChannelXSozial, 0); err != nil {
			return nil, err
		}
	}
	if _, ok := cfg.Endpoints[baapi.ChannelEmaw]; ok {
		if g.em, err = e.endpoint(baapi.ChannelEmaw, 0); err != nil {
			return nil, err
		}
	}
	routes := map[string][]alert.Notifier{}
	for scope, r := range cfg.Service.Alerts {
		var ns []alert.Notifier
		if r.WebhookURL != nil {
			w := &alert.Webhook{URL: r.WebhookURL}
			if r.WebhookSecretFile != "" {
				if w.Secret, err = readSecret(r.WebhookSecretFile); err != nil {
					return nil, fmt.Errorf("service.alerts.%s.webhook.secret_file: %w", scope, err)
				}
			}
			ns = append(ns, w)
		}
		if r.SMTPAddr != "" {
			m := &alert.Mail{Addr: r.SMTPAddr, From: r.SMTPFrom, To: r.SMTPTo, Username: r.SMTPUsername}
			if r.SMTPPasswordFile != "" {
				if m.Password, err = readSecret(r.SMTPPasswordFile); err != nil {
					return nil, fmt.Errorf("service.alerts.%s.mail.password_file: %w", scope, err)
				}
			}
			ns = append(ns, m)
		}
		routes[scope] = ns
	}
	host, _ := os.Hostname()
	g.alerts = &alert.Alerts{State: alert.RegisterState{Store: ob.Store}, Instance: host, Now: g.now,
		Route: func(scope string) []alert.Notifier {
			if ns, ok := routes[scope]; ok {
				return ns
			}
			return routes[settings.AlertRouteDefault]
		}}
	if g.certs, err = loadWatched(cfg); err != nil {
		return nil, err
	}
	return g, nil
}

func readSecret(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}

// loadWatched loads the certificates the daily check watches: those of
// "certificates" and this instance's own of every configured endpoint.
func loadWatched(cfg *settings.Settings) ([]watchedCert, error) {
	var out []watchedCert
	for _, c := range cfg.Certificates {
		var cert *x509.Certificate
		if pki.IsPKCS12(c.Path) {
			id, err := pki.LoadIdentity(c.Path, "", c.Password)
			if err != nil {
				return nil, err
			}
			cert = id.Cert
		} else {
			cs, err := pki.LoadCertificates(c.Path)
			if err != nil {
				return nil, err
			}
			cert = cs[0]
		}
		out = append(out, watchedCert{name: c.Name, cert: cert})
	}
	for _, ch := range baapi.Channels() {
		ep, ok := cfg.Endpoints[ch]
		if !ok {
			continue
		}
		for _, c := range []struct{ role, cert, key string }{
			{"client", ep.ClientCert, ep.ClientKey}, {"sign", ep.SignCert, ep.SignKey}, {"encrypt", ep.EncryptCert, ep.EncryptKey},
		} {
			if c.cert == "" {
				continue
			}
			id, err := pki.LoadIdentity(c.cert, c.key, ep.Password)
			if err != nil {
				return nil, err
			}
			out = append(out, watchedCert{name: string(ch) + "-" + c.role, cert: id.Cert})
		}
	}
	return out, nil
}

func (g *generation) notAfter() map[string]time.Time {
	m := map[string]time.Time{}
	for _, c := range g.certs {
		m[c.name] = c.cert.NotAfter
	}
	return m
}

func (g *generation) noneExpired(now time.Time) error {
	var bad []string
	for _, c := range g.certs {
		if now.After(c.cert.NotAfter) {
			bad = append(bad, c.name)
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("expired: %s", strings.Join(bad, ", "))
	}
	return nil
}

// Job names.
const (
	jobEmaw  = "emaw-exchange"
	jobDaily = "daily-checks"
)

func monthlyJobName(traeger string) string { return "xsozial-monthly-" + traeger }

// jobs builds the configured jobs. The monthly job needs a Trägernummer,
// a source directory and the XSozial endpoint; the eM@w job the eM@w
// endpoint.
func (g *generation) jobs() []scheduler.Job {
	sv := g.cfg.Service
	var js []scheduler.Job
	if !sv.Monthly.Disabled && g.cfg.Traeger != "" && g.cfg.XSozialSource != "" && g.xs != nil {
		js = append(js, scheduler.Job{Name: monthlyJobName(g.cfg.Traeger), Schedule: sv.Monthly.Schedule, Run: g.runMonthly})
	}
	if !sv.Emaw.Disabled && g.em != nil {
		js = append(js, scheduler.Job{Name: jobEmaw, Schedule: sv.Emaw.Schedule, Run: g.runEmaw})
	}
	if !sv.Daily.Disabled {
		js = append(js, scheduler.Job{Name: jobDaily, Schedule: sv.Daily.Schedule, Run: g.runDaily})
	}
	return js
}

func (g *generation) jobNames() []string {
	var out []string
	for _, j := range g.jobs() {
		out = append(out, j.Name)
	}
	return out
}

// runOutbox is the outbox with the run's logger, so that what a delivery
// waits for is logged with the run ID. It keeps the outbox's own clock:
// claims and retry times are judged against the register's.
func (g *generation) runOutbox(run scheduler.Run) *outbox.Outbox {
	ob := *g.ob
	ob.Logger = run.Log
	return &ob
}

// monthlyKey is the incident of a Träger's month.
func monthlyKey(traeger string, m schemas.Month) string {
	return "xsozial-run/" + traeger + "/" + m.String()
}

// runMonthly delivers the month before the scheduled time.
func (g *generation) runMonthly(ctx context.Context, run scheduler.Run) error {
	t := g.cfg.Traeger
	month := schemas.MonthOf(run.ScheduledFor.In(scheduler.Berlin)).AddMonths(-1)
	key := monthlyKey(t, month)
	log := run.Log.With("month", month.String())
	log.Info("monthly delivery started")
	actx, cancel := context.WithTimeout(ctx, g.cfg.Service.AttemptTimeout)
	defer cancel()
	res, err := monthly.Run(actx, monthly.Params{
		Traeger: t, Month: month, SourceDir: g.cfg.XSozialSource, WorkDir: g.cfg.WorkDir,
		Registry: g.reg, Endpoint: g.xs, Outbox: g.runOutbox(run),
		Software: "meldeweg", SoftwareVersion: version, Now: g.now,
		FeedbackWait: g.cfg.Service.AttemptTimeout,
		Notice:       func(s string) { log.Info(s) },
		Progress:     g.stepTimer(register.ChannelXSozial),
	})
	if ctx.Err() != nil {
		return ctx.Err() // stopped by the service: the run stays open and resumes
	}
	var inc *alert.Incident
	switch {
	case err != nil:
		// Technical: the BA unreachable, the feedback outstanding, I/O.
		log.Warn("monthly delivery not finished; it is retried", "err", err.Error())
		if run.Attempt >= 3 {
			g.reconcile(ctx, log, []alert.Incident{{Key: key, Scope: t, Severity: alert.Warning,
				Summary: fmt.Sprintf("Träger %s, month %s: not delivered after %d attempts", t, month, run.Attempt),
				Detail:  err.Error()}}, key)
		}
		return fmt.Errorf("%w: %v", scheduler.ErrRetry, err)
	case res.Outcome == monthly.Accepted:
		log.Info("monthly delivery accepted", "message", string(res.Message.ID), "already", res.AlreadyDone)
		g.reconcile(ctx, log, nil, key)
		return nil
	case res.Outcome == monthly.Pending || res.Outcome == monthly.Dead:
		log.Warn("monthly delivery not settled; it is retried", "message", string(res.Message.ID), "outcome", string(res.Outcome))
		return fmt.Errorf("%w: delivery %s is %s", scheduler.ErrRetry, res.Message.ID, res.Outcome)
	case res.Outcome == monthly.CheckFailed:
		inc = &alert.Incident{Severity: alert.Critical,
			Summary: fmt.Sprintf("Träger %s, month %s: Meldeweg's check failed; nothing was sent", t, month),
			Detail:  findingsSummary(res.Report)}
	case res.Outcome == monthly.Rejected:
		inc = &alert.Incident{Severity: alert.Critical,
			Summary: fmt.Sprintf("Träger %s, month %s: %s rejected by the BA; send a correction", t, month, res.Message.ID),
			Detail:  res.Message.LastError}
	case res.Outcome == monthly.Different:
		inc = &alert.Incident{Severity: alert.Critical,
			Summary: fmt.Sprintf("Träger %s, month %s: a delivery of other data exists (%s); send a correction", t, month, res.Message.ID)}
	default:
		return fmt.Errorf("monthly delivery: unexpected outcome %q", res.Outcome)
	}
	inc.Key, inc.Scope = key, t
	g.reconcile(ctx, log, []alert.Incident{*inc}, key)
	return fmt.Errorf("%s", inc.Summary)
}

// findingsSummary counts a check's Fehler by rule: codes and counts, never
// values or record keys.
func findingsSummary(rep *check.Report) string {
	if rep == nil {
		return ""
	}
	counts := map[string]int{}
	for _, f := range rep.Findings {
		if f.Severity == check.Fehler {
			counts[f.Rule]++
		}
	}
	rules := make([]string, 0, len(counts))
	for r := range counts {
		rules = append(rules, r)
	}
	sort.Strings(rules)
	var parts []string
	for _, s := range rep.Stages {
		parts = append(parts, fmt.Sprintf("%s %s: %d Fehler, %d Hinweise", s.Stage, s.Status, s.Fehler, s.Hinweise))
	}
	var rc []string
	for _, r := range rules {
		rc = append(rc, fmt.Sprintf("%s ×%d", r, counts[r]))
	}
	out := strings.Join(parts, "; ")
	if len(rc) > 0 {
		out += "\nrules: " + strings.Join(rc, ", ")
	}
	return out
}

// reconcile runs an alert pass; a notifier that fails is logged (the
// notice is tried again by the next pass that speaks for the key).
func (g *generation) reconcile(ctx context.Context, log *slog.Logger, current []alert.Incident, prefixes ...string) {
	if err := g.alerts.Reconcile(context.WithoutCancel(ctx), current, prefixes...); err != nil {
		log.Error("alerting failed", "err", err.Error())
	}
}

// runEmaw sends the eM@w outbox and polls the mailbox.
func (g *generation) runEmaw(ctx context.Context, run scheduler.Run) error {
	ob := g.runOutbox(run)
	var errs []error
	for _, st := range []register.MessageState{register.MessageQueued, register.MessageRetryWait} {
		ms, err := ob.Store.Messages(ctx, register.MessagesParams{State: st})
		if err != nil {
			return err
		}
		for _, m := range ms {
			if m.Channel != register.ChannelEmaw || (st == register.MessageRetryWait && m.NextAttemptAt.After(g.now())) {
				continue
			}
			dctx, cancel := context.WithTimeout(ctx, time.Minute)
			got, err := ob.Deliver(dctx, g.em, m.ID)
			cancel()
			if err != nil {
				errs = append(errs, err)
				continue
			}
			run.Log.Info("eM@w upload sent", "message", string(m.ID), "state", string(got.State))
		}
	}
	rep, err := exchange.Poll(ctx, exchange.PollParams{Outbox: ob, Endpoint: g.em, Codec: msg.NewCodec(g.reg)})
	if err != nil {
		errs = append(errs, err)
	}
	run.Log.Info("eM@w mailbox polled", "acks", len(rep.Acks), "inbound", len(rep.Inbound), "resends", len(rep.Resends))
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w: %v", scheduler.ErrRetry, err)
	}
	return nil
}

// Certificate warning thresholds: each is an incident of its own, so each
// alerts once as the certificate runs out.
var certThresholds = []struct {
	days int
	name string
	sev  alert.Severity
}{{60, "60d", alert.Warning}, {30, "30d", alert.Warning}, {7, "7d", alert.Critical}}

var keyUnsafe = regexp.MustCompile(`[^A-Za-z0-9._@:+=-]`)

// runDaily checks certificates and deadlines, and resolves the alerts of
// months accepted since (a correction sent by hand).
func (g *generation) runDaily(ctx context.Context, run scheduler.Run) error {
	now := g.now()
	var errs []error
	// Certificates.
	var certs []alert.Incident
	for _, c := range g.certs {
		name := keyUnsafe.ReplaceAllString(c.name, "-")
		ex := pki.CheckExpiry(c.cert, now, pki.DefaultWarn)
		if ex.Status == pki.StatusExpired {
			certs = append(certs, alert.Incident{Key: "cert-expiry/" + name + "/expired", Scope: g.cfg.Traeger, Severity: alert.Critical,
				Summary: fmt.Sprintf("certificate %s expired on %s", c.name, c.cert.NotAfter.UTC().Format("2006-01-02"))})
		}
		for _, th := range certThresholds {
			if ex.DaysLeft <= th.days {
				certs = append(certs, alert.Incident{Key: "cert-expiry/" + name + "/" + th.name, Scope: g.cfg.Traeger, Severity: th.sev,
					Summary: fmt.Sprintf("certificate %s expires on %s (%d days or less)", c.name, c.cert.NotAfter.UTC().Format("2006-01-02"), th.days)})
			}
		}
	}
	if err := g.alerts.Reconcile(ctx, certs, "cert-expiry/"); err != nil {
		errs = append(errs, err)
	}
	// eM@w deadlines from the register.
	if g.em != nil {
		if n, err := g.overdueDeadlines(ctx, now); err != nil {
			errs = append(errs, fmt.Errorf("eM@w deadlines: %w", err))
		} else {
			g.overdue.Store(int64(n))
			var cur []alert.Incident
			if n > 0 {
				cur = append(cur, alert.Incident{Key: "due/emaw/overdue", Scope: g.cfg.Traeger, Severity: alert.Critical,
					Summary: fmt.Sprintf("%d eM@w deadlines overdue (meldeweg emaw due)", n)})
			}
			if err := g.alerts.Reconcile(ctx, cur, "due/"); err != nil {
				errs = append(errs, err)
			}
		}
	}
	// Months accepted since their run failed.
	if t := g.cfg.Traeger; t != "" {
		if err := g.resolveAccepted(ctx, t); err != nil {
			errs = append(errs, err)
		}
	}
	run.Log.Info("daily checks done", "certificates", len(g.certs), "overdue", g.overdue.Load())
	return errors.Join(errs...)
}

func (g *generation) overdueDeadlines(ctx context.Context, now time.Time) (int, error) {
	rep, err := emawState(ctx, g.ob, g.em, msg.NewCodec(g.reg))
	if err != nil {
		return 0, err
	}
	items, err := due.List(rep.State, emaw.DateOf(now))
	if err != nil {
		return 0, err
	}
	n := 0
	for _, it := range items {
		if it.Status == due.StatusOverdue {
			n++
		}
	}
	return n, nil
}

// resolveAccepted resolves the open incidents of the Träger's months whose
// latest delivery the BA has accepted since.
func (g *generation) resolveAccepted(ctx context.Context, traeger string) error {
	open, err := g.alerts.State.OpenIncidents(ctx)
	if err != nil {
		return err
	}
	prefix := "xsozial-run/" + traeger + "/"
	var keep []alert.Incident
	for _, i := range open {
		m, ok := strings.CutPrefix(i.Key, prefix)
		if !ok {
			continue
		}
		month, err := schemas.ParseMonth(m)
		if err != nil {
			keep = append(keep, i)
			continue
		}
		accepted, err := monthAccepted(ctx, g.ob.Store, traeger, month)
		if err != nil {
			return err
		}
		if !accepted {
			keep = append(keep, i)
		}
	}
	return g.alerts.Reconcile(ctx, keep, prefix)
}

// monthAccepted tells whether the latest production delivery of the
// month is acknowledged.
func monthAccepted(ctx context.Context, s register.Store, traeger string, month schemas.Month) (bool, error) {
	key, err := monthly.Key(traeger, month, false)
	if err != nil {
		return false, err
	}
	ms, err := s.Messages(ctx, register.MessagesParams{Correlation: key})
	if err != nil || len(ms) == 0 {
		return false, err
	}
	return ms[len(ms)-1].State == register.MessageAcknowledged, nil
}
