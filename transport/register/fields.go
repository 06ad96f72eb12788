package register

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
)

// Direction says which way a message travels, seen from Meldeweg.
type Direction string

const (
	// DirectionOut: from the Träger or measure provider to the BA.
	DirectionOut Direction = "out"
	// DirectionIn: from the BA to the Träger or measure provider.
	DirectionIn Direction = "in"
)

// Channel is the BA procedure a message belongs to.
type Channel string

const (
	// ChannelXSozial: XSozial-BA-SGB II statistics deliveries and feedback.
	ChannelXSozial Channel = "xsozial"
	// ChannelEmaw: eM@w measure events and acknowledgements.
	ChannelEmaw Channel = "emaw"
	// ChannelConsole: what a person did in the web console that concerns
	// no message (an admin action such as adding a user).
	ChannelConsole Channel = "console"
	// ChannelService: the service's own bookkeeping, not a BA procedure:
	// job runs and alerts (EventJobStarted … EventAlertResolved). Its
	// entries carry DirectionOut and no message.
	ChannelService Channel = "service"
)

// Event is what an entry records. The outbox states (MessageState) are
// events too: every transition appends an entry whose event is the new
// state.
type Event string

const (
	// EventBuilt: a delivery file or message was built from source data.
	EventBuilt Event = "built"
	// EventChecked: it passed schema and plausibility checks.
	EventChecked Event = "checked"
	// EventSealed: it was signed and encrypted for the BA.
	EventSealed Event = "sealed"
	// EventQueued: it entered the outbox (MessageQueued).
	EventQueued Event = "queued"
	// EventSending: a worker claimed it for a send attempt (MessageSending).
	EventSending Event = "sending"
	// EventSent: the BA accepted the upload (MessageSent).
	EventSent Event = "sent"
	// EventRetryWait: an attempt failed and another is scheduled (MessageRetryWait).
	EventRetryWait Event = "retry-wait"
	// EventAcknowledged: the BA acknowledged the message (MessageAcknowledged).
	EventAcknowledged Event = "acknowledged"
	// EventRejected: the BA rejected the message (MessageRejected).
	EventRejected Event = "rejected"
	// EventDead: no further attempts will be made (MessageDead).
	EventDead Event = "dead"
	// EventReceipt: a transport receipt for an upload was recorded.
	EventReceipt Event = "receipt"
	// EventFeedback: an XSozial feedback file (Rückmeldung) was recorded.
	EventFeedback Event = "feedback"
	// EventReceived: an inbound message was downloaded and recorded.
	EventReceived Event = "received"
	// EventPayloadDeleted: a sealed payload was deleted under a retention
	// rule; the entry keeps its hash and size, so the chain still verifies.
	EventPayloadDeleted Event = "payload-deleted"
	// EventAttempt: one HTTP attempt of an upload ended (the client may
	// make several within one claim); Detail names the outcome, a status
	// code or a class of error such as "connection reset", never a body.
	// It does not change the message's state: the claim's last attempt
	// is followed by the sent, retry-wait or dead entry.
	EventAttempt Event = "attempt"
	// EventCheckpoint: a signed checkpoint of the register was written
	// (meldeweg register checkpoint). Detail is "size=N head=HEX": the
	// checkpoint covers the register before this entry, entries 1 to N,
	// ending in head HEX; this entry itself is covered by the next
	// checkpoint. It belongs to no direction or channel (both "").
	EventCheckpoint Event = "checkpoint"
	// EventAccessed: someone was shown personal data (see Accessed). The
	// actor says who, MessageID and Payload what, Detail what view and
	// for which purpose; never the data. It has no direction ("") and the
	// channel of what was read.
	EventAccessed Event = "accessed"
	// EventKEKRotated: every data key of the tenant was re-wrapped under a
	// new key-encryption key (Detail names the old and new KEK IDs and
	// how many keys); payloads are not touched.
	EventKEKRotated Event = "kek-rotated"
	// EventDataKeyDestroyed: a data key was destroyed, so that every
	// payload sealed with it is unreadable for good (Detail names the key
	// ID, data class and month).
	EventDataKeyDestroyed Event = "data-key-destroyed"
	// EventAdmin: a person administered the console (users and roles);
	// Detail names the action and its target login.
	EventAdmin Event = "admin"
	// EventTakenOver: a case worker took over an inbound message as a
	// work item (eM@w inbox: new → taken over).
	EventTakenOver Event = "taken-over"
	// EventDone: a case worker finished the work item of an inbound
	// message (eM@w inbox: taken over → done).
	EventDone Event = "done"
	// EventJobStarted: a scheduled job's run started, or was resumed or
	// retried (ChannelService). Detail names the job, the run ID, the
	// scheduled time, the attempt and the holder; never personal data.
	EventJobStarted Event = "job-started"
	// EventJobFinished: a run ended (ChannelService); Detail adds its
	// outcome: succeeded, retry or failed.
	EventJobFinished Event = "job-finished"
	// EventAlertRaised: an incident's "raised" notice went out to every
	// notifier (ChannelService); Detail names the incident key, scope and
	// severity.
	EventAlertRaised Event = "alert-raised"
	// EventAlertResolved: an incident's "resolved" notice went out
	// (ChannelService).
	EventAlertResolved Event = "alert-resolved"
)

