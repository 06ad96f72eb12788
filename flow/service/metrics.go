package service

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"meldeweg.dev/meldeweg/flow/scheduler"
	"meldeweg.dev/meldeweg/transport/register"
)

// Metrics are the service's Prometheus metrics. The outbox, job and
// certificate gauges are read from their sources at scrape time (the
// register, the scheduler's ledger, the certificate files), so they agree
// with the register whoever changed it — this instance, another one, or a
// command run by hand. Only durations and run counts are observed as they
// happen.
//
// No label holds personal data: labels are channels, states, job names,
// certificate names and step names.
type Metrics struct {
	Registry *prometheus.Registry

	// RunsTotal counts finished job runs by job and outcome.
	RunsTotal *prometheus.CounterVec
	// StepSeconds observes the duration of a delivery's steps: build,
	// check, seal, send.
	StepSeconds *prometheus.HistogramVec
}

// Sources are what the scrape-time gauges read.
type Sources struct {
	Store  register.Store
	Ledger interface {
		LastSucceeded(ctx context.Context, job string) (scheduler.RunRecord, bool, error)
	}
	Jobs []string
	// Certificates returns each watched certificate's name and NotAfter.
	Certificates func() map[string]time.Time
	// Overdue returns the number of overdue deadlines by channel.
	Overdue func(ctx context.Context) (map[register.Channel]int, error)
	// Now defaults to time.Now.
	Now func() time.Time
	Log *slog.Logger
}

// NewMetrics registers the metrics on a new registry, together with the
// Go runtime and process collectors.
func NewMetrics(src Sources) *Metrics {
	if src.Now == nil {
		src.Now = time.Now
	}
	if src.Log == nil {
		src.Log = slog.Default()
	}
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		RunsTotal: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "meldeweg_job_runs_total", Help: "Finished job runs by job and outcome (succeeded, retry, failed).",
		}, []string{"job", "outcome"}),
		StepSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "meldeweg_step_duration_seconds", Help: "Duration of a delivery's steps (build, check, seal, send).",
			Buckets: prometheus.ExponentialBuckets(0.01, 4, 9), // 10 ms to about 11 min
		}, []string{"channel", "step"}),
	}
	m.Registry.MustRegister(m.RunsTotal, m.StepSeconds, &gauges{src: src},
		prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	return m
}

// ObserveStep records that step of channel took d.
func (m *Metrics) ObserveStep(channel register.Channel, step string, d time.Duration) {
	m.StepSeconds.WithLabelValues(string(channel), step).Observe(d.Seconds())
}

// ObserveRun counts a finished run (scheduler.Scheduler.OnFinish).
func (m *Metrics) ObserveRun(r scheduler.RunRecord) {
	m.RunsTotal.WithLabelValues(r.Job, string(r.Outcome)).Inc()
}

var (
	descMessages = prometheus.NewDesc("meldeweg_outbox_messages",
		"Messages in the outbox by channel and state (at most 10,000 per state are counted).", []string{"channel", "state"}, nil)
	descOldest = prometheus.NewDesc("meldeweg_outbox_oldest_pending_seconds",
		"Age of the oldest message not yet sent (queued, sending or retry-wait), by channel.", []string{"channel"}, nil)
	descLastSuccess = prometheus.NewDesc("meldeweg_job_last_success_timestamp_seconds",
		"When each job last finished successfully (Unix time; absent if never).", []string{"job"}, nil)
	descCertDays = prometheus.NewDesc("meldeweg_certificate_expiry_days",
		"Days until each watched certificate expires (negative when expired).", []string{"certificate"}, nil)
	descOverdue = prometheus.NewDesc("meldeweg_deadlines_overdue",
		"Deadlines past due without the message that meets them, by channel.", []string{"channel"}, nil)
	descScrapeErrors = prometheus.NewDesc("meldeweg_scrape_errors",
		"Sources that could not be read in this scrape (register, ledger, deadlines).", []string{"source"}, nil)
)

// gauges reads the scrape-time metrics from their sources.
type gauges struct{ src Sources }

func (g *gauges) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descMessages, descOldest, descLastSuccess, descCertDays, descOverdue, descScrapeErrors} {
		ch <- d
	}
}

func (g *gauges) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	now := g.src.Now()
	failed := map[string]float64{"register": 0, "ledger": 0, "deadlines": 0}
	if g.src.Store != nil {
		if err := g.outbox(ctx, ch, now); err != nil {
			g.src.Log.Warn("metrics: reading the outbox failed", "err", err)
			failed["register"] = 1
		}
	}
	if g.src.Ledger != nil {
		for _, job := range g.src.Jobs {
			r, ok, err := g.src.Ledger.LastSucceeded(ctx, job)
			if err != nil {
				g.src.Log.Warn("metrics: reading the job ledger failed", "job", job, "err", err)
				failed["ledger"] = 1
				continue
			}
			if ok {
				ch <- prometheus.MustNewConstMetric(descLastSuccess, prometheus.GaugeValue, float64(r.Finished.Unix()), job)
			}
		}
	}
	if g.src.Certificates != nil {
		for name, notAfter := range g.src.Certificates() {
			ch <- prometheus.MustNewConstMetric(descCertDays, prometheus.GaugeValue, notAfter.Sub(now).Hours()/24, name)
		}
	}
	if g.src.Overdue != nil {
		over, err := g.src.Overdue(ctx)
		if err != nil {
			g.src.Log.Warn("metrics: computing deadlines failed", "err", err)
			failed["deadlines"] = 1
		}
		for c, n := range over {
			ch <- prometheus.MustNewConstMetric(descOverdue, prometheus.GaugeValue, float64(n), string(c))
		}
	}
	for src, v := range failed {
		ch <- prometheus.MustNewConstMetric(descScrapeErrors, prometheus.GaugeValue, v, src)
	}
}

func (g *gauges) outbox(ctx context.Context, ch chan<- prometheus.Metric, now time.Time) error {
	count := map[[2]string]int{}
	oldest := map[register.Channel]time.Time{}
	for _, st := range register.MessageStates() {
		ms, err := g.src.Store.Messages(ctx, register.MessagesParams{State: st, Limit: 10000})
		if err != nil {
			return err
		}
		for _, m := range ms {
			count[[2]string{string(m.Channel), string(st)}]++
			if pending(st) {
				if o, ok := oldest[m.Channel]; !ok || m.CreatedAt.Before(o) {
					oldest[m.Channel] = m.CreatedAt
				}
			}
		}
	}
	for _, c := range []register.Channel{register.ChannelXSozial, register.ChannelEmaw} {
		for _, st := range register.MessageStates() {
			ch <- prometheus.MustNewConstMetric(descMessages, prometheus.GaugeValue, float64(count[[2]string{string(c), string(st)}]), string(c), string(st))
		}
		age := 0.0
		if o, ok := oldest[c]; ok {
			age = now.Sub(o).Seconds()
		}
		ch <- prometheus.MustNewConstMetric(descOldest, prometheus.GaugeValue, age, string(c))
	}
	return nil
}

func pending(st register.MessageState) bool {
	return st == register.MessageQueued || st == register.MessageSending || st == register.MessageRetryWait
}
