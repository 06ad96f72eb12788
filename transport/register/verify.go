package register

import (
	"context"
	"iter"
	"strconv"
)

// Head is what a store keeps about its last entry, next to the entries,
// so that Verify notices entries removed from the end.
type Head struct {
	Seq  int64
	Hash Hash
}

// VerifyReport is the outcome of a verification.
type VerifyReport struct {
	// Entries is the number of entries that verified.
	Entries int64
	// Head is the hash of the last verified entry (zero if none). An
	// auditor who noted it earlier can check that the register still
	// contains it.
	Head Hash
}

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
