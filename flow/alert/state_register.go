package alert

import (
	"context"
	"fmt"

	"meldeweg.dev/meldeweg/transport/register"
)

// RegisterState is the State kept in the register (either backend): the
// open incidents in its service table, and every notice also as a chain
// entry (register.EventAlertRaised, register.EventAlertResolved).
type RegisterState struct {
	Store register.Store
}

// OpenIncidents implements State.
func (s RegisterState) OpenIncidents(ctx context.Context) ([]Incident, error) {
	is, err := s.Store.OpenIncidents(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Incident, len(is))
	for k, i := range is {
		out[k] = Incident{Key: i.Key, Scope: i.Scope, Severity: Severity(i.Severity), Summary: i.Summary, Detail: i.Detail, Since: i.Since}
	}
	return out, nil
}

// RecordNotice implements State.
func (s RegisterState) RecordNotice(ctx context.Context, n Notice) error {
	i := n.Incident
	ri := register.Incident{Key: i.Key, Scope: i.Scope, Severity: string(i.Severity), Summary: i.Summary, Detail: i.Detail, Since: i.Since}
	var err error
	switch n.Kind {
	case Raised:
		_, err = s.Store.RaiseIncident(ctx, ri)
	case Resolved:
		_, err = s.Store.ResolveIncident(ctx, ri)
	default:
		err = fmt.Errorf("alert: notice of unknown kind %q", n.Kind)
	}
	return err
}
