package register

import (
	"slices"
	"strconv"
	"time"
)

// MessageState is the state of an outbound message in the outbox. See the
// package documentation for the diagram.
type MessageState string

const (
	// MessageQueued: enqueued and waiting for a worker. Claim moves it on.
	MessageQueued MessageState = "queued"
	// MessageSending: a worker claimed it and is sending attempt Attempt.
	// The worker moves it on with MarkSent, MarkRetry, MarkRejected or
	// MarkDead; if the worker dies, Claim takes it back after the lease.
	MessageSending MessageState = "sending"
	// MessageSent: the BA accepted the upload. Polling moves it on with
	// MarkAcknowledged or MarkRejected, or MarkRetry when the BA asks for a
	// re-delivery.
	MessageSent MessageState = "sent"
	// MessageRetryWait: an attempt failed; Claim takes it again from
	// NextAttemptAt on.
	MessageRetryWait MessageState = "retry-wait"
	// MessageAcknowledged: the BA acknowledged it. Final.
	MessageAcknowledged MessageState = "acknowledged"
	// MessageRejected: the BA rejected it as faulty; a person must build a
	// new message (linked with EnqueueParams.ResendOf). Final.
	MessageRejected MessageState = "rejected"
	// MessageDead: MaxAttempts attempts failed, or a worker or operator
	// gave up. Final; an operator may enqueue a resend linked to it.
	MessageDead MessageState = "dead"
)

// MessageStates lists every MessageState.
func MessageStates() []MessageState {
	return []MessageState{
		MessageQueued, MessageSending, MessageSent, MessageRetryWait,
		MessageAcknowledged, MessageRejected, MessageDead,
	}
}

// Final reports whether no transition leaves s.
func (s MessageState) Final() bool {
	return s == MessageAcknowledged || s == MessageRejected || s == MessageDead
}

// Valid reports whether s is one of MessageStates.
func (s MessageState) Valid() bool { return slices.Contains(MessageStates(), s) }

// DefaultMaxAttempts is used when EnqueueParams.MaxAttempts is 0.
const DefaultMaxAttempts = 8