// Events lists every Event, in the order above.
func Events() []Event {
	return []Event{
		EventBuilt, EventChecked, EventSealed, EventQueued, EventSending, EventSent,
		EventRetryWait, EventAcknowledged, EventRejected, EventDead, EventReceipt,
		EventFeedback, EventReceived, EventPayloadDeleted, EventAttempt,
		EventCheckpoint, EventAccessed, EventKEKRotated, EventDataKeyDestroyed,
		EventAdmin, EventTakenOver, EventDone,
		EventJobStarted, EventJobFinished, EventAlertRaised, EventAlertResolved,
	}
}

func (e Event) valid() bool {
	for _, x := range Events() {
		if x == e {
			return true
		}
	}
	return false
}

// Hash is a SHA-256 value: an entry's chain hash or a payload's address.
type Hash [sha256.Size]byte

// String is the lower-case hex form.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// IsZero reports whether h is all zero bytes (the genesis "previous hash",
// or "no payload").
func (h Hash) IsZero() bool { return h == Hash{} }

// MarshalText implements encoding.TextMarshaler (hex).
func (h Hash) MarshalText() ([]byte, error) { return []byte(h.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler; it accepts exactly 64
// hex digits.
func (h *Hash) UnmarshalText(b []byte) error {
	v, err := ParseHash(string(b))
	if err != nil {
		return err
	}
	*h = v
	return nil
}

// ParseHash parses 64 hex digits.
func ParseHash(s string) (Hash, error) {
	var h Hash
	if len(s) != 2*len(h) {
		return h, fmt.Errorf("hash: expected 64 hex digits, got %d characters", len(s))
	}
	if _, err := hex.Decode(h[:], []byte(s)); err != nil {
		return Hash{}, fmt.Errorf("hash: expected 64 hex digits: %w", err)
	}
	return h, nil
}

// HashFromBytes copies b into a Hash; b must be empty (zero hash) or 32
// bytes long, else ok is false.
func HashFromBytes(b []byte) (h Hash, ok bool) {
	if len(b) == 0 {
		return h, true
	}
	if len(b) != len(h) {
		return h, false
	}
	copy(h[:], b)
	return h, true
}

// PayloadRef names a payload by the SHA-256 of its plaintext and its size
// in bytes. The zero value means "no payload".
type PayloadRef struct {
	SHA256 Hash
	Size   int64
}

// IsZero reports whether r names no payload.
func (r PayloadRef) IsZero() bool { return r.SHA256.IsZero() && r.Size == 0 }

// MessageID is the stable ID of a message. It travels in a header with every
// attempt, so the receiver can drop duplicates; it is not personal data.
type MessageID string

// messageIDRe is ^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$, checked by hand: the
// regexp with its bounded repetition cost every command 11 ms at start-up.
var messageIDRe = nameShape{max: 128, extra: "._:-"}

// NewMessageID returns a fresh, time-ordered message ID (UUIDv7).
func NewMessageID() MessageID {
	u, err := uuid.NewV7()
	if err != nil { // only if the system's random source fails
		panic(fmt.Sprintf("register: no randomness for a message ID: %v", err))
	}
	return MessageID(u.String())
}

// Valid reports whether id has the shape a message ID must have: 1 to 128
// characters from [A-Za-z0-9._:-], starting with a letter or digit (safe in
// an HTTP header and a file name).
func (id MessageID) Valid() bool { return messageIDRe.MatchString(string(id)) }

// ActorKind says whether a person or a component acted.
type ActorKind string

const (
	// ActorOperator: a person, named by their login.
	ActorOperator ActorKind = "operator"
	// ActorSystem: a Meldeweg component, e.g. "send" or "outbox".
	ActorSystem ActorKind = "system"
	// ActorUser: a person authenticated by Meldeweg itself (the console),
	// named by their user name there; ActorOperator is the operating
	// system's login of whoever ran a command.
	ActorUser ActorKind = "user"
)

// Actor is who acted: an operator or a system component. Build it with
// Operator or System.
type Actor struct {
	kind ActorKind
	name string
}

// actorNameRe is ^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$.
var actorNameRe = nameShape{max: 64, extra: "._@-"}

// nameShape matches names that start with an ASCII letter or digit,
// continue with letters, digits or the extra punctuation, and are at most
// max bytes long.
type nameShape struct {
	max   int
	extra string
}

// MatchString reports whether s has the shape.
func (n nameShape) MatchString(s string) bool {
	if len(s) == 0 || len(s) > n.max {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || strings.IndexByte(n.extra, c) < 0) {
			return false
		}
	}
	return true
}

// Operator is the actor for the person with the given login.
func Operator(login string) Actor { return Actor{kind: ActorOperator, name: login} }

// User is the actor for a person the console authenticated, by user name.
func User(name string) Actor { return Actor{kind: ActorUser, name: name} }

// System is the actor for a Meldeweg component, e.g. System("send").
func System(component string) Actor { return Actor{kind: ActorSystem, name: component} }

// Kind returns the actor's kind.
func (a Actor) Kind() ActorKind { return a.kind }

// Name returns the login or component name.
func (a Actor) Name() string { return a.name }

// String is "operator:LOGIN", "user:NAME" or "system:COMPONENT"; ParseActor reverses it.
func (a Actor) String() string {
	if a.kind == "" {
		return ""
	}
	return string(a.kind) + ":" + a.name
}

// IsZero reports whether a is the zero Actor.
func (a Actor) IsZero() bool { return a.kind == "" && a.name == "" }

func (a Actor) validate() error {
	if (a.kind != ActorOperator && a.kind != ActorSystem && a.kind != ActorUser) || !actorNameRe.MatchString(a.name) {
		return &FieldError{Field: "Actor", Expected: `Operator(login), User(name) or System(component) with a name of 1 to 64 characters from [A-Za-z0-9._@-]`}
	}
	return nil
}

// ParseActor parses the String form.
func ParseActor(s string) (Actor, error) {
	k, n, _ := strings.Cut(s, ":")
	a := Actor{kind: ActorKind(k), name: n}
	if err := a.validate(); err != nil {
		return Actor{}, err
	}
	return a, nil
}

// CorrelationKey ties the entries and messages of one business case
// together without personal data: for XSozial the Trägernummer and the
// reporting month, for eM@w the Maßnahmeschlüssel and a participant
// pseudonym. Build it with XSozialKey or EmawKey; the zero value means "no
// correlation".
type CorrelationKey struct{ s string }

var (
	traegerRe     = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[0-9]{1,12}$`) })
	massnahmeRe   = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[0-9][0-9/]{0,39}$`) })
	monthRe       = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[0-9]{4}-(0[1-9]|1[0-2])$`) })
	correlationRe = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^(xsozial traeger=[0-9]{1,12} month=[0-9]{4}-(0[1-9]|1[0-2])( test)?|emaw massnahme=[0-9][0-9/]{0,39}( participant=ps1-[0-9a-f]{32})?)$`)
	})
)

