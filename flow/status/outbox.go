package status

import (
	"sort"
	"strings"
	"time"

	"meldeweg.dev/meldeweg/transport/register"
)

// OutboxChannel is the outbox of one channel.
type OutboxChannel struct {
	Channel register.Channel `json:"channel"`
	// States counts the messages by outbox state; every state is present.
	States map[register.MessageState]int `json:"states"`
	// OldestPending is the oldest message still to be sent (queued,
	// sending or retry-wait); nil when there is none.
	OldestPending *Pending `json:"oldest_pending"`
	// OldestUnanswered is the oldest message sent whose answer is
	// outstanding; nil when there is none.
	OldestUnanswered *Pending `json:"oldest_unanswered"`
}

// Pending names a message and since when it waits.
type Pending struct {
	ID    string                `json:"id"`
	State register.MessageState `json:"state"`
	// Since is when it was queued (OldestPending) or sent
	// (OldestUnanswered).
	Since time.Time `json:"since"`
}

type message struct {
	state        register.MessageState
	queued, sent time.Time
	channel      register.Channel
	id           register.MessageID
}

type outboxReader struct {
	msgs  map[register.MessageID]*message
	order []register.MessageID
}

func newOutboxReader() *outboxReader {
	return &outboxReader{msgs: map[register.MessageID]*message{}}
}

func (o *outboxReader) entry(e register.Entry) {
	ev := e.Event()
	if !isStateEvent(ev) || e.MessageID() == "" {
		return
	}
	m := o.msgs[e.MessageID()]
	if m == nil {
		if ev != register.EventQueued {
			return // a state entry of no outbox message
		}
		m = &message{id: e.MessageID(), channel: e.Channel(), queued: e.Time().UTC()}
		o.msgs[e.MessageID()] = m
		o.order = append(o.order, e.MessageID())
	}
	m.state = register.MessageState(ev)
	if m.state == register.MessageSent {
		m.sent = e.Time().UTC()
	}
}

func (o *outboxReader) channels() []OutboxChannel {
	by := map[register.Channel]*OutboxChannel{}
	for _, id := range o.order {
		m := o.msgs[id]
		c := by[m.channel]
		if c == nil {
			c = &OutboxChannel{Channel: m.channel, States: map[register.MessageState]int{}}
			for _, s := range register.MessageStates() {
				c.States[s] = 0
			}
			by[m.channel] = c
		}
		c.States[m.state]++
		switch m.state {
		case register.MessageQueued, register.MessageSending, register.MessageRetryWait:
			if c.OldestPending == nil || m.queued.Before(c.OldestPending.Since) {
				c.OldestPending = &Pending{ID: string(m.id), State: m.state, Since: m.queued}
			}
		case register.MessageSent:
			if c.OldestUnanswered == nil || m.sent.Before(c.OldestUnanswered.Since) {
				c.OldestUnanswered = &Pending{ID: string(m.id), State: m.state, Since: m.sent}
			}
		}
	}
	out := []OutboxChannel{}
	for _, c := range by {
		out = append(out, *c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Channel < out[j].Channel })
	return out
}

// Mailbox is what the eM@w mailbox delivered, as the register recorded it.
type Mailbox struct {
	// Received counts the inbound messages recorded, by message type
	// ("AnmeldungBAE"; "invalid" for a file that did not validate).
	Received map[string]int `json:"received"`
	// Acknowledgements counts the uploads an acknowledgement was recorded
	// for.
	Acknowledgements int `json:"acknowledgements"`
	// LastInboundAt is the time of the last inbound eM@w entry (a
	// message or an acknowledgement); nil when there is none. The
	// register does not record polls that found nothing.
	LastInboundAt *time.Time `json:"last_inbound_at"`
}

type mailboxReader struct {
	received map[string]int
	acked    map[register.MessageID]bool
	last     time.Time
}

func newMailboxReader() *mailboxReader {
	return &mailboxReader{received: map[string]int{}, acked: map[register.MessageID]bool{}}
}

func (m *mailboxReader) entry(e register.Entry) {
	if e.Direction() != register.DirectionIn {
		return
	}
	switch e.Event() {
	case register.EventReceived:
		m.received[inboundType(e.Detail())]++
	case register.EventFeedback:
		m.acked[e.MessageID()] = true
	default:
		return
	}
	if t := e.Time().UTC(); t.After(m.last) {
		m.last = t
	}
}

// inboundType reads the message type from a "received" detail (see
// exchange.RecordInbound): "received AnmeldungBAE for …", "received a
// ROOT: …", "received file F: invalid".
func inboundType(detail string) string {
	rest, ok := strings.CutPrefix(detail, "received ")
	if !ok {
		return "unknown"
	}
	w := firstWord(rest)
	switch w {
	case "file":
		return "invalid"
	case "a":
		return strings.TrimSuffix(firstWord(strings.TrimPrefix(rest, "a ")), ":")
	}
	return strings.TrimSuffix(w, ":")
}

func (m *mailboxReader) mailbox() Mailbox {
	mb := Mailbox{Received: m.received, Acknowledgements: len(m.acked)}
	if !m.last.IsZero() {
		mb.LastInboundAt = timePtr(m.last)
	}
	return mb
}
