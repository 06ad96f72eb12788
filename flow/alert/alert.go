// Package alert tells a person when Meldeweg needs one: a delivery the BA
// rejected, a check that failed, a certificate running out, a deadline
// overdue, a BA that stays unreachable. Each condition is an Incident with
// a stable key; Reconcile raises the incidents that are new and resolves
// the ones that cleared, so every incident alerts once and sends one
// "resolved" when it clears, however often the checks run and across
// restarts (the open incidents are kept in a State, the register in
// production).
//
// Notices go out through Notifiers: a webhook (a JSON POST, see Webhook)
// and e-mail (SMTP with STARTTLS, see Mail). Notices carry operator text
// only, never personal data: Summary and Detail are built from message
// IDs, rule codes, counts and certificate names.
//
// # Limits
//
//   - A notice is recorded as sent once every notifier took it. If one
//     notifier fails, the next pass sends again to all of them, so the one
//     that had succeeded sees the notice twice (at-least-once delivery).
//   - The SMTP client is the standard library's net/smtp (STARTTLS and
//     PLAIN authentication); it refuses to authenticate over a connection
//     without TLS.
package alert

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Severity ranks an incident.
type Severity string

const (
	// Warning: needs attention soon (a certificate 60 or 30 days from
	// expiry, a retry that keeps failing).
	Warning Severity = "warning"
	// Critical: needs a person now (a rejection, an expired certificate,
	// an overdue deadline, a failed check).
	Critical Severity = "critical"
)

// Incident is one condition that needs a person.
type Incident struct {
	// Key identifies the condition stably across passes, e.g.
	// "cert-expiry/traeger-sign/30d" or "xsozial/12345/2026-10/rejected".
	Key string `json:"key"`
	// Scope is the Träger or provider site the incident concerns; it
	// selects the notifiers (Alerts.Route). Empty: the installation.
	Scope    string   `json:"scope,omitempty"`
	Severity Severity `json:"severity"`
	// Summary is one line for a subject; Detail may be several. Neither
	// holds personal data.
	Summary string    `json:"summary"`
	Detail  string    `json:"detail,omitempty"`
	Since   time.Time `json:"since"`
}

// Kind says whether a notice opens or closes an incident.
type Kind string

const (
	Raised   Kind = "raised"
	Resolved Kind = "resolved"
)

// Notice is what a notifier sends.
type Notice struct {
	Kind     Kind      `json:"kind"`
	Incident Incident  `json:"incident"`
	At       time.Time `json:"at"`
	// Instance names the Meldeweg installation that sends the notice.
	Instance string `json:"instance,omitempty"`
}

// Notifier delivers a notice, or returns an error naming what failed.
type Notifier interface {
	Notify(ctx context.Context, n Notice) error
	// String names the notifier in errors ("webhook https://…", "mail to …").
	String() string
}

// State keeps the open incidents.
type State interface {
	// OpenIncidents returns the incidents raised and not yet resolved.
	OpenIncidents(ctx context.Context) ([]Incident, error)
	// RecordNotice records that n went out.
	RecordNotice(ctx context.Context, n Notice) error
}

// Alerts raises and resolves incidents.
type Alerts struct {
	State State // required
	// Route returns the notifiers for a scope. Required.
	Route func(scope string) []Notifier
	// Now defaults to time.Now.
	Now func() time.Time
	// Instance is copied into every notice.
	Instance string
}

// Reconcile makes the open incidents within scopes match current: an
// incident in current that is not open is raised; an open incident of one
// of the scopes (by key prefix, see below) that is not in current is
// resolved. prefixes limits which open incidents this pass speaks for
// (e.g. "cert-expiry/"), so that separate checks do not resolve each
// other's incidents; none means all.
func (a *Alerts) Reconcile(ctx context.Context, current []Incident, prefixes ...string) error {
	open, err := a.State.OpenIncidents(ctx)
	if err != nil {
		return fmt.Errorf("reading open incidents: %w", err)
	}
	isOpen := map[string]Incident{}
	for _, i := range open {
		isOpen[i.Key] = i
	}
	now := a.now()
	var errs []error
	want := map[string]bool{}
	for _, i := range current {
		if i.Key == "" {
			return errors.New("alert: an incident has no key")
		}
		want[i.Key] = true
		if _, ok := isOpen[i.Key]; ok {
			continue
		}
		if i.Since.IsZero() {
			i.Since = now
		}
		errs = append(errs, a.send(ctx, Notice{Kind: Raised, Incident: i, At: now, Instance: a.Instance}))
	}
	keys := make([]string, 0, len(isOpen))
	for k := range isOpen {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if want[k] || !covered(k, prefixes) {
			continue
		}
		errs = append(errs, a.send(ctx, Notice{Kind: Resolved, Incident: isOpen[k], At: now, Instance: a.Instance}))
	}
	return errors.Join(errs...)
}

func covered(key string, prefixes []string) bool {
	if len(prefixes) == 0 {
		return true
	}
	for _, p := range prefixes {
		if strings.HasPrefix(key, p) {
			return true
		}
	}
	return false
}

func (a *Alerts) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

func (a *Alerts) send(ctx context.Context, n Notice) error {
	var errs []error
	for _, nf := range a.Route(n.Incident.Scope) {
		if err := nf.Notify(ctx, n); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", nf, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("alert %s %s not delivered (tried again on the next pass): %w", n.Incident.Key, n.Kind, err)
	}
	return a.State.RecordNotice(ctx, n)
}
