package service

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Check is one readiness condition: the register reachable, the keys
// loadable, no certificate expired, the schedule loaded. Run returns nil
// when the condition holds, else an operator message (never personal
// data).
type Check struct {
	Name string
	Run  func(ctx context.Context) error
}

// CheckResult is one check's outcome as /readyz reports it.
type CheckResult struct {
	Name  string `json:"name"`
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
}

// Ready runs checks concurrently, each bounded by timeout, and reports
// whether all passed.
func Ready(ctx context.Context, checks []Check, timeout time.Duration) ([]CheckResult, bool) {
	out := make([]CheckResult, len(checks))
	var wg sync.WaitGroup
	for i, c := range checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			err := c.Run(cctx)
			out[i] = CheckResult{Name: c.Name, OK: err == nil}
			if err != nil {
				out[i].Error = err.Error()
			}
		}()
	}
	wg.Wait()
	all := true
	for _, r := range out {
		all = all && r.OK
	}
	return out, all
}

// Handler serves the health listener:
//
//	/healthz  200 while the process serves at all (liveness);
//	/readyz   200 when every check passes, else 503; the body lists each
//	          check (JSON);
//	/metrics  the Prometheus metrics.
//
// It is meant for its own listener on loopback or an internal network: it
// has no authentication and shows no personal data.
func Handler(m *Metrics, checks []Check) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		res, ok := Ready(r.Context(), checks, 5*time.Second)
		w.Header().Set("Content-Type", "application/json")
		if !ok {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		_ = json.NewEncoder(w).Encode(struct {
			Ready  bool          `json:"ready"`
			Checks []CheckResult `json:"checks"`
		}{ok, res})
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}))
	return mux
}

// NewServer returns an HTTP server for h with every timeout set; serve it
// with Serve on a listener the caller opened (tests hand in loopback).
func NewServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    1 << 16,
	}
}
