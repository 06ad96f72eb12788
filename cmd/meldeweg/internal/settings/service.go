package settings

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"meldeweg.dev/meldeweg/flow/scheduler"
	"meldeweg.dev/meldeweg/xsozial"
)

// Defaults of the service section. The schedules fit the standards: the
// § 51b delivery on the 3rd working day of the month, 06:00 Europe/Berlin;
// the eM@w mailbox every 5 minutes; the daily checks at 07:00.
const (
	DefaultHealthListen   = "127.0.0.1:9464"
	DefaultGracePeriod    = 30 * time.Second
	DefaultLease          = time.Minute
	DefaultAttemptTimeout = 15 * time.Minute
	DefaultMonthly        = "workday 3 06:00"
	DefaultEmaw           = "*/5 * * * *"
	DefaultDaily          = "0 7 * * *"
	// AlertRouteDefault is the alerts key for incidents of the
	// installation, and of a Träger without a route of its own.
	AlertRouteDefault = "default"
)

// Service is the "service" section: what "meldeweg serve" runs.
type Service struct {
	// HealthListen is the host:port of /healthz, /readyz and /metrics.
	// Defaults to DefaultHealthListen.
	HealthListen string
	// GracePeriod is how long SIGTERM waits for running jobs to reach a
	// state the register can resume from. Defaults to DefaultGracePeriod.
	GracePeriod time.Duration
	// Lease is how long a job's lease lasts unless renewed (every third
	// of it). Defaults to DefaultLease.
	Lease time.Duration
	// AttemptTimeout bounds one attempt of the monthly run (sending and
	// waiting for the feedback); after it the run is retried with backoff.
	// Defaults to DefaultAttemptTimeout.
	AttemptTimeout time.Duration
	// Monthly, Emaw and Daily are the three jobs.
	Monthly, Emaw, Daily Job
	// Alerts are the notifiers by Trägernummer, or AlertRouteDefault.
	Alerts map[string]AlertRoute
}

// Job is one job's schedule.
type Job struct {
	// Spec is the schedule as written: cron, "@every D" or "workday N
	// HH:MM" (Europe/Berlin). Schedule is it parsed.
	Spec     string
	Schedule scheduler.Schedule
	// Disabled leaves the job out.
	Disabled bool
}

// AlertRoute is where the alerts of one scope go: a webhook, e-mail, or
// both.
type AlertRoute struct {
	// WebhookURL receives a JSON POST per notice; nil for none.
	WebhookURL *url.URL
	// WebhookSecretFile holds the bearer secret (0600); "" for none.
	WebhookSecretFile string
	// SMTPAddr is host:port of a server offering STARTTLS; "" for no mail.
	SMTPAddr, SMTPFrom string
	SMTPTo             []string
	// SMTPUsername and SMTPPasswordFile (0600) authenticate, if set.
	SMTPUsername, SMTPPasswordFile string
}

type fileService struct {
	HealthListen   string               `json:"health_listen,omitempty"`
	GracePeriod    string               `json:"grace_period,omitempty"`
	Lease          string               `json:"lease,omitempty"`
	AttemptTimeout string               `json:"attempt_timeout,omitempty"`
	Jobs           map[string]fileJob   `json:"jobs,omitempty"`
	Alerts         map[string]fileAlert `json:"alerts,omitempty"`
}

type fileJob struct {
	Schedule string `json:"schedule,omitempty"`
	Disabled bool   `json:"disabled,omitempty"`
}

type fileAlert struct {
	Webhook *struct {
		URL        string `json:"url"`
		SecretFile string `json:"secret_file,omitempty"`
	} `json:"webhook,omitempty"`
	Mail *struct {
		Addr         string   `json:"addr"`
		From         string   `json:"from"`
		To           []string `json:"to"`
		Username     string   `json:"username,omitempty"`
		PasswordFile string   `json:"password_file,omitempty"`
	} `json:"mail,omitempty"`
}

// serviceJobs are the job names of the file, in order.
var serviceJobs = []string{"xsozial_monthly", "emaw", "daily_checks"}

