package baapi

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Headers of the exchange.
const (
	// HeaderMessageID carries the stable ID of an uploaded message. It is
	// the same on every attempt; the receiver drops repeats.
	HeaderMessageID = "X-BA-Message-Id"
	// HeaderDigest carries the SHA-256 of a body (RFC 9530 Content-Digest).
	HeaderDigest = "Content-Digest"
	// HeaderOutcome names the verdict of a reply file (see [Outcome]). It
	// is a convenience for logs; the reply file itself is authoritative.
	HeaderOutcome = "X-BA-Outcome"
	// HeaderRetryAfter is the standard Retry-After header, seconds or an
	// HTTP date.
	HeaderRetryAfter = "Retry-After"
)

// Channel is the procedure a message belongs to.
type Channel string

const (
	// ChannelXSozial is the monthly XSozial-BA-SGB II statistics delivery
	// through the BA portal.
	ChannelXSozial Channel = "xsozial"
	// ChannelEmaw is the eM@w mailbox between measure providers and the BA.
	ChannelEmaw Channel = "emaw"
)

// Channels lists every channel.
func Channels() []Channel { return []Channel{ChannelXSozial, ChannelEmaw} }

// ErrBadChannel is returned (wrapped) for an unknown channel name.
var ErrBadChannel = errors.New("unknown channel")

// ParseChannel checks s names a channel.
func ParseChannel(s string) (Channel, error) {
	for _, c := range Channels() {
		if string(c) == s {
			return c, nil
		}
	}
	return "", fmt.Errorf("%w %q: expected xsozial or emaw", ErrBadChannel, s)
}

// MessageID is the stable identifier of one outbound message: 1 to 128
// characters from [A-Za-z0-9._:-], starting with a letter or digit (the
// register's alphabet, so every register message ID can be sent). It
// appears in paths, so the set is closed.
type MessageID string

// FileID identifies a file the BA offers for download; same alphabet as
// [MessageID].
type FileID string

// ErrBadID is returned (wrapped) for a message or file ID outside the
// allowed alphabet or length.
var ErrBadID = errors.New("malformed ID")

// checkID enforces the ID alphabet.
func checkID(kind, s string) error {
	if len(s) == 0 || len(s) > 128 {
		return fmt.Errorf("%w: %s must be 1 to 128 characters, got %d", ErrBadID, kind, len(s))
	}
	if c := s[0]; !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
		return fmt.Errorf("%w: %s %q must start with a letter or digit", ErrBadID, kind, s)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-' || c == ':'
		if !ok {
			return fmt.Errorf("%w: %s %q has %q at offset %d; allowed are A-Z a-z 0-9 . _ : -", ErrBadID, kind, s, c, i)
		}
	}
	return nil
}

// Validate reports whether id is well formed.
func (id MessageID) Validate() error { return checkID("message ID", string(id)) }

// Validate reports whether id is well formed.
func (id FileID) Validate() error { return checkID("file ID", string(id)) }

// ParseMessageID checks s and returns it as a MessageID.
func ParseMessageID(s string) (MessageID, error) {
	id := MessageID(s)
	return id, id.Validate()
}

// ParseFileID checks s and returns it as a FileID.
func ParseFileID(s string) (FileID, error) {
	id := FileID(s)
	return id, id.Validate()
}

// ContentMessageID derives a message ID from the channel and the SHA-256
// of the payload. Equal payloads on one channel get equal IDs, so a
// message sent twice without an outbox (for example after a crash) is
// still dropped as a duplicate by the receiver.
func ContentMessageID(ch Channel, sum [sha256.Size]byte) MessageID {
	return MessageID(string(ch) + "-" + hex.EncodeToString(sum[:16]))
}

// ErrBadDigest is returned (wrapped) for a Content-Digest header that
// holds no well-formed sha-256 value.
var ErrBadDigest = errors.New("malformed Content-Digest")

