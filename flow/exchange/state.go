package exchange

import (
	"context"
	"fmt"
	"io"

	"meldeweg.dev/meldeweg/emaw"
	"meldeweg.dev/meldeweg/emaw/ack"
	"meldeweg.dev/meldeweg/emaw/due"
	"meldeweg.dev/meldeweg/emaw/msg"
	"meldeweg.dev/meldeweg/emaw/pack"
	"meldeweg.dev/meldeweg/flow/outbox"
	"meldeweg.dev/meldeweg/transport/register"
)

// StateReport is the deadline state read from the register, with what
// could not be used.
type StateReport struct {
	State due.State
	// Uploads and Inbound count the kept uploads and inbound messages read.
	Uploads, Inbound int
	// Skipped says, per upload or file, why it was left out (no plain
	// copy kept, an invalid inbound message, a participant whose exit is
	// known but not the entry). No personal data.
	Skipped []string
}

// State reads the emaw/due state from the register and the payload store:
//
//   - measures: the Kopf/Massnahme of every event sent or received (the
//     first one seen sets Beginn and Ende); a measure for which a
//     WochenFehlzeit was ever built counts as needing weekly reports;
//   - participants: one per measure and participant (Kundennummer +
//     cosachid), named by ps.Participant's pseudonym and the measure;
//     Eintritt from an Eintritt event, Austritt from an Austritt event
//     (any of the three types); inbound Anmeldungen add participants who
//     have not started;
//   - sent events: every event of an outbound upload that was not dead
//     and whose acknowledgement, if there is one, answered it OK. An event
//     answered NOK does not count (it must be built again, or it is
//     re-delivered under a new upload, which counts on its own).
//
// Uploads are read from their plain copy (SubmitParams.KeepPlain);
// inbound messages are opened again with ep's identity.
func State(ctx context.Context, ob *outbox.Outbox, ep *outbox.Endpoint, codec *msg.Codec, ps *register.Pseudonymizer) (*StateReport, error) {
	type upload struct {
		plain register.PayloadRef
		ack   register.PayloadRef
	}
	uploads := map[register.MessageID]*upload{}
	var order []register.MessageID
	var inbound []register.PayloadRef
	b := newBuilder(ps)
	rep := &StateReport{}
	for e, err := range register.All(ctx, ob.Store, "") {
		if err != nil {
			return nil, err
		}
		if e.Channel() != register.ChannelEmaw || e.Payload().IsZero() {
			continue
		}
		switch {
		case e.Event() == register.EventBuilt && e.Direction() == register.DirectionOut:
			if uploads[e.MessageID()] == nil {
				uploads[e.MessageID()] = &upload{plain: e.Payload()}
				order = append(order, e.MessageID())
			}
		case e.Event() == register.EventFeedback && e.Direction() == register.DirectionIn:
			if u := uploads[e.MessageID()]; u != nil {
				u.ack = e.Payload()
			}
		case e.Event() == register.EventReceived && e.Direction() == register.DirectionIn:
			inbound = append(inbound, e.Payload())
		}
	}

	for _, ref := range inbound {
		r, err := ob.Reopen(ctx, ep, ref)
		if err != nil {
			return nil, fmt.Errorf("inbound file %s: %w", ref.SHA256.String()[:16], err)
		}
		m, _, err := codec.Unmarshal(ctx, r.Plain, "inbound file "+ref.SHA256.String()[:16])
		if err != nil {
			rep.Skipped = append(rep.Skipped, fmt.Sprintf("inbound file %s: not a valid eM@w message", ref.SHA256.String()[:16]))
			continue
		}
		rep.Inbound++
		b.event(m, nil)
	}

	for _, id := range order {
		u := uploads[id]
		m, err := ob.Store.Message(ctx, id)
		if err != nil {
			rep.Skipped = append(rep.Skipped, fmt.Sprintf("upload %s: kept, but never queued (a submit that did not finish)", id))
			continue
		}
		if m.State == register.MessageDead {
			rep.Skipped = append(rep.Skipped, fmt.Sprintf("upload %s: dead, never reached the BA", id))
			continue
		}
		ok := map[string]bool{} // events answered OK; nil: no answer yet, all count
		if !u.ack.IsZero() {
			r, err := ob.Reopen(ctx, ep, u.ack)
			if err != nil {
				return nil, fmt.Errorf("acknowledgement of %s: %w", id, err)
			}
			answers, err := Answers(ctx, codec, r.Plain, "acknowledgement for "+string(id))
			if err != nil {
				return nil, fmt.Errorf("acknowledgement of %s: %w", id, err)
			}
			for _, a := range answers {
				ok[a.EventID] = a.Outcome == ack.OutcomeAcknowledged
			}
		} else {
			ok = nil
		}
		rc, err := ob.Payloads.Open(ctx, u.plain.SHA256)
		if err != nil {
			return nil, fmt.Errorf("upload %s: %w", id, err)
		}
		data, err := readAll(rc, MaxUploadBytes)
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("upload %s: %w", id, err)
		}
		up, err := pack.Open(data, string(id)+".zip", pack.Limits{})
		if err != nil {
			rep.Skipped = append(rep.Skipped, fmt.Sprintf("upload %s: the kept copy is not an eM@w upload archive", id))
			continue
		}
		rep.Uploads++
		for _, ev := range up.Events {
			mm, _, err := codec.Unmarshal(ctx, ev.XML(), string(id)+"!"+ev.ID)
			if err != nil {
				rep.Skipped = append(rep.Skipped, fmt.Sprintf("upload %s event %s: not a valid eM@w message", id, ev.ID))
				continue
			}
			counts := ok == nil || ok[ev.ID]
			var sent *due.Sent
			if counts {
				sent = &due.Sent{ID: mm.Header().NachrichtID, Type: mm.Type(), SentAt: m.CreatedAt}
			}
			b.event(mm, sent)
		}
	}
	rep.State, rep.Skipped = b.state(rep.Skipped)
	return rep, nil
}

