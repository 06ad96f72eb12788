package register

import (
	"context"
	"time"
)

// Driver is one database dialect under the register: the few reads and
// writes that differ between SQLite and PostgreSQL. NewStore writes every
// Store operation once over it (style: river's driver interface, much
// smaller). Its methods take a context and one params struct and return
// the register's own types, never database types, so a new field breaks
// no backend.
//
// Backends: sqlitestore and pgstore. A Driver is not used on its own;
// open a backend, which returns a Store.
type Driver interface {
	// Executor runs single reads outside a transaction (Payload reads,
	// Get, List, Message, Messages).
	Executor
	// Write runs fn in one write transaction and returns once it is
	// committed (durably) or rolled back: rolled back if fn returns an
	// error, which Write returns. The head, entries, payloads and
	// messages fn changes commit together or not at all.
	Write(ctx context.Context, fn func(Executor) error) error
	// Snapshot runs fn in a read-only transaction that sees one
	// consistent state of the whole database (Verify).
	Snapshot(ctx context.Context, fn func(Executor) error) error
	// Close releases the database.
	Close() error
}

// Executor is the set of dialect operations, inside or outside a
// transaction. A missing row gives an error wrapping ErrNotFound.
type Executor interface {
	// HeadGet reads the register head. With ForUpdate, inside Write, it
	// also locks it until the transaction ends, so appends are serialised.
	HeadGet(ctx context.Context, p *HeadGetParams) (Head, error)
	// HeadSet moves the head.
	HeadSet(ctx context.Context, p *HeadSetParams) error
	// EntryInsert inserts entries as given (already chained).
	EntryInsert(ctx context.Context, p *EntryInsertParams) error
	// EntryGet reads one entry.
	EntryGet(ctx context.Context, p *EntryGetParams) (Record, error)
	// EntryList reads entries in sequence order.
	EntryList(ctx context.Context, p *EntryListParams) ([]Record, error)

	// PayloadInsert claims a payload's address: false if the store keeps
	// that payload already (then nothing changes).
	PayloadInsert(ctx context.Context, p *PayloadInsertParams) (bool, error)
	// PayloadChunkInsert stores one chunk of a payload being kept.
	PayloadChunkInsert(ctx context.Context, p *PayloadChunkInsertParams) error
	// PayloadSetSize records a kept payload's size and chunk count once
	// all chunks are in.
	PayloadSetSize(ctx context.Context, p *PayloadSetSizeParams) error
	// PayloadGet reads what is known about one kept payload.
	PayloadGet(ctx context.Context, p *PayloadGetParams) (KeptPayload, error)
	// PayloadChunkGet reads one chunk of a kept payload.
	PayloadChunkGet(ctx context.Context, p *PayloadChunkGetParams) ([]byte, error)
	// PayloadList lists kept payloads by SHA-256.
	PayloadList(ctx context.Context, p *PayloadListParams) ([]KeptPayload, error)
	// PayloadDelete removes a kept payload and its chunks; a payload
	// not kept is no error.
	PayloadDelete(ctx context.Context, p *PayloadDeleteParams) error

	// MessageInsert stores a new message; an existing ID gives an error
	// wrapping ErrDuplicateMessage.
	MessageInsert(ctx context.Context, p *MessageInsertParams) error
	// MessageGet reads one message. With ForUpdate, inside Write, it also
	// locks its row until the transaction ends.
	MessageGet(ctx context.Context, p *MessageGetParams) (Message, error)
	// MessageSetState is the compare-and-set of the outbox: it writes
	// New's state, attempt, times, claim and last error over the row only
	// if that is still in Old's state and attempt, and reports whether it
	// did.
	MessageSetState(ctx context.Context, p *MessageSetStateParams) (bool, error)
	// MessageListClaimable lists candidates for a claim, oldest first:
	// queued, retry-wait due at Now, and sending claimed at or before
	// LeaseBefore. Inside Write the rows are locked for the transaction;
	// rows another transaction holds are skipped where the dialect can
	// (PostgreSQL), else waited for. The caller still checks Claimable.
	MessageListClaimable(ctx context.Context, p *MessageListClaimableParams) ([]Message, error)
	// MessageList lists messages oldest first (created, then ID).
	MessageList(ctx context.Context, p *MessageListParams) ([]Message, error)

	// TenantGet reads the register's tenant binding (ErrNotFound if it
	// records none yet).
	TenantGet(ctx context.Context, p *TenantGetParams) (TenantBinding, error)
	// TenantSet records the register's tenant binding, once.
	TenantSet(ctx context.Context, p *TenantSetParams) error

	// DataKeyGet reads one data key by ID, or the live (not destroyed)
	// key of a class and month.
	DataKeyGet(ctx context.Context, p *DataKeyGetParams) (DataKey, error)
	// DataKeyInsert stores a new data key.
	DataKeyInsert(ctx context.Context, p *DataKeyInsertParams) error
	// DataKeyList lists data keys by ID.
	DataKeyList(ctx context.Context, p *DataKeyListParams) ([]DataKey, error)
	// DataKeySetWrapped replaces a live key's wrapped form if it is still
	// wrapped under OldKEKID, and reports whether it did.
	DataKeySetWrapped(ctx context.Context, p *DataKeySetWrappedParams) (bool, error)
	// DataKeyDestroy overwrites a key's wrapped form and marks it
	// destroyed.
	DataKeyDestroy(ctx context.Context, p *DataKeyDestroyParams) error

	// GuardList reports, for every append-only guard the dialect puts on
	// the entries (triggers), whether it is in place and working.
	GuardList(ctx context.Context, p *GuardListParams) ([]Guard, error)

	// ServiceExecutor keeps the service's job leases, runs and open
	// incidents (migration 004).
	ServiceExecutor
}

