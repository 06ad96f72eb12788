package register

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors. Backends wrap them with %w; test with errors.Is.
var (
	// ErrNotFound: no entry or message with the given key exists.
	ErrNotFound = errors.New("not found")
	// ErrDuplicateMessage: Enqueue was given a message ID that already exists.
	ErrDuplicateMessage = errors.New("message ID already exists")
	// ErrStateConflict: a guarded transition found the message in another
	// state or attempt than it expected; nothing was changed. The concrete
	// error is a *StateConflictError.
	ErrStateConflict = errors.New("message is not in the expected state")
	// ErrChainBroken: verification found an entry whose hash or link does
	// not match. The concrete error is a *ChainError.
	ErrChainBroken = errors.New("register chain is broken")
	// ErrInconsistent: the chain is intact, but something the chain
	// vouches for disagrees with it: a kept payload, an outbox message, an
	// append-only guard or an expected head. The concrete error is a
	// *FindingsError listing each finding.
	ErrInconsistent = errors.New("register does not agree with its chain")
	// ErrInvalidParams: an append, enqueue or transition was refused before
	// anything was written because a field is malformed. The concrete error
	// is a *FieldError naming the field.
	ErrInvalidParams = errors.New("invalid register parameters")
	// ErrSchemaVersion: the database was written by a newer Meldeweg (its
	// schema version is higher than this binary knows) or its version
	// record is damaged. Nothing was migrated.
	ErrSchemaVersion = errors.New("unsupported register schema version")
)

// FieldError names the field that made parameters invalid and what was
// expected. It never repeats the offending value, which may hold personal
// data.
type FieldError struct {
	Field    string // e.g. "Correlation", "Actor"
	Expected string // e.g. "digits only, 1 to 12 of them"
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("register: field %s: expected %s", e.Field, e.Expected)
}

// Unwrap makes errors.Is(err, ErrInvalidParams) true.
func (e *FieldError) Unwrap() error { return ErrInvalidParams }

// StateConflictError is the evidence for ErrStateConflict: what the
// transition required and what the store found.
type StateConflictError struct {
	ID MessageID
	// Want are the states the transition may start from.
	Want []MessageState
	// WantAttempt is the attempt the transition was bound to; 0 if any.
	WantAttempt int
	// Found and FoundAttempt describe the row as it was.
	Found        MessageState
	FoundAttempt int
}

func (e *StateConflictError) Error() string {
	want := make([]string, len(e.Want))
	for i, s := range e.Want {
		want[i] = string(s)
	}
	msg := fmt.Sprintf("message %s: expected state %s", e.ID, strings.Join(want, " or "))
	if e.WantAttempt > 0 {
		msg += fmt.Sprintf(" at attempt %d", e.WantAttempt)
	}
	return msg + fmt.Sprintf(", found %s at attempt %d", e.Found, e.FoundAttempt)
}

// Unwrap makes errors.Is(err, ErrStateConflict) true.
func (e *StateConflictError) Unwrap() error { return ErrStateConflict }

// ChainError is the evidence for ErrChainBroken: the first entry that does
// not verify, the hash verification expected and the one it found.
type ChainError struct {
	// Seq is the sequence number of the first broken entry (1-based).
	Seq int64
	// Reason says which check failed, e.g. "stored hash does not match the
	// entry's contents".
	Reason string
	// Expected is what verification computed; Found is what is stored.
	Expected, Found Hash
}

func (e *ChainError) Error() string {
	return fmt.Sprintf("register entry %d: %s: expected %s, found %s", e.Seq, e.Reason, e.Expected, e.Found)
}

// Unwrap makes errors.Is(err, ErrChainBroken) true.
func (e *ChainError) Unwrap() error { return ErrChainBroken }
