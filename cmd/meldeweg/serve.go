package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/term"

	"meldeweg.dev/meldeweg/cmd/meldeweg/internal/settings"
	"meldeweg.dev/meldeweg/flow/outbox"
	"meldeweg.dev/meldeweg/flow/scheduler"
	"meldeweg.dev/meldeweg/flow/service"
	"meldeweg.dev/meldeweg/transport/register"
	"meldeweg.dev/meldeweg/transport/register/payload"
)

// serveOptions are the flags of "serve".
type serveOptions struct {
	traeger, in, work string
	endpoint          endpointOptions
	holder            string
}

func (o *serveOptions) settingsFlags() []settings.Flag {
	return append(o.endpoint.settingsFlags(),
		settings.Flag{Name: "--traeger", Field: "traeger", Value: o.traeger},
		settings.Flag{Name: "--in", Field: "xsozial_source", Value: o.in},
		settings.Flag{Name: "--work", Field: "work_dir", Value: o.work})
}

func serveCommand() *command {
	o := &serveOptions{}
	return &command{
		name:    "serve",
		summary: "run the jobs on their schedules, with health, metrics and alerts (service mode)",
		usage:   `serve [--config FILE] [--traeger NR] [--in DIR] [--work DIR] [ENDPOINT OPTIONS]`,
		help: `Runs Meldeweg as a service: the jobs of the configuration's "service"
section on their schedules (Europe/Berlin), until SIGTERM.

  xsozial-monthly-NR  the monthly XSozial delivery of the Träger for the
                      month before the scheduled time (default "workday 3
                      06:00"); retried with backoff while the BA is
                      unreachable or the feedback is outstanding, until
                      accepted; a check failure, a rejection or a delivery
                      of other data fails the run and raises an alert
  emaw-exchange       sends the eM@w outbox and polls the mailbox (default
                      every 5 minutes)
  daily-checks        certificate expiry (alerts at 60, 30 and 7 days and
                      when expired), overdue eM@w deadlines, and resolves
                      the alerts of months accepted since (default 0 7 * * *)

Every run start and finish and every alert raised or resolved is an entry
in the register, which also holds the job leases: instances on one
PostgreSQL register share the work, each job running on one instance at a
time, and a run whose instance died is resumed under the same run ID by the
next one to take its lease. A run missed while no instance was up is caught
up once.

The health listener (service.health_listen, default 127.0.0.1:9464) serves
/healthz, /readyz (register reachable, payload key loadable, no expired
certificate, schedule loaded) and /metrics (Prometheus).

Signals: SIGTERM (and SIGINT) stop taking new work and wait up to
service.grace_period (default 30s) for running jobs; a job still running
then is interrupted where the register can resume it. SIGHUP reloads the
configuration: a configuration that does not load is refused (logged), and
the old one stays; a good one takes over once the running jobs stopped at a
resumable point. The register cannot change on reload.

Logs go to standard error, JSON unless it is a terminal; every line of a
job carries its run ID. They hold no personal data.

POSITIONAL ARGUMENTS
  none

EXIT CODES
  0  stopped by SIGTERM or SIGINT
  2  usage or configuration error, or the health listener could not start

EXAMPLES
  meldeweg --config /etc/meldeweg/meldeweg.json serve`,
		setFlags: func(fs *flag.FlagSet) {
			fs.StringVar(&o.traeger, "traeger", "", "Trägernummer `NR` (overrides \"traeger\")")
			fs.StringVar(&o.in, "in", "", "source record `DIR` (overrides \"xsozial_source\")")
			fs.StringVar(&o.work, "work", "", "`DIR` for datasets and check reports (overrides \"work_dir\")")
			fs.StringVar(&o.holder, "holder", "", "`NAME` of this instance in leases and runs (default HOST-PID)")
			o.endpoint.bind(fs)
		},
		settingsFlags: o.settingsFlags,
		run:           func(e *env, args []string) int { return runServe(e, o, args) },
	}
}

// serviceLogger logs JSON unless w is a terminal.
func serviceLogger(w io.Writer) *slog.Logger {
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return slog.New(slog.NewTextHandler(w, nil))
	}
	return slog.New(slog.NewJSONHandler(w, nil))
}