// FormatDigest renders sum as an RFC 9530 Content-Digest value.
func FormatDigest(sum [sha256.Size]byte) string {
	return "sha-256=:" + base64.StdEncoding.EncodeToString(sum[:]) + ":"
}

// ParseDigest extracts the sha-256 value from a Content-Digest header.
// Other algorithms in the list are ignored; a header without sha-256 is
// an error.
func ParseDigest(h string) ([sha256.Size]byte, error) {
	var sum [sha256.Size]byte
	for _, item := range strings.Split(h, ",") {
		name, val, ok := strings.Cut(strings.TrimSpace(item), "=")
		if !ok || strings.TrimSpace(name) != "sha-256" {
			continue
		}
		val = strings.TrimSpace(val)
		if len(val) < 2 || val[0] != ':' || val[len(val)-1] != ':' {
			return sum, fmt.Errorf("%w: sha-256 value %q is not a byte sequence :…:", ErrBadDigest, val)
		}
		b, err := base64.StdEncoding.DecodeString(val[1 : len(val)-1])
		if err != nil {
			return sum, fmt.Errorf("%w: sha-256 value: %v", ErrBadDigest, err)
		}
		if len(b) != sha256.Size {
			return sum, fmt.Errorf("%w: sha-256 value has %d bytes, want %d", ErrBadDigest, len(b), sha256.Size)
		}
		copy(sum[:], b)
		return sum, nil
	}
	return sum, fmt.Errorf("%w: no sha-256 in %q", ErrBadDigest, h)
}

// ReceiptStatus says what the receiver did with an upload.
type ReceiptStatus string

const (
	// ReceiptAccepted: first upload of this message ID; it is stored and
	// will be processed.
	ReceiptAccepted ReceiptStatus = "accepted"
	// ReceiptDuplicate: the ID was accepted before; this upload was
	// dropped. For the sender it means the same as accepted.
	ReceiptDuplicate ReceiptStatus = "duplicate"
)

// Receipt is the receiver's answer to an upload (HTTP 202, JSON).
type Receipt struct {
	MessageID MessageID     `json:"message_id"`
	Channel   Channel       `json:"channel"`
	Status    ReceiptStatus `json:"status"`
	// Size and SHA256 (hex) describe the body the receiver stored; for a
	// duplicate, the body stored the first time.
	Size       int64     `json:"size"`
	SHA256     string    `json:"sha256"`
	ReceivedAt time.Time `json:"received_at"`
}

// ReceiptMismatchError says a receipt does not confirm what was sent.
// It carries both sides as evidence.
type ReceiptMismatchError struct {
	Field      string
	Sent, Got  string
	MessageID  MessageID
	RawReceipt Receipt
}

func (e *ReceiptMismatchError) Error() string {
	return fmt.Sprintf("receipt for message %s does not confirm the upload: %s sent %s, receipt says %s",
		e.MessageID, e.Field, e.Sent, e.Got)
}

// Confirm checks that r acknowledges exactly the message id with the given
// size and SHA-256; anything else returns a *ReceiptMismatchError.
func (r Receipt) Confirm(ch Channel, id MessageID, size int64, sum [sha256.Size]byte) error {
	mismatch := func(field, sent, got string) error {
		return &ReceiptMismatchError{Field: field, Sent: sent, Got: got, MessageID: id, RawReceipt: r}
	}
	switch {
	case r.MessageID != id:
		return mismatch("message ID", string(id), string(r.MessageID))
	case r.Channel != ch:
		return mismatch("channel", string(ch), string(r.Channel))
	case r.Status != ReceiptAccepted && r.Status != ReceiptDuplicate:
		return mismatch("status", "accepted or duplicate", fmt.Sprintf("%q", r.Status))
	case r.Size != size:
		return mismatch("size", fmt.Sprint(size), fmt.Sprint(r.Size))
	case r.SHA256 != hex.EncodeToString(sum[:]):
		return mismatch("SHA-256", hex.EncodeToString(sum[:]), r.SHA256)
	}
	return nil
}

