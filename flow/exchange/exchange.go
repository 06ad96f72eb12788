// Package exchange is the eM@w side of the delivery: what the provider
// does with what the BA sends back, on top of flow/outbox.
//
//	Poll         collects the mailbox: every file is downloaded, opened,
//	             recorded (RecordAck or RecordInbound) and only then
//	             removed from the mailbox; then Redeliver, and every
//	             re-delivery is sent;
//	RecordAck    an OK/NOK acknowledgement settles its upload: one
//	             "feedback" entry per event answered, then acknowledged
//	             (every event OK) or rejected;
//	RecordInbound an inbound message (an Anmeldung) is validated and
//	             recorded as received, once per content, kept sealed,
//	             with its type, Maßnahmeschlüssel and participant
//	             pseudonym;
//	Redeliver    events the BA could not process (BA-internal error,
//	             9xxx) go out again, unchanged, as a new upload linked to
//	             the original (ResendOf);
//	State        the emaw/due state (measures, participants, events
//	             handed to the BA) read back from the register and the
//	             payload store, so deadlines follow from what was sent
//	             and received.
//
// Every upload must have been submitted with outbox.SubmitParams.
// KeepPlain: the sealed form is encrypted to the BA and cannot be read
// here, so re-delivery and deadlines read the plain copy (encrypted at
// rest in the payload store). Inbound messages and acknowledgements are
// kept as they came, sealed to the provider, and opened again with the
// endpoint's identity (outbox.Outbox.Reopen).
//
// # Privacy
//
// Register details and operator messages name uploads by message ID and
// events by NachrichtID (the provider's own IDs), never a Kundennummer,
// cosachid or name. Participants in the register and in the deadline
// state are named by a pseudonym (register.Pseudonymizer, key from
// Pseudonyms) and the measure.
//
// # Limits
//
// Poll holds one mailbox file in memory at a time (a sealed answer is
// bounded by the client's MaxReplyBytes, its opened content by
// outbox.Outbox.MaxAnswerBytes). A mailbox file that does not open stops
// the poll: the files after it are collected only once it is dealt with.
// Re-delivery needs the plain copy kept with the upload (KeepPlain); an
// upload sent without one cannot be re-delivered from here.
package exchange

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"meldeweg.dev/meldeweg/emaw"
	"meldeweg.dev/meldeweg/emaw/ack"
	"meldeweg.dev/meldeweg/emaw/msg"
	"meldeweg.dev/meldeweg/emaw/pack"
	"meldeweg.dev/meldeweg/flow/outbox"
	"meldeweg.dev/meldeweg/transport/baapi"
	"meldeweg.dev/meldeweg/transport/register"
)

// MaxUploadBytes bounds a kept upload read back whole (the unpacker's
// total limit).
const MaxUploadBytes = 256 << 20

// EventAnswer is the BA's answer to one event of an upload.
type EventAnswer struct {
	// EventID is the event's NachrichtID.
	EventID string
	Outcome ack.Outcome
	// Codes are the Fehler codes of a NOK.
	Codes []string
}

// String is "EV-1: provider-not-assigned (2001)".
func (a EventAnswer) String() string {
	s := a.EventID + ": " + string(a.Outcome)
	if len(a.Codes) > 0 {
		s += " (" + strings.Join(a.Codes, ", ") + ")"
	}
	return s
}

// AckResult is what RecordAck did with one acknowledgement.
type AckResult struct {
	Upload register.MessageID
	// Message is the upload after settling.
	Message register.Message
	// Settled is false when the upload was settled before (the BA offered
	// the acknowledgement again) or is unknown here; nothing was recorded.
	Settled bool
	// Answers are the answers per event, in the acknowledgement's order.
	Answers []EventAnswer
}

// Answers reads the per-event answers of an acknowledgement.
func Answers(ctx context.Context, codec *msg.Codec, plain []byte, name string) ([]EventAnswer, error) {
	q, _, err := ack.Unmarshal(ctx, codec, plain, name)
	if err != nil {
		return nil, err
	}
	out := make([]EventAnswer, 0, len(q.Ergebnis))
	for _, res := range q.Ergebnis {
		a := EventAnswer{EventID: res.NachrichtID, Outcome: res.Outcome()}
		for _, f := range res.Fehler {
			a.Codes = append(a.Codes, f.Code)
		}
		out = append(out, a)
	}
	return out, nil
}

