// Package service holds what "meldeweg serve" runs besides the jobs
// themselves: the health listener (/healthz, /readyz, /metrics) and the
// Prometheus metrics read from the register at scrape time.
//
// # Limits
//
//   - The outbox gauges count at most 10,000 messages per state.
//   - The health listener has no authentication: bind it to loopback or
//     an internal network. It shows no personal data.
package service
