package register

import (
	"context"
	"fmt"
	"regexp"
	"time"
)

// Incident is an open alert as the register keeps it (flow/alert's
// Incident). Summary and Detail are operator text built from keys, rule
// codes, counts and certificate names, never personal data.
type Incident struct {
	Key      string
	Scope    string
	Severity string
	Summary  string
	Detail   string
	Since    time.Time
}

var incidentKeyRe = regexp.MustCompile(`^[A-Za-z0-9._@:/+=-]{1,200}$`)

func (i Incident) validate() error {
	switch {
	case !incidentKeyRe.MatchString(i.Key):
		return &FieldError{Field: "Key", Expected: "1 to 200 characters from [A-Za-z0-9._@:/+=-]"}
	case i.Scope != "" && !incidentKeyRe.MatchString(i.Scope):
		return &FieldError{Field: "Scope", Expected: "empty or 1 to 200 characters from [A-Za-z0-9._@:/+=-]"}
	case i.Severity != "" && !jobNameRe.MatchString(i.Severity):
		return &FieldError{Field: "Severity", Expected: "empty or a severity such as warning or critical"}
	}
	return nil
}

// incidentEntry is the chain entry for a notice. It names the incident,
// not its text: the key and scope say which condition, and the summary
// stays in the notice and the open-incident row.
func incidentEntry(ev Event, i Incident) AppendParams {
	d := fmt.Sprintf("incident=%s scope=%s severity=%s", i.Key, i.Scope, i.Severity)
	return AppendParams{Direction: DirectionOut, Channel: ChannelService, Event: ev,
		Actor: System("alert"), Detail: oneLine(d)}
}

// OpenIncidents implements Store.
func (s *dbStore) OpenIncidents(ctx context.Context) ([]Incident, error) {
	return s.d.IncidentList(ctx, &IncidentListParams{})
}

// RaiseIncident implements Store.
func (s *dbStore) RaiseIncident(ctx context.Context, i Incident) (Entry, error) {
	if err := i.validate(); err != nil {
		return Entry{}, err
	}
	i.Since = i.Since.UTC().Truncate(time.Microsecond)
	var e Entry
	err := s.d.Write(ctx, func(x Executor) error {
		es, err := s.appendChain(ctx, x, s.now(), []AppendParams{incidentEntry(EventAlertRaised, i)})
		if err != nil {
			return err
		}
		e = es[0]
		return x.IncidentPut(ctx, &IncidentPutParams{Incident: i})
	})
	return e, err
}

// ResolveIncident implements Store.
func (s *dbStore) ResolveIncident(ctx context.Context, i Incident) (Entry, error) {
	if err := i.validate(); err != nil {
		return Entry{}, err
	}
	var e Entry
	err := s.d.Write(ctx, func(x Executor) error {
		es, err := s.appendChain(ctx, x, s.now(), []AppendParams{incidentEntry(EventAlertResolved, i)})
		if err != nil {
			return err
		}
		e = es[0]
		return x.IncidentDelete(ctx, &IncidentDeleteParams{Key: i.Key})
	})
	return e, err
}