// RecordAck settles upload with the opened acknowledgement r: one
// "feedback" entry per event (its NachrichtID, outcome and codes; the
// entry's payload is the acknowledgement as received), then the upload
// moves to acknowledged when every event is OK and to rejected otherwise,
// with the counts per outcome as the reason (outbox.Outbox.Settle). An acknowledgement for an upload
// that is not in state sent (settled before, or unknown) records nothing
// and returns Settled false.
func RecordAck(ctx context.Context, ob *outbox.Outbox, codec *msg.Codec, upload register.MessageID, r *outbox.Reply) (AckResult, error) {
	res := AckResult{Upload: upload}
	answers, err := Answers(ctx, codec, r.Plain, "acknowledgement for "+string(upload))
	if err != nil {
		return res, fmt.Errorf("acknowledgement for %s: %w", upload, err)
	}
	res.Answers = answers
	m, err := ob.Store.Message(ctx, upload)
	if errors.Is(err, register.ErrNotFound) {
		return res, nil
	}
	if err != nil {
		return res, err
	}
	res.Message = m
	if m.State != register.MessageSent {
		return res, nil
	}
	counts := map[ack.Outcome]int{}
	var details []string
	for _, a := range answers {
		counts[a.Outcome]++
		details = append(details, "event "+a.String())
	}
	accepted := len(answers) > 0 && counts[ack.OutcomeAcknowledged] == len(answers)
	var parts []string
	for _, o := range ack.Outcomes() {
		if counts[o] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[o], o))
		}
	}
	nm, settled, err := ob.Settle(ctx, upload, r, outbox.Verdict{Accepted: accepted, Summary: "Quittung: " + strings.Join(parts, ", "),
		Details: details})
	res.Message, res.Settled = nm, settled
	return res, err
}

// InboundID is the register message ID of an inbound file: derived from
// its sealed content, so the same file is recorded once.
func InboundID(sealed register.PayloadRef) register.MessageID {
	return register.MessageID("in-" + sealed.SHA256.String()[:32])
}

// InboundResult is what RecordInbound did with one inbound file.
type InboundResult struct {
	ID register.MessageID
	// File is the BA's file ID.
	File baapi.FileID
	// Duplicate: the file was recorded before; nothing was recorded now.
	Duplicate bool
	// Root and Bundle name what the file is when it is valid ("Nachricht",
	// "emaw@2.18").
	Root, Bundle string
	// Type, Massnahme and Participant say what arrived, when the file is a
	// valid eM@w message: its type ("AnmeldungBAE"), its
	// Maßnahmeschlüssel and the participant's pseudonym (zero for a
	// message about no participant). Never the Kundennummer.
	Type        msg.Type
	Massnahme   emaw.Massnahmeschluessel
	Participant register.Pseudonym
	// Invalid is the validation error of an invalid file (recorded as
	// received all the same, with "invalid" in the detail). The codec
	// redacts personal values from it.
	Invalid error
}

// RecordInbound validates the opened inbound file r against the eM@w
// bundle in force and records it as received (the sealed form as payload),
// once per content. fileID is the BA's file ID.
//
// The "received" entry says what arrived without personal data: the
// message type, the Maßnahmeschlüssel and the participant's pseudonym
// under ps (never the Kundennummer or cosachid), e.g. "received
// AnmeldungBAE for Maßnahme 12321126-01, participant ps1-…: valid
// Nachricht (emaw@2.18), file f000001". Its correlation key is the
// measure and the pseudonym (register.EmawKey), so everything recorded
// about a participant of a measure can be found together.
func RecordInbound(ctx context.Context, ob *outbox.Outbox, ep *outbox.Endpoint, codec *msg.Codec, ps *register.Pseudonymizer, fileID baapi.FileID, r *outbox.Reply) (InboundResult, error) {
	res := InboundResult{ID: InboundID(r.Sealed), File: fileID}
	if ps == nil {
		return res, errors.New("exchange.RecordInbound: no pseudonymizer")
	}
	entries, err := ob.Store.List(ctx, register.ListParams{MessageID: res.ID, Limit: 10})
	if err != nil {
		return res, err
	}
	for _, en := range entries {
		if en.Event() == register.EventReceived {
			res.Duplicate = true
			return res, nil
		}
	}
	detail := "received file " + string(fileID) + ": invalid"
	var key register.CorrelationKey
	if root, b, verr := codec.ValidateDocument(ctx, r.Plain, "file "+string(fileID)); verr != nil {
		res.Invalid = verr
	} else {
		res.Root, res.Bundle = root, b.ID()
		what := "a " + root
		if m, _, err := codec.Unmarshal(ctx, r.Plain, "file "+string(fileID)); err == nil {
			what, key = res.describe(m, ps)
		}
		detail = "received " + what + ": valid " + root + " (" + b.ID() + "), file " + string(fileID)
	}
	// The entry keeps the file as received (sealed for rest) in the same
	// commit.
	_, err = ob.Store.Append(ctx, r.Entry(register.AppendParams{Direction: register.DirectionIn, Channel: register.ChannelEmaw,
		Event: register.EventReceived, Actor: ob.Actor, Endpoint: ep.URL, MessageID: res.ID, Correlation: key,
		Detail: detail}))
	return res, err
}

