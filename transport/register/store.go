package register

import (
	"context"
	"io"
	"iter"
)

// Store is the register and the outbox in one transactional store: every
// outbox change appends its entry in the same transaction, so the two never
// disagree. There is one implementation (NewStore) over a Driver per
// database: sqlitestore (embedded default) and pgstore.
// All methods are safe for concurrent use, also from several processes on
// one database.
//
// There is deliberately no method to change or delete an entry.
type Store interface {
	// Append adds an entry with the next sequence number, the store's
	// clock time and the chain hash, and returns it. Invalid params give a
	// *FieldError (errors.Is ErrInvalidParams) and append nothing.
	Append(ctx context.Context, p AppendParams) (Entry, error)
	// Get returns entry seq, or an error wrapping ErrNotFound.
	Get(ctx context.Context, seq int64) (Entry, error)
	// List returns entries in sequence order after p.After, at most
	// p.Limit of them; an empty slice means there are no more.
	List(ctx context.Context, p ListParams) ([]Entry, error)
	// Verify checks, in one read snapshot, that the register is what its
	// chain says: it recomputes every entry's hash and link from the first
	// entry on and checks the last one against the stored head; then that
	// the append-only guards are in place, that every payload an entry
	// kept is held (unless a later "payload-deleted" entry names it) and
	// no other, that kept payloads read back whole (and, with
	// p.Payloads, match the size and SHA-256 their entries name), and
	// that each outbox message is in the state its last state entry
	// says. A broken chain is reported as a *ChainError (errors.Is
	// ErrChainBroken) naming the first broken entry, together with the
	// report up to it; anything else that disagrees as a *FindingsError
	// (errors.Is ErrInconsistent) with the full report; other errors mean
	// verification could not run. The report says what was not checked.
	Verify(ctx context.Context, p VerifyParams) (VerifyReport, error)

	// Enqueue puts a new message in state queued. An existing ID gives
	// ErrDuplicateMessage; a ResendOf that does not exist gives
	// ErrNotFound.
	Enqueue(ctx context.Context, p EnqueueParams) (Message, error)
	// Claim moves up to p.Limit claimable messages (queued, retry-wait that is due, or sending with an expired lease), oldest
	// first, to sending as a new attempt, and returns them. No message is
	// handed to two concurrent claimers. An empty slice means nothing is
	// due.
	Claim(ctx context.Context, p ClaimParams) ([]Message, error)
	// Transition applies t (see Apply) as a compare-and-set: the message
	// changes only if it is still in the state and attempt t expects,
	// else a *StateConflictError (errors.Is ErrStateConflict) and nothing
	// changes. An unknown ID gives ErrNotFound.
	Transition(ctx context.Context, t Transition) (Message, error)
	// Message returns the message with id, or ErrNotFound.
	Message(ctx context.Context, id MessageID) (Message, error)
	// Messages lists messages matching p, oldest first.
	Messages(ctx context.Context, p MessagesParams) ([]Message, error)

	// Payload returns a reader of the bytes kept for the payload sum (see
	// AppendParams.Data), as they were given, or an error wrapping
	// ErrNotFound when the store holds none (never stored, or deleted).
	Payload(ctx context.Context, sum Hash) (io.ReadCloser, error)
	// KeptPayloads lists the payloads the store keeps, by SHA-256, after
	// p.After; an empty slice means there are no more.
	KeptPayloads(ctx context.Context, p KeptPayloadsParams) ([]KeptPayload, error)
	// DeletePayload appends p, a "payload-deleted" entry naming the
	// payload, and removes the payload's kept bytes in the same
	// transaction (see checkDeletePayload). Entries keep the payload's
	// hash and size, so the chain still verifies. A payload the store does
	// not hold is recorded all the same.
	DeletePayload(ctx context.Context, p AppendParams) (Entry, error)

	// Access records a read of personal data (see AccessParams) in the
	// transaction in which it happens: it calls read (with the kept
	// bytes of p.Payload when p.ReadKept, else nil), which may complete
	// p's MessageID, Correlation and Payload once it knows what it read,
	// and appends the "accessed" entry. If read fails, nothing is
	// appended. The caller MUST NOT show anything before Access returns
	// without error: data is shown only once its access is committed.
	// Invalid params give a *FieldError before anything is read.
	Access(ctx context.Context, p *AccessParams, read func(kept io.Reader) error) (Entry, error)

	// PutDataKey stores k, a new data key wrapped under the tenant's
	// key-encryption key, unless a live key of its class and month exists:
	// it returns the live key, k or the one stored before (by a
	// concurrent sealer). Its Created time is the store's.
	PutDataKey(ctx context.Context, k DataKey) (DataKey, error)
	// DataKey returns the data key id (also a destroyed one), or an error
	// wrapping ErrNotFound.
	DataKey(ctx context.Context, id string) (DataKey, error)
	// DataKeys lists data keys by ID after p.After; an empty slice means
	// there are no more.
	DataKeys(ctx context.Context, p DataKeysParams) ([]DataKey, error)
	// RewrapDataKeys re-wraps every live data key with p.Rewrap and
	// appends p.Entry ("kek-rotated"), all in one transaction: either all
	// keys are under the new key-encryption key or none. Payloads are not
	// touched. It returns how many keys it re-wrapped.
	RewrapDataKeys(ctx context.Context, p RewrapParams) (int, Entry, error)
	// DestroyDataKey overwrites data key id's wrapped form for good and
	// appends p ("data-key-destroyed") in the same transaction: every
	// payload sealed with the key is unreadable from then on, all others
	// stay readable. A key destroyed already gives ErrStateConflict.
	DestroyDataKey(ctx context.Context, id string, p AppendParams) (Entry, error)

	// Tenant is the tenant the register belongs to (see OpenStore); every
	// entry appended carries it in its hash. Empty for a store made with
	// NewStore, whose entries carry no tenant.
	Tenant() TenantID

	// ServiceStore keeps the service mode's job runs, leases and open
	// incidents, each change with its chain entry.
	ServiceStore

	// Close releases the store.
	Close() error
}

