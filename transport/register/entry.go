package register

import (
	"crypto/sha256"
	"encoding/binary"
	"io"
	"log/slog"
	"time"
)

// AppendParams is what a caller supplies for a new entry. The store adds
// the sequence number, the time (from its clock) and the chain hashes.
//
// No field may hold personal data. Shapes are checked: Correlation is built
// from a Trägernummer, a Maßnahmeschlüssel and a Pseudonym only; Endpoint is
// a name or a URL without user info, query or fragment; Detail is one line
// of at most 512 printable characters and is for operator-facing causes
// ("HTTP 503", "rule R13_0030"), never for names or Kundennummern.
type AppendParams struct {
	Direction   Direction      // required; "" for the register-level events checkpoint and accessed
	Channel     Channel        // required; "" for checkpoint, optional for accessed
	Event       Event          // required
	Actor       Actor          // required
	Endpoint    string         // optional: where it was sent or fetched
	MessageID   MessageID      // optional: the stable message ID
	Related     MessageID      // optional: the message this one resends, corrects or answers
	Correlation CorrelationKey // optional: the business case
	Attempt     int            // optional: send attempt number, 1-based; 0 if not an attempt
	Payload     PayloadRef     // optional: the payload concerned
	Detail      string         // optional: cause or outcome, no personal data
	// Data, if set, is the payload's bytes as kept at rest: what
	// register/payload made of them (encrypted; a store never sees
	// plaintext). The store keeps them under Payload.SHA256 in the same
	// transaction as the entry, unless it holds that payload already, so
	// an entry can never name a payload whose bytes were not kept. It is
	// read to the end once; it is not part of the entry or its hash.
	Data io.Reader
}

func (p AppendParams) validate() error {
	switch {
	case p.Event == EventCheckpoint && (p.Direction != "" || p.Channel != ""):
		return &FieldError{Field: "Direction", Expected: `"" and Channel "" for a checkpoint entry`}
	case p.Event == EventAccessed && p.Direction != "":
		return &FieldError{Field: "Direction", Expected: `"" for an accessed entry`}
	case p.Event == EventAccessed && p.Channel != "" && p.Channel != ChannelXSozial && p.Channel != ChannelEmaw:
		return &FieldError{Field: "Channel", Expected: `"", "xsozial" or "emaw"`}
	case p.Event == EventCheckpoint || p.Event == EventAccessed:
	case p.Direction != DirectionOut && p.Direction != DirectionIn:
		return &FieldError{Field: "Direction", Expected: `"out" or "in"`}
	case p.Channel != ChannelXSozial && p.Channel != ChannelEmaw && p.Channel != ChannelConsole && p.Channel != ChannelService:
		return &FieldError{Field: "Channel", Expected: `"xsozial", "emaw", "console" or "service"`}
	case !p.Event.valid():
		return &FieldError{Field: "Event", Expected: "one of register.Events()"}
	case p.MessageID != "" && !p.MessageID.Valid():
		return &FieldError{Field: "MessageID", Expected: "1 to 128 characters from [A-Za-z0-9._:-]"}
	case p.Related != "" && !p.Related.Valid():
		return &FieldError{Field: "Related", Expected: "1 to 128 characters from [A-Za-z0-9._:-]"}
	case !validEndpoint(p.Endpoint):
		return &FieldError{Field: "Endpoint", Expected: "a name from [A-Za-z0-9._@-] or an http(s) URL without user info, query or fragment"}
	case p.Attempt < 0:
		return &FieldError{Field: "Attempt", Expected: "0 or more"}
	case p.Payload.Size < 0 || (p.Payload.SHA256.IsZero() && p.Payload.Size != 0):
		return &FieldError{Field: "Payload", Expected: "a SHA-256 with a size of 0 or more, or the zero PayloadRef"}
	case !validDetail(p.Detail):
		return &FieldError{Field: "Detail", Expected: "one line of at most 512 printable characters"}
	case p.Data != nil && p.Payload.IsZero():
		return &FieldError{Field: "Data", Expected: "no data, or data with the Payload it is kept under"}
	}
	if _, err := ParseCorrelationKey(p.Correlation.s); err != nil {
		return err
	}
	return p.Actor.validate()
}

// Entry is one immutable register record. Its fields are unexported and
// read through accessors; only newEntry computes a chain hash, and
// RecordEntry restores a stored entry as found so that Verify can judge it.
type Entry struct {
	seq      int64
	time     time.Time
	p        AppendParams // without Data
	kept     bool         // the entry kept its payload's bytes (p.Data was set)
	tenant   TenantID     // the tenant whose register holds it; empty before tenant binding
	prevHash Hash
	hash     Hash
}

