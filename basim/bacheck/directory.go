package bacheck

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"sync"

	"meldeweg.dev/meldeweg/emaw"
	"meldeweg.dev/meldeweg/emaw/msg"
)

// Directory is what the simulated BA knows about measures and
// participants, read from a JSON file (the simulator's --known FILE):
//
//	{
//	  "measures": [
//	    {"provider": "T4711", "massnahme": "123/21/1/26", "verfahrenszweig": "06"}
//	  ],
//	  "participants": [
//	    {"kundennummer": "123A456789", "cosachid": "C0000001"}
//	  ]
//	}
//
// A list that is absent (or null) is not checked; an empty list means
// nothing is known, so every event gets "provider not assigned" (2001) or
// "participant unknown" (2002). The file holds personal data
// (Kundennummer); it belongs with the test data, not in logs.
type Directory struct {
	// Measures are the measures each provider is assigned to.
	Measures []Assignment `json:"measures"`
	// Participants are the participants the BA knows: Kundennummer and
	// cosachid together.
	Participants []Participant `json:"participants"`
}

// Assignment assigns a provider (its Kennung) to a measure.
type Assignment struct {
	Provider        string               `json:"provider"`
	Massnahme       emaw.Massnahmenummer `json:"massnahme"`
	Verfahrenszweig emaw.Verfahrenszweig `json:"verfahrenszweig"`
}

// Participant is a participant the BA knows.
type Participant struct {
	Kundennummer string `json:"kundennummer"`
	Cosachid     string `json:"cosachid"`
}

// ReadDirectory reads a Directory from a JSON file. Unknown fields and
// malformed entries are errors naming the entry (never its personal
// values).
func ReadDirectory(path string) (*Directory, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var d Directory
	if err := dec.Decode(&d); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if _, err := d.index(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &d, nil
}

// index is a Directory made for lookups.
type index struct {
	mu           sync.Mutex
	measures     map[string]bool // provider + " " + Maßnahmeschlüssel; nil: not checked
	participants map[Participant]bool
}

func measureKey(provider string, k emaw.Massnahmeschluessel) string {
	return provider + " " + k.String()
}

// index checks every entry and builds the lookup sets.
func (d *Directory) index() (*index, error) {
	idx := &index{}
	if d.Measures != nil {
		idx.measures = map[string]bool{}
		for i, a := range d.Measures {
			switch {
			case !reKennung().MatchString(a.Provider):
				return nil, fmt.Errorf("measures[%d].provider %q: expected a Kennung (1 to 20 letters, digits or '-')", i, a.Provider)
			case a.Massnahme.Check() != nil:
				return nil, fmt.Errorf("measures[%d].massnahme: %v", i, a.Massnahme.Check())
			case !a.Verfahrenszweig.Known():
				return nil, fmt.Errorf("measures[%d].verfahrenszweig %q: expected one of 01, 06, 10", i, a.Verfahrenszweig)
			}
			idx.measures[measureKey(a.Provider, emaw.Massnahmeschluessel{Nummer: a.Massnahme, Zweig: a.Verfahrenszweig})] = true
		}
	}
	if d.Participants != nil {
		idx.participants = map[Participant]bool{}
		for i, p := range d.Participants {
			if err := emaw.CheckKundennummer(p.Kundennummer); err != nil {
				return nil, fmt.Errorf("participants[%d].kundennummer: %v", i, err)
			}
			if err := emaw.CheckCosachID(p.Cosachid); err != nil {
				return nil, fmt.Errorf("participants[%d].cosachid: %v", i, err)
			}
			idx.participants[p] = true
		}
	}
	return idx, nil
}

// announce adds what an inbound message tells the provider: it is
// assigned to the message's measure, and the BA knows its participant.
func (x *index) announce(provider string, m msg.Message) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.measures != nil {
		x.measures[measureKey(provider, m.Header().Massnahme.Key())] = true
	}
	if t := msg.ParticipantOf(m); t != nil && x.participants != nil {
		x.participants[Participant{Kundennummer: t.Kundennummer, Cosachid: t.Cosachid}] = true
	}
}

// assigned reports whether provider is assigned to measure k (always true
// when measures are not checked).
func (x *index) assigned(provider string, k emaw.Massnahmeschluessel) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.measures == nil || x.measures[measureKey(provider, k)]
}

// participant reports whether the BA knows t (always true when
// participants are not checked).
func (x *index) participant(t msg.Teilnehmer) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.participants == nil || x.participants[Participant{Kundennummer: t.Kundennummer, Cosachid: t.Cosachid}]
}