// HeadGetParams: see Executor.HeadGet.
type HeadGetParams struct {
	ForUpdate bool
}

// HeadSetParams: see Executor.HeadSet.
type HeadSetParams struct {
	Head Head
}

// EntryInsertParams: see Executor.EntryInsert.
type EntryInsertParams struct {
	Entries []Record
}

// EntryGetParams: see Executor.EntryGet.
type EntryGetParams struct {
	Seq int64
}

// EntryListParams: see Executor.EntryList.
type EntryListParams struct {
	After int64 // only entries with a greater sequence number
	Limit int
	// MessageID: only entries whose MessageID or Related is this.
	MessageID MessageID
}

// KeptPayload is what a store knows about a payload it keeps, without
// its bytes.
type KeptPayload struct {
	SHA256 Hash
	// StoredSize is the number of bytes kept (sealed, so larger than the
	// payload's own size).
	StoredSize int64
	// Chunks is the number of chunks the bytes are kept in.
	Chunks int
}

// PayloadInsertParams: see Executor.PayloadInsert.
type PayloadInsertParams struct {
	SHA256 Hash
	At     time.Time
}

// PayloadChunkInsertParams: see Executor.PayloadChunkInsert.
type PayloadChunkInsertParams struct {
	SHA256 Hash
	N      int // from 0
	Data   []byte
}

// PayloadSetSizeParams: see Executor.PayloadSetSize.
type PayloadSetSizeParams struct {
	SHA256     Hash
	StoredSize int64
	Chunks     int
}

// PayloadGetParams: see Executor.PayloadGet.
type PayloadGetParams struct {
	SHA256 Hash
}

// PayloadChunkGetParams: see Executor.PayloadChunkGet.
type PayloadChunkGetParams struct {
	SHA256 Hash
	N      int
}

// PayloadListParams: see Executor.PayloadList.
type PayloadListParams struct {
	After Hash // only payloads whose SHA-256 sorts after this
	Limit int
}

// PayloadDeleteParams: see Executor.PayloadDelete.
type PayloadDeleteParams struct {
	SHA256 Hash
}

// MessageInsertParams: see Executor.MessageInsert.
type MessageInsertParams struct {
	Message Message
}

// MessageGetParams: see Executor.MessageGet.
type MessageGetParams struct {
	ID        MessageID
	ForUpdate bool
}

// MessageSetStateParams: see Executor.MessageSetState.
type MessageSetStateParams struct {
	Old, New Message
}

// MessageListClaimableParams: see Executor.MessageListClaimable.
type MessageListClaimableParams struct {
	Now time.Time
	// LeaseBefore: sending messages claimed at or before this are
	// candidates; the zero time means none are.
	LeaseBefore time.Time
	Channel     Channel   // "" for any
	ID          MessageID // "" for any
	Limit       int
}

// MessageListParams: see Executor.MessageList. Zero fields do not filter.
type MessageListParams struct {
	State       MessageState
	Correlation CorrelationKey
	// AfterCreated and AfterID continue a listing after the message last
	// seen (used when AfterID is set).
	AfterCreated time.Time
	AfterID      MessageID
	Limit        int
}

// GuardListParams: see Executor.GuardList.
type GuardListParams struct{}

// Guard is one append-only guard on the entries (a trigger).
type Guard struct {
	Name string
	// Intact: present, enabled and refusing what it should.
	Intact bool
	// Problem says what is wrong when it is not intact.
	Problem string
}

// TenantGetParams: see Executor.TenantGet.
type TenantGetParams struct{}

// TenantSetParams: see Executor.TenantSet.
type TenantSetParams struct {
	Binding TenantBinding
}