// XSozialKey is the correlation key of one XSozial delivery: the
// Trägernummer (digits) and the reporting month "YYYY-MM".
func XSozialKey(traegernummer, month string) (CorrelationKey, error) {
	if !traegerRe().MatchString(traegernummer) {
		return CorrelationKey{}, &FieldError{Field: "Trägernummer", Expected: "1 to 12 digits"}
	}
	if !monthRe().MatchString(month) {
		return CorrelationKey{}, &FieldError{Field: "month", Expected: "YYYY-MM"}
	}
	return CorrelationKey{"xsozial traeger=" + traegernummer + " month=" + month}, nil
}

// XSozialTestKey is the correlation key of the test deliveries (K.8 "T")
// of a Trägernummer and month: XSozialKey with " test" appended, so that
// a test delivery is never taken for the production one.
func XSozialTestKey(traegernummer, month string) (CorrelationKey, error) {
	k, err := XSozialKey(traegernummer, month)
	if err != nil {
		return k, err
	}
	return CorrelationKey{k.s + " test"}, nil
}

// EmawKey is the correlation key of an eM@w event: the Maßnahmeschlüssel
// (Maßnahmenummer and Verfahrenszweig, digits and "/") and the participant's
// pseudonym (see Pseudonymizer). A zero Pseudonym gives a key for the
// measure alone.
func EmawKey(massnahmeschluessel string, participant Pseudonym) (CorrelationKey, error) {
	if !massnahmeRe().MatchString(massnahmeschluessel) {
		return CorrelationKey{}, &FieldError{Field: "Maßnahmeschlüssel", Expected: `digits and "/", at most 40`}
	}
	s := "emaw massnahme=" + massnahmeschluessel
	if !participant.IsZero() {
		s += " participant=" + participant.String()
	}
	return CorrelationKey{s}, nil
}