// newEntry builds the entry that follows prev (the zero Hash for the first
// entry) as number seq at time at, and computes its chain hash. The time is
// converted to UTC and truncated to microseconds, the precision every
// backend stores. Invalid params give a *FieldError and no entry.
func newEntry(prev Hash, seq int64, at time.Time, p AppendParams) (Entry, error) {
	return newTenantEntry("", prev, seq, at, p)
}

// newTenantEntry is newEntry for the register of tenant (empty: a
// register from before tenant binding), whose ID the hash then covers.
func newTenantEntry(tenant TenantID, prev Hash, seq int64, at time.Time, p AppendParams) (Entry, error) {
	if seq < 1 {
		return Entry{}, &FieldError{Field: "Seq", Expected: "1 or more"}
	}
	if err := p.validate(); err != nil {
		return Entry{}, err
	}
	e := Entry{seq: seq, time: at.UTC().Truncate(time.Microsecond), p: p, kept: p.Data != nil, tenant: tenant, prevHash: prev}
	e.p.Data = nil
	e.hash = e.computeHash()
	return e, nil
}

// chainEntries builds the entries of ps, in order, to follow the register
// head (prev, seq): each chains to the one before it, and the last is the
// new head. The store reads its head once per write, appends what
// chainEntries returns and advances the head once. Invalid params give a
// *FieldError and no entries.
func chainEntries(prev Hash, seq int64, at time.Time, ps []AppendParams) ([]Entry, error) {
	return chainTenantEntries("", prev, seq, at, ps)
}

// chainTenantEntries is chainEntries for the register of tenant.
func chainTenantEntries(tenant TenantID, prev Hash, seq int64, at time.Time, ps []AppendParams) ([]Entry, error) {
	es := make([]Entry, 0, len(ps))
	for _, p := range ps {
		seq++
		e, err := newTenantEntry(tenant, prev, seq, at, p)
		if err != nil {
			return nil, err
		}
		es = append(es, e)
		prev = e.hash
	}
	return es, nil
}

// Accessors.
func (e Entry) Seq() int64                  { return e.seq }
func (e Entry) Time() time.Time             { return e.time }
func (e Entry) Direction() Direction        { return e.p.Direction }
func (e Entry) Channel() Channel            { return e.p.Channel }
func (e Entry) Event() Event                { return e.p.Event }
func (e Entry) Actor() Actor                { return e.p.Actor }
func (e Entry) Endpoint() string            { return e.p.Endpoint }
func (e Entry) MessageID() MessageID        { return e.p.MessageID }
func (e Entry) Related() MessageID          { return e.p.Related }
func (e Entry) Correlation() CorrelationKey { return e.p.Correlation }
func (e Entry) Attempt() int                { return e.p.Attempt }
func (e Entry) Payload() PayloadRef         { return e.p.Payload }
func (e Entry) Detail() string              { return e.p.Detail }

// PayloadKept reports whether the store kept the payload's bytes with this
// entry (AppendParams.Data was given): until a later "payload-deleted"
// entry names it, the store must hold it, which Verify checks. Entries
// written before Meldeweg recorded this report false.
func (e Entry) PayloadKept() bool { return e.kept }
func (e Entry) PrevHash() Hash    { return e.prevHash }

// Tenant is the tenant whose register the entry was appended to, which
// its hash covers; empty for entries written before tenant binding.
func (e Entry) Tenant() TenantID { return e.tenant }
func (e Entry) Hash() Hash       { return e.hash }

// LogValue logs the entry's keys only: no field holds personal data, but
// Detail is left out to keep log lines short.
func (e Entry) LogValue() slog.Value {
	return slog.GroupValue(
		slog.Int64("seq", e.seq), slog.String("event", string(e.p.Event)),
		slog.String("message_id", string(e.p.MessageID)), slog.String("hash", e.hash.String()))
}

// The canonical encoding's versions head it; a new encoding gets a new
// version and Verify keeps accepting the old ones. Version 2 is version 1
// with one more number, 1, before the previous entry's hash, saying that
// the entry kept its payload's bytes; it is used exactly for those
// entries, so every other entry hashes as it always did, and an entry
// cannot claim or disown a kept payload without breaking its hash.
// Version 3 binds the entry to its tenant: the tenant ID follows the
// version string, and the kept flag (0 or 1) is always written; it is
// used for every entry with a tenant, so an entry copied into another
// tenant's register does not verify there.
const (
	encodingVersion       = "meldeweg register entry v1"
	encodingVersionKept   = "meldeweg register entry v2"
	encodingVersionTenant = "meldeweg register entry v3"
)