// Outcome is the verdict of a reply file.
type Outcome string

const (
	// OutcomeOK: eM@w acknowledgement OK, or an XSozial delivery accepted
	// (possibly with Hinweise).
	OutcomeOK Outcome = "ok"
	// OutcomeNOK: eM@w acknowledgement NOK, or an XSozial delivery rejected
	// with Fehler.
	OutcomeNOK Outcome = "nok"
)

// FileKind classifies a file offered for download.
type FileKind string

const (
	// KindMessage is an inbound message from the BA (eM@w Anmeldung,
	// Zustimmung, …).
	KindMessage FileKind = "message"
	// KindReply is an acknowledgement (eM@w OK/NOK) or an XSozial feedback
	// file; Ref names the message it answers.
	KindReply FileKind = "reply"
)

// FileInfo describes one file in a [Listing].
type FileInfo struct {
	ID   FileID   `json:"id"`
	Kind FileKind `json:"kind"`
	// Name is the BA's file name, for the operator; never used as a path.
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	// Ref is the answered message for KindReply, empty otherwise.
	Ref         MessageID `json:"ref,omitempty"`
	AvailableAt time.Time `json:"available_at"`
}

// Listing is the answer to GET inbox: the files currently offered, oldest
// first. A file stays listed until it is deleted. The same reply may be
// offered more than once (the BA re-sends acknowledgements); receivers
// deduplicate by Ref and SHA256.
type Listing struct {
	Channel Channel    `json:"channel"`
	Files   []FileInfo `json:"files"`
}

// Validate checks every entry's IDs, kind and hash format; the error
// names the entry.
func (l Listing) Validate() error {
	for i, f := range l.Files {
		if err := f.ID.Validate(); err != nil {
			return fmt.Errorf("listing entry %d: %w", i, err)
		}
		switch f.Kind {
		case KindMessage:
		case KindReply:
			if err := f.Ref.Validate(); err != nil {
				return fmt.Errorf("listing entry %d (%s): reply without a valid ref: %w", i, f.ID, err)
			}
		default:
			return fmt.Errorf("listing entry %d (%s): kind %q: expected message or reply", i, f.ID, f.Kind)
		}
		if b, err := hex.DecodeString(f.SHA256); err != nil || len(b) != sha256.Size {
			return fmt.Errorf("listing entry %d (%s): sha256 %q is not 64 hex digits", i, f.ID, f.SHA256)
		}
		if f.Size < 0 {
			return fmt.Errorf("listing entry %d (%s): negative size %d", i, f.ID, f.Size)
		}
	}
	return nil
}

// Problem is the JSON body of every error answer.
type Problem struct {
	Status int         `json:"status"`
	Code   ProblemCode `json:"code"`
	Detail string      `json:"detail"`
}

func (p Problem) Error() string { return fmt.Sprintf("%d %s: %s", p.Status, p.Code, p.Detail) }

// ProblemCode names an error condition.
type ProblemCode string

const (
	// ProblemUnavailable: the receiver is overloaded or in maintenance;
	// retry after Retry-After.
	ProblemUnavailable ProblemCode = "unavailable"
	// ProblemBadRequest: malformed path, header or ID; do not retry.
	ProblemBadRequest ProblemCode = "bad_request"
	// ProblemLength: the body's length differs from Content-Length.
	ProblemLength ProblemCode = "length_mismatch"
	// ProblemDigest: the body's SHA-256 differs from Content-Digest.
	ProblemDigest ProblemCode = "digest_mismatch"
	// ProblemTooLarge: the body exceeds the receiver's limit.
	ProblemTooLarge ProblemCode = "too_large"
	// ProblemNotFound: unknown message or file.
	ProblemNotFound ProblemCode = "not_found"
	// ProblemPending: the reply is not there yet.
	ProblemPending ProblemCode = "pending"
	// ProblemConflict: the message ID was used before for a different body.
	ProblemConflict ProblemCode = "conflict"
)