// ParseCorrelationKey parses the String form of a key; "" is the zero key.
func ParseCorrelationKey(s string) (CorrelationKey, error) {
	if s != "" && !correlationRe().MatchString(s) {
		return CorrelationKey{}, &FieldError{Field: "Correlation", Expected: `"xsozial traeger=N month=YYYY-MM[ test]" or "emaw massnahme=N[ participant=ps1-HEX]"`}
	}
	return CorrelationKey{s}, nil
}

// String is the canonical text form, e.g. "xsozial traeger=12345
// month=2026-01".
func (k CorrelationKey) String() string { return k.s }

// IsZero reports whether k is the zero key.
func (k CorrelationKey) IsZero() bool { return k.s == "" }

// Endpoint checks: an endpoint is a name ("xsozial-portal") or an http(s)
// URL without user info, query or fragment (those could carry secrets or
// identifiers).
func validEndpoint(s string) bool {
	if s == "" {
		return true
	}
	if len(s) > 512 || strings.ContainsAny(s, " \t\r\n?#@") {
		return false
	}
	if !strings.Contains(s, "://") {
		return actorNameRe.MatchString(s)
	}
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" && u.User == nil && u.RawQuery == "" && u.Fragment == ""
}

// validDetail: a single line of printable text, at most 512 runes.
func validDetail(s string) bool {
	if !utf8.ValidString(s) || utf8.RuneCountInString(s) > 512 {
		return false
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

// Clock returns the current time; stores take one so tests can fix time.
type Clock func() time.Time