// computeHash is the one place the chain hash is computed: SHA-256 over a
// canonical encoding of every field, each length-prefixed (strings and
// hashes as uint32 length + bytes, numbers as 8-byte big-endian), in a
// fixed order, starting with the encoding version and ending with the
// previous entry's hash (see encodingVersionKept for version 2).
func (e Entry) computeHash() Hash {
	h := sha256.New()
	switch {
	case e.tenant != "":
		writeString(h, encodingVersionTenant)
		writeString(h, string(e.tenant))
	case e.kept:
		writeString(h, encodingVersionKept)
	default:
		writeString(h, encodingVersion)
	}
	writeInt(h, e.seq)
	writeInt(h, e.time.UnixMicro())
	writeString(h, string(e.p.Direction))
	writeString(h, string(e.p.Channel))
	writeString(h, string(e.p.Event))
	writeString(h, e.p.Actor.String())
	writeString(h, e.p.Endpoint)
	writeString(h, string(e.p.MessageID))
	writeString(h, string(e.p.Related))
	writeString(h, e.p.Correlation.s)
	writeInt(h, int64(e.p.Attempt))
	writeBytes(h, e.p.Payload.SHA256[:])
	writeInt(h, e.p.Payload.Size)
	writeString(h, e.p.Detail)
	switch {
	case e.tenant != "" && e.kept:
		writeInt(h, 1)
	case e.tenant != "":
		writeInt(h, 0)
	case e.kept:
		writeInt(h, 1)
	}
	writeBytes(h, e.prevHash[:])
	var out Hash
	h.Sum(out[:0])
	return out
}

func writeString(w io.Writer, s string) { writeBytes(w, []byte(s)) }

func writeBytes(w io.Writer, b []byte) {
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(b)))
	w.Write(n[:])
	w.Write(b)
}

func writeInt(w io.Writer, v int64) {
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(v))
	w.Write(n[:])
}

// Record is the storage and export form of an entry: every field as plain
// text or numbers, hashes in hex. Backends and exports use it; it is not a
// way to build entries (a Record's hashes are whatever was stored).
type Record struct {
	Seq           int64     `json:"seq"`
	Time          time.Time `json:"time"`
	Direction     string    `json:"direction"`
	Channel       string    `json:"channel"`
	Event         string    `json:"event"`
	Actor         string    `json:"actor"`
	Endpoint      string    `json:"endpoint,omitempty"`
	MessageID     string    `json:"message_id,omitempty"`
	Related       string    `json:"related,omitempty"`
	Correlation   string    `json:"correlation,omitempty"`
	Attempt       int       `json:"attempt,omitempty"`
	PayloadSHA256 Hash      `json:"payload_sha256"`
	PayloadSize   int64     `json:"payload_size"`
	PayloadKept   bool      `json:"payload_kept,omitempty"`
	Tenant        string    `json:"tenant,omitempty"`
	Detail        string    `json:"detail,omitempty"`
	PrevHash      Hash      `json:"prev_hash"`
	Hash          Hash      `json:"hash"`
}

// Record returns e's storage form.
func (e Entry) Record() Record {
	return Record{
		Seq: e.seq, Time: e.time, Direction: string(e.p.Direction), Channel: string(e.p.Channel),
		Event: string(e.p.Event), Actor: e.p.Actor.String(), Endpoint: e.p.Endpoint,
		MessageID: string(e.p.MessageID), Related: string(e.p.Related), Correlation: e.p.Correlation.s,
		Attempt: e.p.Attempt, PayloadSHA256: e.p.Payload.SHA256, PayloadSize: e.p.Payload.Size, PayloadKept: e.kept,
		Tenant: string(e.tenant), Detail: e.p.Detail, PrevHash: e.prevHash, Hash: e.hash,
	}
}

// RecordEntry restores a stored entry exactly as found, without checking
// shapes or recomputing the hash: a tampered row must load so that Verify
// can name it. An auditor uses it to verify an export (VerifyChain).
func RecordEntry(r Record) Entry {
	kind, name, _ := cutActor(r.Actor)
	return Entry{
		seq:  r.Seq,
		time: r.Time.UTC(),
		p: AppendParams{
			Direction: Direction(r.Direction), Channel: Channel(r.Channel), Event: Event(r.Event),
			Actor: Actor{kind: kind, name: name}, Endpoint: r.Endpoint, MessageID: MessageID(r.MessageID),
			Related: MessageID(r.Related), Correlation: CorrelationKey{r.Correlation}, Attempt: r.Attempt,
			Payload: PayloadRef{SHA256: r.PayloadSHA256, Size: r.PayloadSize}, Detail: r.Detail,
		},
		kept:     r.PayloadKept,
		tenant:   TenantID(r.Tenant),
		prevHash: r.PrevHash,
		hash:     r.Hash,
	}
}

func cutActor(s string) (ActorKind, string, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == ':' {
			return ActorKind(s[:i]), s[i+1:], true
		}
	}
	return ActorKind(s), "", false
}