// describe fills the type, measure and participant of a valid message m
// and returns them as a phrase for the register, with the correlation key
// of the measure and participant.
func (res *InboundResult) describe(m msg.Message, ps *register.Pseudonymizer) (string, register.CorrelationKey) {
	res.Type = m.Type()
	k := m.Header().Massnahme.Key()
	res.Massnahme = canonical(k)
	what := string(res.Type) + " for Maßnahme " + res.Massnahme.String()
	if t := msg.ParticipantOf(m); t != nil && t.Kundennummer != "" {
		res.Participant = ps.Participant(t.Kundennummer, t.Cosachid)
		what += ", participant " + res.Participant.String()
	}
	key, err := register.EmawKey(res.Massnahme.Nummer.Compact()+"/"+string(res.Massnahme.Zweig), res.Participant)
	if err != nil {
		key = register.CorrelationKey{} // a measure number the key cannot hold; the detail still names it
	}
	return what, key
}

// Resend is one re-delivery of events that met a BA-internal error.
type Resend struct {
	// Original is the upload whose events failed inside the BA.
	Original register.MessageID
	// ID is the new upload (ResendOf Original).
	ID register.MessageID
	// Events are the NachrichtIDs re-delivered.
	Events []string
	// Created is false when the resend was queued before (by an earlier
	// run); it is returned so that the caller delivers it if it is still
	// in the outbox.
	Created bool
	// Message is the resend as it is in the outbox.
	Message register.Message
}

// ResendID is the message ID of the re-delivery of upload id: id with
// ".r1" appended, or its ".rN" counted up.
func ResendID(id register.MessageID) register.MessageID {
	s := string(id)
	if i := strings.LastIndex(s, ".r"); i > 0 {
		if n, err := strconv.Atoi(s[i+2:]); err == nil && n > 0 {
			return register.MessageID(s[:i] + ".r" + strconv.Itoa(n+1))
		}
	}
	return register.MessageID(s + ".r1")
}

// ErrCannotRedeliver: events met a BA-internal error but cannot be
// re-delivered from here (no plain copy was kept, or it no longer holds
// them). A person must send them again.
var ErrCannotRedeliver = errors.New("cannot re-deliver")

// Redeliver finds every rejected eM@w upload whose acknowledgement
// answered some events with a BA-internal error and that has no
// re-delivery yet, and queues those events, unchanged (the same bytes,
// PDFs included), as a new upload with ID ResendID(original) and ResendOf
// the original, sealed for ep. It reads the events from the plain copy
// kept with the original (KeepPlain) and the answers from the
// acknowledgement kept in the payload store, so it works from the
// register alone and can be run again after a crash: a resend that exists
// is returned with Created false. It does not deliver; the caller drives
// each Resend with Outbox.Deliver.
//
// An upload whose failed events cannot be read back gives an error
// wrapping ErrCannotRedeliver, after the others were handled.
func Redeliver(ctx context.Context, ob *outbox.Outbox, ep *outbox.Endpoint, codec *msg.Codec) ([]Resend, error) {
	msgs, err := ob.Store.Messages(ctx, register.MessagesParams{State: register.MessageRejected, Limit: 10000})
	if err != nil {
		return nil, err
	}
	var out []Resend
	var errs []error
	for _, m := range msgs {
		if m.Channel != register.ChannelEmaw {
			continue
		}
		failed, err := baErrorEvents(ctx, ob, ep, codec, m.ID)
		if err != nil {
			return out, err
		}
		if len(failed) == 0 {
			continue
		}
		rid := ResendID(m.ID)
		if !rid.Valid() {
			errs = append(errs, fmt.Errorf("upload %s: %w: the re-delivery's message ID would be too long", m.ID, ErrCannotRedeliver))
			continue
		}
		if rm, err := ob.Store.Message(ctx, rid); err == nil {
			out = append(out, Resend{Original: m.ID, ID: rid, Events: failed, Message: rm})
			continue
		} else if !errors.Is(err, register.ErrNotFound) {
			return out, err
		}
		r, err := resend(ctx, ob, ep, m, rid, failed)
		if errors.Is(err, ErrCannotRedeliver) {
			errs = append(errs, err)
			continue
		}
		if err != nil {
			return out, err
		}
		out = append(out, r)
	}
	return out, errors.Join(errs...)
}