// ListParams selects entries.
type ListParams struct {
	// After: only entries with a greater sequence number. 0 starts at the
	// first.
	After int64
	// Limit: at most this many; defaults to 1000, at most 10000.
	Limit int
	// MessageID: only entries for this message (as MessageID or Related).
	MessageID MessageID
}

// checkList fills ListParams defaults.
func checkList(p ListParams) (ListParams, error) {
	if p.Limit == 0 {
		p.Limit = 1000
	}
	if p.Limit < 0 || p.Limit > 10000 {
		return p, &FieldError{Field: "Limit", Expected: "1 to 10000 (0 for 1000)"}
	}
	if p.After < 0 {
		return p, &FieldError{Field: "After", Expected: "0 or more"}
	}
	return p, nil
}

// KeptPayloadsParams selects kept payloads.
type KeptPayloadsParams struct {
	// After: only payloads whose SHA-256 sorts after this; zero starts at
	// the first.
	After Hash
	// Limit: at most this many; defaults to 1000, at most 10000.
	Limit int
}

// MessagesParams selects messages. Zero fields do not filter.
type MessagesParams struct {
	State       MessageState
	Correlation CorrelationKey
	// Limit: at most this many; defaults to 1000, at most 10000.
	Limit int
}

// checkMessages fills MessagesParams defaults.
func checkMessages(p MessagesParams) (MessagesParams, error) {
	if p.Limit == 0 {
		p.Limit = 1000
	}
	if p.Limit < 0 || p.Limit > 10000 {
		return p, &FieldError{Field: "Limit", Expected: "1 to 10000 (0 for 1000)"}
	}
	if p.State != "" && !p.State.Valid() {
		return p, &FieldError{Field: "State", Expected: "one of register.MessageStates()"}
	}
	return p, nil
}

// All iterates over every entry of s in sequence order (matching
// messageID if not empty), fetching pages of 1000. It stops at the first
// error, which it yields.
func All(ctx context.Context, s Store, messageID MessageID) iter.Seq2[Entry, error] {
	return func(yield func(Entry, error) bool) {
		var after int64
		for {
			page, err := s.List(ctx, ListParams{After: after, Limit: 1000, MessageID: messageID})
			if err != nil {
				yield(Entry{}, err)
				return
			}
			if len(page) == 0 {
				return
			}
			for _, e := range page {
				if !yield(e, nil) {
					return
				}
			}
			after = page[len(page)-1].Seq()
		}
	}
}
