// Package checkpoint signs and checks register checkpoints: the register's
// size and head hash, signed in the C2SP signed-note format
// (golang.org/x/mod/sumdb/note, Ed25519), with a body laid out as a C2SP
// tlog-checkpoint:
//
//	<origin>
//	<size>
//	<base64 of the head hash: the chain hash of entry <size>>
//
// A bare chain check proves that the entries a register holds link up; it
// cannot tell that entries were cut off the end, that an older copy was
// put back, or that someone rewrote an entry and recomputed every later
// hash. A checkpoint kept outside the register (a directory elsewhere, a
// witness, a webhook receiver) can: Verify proves that the register still
// holds the checkpoint's prefix unchanged.
//
// # Limits
//
//   - A checkpoint proves only the prefix it names. Entries appended after
//     it are covered by the next checkpoint, so take them often (the
//     service does, and on demand: meldeweg register checkpoint).
//   - The head hash is the register's chain hash, not a Merkle tree root:
//     proving the prefix means recomputing the chain up to it (linear in
//     the register's size), not an O(log n) inclusion proof.
//   - Whoever holds the signer key can sign any checkpoint; keep it apart
//     from the register (file mode 0600, another path or another host).
package checkpoint

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"iter"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"

	"meldeweg.dev/meldeweg/transport/register"
)

// Checkpoint is a register's size and head at one moment.
type Checkpoint struct {
	// Origin names the register: the installation and tenant, e.g.
	// "meldeweg.example/jobcenter-12345". It must be a single line.
	Origin string
	// Size is the number of entries.
	Size int64
	// Head is the chain hash of entry Size (zero when Size is 0).
	Head register.Hash
}

// Body returns the checkpoint's text, the part that is signed.
func (c Checkpoint) Body() []byte {
	return fmt.Appendf(nil, "%s\n%d\n%s\n", c.Origin, c.Size, base64.StdEncoding.EncodeToString(c.Head[:]))
}

// ErrMalformed: a checkpoint's text is not of the expected form.
var ErrMalformed = errors.New("malformed checkpoint")

// ParseBody reads a checkpoint's text. Extension lines after the third are
// allowed (C2SP) and ignored.
func ParseBody(text []byte) (Checkpoint, error) {
	lines := strings.Split(string(text), "\n")
	if len(lines) < 4 || lines[len(lines)-1] != "" {
		return Checkpoint{}, fmt.Errorf("%w: want origin, size and head hash on three lines", ErrMalformed)
	}
	c := Checkpoint{Origin: lines[0]}
	if c.Origin == "" {
		return Checkpoint{}, fmt.Errorf("%w: line 1: empty origin", ErrMalformed)
	}
	n, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || n < 0 || strconv.FormatInt(n, 10) != lines[1] {
		return Checkpoint{}, fmt.Errorf("%w: line 2: %q is not a size", ErrMalformed, lines[1])
	}
	c.Size = n
	h, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(h) != len(c.Head) {
		return Checkpoint{}, fmt.Errorf("%w: line 3: want the base64 of a %d-byte hash", ErrMalformed, len(c.Head))
	}
	copy(c.Head[:], h)
	return c, nil
}

// GenerateKey makes a signer key (secret: "PRIVATE+KEY+name+…") and the
// verifier key (public: "name+…") for origin name.
func GenerateKey(name string) (signer, verifier string, err error) {
	return note.GenerateKey(rand.Reader, name)
}

// Sign signs c with the signer key skey. The signer's name must equal
// c.Origin, so a checkpoint cannot be passed off as another register's.
func Sign(c Checkpoint, skey string) ([]byte, error) {
	s, err := note.NewSigner(skey)
	if err != nil {
		return nil, fmt.Errorf("checkpoint signer key: %w", err)
	}
	if s.Name() != c.Origin {
		return nil, fmt.Errorf("checkpoint signer key is for %q, the checkpoint's origin is %q", s.Name(), c.Origin)
	}
	return note.Sign(&note.Note{Text: string(c.Body())}, s)
}

// Open checks a signed checkpoint against the verifier key vkey and parses
// it. The verifier's name must be the checkpoint's origin.
func Open(signed []byte, vkey string) (Checkpoint, error) {
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("checkpoint verifier key: %w", err)
	}
	n, err := note.Open(signed, note.VerifierList(v))
	if err != nil {
		return Checkpoint{}, fmt.Errorf("checkpoint signature: %w", err)
	}
	c, err := ParseBody([]byte(n.Text))
	if err != nil {
		return Checkpoint{}, err
	}
	if c.Origin != v.Name() {
		return Checkpoint{}, fmt.Errorf("checkpoint is for %q, the key for %q", c.Origin, v.Name())
	}
	return c, nil
}

// Take verifies the whole register and returns a checkpoint of it: a
// register is checkpointed only after its chain is proved (move forward
// only after proof).
func Take(ctx context.Context, s register.Store, origin string) (Checkpoint, error) {
	if origin == "" || strings.ContainsAny(origin, "\n+ ") {
		return Checkpoint{}, fmt.Errorf("checkpoint origin %q: want one word without spaces or '+'", origin)
	}
	rep, err := s.Verify(ctx, register.VerifyParams{})
	if err != nil {
		return Checkpoint{}, fmt.Errorf("the register does not verify, so it is not checkpointed: %w", err)
	}
	return Checkpoint{Origin: origin, Size: rep.Entries, Head: rep.Head}, nil
}

// Verify proves that s still holds c's prefix unchanged: its first c.Size
// entries recompute, link up, and end in c.Head. A register cut short, an
// older copy, or a chain rewritten with recomputed hashes fails with a
// *register.ChainError (errors.Is register.ErrChainBroken) that names the
// entry and the expected and found hashes.
func Verify(ctx context.Context, s register.Store, c Checkpoint) (register.VerifyReport, error) {
	prefix := func(yield func(register.Entry, error) bool) {
		if c.Size == 0 {
			return
		}
		for e, err := range register.All(ctx, s, "") {
			if !yield(e, err) || err != nil || e.Seq() >= c.Size {
				return
			}
		}
	}
	rep, err := register.VerifyChain(ctx, iter.Seq2[register.Entry, error](prefix), register.Head{Seq: c.Size, Hash: c.Head})
	if err != nil {
		return rep, fmt.Errorf("the register does not hold the checkpoint's prefix (%s, size %d): %w", c.Origin, c.Size, err)
	}
	return rep, nil
}

// Consistent checks that newer extends older as far as the register shows:
// newer is not smaller, and s proves both prefixes. A witness calls it
// before it accepts a newer checkpoint in place of the one it kept.
func Consistent(ctx context.Context, s register.Store, older, newer Checkpoint) error {
	switch {
	case older.Origin != newer.Origin:
		return fmt.Errorf("checkpoints of different registers: %q and %q", older.Origin, newer.Origin)
	case newer.Size < older.Size:
		return fmt.Errorf("%w: the newer checkpoint (size %d) is smaller than the older one (size %d): the register was rolled back", register.ErrChainBroken, newer.Size, older.Size)
	case newer.Size == older.Size && !bytes.Equal(newer.Head[:], older.Head[:]):
		return fmt.Errorf("%w: two checkpoints of size %d with different heads: the register forked", register.ErrChainBroken, newer.Size)
	}
	if _, err := Verify(ctx, s, older); err != nil {
		return err
	}
	_, err := Verify(ctx, s, newer)
	return err
}