func runServe(e *env, o *serveOptions, args []string) int {
	if len(args) != 0 {
		return e.usageErrorf("unexpected argument %q", args[0])
	}
	log := serviceLogger(e.stderr)
	cfg, err := e.settings()
	if err != nil {
		return e.failf(exitError, "%v", err)
	}
	ctx := context.Background()
	ob, err := openOutbox(ctx, cfg, false)
	if err != nil {
		return e.failf(exitError, "%v", err)
	}
	defer ob.Store.Close()
	holder := o.holder
	if holder == "" {
		host, _ := os.Hostname()
		holder = workerName(host)
	}
	ledger := scheduler.RegisterLedger{Store: ob.Store}
	gen, err := newGeneration(e, cfg, ob, log)
	if err != nil {
		return e.failf(exitError, "%v", err)
	}
	var cur atomic.Pointer[generation]
	cur.Store(gen)

	metrics := service.NewMetrics(service.Sources{
		Store: ob.Store, Ledger: ledger, Jobs: gen.jobNames(), Log: log,
		Certificates: func() map[string]time.Time { return cur.Load().notAfter() },
		Overdue: func(context.Context) (map[register.Channel]int, error) {
			return map[register.Channel]int{register.ChannelEmaw: int(cur.Load().overdue.Load())}, nil
		},
	})
	gen.observeStep = metrics.ObserveStep
	checks := []service.Check{
		{Name: "register", Run: func(ctx context.Context) error {
			_, err := ob.Store.List(ctx, register.ListParams{Limit: 1})
			return err
		}},
		{Name: "payload-key", Run: func(context.Context) error {
			_, err := payload.Open(cfg.Payloads, ob.Store)
			return err
		}},
		{Name: "certificates", Run: func(context.Context) error { return cur.Load().noneExpired(time.Now()) }},
		{Name: "schedule", Run: func(context.Context) error {
			if len(cur.Load().jobs()) == 0 {
				return errors.New("no job is configured")
			}
			return nil
		}},
	}
	ln, err := net.Listen("tcp", cfg.Service.HealthListen)
	if err != nil {
		return e.failf(exitError, "service.health_listen: %v", err)
	}
	srv := service.NewServer(service.Handler(metrics, checks))
	go srv.Serve(ln)
	defer func() {
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	log.Info("serving", "health", ln.Addr().String(), "holder", holder, "jobs", gen.jobNames(), "register", cfg.Register)

	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	defer signal.Stop(sigs)
	for {
		loopCtx, stopLoop := context.WithCancel(ctx)
		runCtx, stopRuns := context.WithCancel(ctx)
		sch := &scheduler.Scheduler{Jobs: gen.jobs(), Ledger: ledger, Holder: holder, Lease: gen.cfg.Service.Lease,
			Log: log, RunContext: runCtx, Poll: 5 * time.Second,
			OnFinish: func(r scheduler.RunRecord) {
				metrics.ObserveRun(r)
				log.Info("run finished", "job", r.Job, "run", r.ID, "outcome", string(r.Outcome), "detail", r.Detail)
			}}
		done := make(chan error, 1)
		go func() { done <- sch.Loop(loopCtx) }()
		// stop ends this generation's loop: no new work at once, running
		// jobs until the grace period ends.
		stop := func() {
			stopLoop()
			grace := gen.cfg.Service.GracePeriod
			select {
			case <-done:
			case <-time.After(grace):
				log.Warn("grace period over; interrupting running jobs (the next start resumes them)", "grace", grace.String())
				stopRuns()
				select {
				case <-done:
				case <-time.After(5 * time.Second):
					log.Error("running jobs did not stop; leaving them to be resumed")
				}
			}
			stopRuns()
		}
	wait:
		select {
		case err := <-done:
			stopLoop()
			stopRuns()
			return e.failf(exitError, "scheduler: %v", err)
		case sig := <-sigs:
			if sig == syscall.SIGHUP {
				next, err := reloadGeneration(e, gen, ob, log)
				if err != nil {
					log.Error("configuration reload refused; the old configuration stays", "err", err.Error())
					goto wait
				}
				log.Info("configuration reloaded; switching once running jobs stopped", "jobs", next.jobNames())
				stop()
				next.observeStep = metrics.ObserveStep
				gen = next
				cur.Store(gen)
				continue
			}
			log.Info("stopping: no new work; waiting for running jobs", "signal", sig.String(), "grace", gen.cfg.Service.GracePeriod.String())
			stop()
			log.Info("stopped")
			return exitOK
		}
	}
}

// reloadGeneration resolves the configuration anew (the same file, the
// same flags) and builds the jobs from it.
func reloadGeneration(e *env, old *generation, ob *outbox.Outbox, log *slog.Logger) (*generation, error) {
	e.set, e.reg = nil, nil
	cfg, err := e.settings()
	if err != nil {
		return nil, err
	}
	if cfg.Register.String() != old.cfg.Register.String() || cfg.Payloads != old.cfg.Payloads {
		return nil, fmt.Errorf("register: the register and payloads cannot change on reload (restart the service)")
	}
	return newGeneration(e, cfg, ob, log)
}
