package register

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"
)

// NewStore returns the Store that runs every operation over d: the one
// implementation of the register's orchestration (append, enqueue,
// claim, transition, payloads, verify) for every backend. Backends call
// it from their Open; clock gives entry and message times and defaults to
// time.Now. Close closes d.
func NewStore(d Driver, clock Clock) Store {
	if clock == nil {
		clock = time.Now
	}
	return &dbStore{d: d, clock: clock}
}

type dbStore struct {
	d      Driver
	clock  Clock
	tenant TenantID // empty: not bound (NewStore)
	bound  TenantBinding
}

func (s *dbStore) now() time.Time { return s.clock().UTC().Truncate(time.Microsecond) }

func (s *dbStore) Close() error { return s.d.Close() }

// appendChain appends ps in order, bound to the store's tenant, in the
// transaction of x: first the payload data they carry (before the head is locked, so that writing a
// large payload does not hold up other instances' appends), then the
// entries, chained to the head read once, and the head moved once.
func (s *dbStore) appendChain(ctx context.Context, x Executor, at time.Time, ps []AppendParams) ([]Entry, error) {
	for _, p := range ps {
		if err := p.validate(); err != nil {
			return nil, err
		}
	}
	for _, p := range ps {
		if p.Data == nil {
			continue
		}
		if err := keepPayload(ctx, x, at, p.Payload.SHA256, p.Data); err != nil {
			return nil, fmt.Errorf("keeping payload %s: %w", p.Payload.SHA256, err)
		}
	}
	head, err := x.HeadGet(ctx, &HeadGetParams{ForUpdate: true})
	if err != nil {
		return nil, fmt.Errorf("reading register head: %w", err)
	}
	es, err := chainTenantEntries(s.tenant, head.Hash, head.Seq, at, ps)
	if err != nil || len(es) == 0 {
		return nil, err
	}
	rs := make([]Record, len(es))
	for i, e := range es {
		rs[i] = e.Record()
	}
	if err := x.EntryInsert(ctx, &EntryInsertParams{Entries: rs}); err != nil {
		return nil, fmt.Errorf("appending entries %d to %d: %w", rs[0].Seq, rs[len(rs)-1].Seq, err)
	}
	last := es[len(es)-1]
	if err := x.HeadSet(ctx, &HeadSetParams{Head: Head{Seq: last.seq, Hash: last.hash}}); err != nil {
		return nil, fmt.Errorf("advancing register head: %w", err)
	}
	return es, nil
}

// keepPayload stores data under sum unless the store keeps it already.
func keepPayload(ctx context.Context, x Executor, at time.Time, sum Hash, data io.Reader) error {
	fresh, err := x.PayloadInsert(ctx, &PayloadInsertParams{SHA256: sum, At: at})
	if err != nil || !fresh {
		return err
	}
	size, chunks, err := writeChunks(data, func(n int, chunk []byte) error {
		return x.PayloadChunkInsert(ctx, &PayloadChunkInsertParams{SHA256: sum, N: n, Data: chunk})
	})
	if err != nil {
		return err
	}
	return x.PayloadSetSize(ctx, &PayloadSetSizeParams{SHA256: sum, StoredSize: size, Chunks: chunks})
}

// Append implements Store.
func (s *dbStore) Append(ctx context.Context, p AppendParams) (Entry, error) {
	var e Entry
	err := s.d.Write(ctx, func(x Executor) error {
		es, err := s.appendChain(ctx, x, s.now(), []AppendParams{p})
		if err == nil {
			e = es[0]
		}
		return err
	})
	return e, err
}

// Get implements Store.
func (s *dbStore) Get(ctx context.Context, seq int64) (Entry, error) {
	r, err := s.d.EntryGet(ctx, &EntryGetParams{Seq: seq})
	if err != nil {
		return Entry{}, fmt.Errorf("register entry %d: %w", seq, err)
	}
	return RecordEntry(r), nil
}

// List implements Store.
func (s *dbStore) List(ctx context.Context, p ListParams) ([]Entry, error) {
	p, err := checkList(p)
	if err != nil {
		return nil, err
	}
	rs, err := s.d.EntryList(ctx, &EntryListParams{After: p.After, Limit: p.Limit, MessageID: p.MessageID})
	if err != nil {
		return nil, err
	}
	out := make([]Entry, len(rs))
	for i, r := range rs {
		out[i] = RecordEntry(r)
	}
	return out, nil
}

// Payload implements Store.
func (s *dbStore) Payload(ctx context.Context, sum Hash) (io.ReadCloser, error) {
	kp, err := s.d.PayloadGet(ctx, &PayloadGetParams{SHA256: sum})
	if err != nil {
		return nil, fmt.Errorf("payload %s: %w", sum, err)
	}
	return readKept(ctx, s.d, kp), nil
}

// readKept reads the chunks of kp through x, one at a time.
func readKept(ctx context.Context, x Executor, kp KeptPayload) io.ReadCloser {
	return newChunkReader(kp.SHA256, kp.Chunks, func(n int) ([]byte, error) {
		return x.PayloadChunkGet(ctx, &PayloadChunkGetParams{SHA256: kp.SHA256, N: n})
	})
}

