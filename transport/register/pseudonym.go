package register

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"sync"

	"meldeweg.dev/meldeweg/transport/register/internal/keyfile"
)

// Pseudonym stands for an eM@w participant (Kundennummer + cosachid) in
// the register. It is an HMAC-SHA256 under a per-instance key, so it is
// stable within one instance, cannot be reversed without the key, and
// differs between instances. Build it with Pseudonymizer.Participant.
type Pseudonym struct{ s string }

var pseudonymRe = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^ps1-[0-9a-f]{32}$`) })

// String is "ps1-" and 32 hex digits (128 bits of the HMAC).
func (p Pseudonym) String() string { return p.s }

// IsZero reports whether p is the zero Pseudonym.
func (p Pseudonym) IsZero() bool { return p.s == "" }

// Pseudonymizer derives participant pseudonyms under one instance key.
// It is safe for concurrent use.
type Pseudonymizer struct{ key []byte }

// pseudonymKeySize is the size of the instance key in bytes.
const pseudonymKeySize = 32

// NewPseudonymizer uses key, which must be pseudonymKeySize bytes.
func NewPseudonymizer(key []byte) (*Pseudonymizer, error) {
	if len(key) != pseudonymKeySize {
		return nil, fmt.Errorf("pseudonym key: expected %d bytes, got %d", pseudonymKeySize, len(key))
	}
	return &Pseudonymizer{key: append([]byte(nil), key...)}, nil
}

// LoadPseudonymizer reads the instance key from path, creating it (mode
// 0600, random) on first use. Losing the file means new pseudonyms for
// everyone from then on; back it up with the register.
func LoadPseudonymizer(path string) (*Pseudonymizer, error) {
	key, err := keyfile.LoadOrCreate(path, pseudonymKeySize)
	if err != nil {
		return nil, err
	}
	return NewPseudonymizer(key)
}

// Participant returns the pseudonym of the participant with the given
// Kundennummer and cosachid. The inputs are length-prefixed, so no two
// different pairs share an encoding.
func (p *Pseudonymizer) Participant(kundennummer, cosachid string) Pseudonym {
	m := hmac.New(sha256.New, p.key)
	m.Write([]byte("meldeweg participant v1\x00"))
	writeString(m, kundennummer)
	writeString(m, cosachid)
	return Pseudonym{"ps1-" + hex.EncodeToString(m.Sum(nil)[:16])}
}