// baErrorEvents returns the events of upload id answered with a
// BA-internal error, from its last acknowledgement kept in the store.
func baErrorEvents(ctx context.Context, ob *outbox.Outbox, ep *outbox.Endpoint, codec *msg.Codec, id register.MessageID) ([]string, error) {
	var ackRef register.PayloadRef
	for e, err := range register.All(ctx, ob.Store, id) {
		if err != nil {
			return nil, err
		}
		if e.MessageID() == id && e.Event() == register.EventFeedback && !e.Payload().IsZero() {
			ackRef = e.Payload()
		}
	}
	if ackRef.IsZero() {
		return nil, nil
	}
	r, err := ob.Reopen(ctx, ep, ackRef)
	if err != nil {
		return nil, fmt.Errorf("acknowledgement of %s: %w", id, err)
	}
	answers, err := Answers(ctx, codec, r.Plain, "acknowledgement for "+string(id))
	if err != nil {
		return nil, fmt.Errorf("acknowledgement of %s: %w", id, err)
	}
	var failed []string
	for _, a := range answers {
		if a.Outcome.Redeliver() {
			failed = append(failed, a.EventID)
		}
	}
	return failed, nil
}

func resend(ctx context.Context, ob *outbox.Outbox, ep *outbox.Endpoint, m register.Message, rid register.MessageID, failed []string) (Resend, error) {
	plain, err := ob.ReadPlain(ctx, m.ID, MaxUploadBytes)
	if errors.Is(err, outbox.ErrNoPlain) {
		return Resend{}, fmt.Errorf("upload %s: %w: %v", m.ID, ErrCannotRedeliver, err)
	}
	if err != nil {
		return Resend{}, err
	}
	up, err := pack.Open(plain, string(m.ID)+".zip", pack.Limits{})
	if err != nil {
		return Resend{}, fmt.Errorf("upload %s: %w: the kept upload does not unpack: %v", m.ID, ErrCannotRedeliver, err)
	}
	want := map[string]bool{}
	for _, id := range failed {
		want[id] = true
	}
	var evs []pack.Event
	for _, ev := range up.Events {
		if want[ev.ID] {
			evs = append(evs, ev)
			delete(want, ev.ID)
		}
	}
	if len(want) > 0 {
		var missing []string
		for id := range want {
			missing = append(missing, id)
		}
		return Resend{}, fmt.Errorf("upload %s: %w: the BA answered events %s that the upload does not hold", m.ID, ErrCannotRedeliver, strings.Join(missing, ", "))
	}
	var zip bytes.Buffer
	if _, err := pack.Write(&zip, evs); err != nil {
		return Resend{}, err
	}
	ids := make([]string, len(evs))
	for i, ev := range evs {
		ids[i] = ev.ID
	}
	nm, created, err := ob.Submit(ctx, ep, outbox.SubmitParams{ID: rid, ResendOf: m.ID, Correlation: m.Correlation, Plain: string(rid) + ".zip", Data: zip.Bytes(),
		KeepPlain: true, Detail: fmt.Sprintf("re-delivery of %d event(s) of %s after a BA-internal error", len(evs), m.ID)})
	if err != nil {
		return Resend{}, fmt.Errorf("re-delivery of %s: %w", filepath.Base(string(m.ID)), err)
	}
	return Resend{Original: m.ID, ID: rid, Events: ids, Created: created, Message: nm}, nil
}