// Message is an outbound message as the outbox holds it.
type Message struct {
	ID          MessageID
	Channel     Channel
	Endpoint    string
	Correlation CorrelationKey
	// Payload is the sealed payload's plaintext hash and size; the bytes
	// live in the payload store.
	Payload PayloadRef
	// ResendOf is the message this one resends or corrects, if any.
	ResendOf MessageID
	State    MessageState
	// Attempt is the number of the current or last send attempt; 0 before
	// the first claim.
	Attempt     int
	MaxAttempts int
	// NextAttemptAt: in retry-wait, the earliest time Claim takes it again.
	NextAttemptAt time.Time
	// ClaimedBy and ClaimedAt: the worker and time of the last claim.
	ClaimedBy string
	ClaimedAt time.Time
	// LastError is the reason given with the last retry, rejection or death.
	LastError string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// EnqueueParams describes a message to put in the outbox. Enqueue stores it
// in state queued and appends a "queued" entry in the same transaction.
type EnqueueParams struct {
	// ID is the stable message ID; empty means NewMessageID().
	ID          MessageID
	Channel     Channel // required
	Endpoint    string
	Correlation CorrelationKey
	Payload     PayloadRef // required
	// ResendOf links a resend or correction to the original message, which
	// must exist.
	ResendOf MessageID
	// MaxAttempts: attempts before the message is dead. Defaults to
	// DefaultMaxAttempts.
	MaxAttempts int
	Actor       Actor // required
	Detail      string
	// Before are entries to append in the same transaction, before the
	// "queued" entry (e.g. "built" and "sealed"), so they commit together.
	Before []AppendParams
	// ClaimBy, if set, claims the new message for this worker in the same
	// transaction (same shape as ClaimParams.Worker): it is stored in
	// sending as attempt 1, after a "queued" and a "sending" entry, for a
	// caller that sends it right away — one commit instead of two. If
	// that caller dies before it sends, the message is taken over after
	// the lease, as after a death during the upload.
	ClaimBy string
}

// ClaimParams asks for up to Limit messages to send.
type ClaimParams struct {
	// Worker names the claiming worker (host/pid or similar); it is stored
	// in ClaimedBy and in the entry's Detail. Required, same shape as an
	// Actor name.
	Worker string
	// Limit is the most messages to claim; defaults to 1, at most 1000.
	Limit int
	// Lease: a message left in "sending" longer than this (its worker died)
	// is claimed again as a new attempt. Zero never reclaims.
	Lease time.Duration
	// Channel, if set, claims only messages of that channel, so a sender
	// bound to one channel's endpoint never takes another's message.
	Channel Channel
	// ID, if set, claims only that message (if it is claimable): a worker
	// delivering one message takes its own, not another worker's.
	ID MessageID
}

// Transition is one guarded state change of a message. Build it with one
// of the Mark… constructors, which fill the allowed source states and the
// target together so that no invalid mix exists; pass it to
// Store.Transition.
type Transition struct {
	id      MessageID
	from    []MessageState
	to      MessageState
	attempt int // 0: any attempt
	at      time.Time
	reason  string
	receipt PayloadRef
	actor   Actor
	before  []AppendParams
}

// ID is the message the transition applies to.
func (t Transition) ID() MessageID { return t.id }

// With returns t with entries to append in the same transaction, before
// the transition's own entry (a receipt before "sent", the feedback before
// "acknowledged"): they commit together with the state change or not at
// all, at the cost of one commit instead of several.
func (t Transition) With(entries ...AppendParams) Transition {
	t.before = append(append([]AppendParams(nil), t.before...), entries...)
	return t
}

// Before lists the entries With added; the store appends them first.
func (t Transition) Before() []AppendParams { return t.before }

// To is the target state (MarkRetry may end in dead instead).
func (t Transition) To() MessageState { return t.to }

// MarkSent: attempt of a sending message was accepted by the BA.
func MarkSent(id MessageID, attempt int, actor Actor) Transition {
	return Transition{id: id, from: []MessageState{MessageSending}, to: MessageSent, attempt: attempt, actor: actor}
}

// MarkRetry: attempt failed (or the BA asked for re-delivery of a sent
// message); try again from at. If the message has used MaxAttempts
// attempts it becomes dead instead; the returned Message says which.
func MarkRetry(id MessageID, attempt int, at time.Time, reason string, actor Actor) Transition {
	return Transition{id: id, from: []MessageState{MessageSending, MessageSent}, to: MessageRetryWait, attempt: attempt, at: at, reason: reason, actor: actor}
}

// MarkAcknowledged: the BA acknowledged a sent message; receipt names the
// acknowledgement payload (may be zero).
func MarkAcknowledged(id MessageID, receipt PayloadRef, actor Actor) Transition {
	return Transition{id: id, from: []MessageState{MessageSent}, to: MessageAcknowledged, receipt: receipt, actor: actor}
}

// MarkRejected: the BA rejected the message, at upload or later; receipt
// names the rejection payload (may be zero).
func MarkRejected(id MessageID, reason string, receipt PayloadRef, actor Actor) Transition {
	return Transition{id: id, from: []MessageState{MessageSending, MessageSent}, to: MessageRejected, reason: reason, receipt: receipt, actor: actor}
}

// MarkDead: give up on a message that is not final (e.g. a permanent
// error, or an operator's decision).
func MarkDead(id MessageID, reason string, actor Actor) Transition {
	return Transition{id: id, from: []MessageState{MessageQueued, MessageSending, MessageSent, MessageRetryWait}, to: MessageDead, reason: reason, actor: actor}
}

// Apply decides a transition against the message as currently stored and
// returns the updated message and the entry to append; it is the one place
// the outbox's rules live, and the store calls it inside its
// transaction before a compare-and-set update guarded by the old state
// and attempt. A message in the wrong state or attempt gives a
// *StateConflictError.
func Apply(m Message, t Transition, now time.Time) (Message, AppendParams, error) {
	if err := t.actor.validate(); err != nil {
		return m, AppendParams{}, err
	}
	if !validDetail(t.reason) {
		return m, AppendParams{}, &FieldError{Field: "reason", Expected: "one line of at most 512 printable characters"}
	}
	if !slices.Contains(t.from, m.State) || (t.attempt != 0 && t.attempt != m.Attempt) {
		return m, AppendParams{}, &StateConflictError{ID: m.ID, Want: t.from, WantAttempt: t.attempt, Found: m.State, FoundAttempt: m.Attempt}
	}
	now = now.UTC().Truncate(time.Microsecond)
	to := t.to
	if to == MessageRetryWait && m.Attempt >= m.MaxAttempts {
		to = MessageDead
	}
	n := m
	n.State = to
	n.UpdatedAt = now
	if t.reason != "" || to == MessageRetryWait || to == MessageDead || to == MessageRejected {
		n.LastError = t.reason
	}
	if to == MessageRetryWait {
		n.NextAttemptAt = t.at.UTC().Truncate(time.Microsecond)
	}
	payload := m.Payload
	if !t.receipt.IsZero() {
		payload = t.receipt
	}
	detail := t.reason
	if to == MessageDead && t.to == MessageRetryWait {
		detail = "attempt " + strconv.Itoa(m.Attempt) + " of " + strconv.Itoa(m.MaxAttempts) + " failed, no attempts left: " + t.reason
		detail = truncateRunes(detail, 512)
	}
	return n, messageEntry(n, Event(to), payload, t.actor, detail), nil
}

// claimMessage moves a claimable message (queued, retry-wait that is due,
// or sending with an expired lease) to sending as a new attempt, and
// returns the entry to append. Claim selects candidates with claimable's
// rules and calls it inside its transaction.
func claimMessage(m Message, worker string, now time.Time) (Message, AppendParams) {
	now = now.UTC().Truncate(time.Microsecond)
	detail := "claimed by " + worker
	if m.State == MessageSending {
		detail = "lease of " + m.ClaimedBy + " expired; reclaimed by " + worker
	}
	n := m
	n.State = MessageSending
	n.Attempt++
	n.ClaimedBy = worker
	n.ClaimedAt = now
	n.UpdatedAt = now
	return n, messageEntry(n, EventSending, n.Payload, System("outbox"), truncateRunes(detail, 512))
}

// claimable reports whether Claim may take m at now with the given lease.
func claimable(m Message, now time.Time, lease time.Duration) bool {
	switch m.State {
	case MessageQueued:
		return true
	case MessageRetryWait:
		return !m.NextAttemptAt.After(now)
	case MessageSending:
		return lease > 0 && !m.ClaimedAt.After(now.Add(-lease))
	}
	return false
}

// newMessageEntries validates p and returns the message to store
// (queued, or with ClaimBy sending) and the entries to append after
// p.Before: the "queued" entry and, with ClaimBy, the "sending" one.
func newMessageEntries(p EnqueueParams, now time.Time) (Message, []AppendParams, error) {
	m, ap, err := newMessage(p, now)
	if err != nil {
		return Message{}, nil, err
	}
	if p.ClaimBy == "" {
		return m, []AppendParams{ap}, nil
	}
	if !actorNameRe.MatchString(p.ClaimBy) {
		return Message{}, nil, &FieldError{Field: "ClaimBy", Expected: "empty, or 1 to 64 characters from [A-Za-z0-9._@-]"}
	}
	n, claim := claimMessage(m, p.ClaimBy, now)
	return n, []AppendParams{ap, claim}, nil
}

func newMessage(p EnqueueParams, now time.Time) (Message, AppendParams, error) {
	now = now.UTC().Truncate(time.Microsecond)
	if p.ID == "" {
		p.ID = NewMessageID()
	}
	if p.MaxAttempts == 0 {
		p.MaxAttempts = DefaultMaxAttempts
	}
	switch {
	case !p.ID.Valid():
		return Message{}, AppendParams{}, &FieldError{Field: "ID", Expected: "1 to 128 characters from [A-Za-z0-9._:-]"}
	case p.MaxAttempts < 1:
		return Message{}, AppendParams{}, &FieldError{Field: "MaxAttempts", Expected: "1 or more (0 for the default)"}
	case p.Payload.IsZero():
		return Message{}, AppendParams{}, &FieldError{Field: "Payload", Expected: "the sealed payload's SHA-256 and size"}
	}
	m := Message{
		ID: p.ID, Channel: p.Channel, Endpoint: p.Endpoint, Correlation: p.Correlation, Payload: p.Payload,
		ResendOf: p.ResendOf, State: MessageQueued, MaxAttempts: p.MaxAttempts, CreatedAt: now, UpdatedAt: now,
	}
	ap := messageEntry(m, EventQueued, m.Payload, p.Actor, p.Detail)
	if err := ap.validate(); err != nil {
		return Message{}, AppendParams{}, err
	}
	return m, ap, nil
}

func messageEntry(m Message, ev Event, payload PayloadRef, actor Actor, detail string) AppendParams {
	return AppendParams{
		Direction: DirectionOut, Channel: m.Channel, Event: ev, Actor: actor, Endpoint: m.Endpoint,
		MessageID: m.ID, Related: m.ResendOf, Correlation: m.Correlation, Attempt: m.Attempt,
		Payload: payload, Detail: detail,
	}
}

func truncateRunes(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n])
}

// checkClaim validates p and fills its defaults.
func checkClaim(p ClaimParams) (ClaimParams, error) {
	if !actorNameRe.MatchString(p.Worker) {
		return p, &FieldError{Field: "Worker", Expected: "1 to 64 characters from [A-Za-z0-9._@-]"}
	}
	if p.Limit == 0 {
		p.Limit = 1
	}
	if p.Limit < 0 || p.Limit > 1000 {
		return p, &FieldError{Field: "Limit", Expected: "1 to 1000 (0 for 1)"}
	}
	if p.Lease < 0 {
		return p, &FieldError{Field: "Lease", Expected: "0 or a positive duration"}
	}
	if p.Channel != "" && p.Channel != ChannelXSozial && p.Channel != ChannelEmaw {
		return p, &FieldError{Field: "Channel", Expected: `"", "xsozial" or "emaw"`}
	}
	if p.ID != "" && !p.ID.Valid() {
		return p, &FieldError{Field: "ID", Expected: "empty, or 1 to 128 characters from [A-Za-z0-9._:-]"}
	}
	return p, nil
}
