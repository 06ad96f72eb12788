package register

import (
	"context"
	"fmt"
	"io"
	"iter"
	"strconv"
)

// Head is what a store keeps about its last entry, next to the entries,
// so that Verify notices entries removed from the end.
type Head struct {
	Seq  int64
	Hash Hash
}

// VerifyReport is the outcome of a verification: what was checked, what
// disagreed and what was not checked.
type VerifyReport struct {
	// Entries is the number of entries that verified.
	Entries int64
	// Head is the hash of the last verified entry (zero if none). An
	// auditor who noted it earlier can check that the register still
	// contains it (VerifyParams.ExpectHead).
	Head Hash
	// ExpectedHeadSeq is the entry whose hash is VerifyParams.ExpectHead;
	// 0 if none was given or the chain does not contain it.
	ExpectedHeadSeq int64
	// Guards names the append-only guards found intact.
	Guards []string
	// Payloads counts the kept payloads.
	Payloads PayloadsReport
	// Messages is the number of outbox messages whose row agrees with
	// their entries.
	Messages int64
	// Findings lists everything that disagrees with the chain, in the
	// order found; empty if nothing does.
	Findings []Finding
	// NotChecked says what this verification could not or did not check.
	NotChecked []string
}

// PayloadsReport counts what Verify did with kept payloads.
type PayloadsReport struct {
	// Read is the number of kept payloads read back whole; Bytes their
	// kept (sealed) size.
	Read  int64
	Bytes int64
	// Checked is how many of them matched their entries' size and SHA-256
	// (only with VerifyParams.Payloads).
	Checked int64
	// Deleted is the number of payloads absent because a
	// "payload-deleted" entry names them, as expected.
	Deleted int64
}

// VerifyParams configure Store.Verify. The zero value checks everything
// that needs no key and no outside knowledge.
type VerifyParams struct {
	// ExpectHead, if not zero, is a head hash noted earlier (from a
	// verification or an export): the chain must contain the entry with
	// this hash. It reveals entries removed from the end together with a
	// rewound head, which the chain alone cannot see (until signed
	// checkpoints exist).
	ExpectHead Hash
	// Payloads, if set, checks each kept payload's contents against the
	// size and SHA-256 its entries name (payload.Store does, with the
	// instance key). Without it the kept bytes are only read back whole.
	Payloads PayloadChecker
	// Progress, if set, is called as verification advances, at least
	// once per stage and at most once per chunk or 1000 entries.
	Progress func(VerifyProgress)
}

// PayloadChecker checks the kept bytes of one payload.
type PayloadChecker interface {
	// CheckPayload reads kept, the bytes a store keeps for the payload
	// ref names, and returns an error unless they are that payload: ref's
	// size and SHA-256. The error must not contain payload contents.
	CheckPayload(ctx context.Context, ref PayloadRef, kept io.Reader) error
}

// VerifyProgress is where a verification stands.
type VerifyProgress struct {
	// Stage is "entries" (Done and Total count entries) or "payloads"
	// (they count kept bytes).
	Stage       string
	Done, Total int64
}

// Finding is one thing that disagrees with an intact chain. It carries
// the evidence (entry, hashes, states), never payload contents or
// personal data.
type Finding struct {
	// Check is what disagreed: "guard", "head", "payload" or "outbox".
	Check string
	// Seq is the entry that says what should be; 0 if none does.
	Seq int64
	// Subject names the guard, payload (SHA-256 in hex) or message ID.
	Subject string
	// Reason says what is wrong.
	Reason string
	// Expected is what the chain says, Found what the store holds;
	// either may be empty.
	Expected, Found string
}

func (f Finding) String() string {
	s := f.Check + " " + f.Subject + ": " + f.Reason
	if f.Seq > 0 {
		s += " (entry " + itoa64(f.Seq) + ")"
	}
	if f.Expected != "" || f.Found != "" {
		s += ": expected " + f.Expected + ", found " + f.Found
	}
	return s
}

// FindingsError is the evidence for ErrInconsistent.
type FindingsError struct {
	Findings []Finding
}

func (e *FindingsError) Error() string {
	if len(e.Findings) == 1 {
		return "register verification: " + e.Findings[0].String()
	}
	return fmt.Sprintf("register verification: %d findings, the first: %s", len(e.Findings), e.Findings[0])
}

// Unwrap makes errors.Is(err, ErrInconsistent) true.
func (e *FindingsError) Unwrap() error { return ErrInconsistent }

// VerifyChain recomputes the chain over entries, which must come in
// sequence order starting at 1, and compares the end with head. It returns
// the report up to the first broken entry and a *ChainError for it. Both
// backends' Verify call it; so can an auditor over an export.
func VerifyChain(ctx context.Context, entries iter.Seq2[Entry, error], head Head) (VerifyReport, error) {
	var rep VerifyReport
	var prev, atHead Hash
	for e, err := range entries {
		if err != nil {
			return rep, err
		}
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		want := rep.Entries + 1
		switch {
		case e.seq != want:
			return rep, &ChainError{Seq: want, Reason: "entry missing: next stored entry is " + itoa64(e.seq), Expected: prev, Found: e.prevHash}
		case e.prevHash != prev:
			return rep, &ChainError{Seq: e.seq, Reason: "link to the previous entry does not match", Expected: prev, Found: e.prevHash}
		}
		if got := e.computeHash(); got != e.hash {
			return rep, &ChainError{Seq: e.seq, Reason: "stored hash does not match the entry's contents", Expected: got, Found: e.hash}
		}
		prev = e.hash
		if e.seq == head.Seq {
			atHead = e.hash
		}
		rep.Entries++
		rep.Head = e.hash
	}
	switch {
	case head.Seq > rep.Entries:
		return rep, &ChainError{Seq: rep.Entries + 1, Reason: "entries missing at the end: the head names entry " + itoa64(head.Seq), Expected: head.Hash, Found: Hash{}}
	case head.Seq < rep.Entries:
		found := rep.Head
		rep = VerifyReport{Entries: head.Seq, Head: atHead}
		return rep, &ChainError{Seq: head.Seq + 1, Reason: "entry beyond the recorded head", Expected: head.Hash, Found: found}
	case head.Hash != rep.Head:
		return rep, &ChainError{Seq: head.Seq, Reason: "last entry does not match the recorded head", Expected: head.Hash, Found: rep.Head}
	}
	return rep, nil
}

func itoa64(n int64) string { return strconv.FormatInt(n, 10) }
