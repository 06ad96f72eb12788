package rules

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"meldeweg.dev/meldeweg/emaw"
	"meldeweg.dev/meldeweg/emaw/msg"
)

var (
	// ErrNotSent is returned by SentEvents when no sent event matches.
	ErrNotSent = errors.New("no such sent event")
	// ErrChanged is returned by SentEvents.Record for an ID already sent
	// with other content: a sent event never changes.
	ErrChanged = errors.New("a sent event never changes")
	// ErrAlreadyCorrected is returned by SentEvents.Record for a second
	// Korrektur of the same event.
	ErrAlreadyCorrected = errors.New("the event has already been corrected")
)

// SentEvent is the record of one event handed to the BA.
type SentEvent struct {
	ID        string
	Type      msg.Type
	Massnahme emaw.Massnahmeschluessel
	// SHA256 is the hash of the XML bytes sent.
	SHA256 [32]byte
	SentAt time.Time
	// Corrects is, for a Korrektur, the ID of the event it corrects.
	Corrects string
}

// SentEventOf describes m, whose XML is data, as sent at t.
func SentEventOf(m msg.Message, data []byte, t time.Time) SentEvent {
	ev := SentEvent{ID: m.Header().NachrichtID, Type: m.Type(), Massnahme: m.Header().Massnahme.Key(), SHA256: sha256.Sum256(data), SentAt: t}
	if k, ok := m.(*msg.Korrektur); ok {
		ev.Corrects = k.Bezug
	}
	return ev
}

// SentEvents is what the correction rules need to know about sent events.
// The register implements it; [MemorySent] is the in-memory version.
// Implementations must be safe for concurrent use.
type SentEvents interface {
	// Get returns the sent event with id, or an error wrapping ErrNotSent.
	Get(ctx context.Context, id string) (SentEvent, error)
	// CorrectionOf returns the Korrektur sent for id, or an error wrapping
	// ErrNotSent when id has not been corrected.
	CorrectionOf(ctx context.Context, id string) (SentEvent, error)
	// Record stores ev as sent. Recording the same ID with the same SHA256
	// again is a no-op (a re-delivery); with another SHA256 it fails with
	// ErrChanged. A Korrektur of an event that already has one fails with
	// ErrAlreadyCorrected. Nothing is stored on failure.
	Record(ctx context.Context, ev SentEvent) error
}

// MemorySent is an in-memory SentEvents. The zero value is empty and ready.
type MemorySent struct {
	mu        sync.Mutex
	byID      map[string]SentEvent
	corrected map[string]string // corrected ID -> Korrektur ID
}

// NewMemorySent returns a store holding evs, recorded in order.
func NewMemorySent(evs ...SentEvent) (*MemorySent, error) {
	s := &MemorySent{}
	for _, ev := range evs {
		if err := s.Record(context.Background(), ev); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Get implements SentEvents.
func (s *MemorySent) Get(_ context.Context, id string) (SentEvent, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ev, ok := s.byID[id]
	if !ok {
		return SentEvent{}, fmt.Errorf("%w: %s", ErrNotSent, id)
	}
	return ev, nil
}

// CorrectionOf implements SentEvents.
func (s *MemorySent) CorrectionOf(_ context.Context, id string) (SentEvent, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.corrected[id]
	if !ok {
		return SentEvent{}, fmt.Errorf("%w: no Korrektur of %s", ErrNotSent, id)
	}
	return s.byID[k], nil
}

// Record implements SentEvents.
func (s *MemorySent) Record(_ context.Context, ev SentEvent) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.byID == nil {
		s.byID, s.corrected = map[string]SentEvent{}, map[string]string{}
	}
	if old, ok := s.byID[ev.ID]; ok {
		if old.SHA256 != ev.SHA256 {
			return fmt.Errorf("%w: %s was sent on %s with SHA-256 %x, now %x", ErrChanged, ev.ID, old.SentAt.Format(time.RFC3339), old.SHA256, ev.SHA256)
		}
		return nil
	}
	if ev.Corrects != "" {
		if k, ok := s.corrected[ev.Corrects]; ok {
			return fmt.Errorf("%w: %s is corrected by %s", ErrAlreadyCorrected, ev.Corrects, k)
		}
		s.corrected[ev.Corrects] = ev.ID
	}
	s.byID[ev.ID] = ev
	return nil
}

// All returns every recorded event, by ID.
func (s *MemorySent) All() []SentEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]SentEvent, 0, len(s.byID))
	for _, ev := range s.byID {
		out = append(out, ev)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// CheckSent applies the correction rules to m, whose XML is data, against
// the events already sent: an event already sent under m's ID must be
// byte-identical (a sent event never changes); a Korrektur must reference
// an earlier sent event of the same measure that is not itself a
// Korrektur and has not been corrected yet. The error is set only when the
// store fails.
func CheckSent(ctx context.Context, sent SentEvents, m msg.Message, data []byte) ([]Finding, error) {
	c := &checker{m: m}
	id := m.Header().NachrichtID
	if old, err := sent.Get(ctx, id); err == nil {
		if old.SHA256 != sha256.Sum256(data) {
			c.add(RuleUnveraendert, "Kopf/NachrichtID", id, fmt.Sprintf("a new NachrichtID: %s %s was sent on %s and never changes; send a Korrektur and a new event instead",
				old.Type, id, old.SentAt.Format(time.DateOnly)))
		}
	} else if !errors.Is(err, ErrNotSent) {
		return nil, err
	}
	k, ok := m.(*msg.Korrektur)
	if !ok {
		return c.out, nil
	}
	orig, err := sent.Get(ctx, k.Bezug)
	switch {
	case errors.Is(err, ErrNotSent):
		c.add(RuleKorrektur, "Korrektur/Bezug", k.Bezug, "the NachrichtID of an event sent earlier; none was sent under this ID")
		return c.out, nil
	case err != nil:
		return nil, err
	}
	if orig.Type == msg.TypeKorrektur {
		c.add(RuleKorrektur, "Korrektur/Bezug", k.Bezug, "an event to correct, not another Korrektur")
	}
	if orig.Massnahme.Nummer.Compact() != k.Massnahme.Nummer.Compact() || orig.Massnahme.Zweig != k.Massnahme.Verfahrenszweig {
		c.add(RuleKorrektur, "Kopf/Massnahme", k.Massnahme.Key().String(), "the measure of the corrected event, "+orig.Massnahme.String())
	}
	prev, err := sent.CorrectionOf(ctx, k.Bezug)
	switch {
	case err == nil && prev.ID != id:
		c.add(RuleKorrektur, "Korrektur/Bezug", k.Bezug, fmt.Sprintf("an event not corrected yet; %s already corrected it on %s, and an event can be corrected once", prev.ID, prev.SentAt.Format(time.DateOnly)))
	case err != nil && !errors.Is(err, ErrNotSent):
		return nil, err
	}
	return c.out, nil
}
