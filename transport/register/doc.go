// Package register is Meldeweg's tamper-evident record of everything that
// happens to a message, and the durable outbox that drives sending. It is
// the shared vocabulary (entries, states, errors, the Store interface,
// verification and export) and the one implementation of Store
// (NewStore), written once over a narrow Driver per database dialect; the
// dialects live in sub-packages:
//
//   - sqlitestore: the embedded default (modernc.org/sqlite, no cgo).
//   - pgstore: PostgreSQL via pgx v5, for several instances sharing one
//     outbox.
//   - payload: seals payloads for rest (encrypts them with the instance
//     key) and reads them back; the stores keep the sealed bytes, addressed
//     by the SHA-256 of the plaintext, in the same transaction as the entry
//     that first names them (AppendParams.Data, Store.Payload,
//     Store.DeletePayload), so no entry names a payload that was not kept.
//   - registertest: the conformance suite every backend passes.
//
// # Entries and the chain
//
// An Entry records one event (built, checked, sealed, queued, sending,
// sent, retry-wait, acknowledged, rejected, dead, receipt, feedback,
// received, payload-deleted, attempt, checkpoint, kek-rotated,
// data-key-destroyed; and from the web console and the logged reads
// accessed, admin, taken-over, done) with its sequence number, UTC time from the
// store's clock, direction, channel, endpoint, message ID, related message
// ID, correlation key, attempt, payload SHA-256 and size, actor and a short
// detail. Its hash is SHA-256 over a canonical, versioned encoding of all
// of these and the previous entry's hash (see newEntry, the only place a
// hash is computed). Each store also keeps a head (last sequence number and
// hash) updated in the same transaction, so removing entries from the end
// is noticed too. VerifyChain recomputes everything and names the first
// broken entry in a *ChainError. An entry that kept its payload's bytes
// (AppendParams.Data) says so (Entry.PayloadKept, encoding v2), so the
// chain knows which payloads the store must hold.
//
// # Tenants and data keys
//
// A register belongs to one tenant (a Träger or provider site). Backends
// open it with OpenStore, which records the tenant at the first open
// (register_tenant, migration 005) and refuses any later open as another
// tenant with a *TenantMismatchError naming both. From then on every
// entry carries the tenant inside its hash (encoding v3), so an entry
// copied into another tenant's register does not verify there; Verify
// checks that every entry from the binding on carries the tenant and none
// before it does. Entries written before tenant binding keep encodings v1
// and v2 and still verify.
//
// The register also keeps the tenant's data keys wrapped under its
// key-encryption key (DataKey, PutDataKey, RewrapDataKeys), never in the
// clear; DestroyDataKey clears one for good and records a
// "data-key-destroyed" entry in the same transaction. payload does the
// wrapping and the sealing.
//
// There is no API to change or delete an entry. Both backends refuse UPDATE
// and DELETE on the entry table with triggers; someone with direct write
// access to the database can drop the triggers, which is why Verify exists
// and why auditors should keep the head hash of each export.
//
// # Verification
//
// Store.Verify reads one snapshot and checks, beyond the chain, what the
// chain vouches for: the append-only triggers are present and enabled;
// every payload an entry kept is held unless a later "payload-deleted"
// entry names it, no payload is held that no entry names, and each kept
// payload reads back whole — with a PayloadChecker (payload.Store, which
// has the key) also its size and SHA-256; every outbox message is in the
// state and attempt its last state entry says and has the payload,
// channel, endpoint and correlation of its "queued" entry; and, given an
// expected head noted earlier, the chain still contains it. Disagreements
// are Findings with the evidence (entry, expected and found values), never
// payload contents; the report says what was not checked.
//
// # No personal data in plain fields
//
// Correlation keys are built from a Trägernummer and month (XSozialKey) or
// a Maßnahmeschlüssel and a participant Pseudonym (EmawKey): an HMAC of
// Kundennummer and cosachid under a per-instance key, never the raw
// values. Endpoints may not carry user info, query or fragment; actors and
// message IDs have restricted alphabets. Detail is free text for causes
// ("HTTP 503", "rule R13_0030") and must not be given personal data.
//
// # The outbox
//
// Each outbound message moves through an explicit state machine. Every
// transition is a compare-and-set on (state, attempt) and appends its
// entry in the same transaction:
//
//	Enqueue ─▶ queued ──Claim──▶ sending ──MarkSent──▶ sent ──MarkAcknowledged──▶ acknowledged
//	                               │  ▲                  │
//	                     MarkRetry │  │ Claim (due)      │ MarkRetry (BA asks for re-delivery)
//	                               ▼  │                  │
//	                             retry-wait ◀────────────┘
//
//	sending, sent ──MarkRejected──▶ rejected
//	sending ──Claim after the lease expired (worker died)──▶ sending, next attempt
//	MarkRetry with no attempts left, or MarkDead from any non-final state ──▶ dead
//
// The same as a table (Apply and claimMessage implement exactly this):
//
//	from                 transition                      to
//	(none)               Enqueue                         queued
//	queued               Claim                           sending, attempt 1
//	retry-wait           Claim, from NextAttemptAt on    sending, attempt n+1
//	sending              Claim, after the lease          sending, attempt n+1
//	sending              MarkSent(attempt n)             sent
//	sending, sent        MarkRetry(attempt n)            retry-wait; dead if n = MaxAttempts
//	sent                 MarkAcknowledged                acknowledged (final)
//	sending, sent        MarkRejected                    rejected (final)
//	any non-final state  MarkDead                        dead (final)
//
// Claim takes queued messages, retry-wait messages whose NextAttemptAt has
// come, and sending messages whose worker's lease expired (the worker died
// mid-upload); each claim is a new attempt (Attempt+1) under the same
// stable MessageID, which the client sends in a header so the receiver
// drops duplicates. A resend after rejected or dead is a new message whose
// ResendOf (and its entries' Related) links it to the original.
// MarkRetry turns into dead once Attempt reaches MaxAttempts; Apply is the
// one function that decides transitions, shared by both backends.
//
// # Limits
//
// Verify holds a few dozen bytes per distinct payload and message in
// memory (it streams entries and payload bytes). It cannot tell whether
// entries written before Meldeweg recorded kept payloads (schema version
// 2 and older) kept theirs, so for those only the payloads still held are
// checked. A chain truncated together with its head is only noticed
// against an expected head noted earlier; signed checkpoints do not exist
// yet.
//
// # What each backend cannot do
//
// SQLite: one writer at a time per database file. Every write transaction
// starts with BEGIN IMMEDIATE and waits up to the busy timeout (default 10
// s) for the lock; claims from several processes on one file are therefore
// serialised rather than skipped past (there is no SKIP LOCKED). The file
// must be on a local disk (WAL does not work over network file systems).
// Commits are synchronous (synchronous=FULL): a single caller appending in
// a loop is bounded by the disk's fsync rate (about 500–1,300 a second on
// the development machine); concurrent writers within one process share a
// transaction and its fsync (group commit, each under its own savepoint),
// which is how the store passes 2,000 appends a second.
//
// PostgreSQL: appends are serialised on the head row (SELECT … FOR UPDATE),
// so append throughput is bounded by one transaction at a time; claims use
// FOR UPDATE SKIP LOCKED and do run in parallel across instances. The
// immutability triggers bind every role except one that may drop them
// (the table owner); run Meldeweg as a role that does not own the tables
// if that matters.

package register
