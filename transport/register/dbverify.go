package register

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
)

// Verify implements Store. Everything is read in one snapshot
// (Driver.Snapshot), so concurrent writers do not disturb it. It holds a
// few dozen bytes per distinct payload and message in memory, and streams
// entries and payload bytes.
func (s *dbStore) Verify(ctx context.Context, p VerifyParams) (VerifyReport, error) {
	var rep VerifyReport
	err := s.d.Snapshot(ctx, func(x Executor) error {
		v := &verifier{p: p, payloads: map[Hash]*payloadFact{}, messages: map[MessageID]*messageFact{}}
		var err error
		if rep, err = v.chain(ctx, x); err != nil {
			return err
		}
		v.rep = &rep
		if err := v.guards(ctx, x); err != nil {
			return err
		}
		if err := v.keptPayloads(ctx, x); err != nil {
			return err
		}
		if err := v.outbox(ctx, x); err != nil {
			return err
		}
		v.notChecked()
		return nil
	})
	if err != nil {
		return rep, err
	}
	if len(rep.Findings) > 0 {
		return rep, &FindingsError{Findings: rep.Findings}
	}
	return rep, nil
}

// payloadFact is what the chain says about one payload.
type payloadFact struct {
	ref      PayloadRef // as the entry that kept it names it, else the first to name it
	seq      int64      // that entry
	state    payloadState
	stateSeq int64 // the entry that set state
	held     bool  // the store holds it
}

type payloadState int

const (
	payloadNamed   payloadState = iota // named, never kept with an entry
	payloadKept                        // kept by the last entry that kept or deleted it
	payloadDeleted                     // deleted by the last entry that kept or deleted it
)

// messageFact is what the chain says about one outbox message.
type messageFact struct {
	state   MessageState
	attempt int
	seq     int64         // the last state entry
	queued  *AppendParams // the "queued" entry's fields
	queuedS int64         // and its sequence number
	row     bool          // the outbox holds the message
}

type verifier struct {
	p        VerifyParams
	rep      *VerifyReport
	payloads map[Hash]*payloadFact
	messages map[MessageID]*messageFact
}

func (v *verifier) progress(stage string, done, total int64) {
	if v.p.Progress != nil {
		v.p.Progress(VerifyProgress{Stage: stage, Done: done, Total: total})
	}
}

func (v *verifier) find(f Finding) { v.rep.Findings = append(v.rep.Findings, f) }

// chain verifies the entries against the head, noting what they say
// about payloads and messages on the way.
func (v *verifier) chain(ctx context.Context, x Executor) (VerifyReport, error) {
	head, err := x.HeadGet(ctx, &HeadGetParams{})
	if err != nil {
		return VerifyReport{}, fmt.Errorf("reading register head: %w", err)
	}
	bound, err := x.TenantGet(ctx, &TenantGetParams{})
	if err != nil && !errors.Is(err, ErrNotFound) {
		return VerifyReport{}, fmt.Errorf("reading the register's tenant: %w", err)
	}
	var expectedSeq int64
	entries := func(yield func(Entry, error) bool) {
		var after int64
		for {
			rs, err := x.EntryList(ctx, &EntryListParams{After: after, Limit: 1000})
			if err != nil {
				yield(Entry{}, err)
				return
			}
			if len(rs) == 0 {
				return
			}
			for _, r := range rs {
				e := RecordEntry(r)
				if err := tenantOf(bound, e); err != nil {
					yield(Entry{}, err)
					return
				}
				v.note(e)
				if !v.p.ExpectHead.IsZero() && e.hash == v.p.ExpectHead && expectedSeq == 0 {
					expectedSeq = e.seq
				}
				if !yield(e, nil) {
					return
				}
			}
			after = rs[len(rs)-1].Seq
			v.progress("entries", after, head.Seq)
		}
	}
	v.progress("entries", 0, head.Seq)
	rep, err := VerifyChain(ctx, entries, head)
	if err != nil {
		return rep, err
	}
	v.progress("entries", rep.Entries, head.Seq)
	rep.ExpectedHeadSeq = expectedSeq
	if !v.p.ExpectHead.IsZero() && expectedSeq == 0 {
		rep.Findings = append(rep.Findings, Finding{Check: "head", Subject: v.p.ExpectHead.String(),
			Reason:   "the expected head is not an entry of the chain: entries were removed or rewritten since it was noted",
			Expected: v.p.ExpectHead.String(), Found: rep.Head.String()})
	}
	return rep, nil
}