// KeptPayloads implements Store.
func (s *dbStore) KeptPayloads(ctx context.Context, p KeptPayloadsParams) ([]KeptPayload, error) {
	if p.Limit == 0 {
		p.Limit = 1000
	}
	if p.Limit < 0 || p.Limit > 10000 {
		return nil, &FieldError{Field: "Limit", Expected: "1 to 10000 (0 for 1000)"}
	}
	return s.d.PayloadList(ctx, &PayloadListParams{After: p.After, Limit: p.Limit})
}

// DeletePayload implements Store.
func (s *dbStore) DeletePayload(ctx context.Context, p AppendParams) (Entry, error) {
	if err := checkDeletePayload(p); err != nil {
		return Entry{}, err
	}
	var e Entry
	err := s.d.Write(ctx, func(x Executor) error {
		es, err := s.appendChain(ctx, x, s.now(), []AppendParams{p})
		if err != nil {
			return err
		}
		e = es[0]
		return x.PayloadDelete(ctx, &PayloadDeleteParams{SHA256: p.Payload.SHA256})
	})
	return e, err
}

// Enqueue implements Store.
func (s *dbStore) Enqueue(ctx context.Context, p EnqueueParams) (Message, error) {
	now := s.now()
	m, aps, err := newMessageEntries(p, now)
	if err != nil {
		return Message{}, err
	}
	err = s.d.Write(ctx, func(x Executor) error {
		if m.ResendOf != "" {
			_, err := x.MessageGet(ctx, &MessageGetParams{ID: m.ResendOf})
			if errors.Is(err, ErrNotFound) {
				return fmt.Errorf("message %s resends %s: %w", m.ID, m.ResendOf, ErrNotFound)
			}
			if err != nil {
				return err
			}
		}
		if err := x.MessageInsert(ctx, &MessageInsertParams{Message: m}); err != nil {
			return fmt.Errorf("message %s: %w", m.ID, err)
		}
		_, err := s.appendChain(ctx, x, now, slices.Concat(p.Before, aps))
		return err
	})
	if err != nil {
		return Message{}, err
	}
	return m, nil
}

// setState is the compare-and-set of one message from old to n.
func setState(ctx context.Context, x Executor, old, n Message) error {
	ok, err := x.MessageSetState(ctx, &MessageSetStateParams{Old: old, New: n})
	if err != nil {
		return err
	}
	if !ok {
		return &StateConflictError{ID: old.ID, Want: []MessageState{old.State}, WantAttempt: old.Attempt, Found: "changed concurrently"}
	}
	return nil
}

// Claim implements Store.
func (s *dbStore) Claim(ctx context.Context, p ClaimParams) ([]Message, error) {
	p, err := checkClaim(p)
	if err != nil {
		return nil, err
	}
	var out []Message
	err = s.d.Write(ctx, func(x Executor) error {
		out = out[:0]
		now := s.now()
		var leaseBefore time.Time
		if p.Lease > 0 {
			leaseBefore = now.Add(-p.Lease)
		}
		cands, err := x.MessageListClaimable(ctx, &MessageListClaimableParams{Now: now, LeaseBefore: leaseBefore,
			Channel: p.Channel, ID: p.ID, Limit: p.Limit})
		if err != nil {
			return err
		}
		for _, m := range cands {
			if !claimable(m, now, p.Lease) || (p.Channel != "" && m.Channel != p.Channel) || (p.ID != "" && m.ID != p.ID) {
				continue
			}
			n, ap := claimMessage(m, p.Worker, now)
			if err := setState(ctx, x, m, n); err != nil {
				return err
			}
			if _, err := s.appendChain(ctx, x, now, []AppendParams{ap}); err != nil {
				return err
			}
			out = append(out, n)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if out == nil {
		out = []Message{}
	}
	return out, nil
}

// Transition implements Store.
func (s *dbStore) Transition(ctx context.Context, t Transition) (Message, error) {
	var n Message
	err := s.d.Write(ctx, func(x Executor) error {
		m, err := x.MessageGet(ctx, &MessageGetParams{ID: t.ID(), ForUpdate: true})
		if err != nil {
			return fmt.Errorf("message %s: %w", t.ID(), err)
		}
		now := s.now()
		var ap AppendParams
		if n, ap, err = Apply(m, t, now); err != nil {
			return err
		}
		if err := setState(ctx, x, m, n); err != nil {
			return err
		}
		_, err = s.appendChain(ctx, x, now, slices.Concat(t.Before(), []AppendParams{ap}))
		return err
	})
	if err != nil {
		return Message{}, err
	}
	return n, nil
}

// Message implements Store.
func (s *dbStore) Message(ctx context.Context, id MessageID) (Message, error) {
	m, err := s.d.MessageGet(ctx, &MessageGetParams{ID: id})
	if err != nil {
		return Message{}, fmt.Errorf("message %s: %w", id, err)
	}
	return m, nil
}

// Messages implements Store.
func (s *dbStore) Messages(ctx context.Context, p MessagesParams) ([]Message, error) {
	p, err := checkMessages(p)
	if err != nil {
		return nil, err
	}
	ms, err := s.d.MessageList(ctx, &MessageListParams{State: p.State, Correlation: p.Correlation, Limit: p.Limit})
	if ms == nil && err == nil {
		ms = []Message{}
	}
	return ms, err
}
