package status

import (
	"context"
	"strconv"
	"strings"
	"time"

	"meldeweg.dev/meldeweg/transport/register"
)

// Report is where things stand. Its JSON form is documented in
// docs/operations.md ("meldeweg status").
type Report struct {
	// GeneratedAt is the time the report was made (UTC).
	GeneratedAt time.Time `json:"generated_at"`
	// Entries is the number of register entries read.
	Entries int64          `json:"entries"`
	XSozial XSozialSection `json:"xsozial"`
	// Outbox has one row per channel that has messages.
	Outbox  []OutboxChannel `json:"outbox"`
	Mailbox Mailbox         `json:"mailbox"`
	// Deadlines and Certificates are filled by the caller (Deadlines,
	// Certificates); nil when not computed.
	Deadlines    *DeadlineSection `json:"deadlines"`
	Certificates []Certificate    `json:"certificates"`
	// Attention lists, one sentence each, what needs a person; empty when
	// nothing does. No personal data.
	Attention []string `json:"attention"`
}

// XSozialSection holds the XSozial delivery lines.
type XSozialSection struct {
	// Lines are ordered by Träger, month, then production before test.
	Lines []Line `json:"lines"`
	// Unassigned are XSozial deliveries without a correlation key.
	Unassigned []Delivery `json:"unassigned"`
}

// Line is the deliveries of one Träger, month and kind.
type Line struct {
	Traeger string `json:"traeger"`
	Month   string `json:"month"`
	// Test: test deliveries (K.8 "T"), apart from production.
	Test bool `json:"test"`
	// Status is the status of the last delivery.
	Status LineStatus `json:"status"`
	// CorrectionPending: the last delivery that reached the BA was
	// rejected and no later one is queued; run with --correction.
	CorrectionPending bool `json:"correction_pending"`
	// Deliveries in the order they were begun.
	Deliveries []Delivery `json:"deliveries"`
}

// LineStatus is where a delivery stands.
type LineStatus string

const (
	// StatusBuilt: built, but its check is not recorded (the run stopped);
	// the next run builds again.
	StatusBuilt LineStatus = "built"
	// StatusCheckFailed: Meldeweg's own check found Fehler; nothing was
	// sent. Fix the source data and run again.
	StatusCheckFailed LineStatus = "check-failed"
	// StatusChecked: passed the check, but not queued (the run stopped);
	// the next run builds again.
	StatusChecked LineStatus = "checked"
	// StatusSending: in the outbox (queued, sending or waiting for a
	// retry); the outbox moves it on.
	StatusSending LineStatus = "sending"
	// StatusSent: the BA confirmed the upload; its feedback is
	// outstanding ("meldeweg poll" or a rerun collects it).
	StatusSent LineStatus = "sent"
	// StatusAccepted: the BA accepted it (angenommen). Final.
	StatusAccepted LineStatus = "accepted"
	// StatusRejected: the BA rejected it (abgelehnt); a correction is due.
	StatusRejected LineStatus = "rejected"
	// StatusDead: it could not be delivered; a rerun sends it again.
	StatusDead LineStatus = "dead"
)

// LineStatuses lists every LineStatus.
func LineStatuses() []LineStatus {
	return []LineStatus{StatusBuilt, StatusCheckFailed, StatusChecked, StatusSending, StatusSent, StatusAccepted, StatusRejected, StatusDead}
}

// Delivery is one message ID of a line.
type Delivery struct {
	ID string `json:"id"`
	// Kind is "first", "correction" (Lieferart 2) or "resend" (the same
	// sealed file again after a dead one).
	Kind string `json:"kind"`
	// Supersedes is the delivery this one corrects or resends.
	Supersedes string `json:"supersedes,omitempty"`
	// Status is where it stands (a LineStatus).
	Status LineStatus `json:"status"`
	// State is its outbox state ("" before it was queued).
	State register.MessageState `json:"state,omitempty"`
	// Check is "passed", "failed" or "" (not recorded).
	Check string `json:"check,omitempty"`
	// Feedback is the BA's verdict, when recorded.
	Feedback *Feedback `json:"feedback,omitempty"`
	// BuiltAt, QueuedAt, SentAt are when it was built, queued and last
	// confirmed by the BA; UpdatedAt is its last entry. Zero when not.
	BuiltAt   *time.Time `json:"built_at,omitempty"`
	QueuedAt  *time.Time `json:"queued_at,omitempty"`
	SentAt    *time.Time `json:"sent_at,omitempty"`
	UpdatedAt time.Time  `json:"updated_at"`

	seq  int64 // first entry
	test bool  // its "built" entry names a test file
}

// Feedback is the BA's verdict on a delivery, from the feedback entry's
// detail.
type Feedback struct {
	// Result is "angenommen" or "abgelehnt".
	Result string `json:"result"`
	// Fehler and Hinweise are the numbers of findings; -1 when the detail
	// does not say.
	Fehler   int `json:"fehler"`
	Hinweise int `json:"hinweise"`
	// Rules are the codes of the rules that found Fehler.
	Rules []string `json:"rules"`
	// At is when the feedback was recorded.
	At time.Time `json:"at"`
}

// Read builds the report's register sections (XSozial, Outbox, Mailbox,
// Attention for those) in one pass over store. now is GeneratedAt.
func Read(ctx context.Context, store register.Store, now time.Time) (*Report, error) {
	r := &Report{GeneratedAt: now.UTC(), Outbox: []OutboxChannel{}, Certificates: []Certificate{}, Attention: []string{}}
	x := newXSozialReader()
	o := newOutboxReader()
	m := newMailboxReader()
	for e, err := range register.All(ctx, store, "") {
		if err != nil {
			return nil, err
		}
		r.Entries++
		o.entry(e)
		switch e.Channel() {
		case register.ChannelXSozial:
			x.entry(e)
		case register.ChannelEmaw:
			m.entry(e)
		}
	}
	r.XSozial = x.section()
	r.Outbox = o.channels()
	r.Mailbox = m.mailbox()
	for _, l := range r.XSozial.Lines {
		if a := l.attention(); a != "" {
			r.Attention = append(r.Attention, a)
		}
	}
	for _, c := range r.Outbox {
		if n := c.States[register.MessageDead]; n > 0 {
			r.Attention = append(r.Attention, plural(n, "message")+" on channel "+string(c.Channel)+" could not be delivered (dead)")
		}
	}
	return r, nil
}

// attention says what a person must do about l, or "".
func (l Line) attention() string {
	what := "Träger " + l.Traeger + ", month " + l.Month
	if l.Test {
		what += " (test)"
	}
	last := l.Deliveries[len(l.Deliveries)-1]
	switch {
	case l.Status == StatusCheckFailed:
		return what + ": " + last.ID + " failed Meldeweg's check; fix the source data and run again"
	case l.CorrectionPending:
		return what + ": rejected by the BA; fix the data and run with --correction"
	case l.Status == StatusDead:
		return what + ": " + last.ID + " could not be delivered; run again"
	}
	return ""
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return strconv.Itoa(n) + " " + what + "s"
}

func timePtr(t time.Time) *time.Time {
	u := t.UTC()
	return &u
}

// isStateEvent tells whether e records an outbox state.
func isStateEvent(ev register.Event) bool {
	return register.MessageState(ev).Valid()
}

func firstWord(s string) string {
	w, _, _ := strings.Cut(s, " ")
	return w
}