// stateEvents are the events that record a message's state.
var stateEvents = func() map[Event]bool {
	m := map[Event]bool{}
	for _, s := range MessageStates() {
		m[Event(s)] = true
	}
	return m
}()

// note records what e says about its payload and message.
func (v *verifier) note(e Entry) {
	if ref := e.p.Payload; !ref.IsZero() {
		f := v.payloads[ref.SHA256]
		if f == nil {
			f = &payloadFact{ref: ref, seq: e.seq}
			v.payloads[ref.SHA256] = f
		}
		switch {
		case e.kept:
			f.ref, f.seq, f.state, f.stateSeq = ref, e.seq, payloadKept, e.seq
		case e.p.Event == EventPayloadDeleted:
			f.state, f.stateSeq = payloadDeleted, e.seq
		}
	}
	if e.p.Direction != DirectionOut || e.p.MessageID == "" || !stateEvents[e.p.Event] {
		return
	}
	f := v.messages[e.p.MessageID]
	if f == nil {
		f = &messageFact{}
		v.messages[e.p.MessageID] = f
	}
	f.state, f.attempt, f.seq = MessageState(e.p.Event), e.p.Attempt, e.seq
	if e.p.Event == EventQueued && f.queued == nil {
		p := e.p
		f.queued, f.queuedS = &p, e.seq
	}
}

// guards checks the append-only guards.
func (v *verifier) guards(ctx context.Context, x Executor) error {
	gs, err := x.GuardList(ctx, &GuardListParams{})
	if err != nil {
		return fmt.Errorf("reading the append-only guards: %w", err)
	}
	for _, g := range gs {
		if g.Intact {
			v.rep.Guards = append(v.rep.Guards, g.Name)
			continue
		}
		v.find(Finding{Check: "guard", Subject: g.Name, Reason: "append-only trigger " + g.Problem})
	}
	return nil
}