// resolveService parses the file's service section into s.Service; every
// error names its field and line.
func (s *Settings) resolveService(l *loaded) []error {
	fs := l.f.Service
	if fs == nil {
		return nil
	}
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, &Error{Source: l.name, Line: l.lines[field], Field: field, Err: fmt.Errorf(format, args...)})
	}
	sv := &s.Service
	if fs.HealthListen != "" {
		if _, _, err := net.SplitHostPort(fs.HealthListen); err != nil {
			bad("service.health_listen", "%q: want HOST:PORT", fs.HealthListen)
		}
		sv.HealthListen = fs.HealthListen
	}
	dur := func(field, raw string, into *time.Duration) {
		if raw == "" {
			return
		}
		d, err := time.ParseDuration(raw)
		if err != nil || d <= 0 {
			bad(field, "%q: want a positive duration such as 30s or 2m", raw)
			return
		}
		*into = d
	}
	dur("service.grace_period", fs.GracePeriod, &sv.GracePeriod)
	dur("service.lease", fs.Lease, &sv.Lease)
	dur("service.attempt_timeout", fs.AttemptTimeout, &sv.AttemptTimeout)
	jobs := map[string]*Job{"xsozial_monthly": &sv.Monthly, "emaw": &sv.Emaw, "daily_checks": &sv.Daily}
	names := make([]string, 0, len(fs.Jobs))
	for n := range fs.Jobs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		j, ok := jobs[n]
		field := "service.jobs." + n
		if !ok {
			bad(field, "%v: %q is not a job (want one of %s)", ErrUnknownField, n, strings.Join(serviceJobs, ", "))
			continue
		}
		fj := fs.Jobs[n]
		j.Disabled = fj.Disabled
		if fj.Schedule != "" {
			sch, err := scheduler.Parse(fj.Schedule, nil)
			if err != nil {
				bad(field+".schedule", "%v", err)
				continue
			}
			j.Spec, j.Schedule = fj.Schedule, sch
		}
	}
	keys := make([]string, 0, len(fs.Alerts))
	for k := range fs.Alerts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fa := fs.Alerts[k]
		field := "service.alerts." + k
		if k != AlertRouteDefault {
			if ok, want := xsozial.CheckValue(xsozial.TTraeger, k); !ok {
				bad(field, "%q: want a Trägernummer (%s) or %q", k, want, AlertRouteDefault)
				continue
			}
		}
		var r AlertRoute
		if w := fa.Webhook; w != nil {
			u, err := url.Parse(w.URL)
			if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
				bad(field+".webhook.url", "want an http(s) URL without user info")
			} else {
				r.WebhookURL = u
			}
			if w.SecretFile != "" {
				r.WebhookSecretFile = value{raw: w.SecretFile, dir: l.dir}.path()
				if err := checkSecretFile(r.WebhookSecretFile); err != nil {
					bad(field+".webhook.secret_file", "%v", err)
				}
			}
		}
		if m := fa.Mail; m != nil {
			if _, _, err := net.SplitHostPort(m.Addr); err != nil {
				bad(field+".mail.addr", "%q: want HOST:PORT", m.Addr)
			}
			if !strings.Contains(m.From, "@") {
				bad(field+".mail.from", "want an e-mail address")
			}
			if len(m.To) == 0 {
				bad(field+".mail.to", "want at least one e-mail address")
			}
			for i, a := range m.To {
				if !strings.Contains(a, "@") {
					bad(fmt.Sprintf("%s.mail.to[%d]", field, i), "want an e-mail address")
				}
			}
			r.SMTPAddr, r.SMTPFrom, r.SMTPTo, r.SMTPUsername = m.Addr, m.From, m.To, m.Username
			if m.PasswordFile != "" {
				r.SMTPPasswordFile = value{raw: m.PasswordFile, dir: l.dir}.path()
				if err := checkSecretFile(r.SMTPPasswordFile); err != nil {
					bad(field+".mail.password_file", "%v", err)
				}
			}
		}
		if fa.Webhook == nil && fa.Mail == nil {
			bad(field, "want a webhook, mail, or both")
		}
		if sv.Alerts == nil {
			sv.Alerts = map[string]AlertRoute{}
		}
		sv.Alerts[k] = r
	}
	return errs
}

// checkSecretFile: a secret file exists and only its owner can read it.
func checkSecretFile(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("%s is mode %04o: a secret must be readable by its owner only (chmod 600 %s)",
			filepath.Base(path), fi.Mode().Perm(), path)
	}
	return nil
}

func (sv Service) withDefaults() Service {
	if sv.HealthListen == "" {
		sv.HealthListen = DefaultHealthListen
	}
	if sv.GracePeriod == 0 {
		sv.GracePeriod = DefaultGracePeriod
	}
	if sv.Lease == 0 {
		sv.Lease = DefaultLease
	}
	if sv.AttemptTimeout == 0 {
		sv.AttemptTimeout = DefaultAttemptTimeout
	}
	for _, j := range []struct {
		job  *Job
		spec string
	}{{&sv.Monthly, DefaultMonthly}, {&sv.Emaw, DefaultEmaw}, {&sv.Daily, DefaultDaily}} {
		if j.job.Schedule == nil {
			j.job.Spec = j.spec
			j.job.Schedule, _ = scheduler.Parse(j.spec, nil) // the defaults parse
		}
	}
	return sv
}