type partKey struct {
	measure emaw.Massnahmeschluessel
	who     register.Pseudonym
}

type builder struct {
	ps       *register.Pseudonymizer
	measures map[emaw.Massnahmeschluessel]*due.Measure
	mOrder   []emaw.Massnahmeschluessel
	parts    map[partKey]*due.Participant
	pOrder   []partKey
	sent     []due.Sent
}

func newBuilder(ps *register.Pseudonymizer) *builder {
	return &builder{ps: ps, measures: map[emaw.Massnahmeschluessel]*due.Measure{}, parts: map[partKey]*due.Participant{}}
}

func canonical(k emaw.Massnahmeschluessel) emaw.Massnahmeschluessel {
	return emaw.Massnahmeschluessel{Nummer: emaw.Massnahmenummer(k.Nummer.Compact()), Zweig: k.Zweig}
}

// event adds what m says; sent, if not nil, is recorded as handed to the
// BA (its ID, Type and SentAt set).
func (b *builder) event(m msg.Message, sent *due.Sent) {
	k := m.Header().Massnahme
	key := canonical(k.Key())
	mm := b.measures[key]
	if mm == nil {
		mm = &due.Measure{Nummer: k.Nummer, Verfahrenszweig: k.Verfahrenszweig, Beginn: k.Beginn, Ende: k.Ende}
		b.measures[key] = mm
		b.mOrder = append(b.mOrder, key)
	}
	var p *due.Participant
	if t := msg.ParticipantOf(m); t != nil && t.Kundennummer != "" {
		pk := partKey{key, b.ps.Participant(t.Kundennummer, t.Cosachid)}
		p = b.parts[pk]
		if p == nil {
			p = &due.Participant{Ref: pk.who.String()[:16] + "/" + key.String(), Massnahme: k.Nummer, Verfahrenszweig: k.Verfahrenszweig}
			b.parts[pk] = p
			b.pOrder = append(b.pOrder, pk)
		}
	}
	switch v := m.(type) {
	case *msg.Eintritt:
		p.Eintritt = v.Eintrittsdatum
	case *msg.Austritt:
		p.Austritt = v.Austrittsdatum
	case *msg.AustrittBvB:
		p.Austritt = v.Austrittsdatum
	case *msg.AustrittBNF:
		p.Austritt = v.Austrittsdatum
	case *msg.WochenFehlzeit:
		mm.WochenFehlzeiten = true
		if sent != nil {
			sent.Woche = v.Woche
		}
	case *msg.AnwesenheitMonat:
		if sent != nil {
			sent.Monat = v.Monat
		}
	case *msg.AGHMonatsabrechnung:
		if sent != nil {
			sent.Monat = v.Abrechnungsmonat
		}
	}
	if sent != nil {
		sent.Massnahme, sent.Verfahrenszweig = k.Nummer, k.Verfahrenszweig
		if p != nil {
			sent.Teilnehmer = p.Ref
		}
		b.sent = append(b.sent, *sent)
	}
}

// state returns the collected state. A participant whose exit is known
// but not the entry is left out (due needs the entry); skipped says so.
func (b *builder) state(skipped []string) (due.State, []string) {
	var s due.State
	for _, k := range b.mOrder {
		s.Massnahmen = append(s.Massnahmen, *b.measures[k])
	}
	for _, k := range b.pOrder {
		p := *b.parts[k]
		if !p.Austritt.IsZero() && p.Eintritt.IsZero() {
			skipped = append(skipped, fmt.Sprintf("participant %s: an Austritt was sent but no Eintritt is in the register", p.Ref))
			p.Austritt = emaw.Date{}
		}
		s.Teilnehmer = append(s.Teilnehmer, p)
	}
	s.Gesendet = b.sent
	return s, skipped
}

// readAll reads r whole, at most limit bytes (more is an error).
func readAll(r io.Reader, limit int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("larger than %d bytes", limit)
	}
	return data, nil
}