// keptPayloads reads every kept payload back and compares the kept set
// with what the chain says.
func (v *verifier) keptPayloads(ctx context.Context, x Executor) error {
	var kept []KeptPayload
	var total int64
	for after := (Hash{}); ; {
		page, err := x.PayloadList(ctx, &PayloadListParams{After: after, Limit: 1000})
		if err != nil {
			return fmt.Errorf("listing kept payloads: %w", err)
		}
		if len(page) == 0 {
			break
		}
		for _, kp := range page {
			total += kp.StoredSize
		}
		kept = append(kept, page...)
		after = page[len(page)-1].SHA256
	}
	var done int64
	v.progress("payloads", 0, total)
	for _, kp := range kept {
		if err := ctx.Err(); err != nil {
			return err
		}
		sum := kp.SHA256.String()
		f := v.payloads[kp.SHA256]
		if f == nil {
			v.find(Finding{Check: "payload", Subject: sum, Reason: "kept, but no entry names it",
				Expected: "no such payload", Found: fmt.Sprintf("%d bytes kept", kp.StoredSize)})
			continue
		}
		f.held = true
		if f.state == payloadDeleted {
			v.find(Finding{Check: "payload", Seq: f.stateSeq, Subject: sum, Reason: "kept, although an entry deleted it",
				Expected: "deleted", Found: fmt.Sprintf("%d bytes kept", kp.StoredSize)})
		}
		r := &countingReader{r: readKept(ctx, x, kp), report: func(n int64) {
			done += n
			v.progress("payloads", done, total)
		}}
		var err error
		if v.p.Payloads != nil {
			err = v.p.Payloads.CheckPayload(ctx, f.ref, r)
		} else {
			_, err = io.Copy(io.Discard, r)
		}
		if err == nil && r.n != kp.StoredSize {
			err = fmt.Errorf("%d bytes kept, %d recorded", r.n, kp.StoredSize)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		v.rep.Payloads.Read++
		v.rep.Payloads.Bytes += r.n
		if err != nil {
			v.find(Finding{Check: "payload", Seq: f.seq, Subject: sum, Reason: "kept bytes do not match the entry",
				Expected: fmt.Sprintf("%d bytes with SHA-256 %s", f.ref.Size, sum), Found: strings.TrimPrefix(err.Error(), "payload "+sum+": ")})
			continue
		}
		if v.p.Payloads != nil {
			v.rep.Payloads.Checked++
		}
	}
	for _, sum := range slices.SortedFunc(maps.Keys(v.payloads), func(a, b Hash) int { return cmp.Compare(v.payloads[a].stateSeq, v.payloads[b].stateSeq) }) {
		f := v.payloads[sum]
		switch {
		case f.state == payloadKept && !f.held:
			v.find(Finding{Check: "payload", Seq: f.stateSeq, Subject: sum.String(),
				Reason:   "the entry kept this payload and no later entry deleted it, but the store does not hold it",
				Expected: fmt.Sprintf("%d bytes with SHA-256 %s", f.ref.Size, sum), Found: "nothing"})
		case f.state == payloadDeleted && !f.held:
			v.rep.Payloads.Deleted++
		}
	}
	return nil
}

type countingReader struct {
	r      io.ReadCloser
	n      int64
	report func(int64)
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if n > 0 {
		c.report(int64(n))
	}
	return n, err
}

// outbox compares every message with its entries.
func (v *verifier) outbox(ctx context.Context, x Executor) error {
	p := &MessageListParams{Limit: 1000}
	for {
		ms, err := x.MessageList(ctx, p)
		if err != nil {
			return fmt.Errorf("listing outbox messages: %w", err)
		}
		if len(ms) == 0 {
			break
		}
		for _, m := range ms {
			v.message(m)
		}
		last := ms[len(ms)-1]
		p.AfterCreated, p.AfterID = last.CreatedAt, last.ID
	}
	for _, id := range slices.SortedFunc(maps.Keys(v.messages), func(a, b MessageID) int { return cmp.Compare(v.messages[a].seq, v.messages[b].seq) }) {
		// Only a message the outbox enqueued (its "queued" entry) must have
		// a row; state events appended on their own are not the outbox's.
		if f := v.messages[id]; !f.row && f.queued != nil {
			v.find(Finding{Check: "outbox", Seq: f.seq, Subject: string(id), Reason: "the entries record this message, but the outbox does not hold it",
				Expected: fmt.Sprintf("%s at attempt %d", f.state, f.attempt), Found: "no message"})
		}
	}
	return nil
}

func (v *verifier) message(m Message) {
	f := v.messages[m.ID]
	if f == nil || f.queued == nil {
		v.find(Finding{Check: "outbox", Subject: string(m.ID), Reason: "in the outbox, but no \"queued\" entry records it",
			Expected: "no message", Found: fmt.Sprintf("%s at attempt %d", m.State, m.Attempt)})
		return
	}
	f.row = true
	if m.State != f.state || m.Attempt != f.attempt {
		v.find(Finding{Check: "outbox", Seq: f.seq, Subject: string(m.ID), Reason: "state differs from the last state entry",
			Expected: fmt.Sprintf("%s at attempt %d", f.state, f.attempt), Found: fmt.Sprintf("%s at attempt %d", m.State, m.Attempt)})
		return
	}
	if q := f.queued; q != nil {
		var field, want, got string
		switch {
		case m.Payload != q.Payload:
			field, want, got = "payload", q.Payload.SHA256.String(), m.Payload.SHA256.String()
		case m.Channel != q.Channel:
			field, want, got = "channel", string(q.Channel), string(m.Channel)
		case m.Endpoint != q.Endpoint:
			field, want, got = "endpoint", q.Endpoint, m.Endpoint
		case m.Correlation != q.Correlation:
			field, want, got = "correlation", q.Correlation.String(), m.Correlation.String()
		case m.ResendOf != q.Related:
			field, want, got = "resend-of", string(q.Related), string(m.ResendOf)
		}
		if field != "" {
			v.find(Finding{Check: "outbox", Seq: f.queuedS, Subject: string(m.ID), Reason: field + " differs from the queued entry",
				Expected: want, Found: got})
			return
		}
	}
	v.rep.Messages++
}

func (v *verifier) notChecked() {
	if v.p.Payloads == nil {
		v.rep.NotChecked = append(v.rep.NotChecked, "payload contents against their SHA-256 (no payload key given)")
	}
	if v.p.ExpectHead.IsZero() {
		v.rep.NotChecked = append(v.rep.NotChecked, "entries removed from the end together with the head (no expected head given)")
	}
	v.rep.NotChecked = append(v.rep.NotChecked, "signed checkpoints (none configured)")
}
