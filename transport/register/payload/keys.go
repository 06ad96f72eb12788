package payload

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"meldeweg.dev/meldeweg/transport/register"
)

// Options configure OpenWith. The zero value is Open's behaviour.
type Options struct {
	// KEK, if set, turns on the key hierarchy: new payloads are sealed
	// with data keys wrapped under it, and payload.key is not created.
	KEK *KEK
	// Load: change nothing (no instance key is created); Load's
	// behaviour.
	Load bool
	// Now gives the month of new data keys. Defaults to time.Now.
	Now func() time.Time
}

// OpenWith is Open (or, with o.Load, Load) with options.
func OpenWith(dir string, reg register.Store, o Options) (*Store, error) {
	return open(dir, reg, !o.Load, o)
}

func newStore(dir string, key []byte, reg register.Store, o Options) *Store {
	s := &Store{dir: dir, key: key, reg: reg, tenant: reg.Tenant(), kek: o.KEK, now: o.Now}
	if key != nil {
		s.keyID = keyIDOf(key)
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s
}

// Key hierarchy errors.
var (
	// ErrKeyDestroyed: the payload's data key was destroyed; the payload
	// cannot be read any more, by design.
	ErrKeyDestroyed = errors.New("the payload's data key was destroyed")
	// ErrNoKEK: the payload is sealed with a data key, and no
	// key-encryption key is configured to unwrap it.
	ErrNoKEK = errors.New("no key-encryption key configured")
)

// dataKeys caches unwrapped data keys by ID, and the live key per class
// and month, for the life of the Store.
type dataKeys struct {
	mu   sync.Mutex
	byID map[KeyID][]byte
	live map[string]KeyID // class + " " + month
}

func (c *dataKeys) get(id KeyID) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	k, ok := c.byID[id]
	return k, ok
}

func (c *dataKeys) put(id KeyID, key []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byID == nil {
		c.byID = map[KeyID][]byte{}
	}
	c.byID[id] = key
}

func (c *dataKeys) forget(id KeyID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.byID, id)
	for k, v := range c.live {
		if v == id {
			delete(c.live, k)
		}
	}
}

// dataKeyFor returns the live data key of class for the month of at,
// making and storing one if there is none.
func (s *Store) dataKeyFor(ctx context.Context, class register.DataClass, at time.Time) ([]byte, KeyID, error) {
	if !class.Valid() {
		return nil, KeyID{}, fmt.Errorf("payload store: %q is not a data class", class)
	}
	month := at.UTC().Format("2006-01")
	slot := string(class) + " " + month
	s.keys.mu.Lock()
	id, ok := s.keys.live[slot]
	s.keys.mu.Unlock()
	if ok {
		if key, ok := s.keys.get(id); ok {
			return key, id, nil
		}
	}
	key := make([]byte, keySize)
	if _, err := rand.Read(key); err != nil {
		return nil, KeyID{}, err
	}
	if _, err := rand.Read(id[:]); err != nil {
		return nil, KeyID{}, err
	}
	dk := register.DataKey{ID: id.String(), Class: class, Month: month, KEKID: s.kek.ID()}
	var err error
	if dk.Wrapped, err = s.kek.wrap(s.tenant, dk, key); err != nil {
		return nil, KeyID{}, err
	}
	stored, err := s.reg.PutDataKey(ctx, dk)
	if err != nil {
		return nil, KeyID{}, fmt.Errorf("payload store: keeping data key %s: %w", dk.ID, err)
	}
	if stored.ID != dk.ID { // another sealer made it first
		if key, err = s.kek.unwrap(s.tenant, stored); err != nil {
			return nil, KeyID{}, err
		}
		id, _ = parseKeyID(stored.ID)
	}
	s.keys.put(id, key)
	s.keys.mu.Lock()
	if s.keys.live == nil {
		s.keys.live = map[string]KeyID{}
	}
	s.keys.live[slot] = id
	s.keys.mu.Unlock()
	return key, id, nil
}

func parseKeyID(s string) (KeyID, bool) {
	var id KeyID
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != keyIDSize {
		return id, false
	}
	copy(id[:], b)
	return id, true
}

// dataKey returns the unwrapped data key id that payload sum names.
func (s *Store) dataKey(ctx context.Context, id KeyID, sum register.Hash) ([]byte, error) {
	if key, ok := s.keys.get(id); ok {
		return key, nil
	}
	dk, err := s.reg.DataKey(ctx, id.String())
	if errors.Is(err, register.ErrNotFound) {
		return nil, &KeyError{Path: s.kek.String(), Want: id.String(), Payload: sum}
	}
	if err != nil {
		return nil, fmt.Errorf("payload %s: %w", sum, err)
	}
	if dk.IsDestroyed() {
		return nil, fmt.Errorf("payload %s: data key %s (%s, %s) was destroyed at %s: %w",
			sum, dk.ID, dk.Class, dk.Month, dk.Destroyed.Format(time.RFC3339), ErrKeyDestroyed)
	}
	key, err := s.kek.unwrap(s.tenant, dk)
	if err != nil {
		return nil, fmt.Errorf("payload %s: %w", sum, err)
	}
	s.keys.put(id, key)
	return key, nil
}

// isDataKey reports whether the register knows data key id.
func (s *Store) isDataKey(ctx context.Context, id KeyID) bool {
	_, err := s.reg.DataKey(ctx, id.String())
	return err == nil
}

// RotateKEK re-wraps every live data key of the tenant from the store's
// key-encryption key to next, and records a "kek-rotated" entry by actor,
// in one transaction; no payload is touched. Afterwards configure next:
// the old key no longer unwraps any data key. It returns how many keys
// were re-wrapped and the entry.
func (s *Store) RotateKEK(ctx context.Context, next *KEK, actor register.Actor) (int, register.Entry, error) {
	if s.kek == nil {
		return 0, register.Entry{}, fmt.Errorf("payload store: %w: the current key-encryption key is needed to rotate it", ErrNoKEK)
	}
	if next.ID() == s.kek.ID() {
		return 0, register.Entry{}, fmt.Errorf("payload store: the new key-encryption key is the current one (%s)", next.ID())
	}
	rewrap := func(dk register.DataKey) (register.DataKey, error) {
		key, err := s.kek.unwrap(s.tenant, dk)
		if err != nil {
			return dk, err
		}
		dk.KEKID = next.ID()
		dk.Wrapped, err = next.wrap(s.tenant, dk, key)
		return dk, err
	}
	count, e, err := s.reg.RewrapDataKeys(ctx, register.RewrapParams{Rewrap: rewrap, Entry: register.AppendParams{
		Direction: register.DirectionOut, Channel: register.ChannelXSozial, Event: register.EventKEKRotated, Actor: actor,
		Detail: fmt.Sprintf("key-encryption key %s replaced by %s; data keys re-wrapped, payloads untouched", s.kek.ID(), next.ID()),
	}})
	if err != nil {
		return 0, register.Entry{}, err
	}
	s.kek = next
	return count, e, nil
}

// DestroyDataKey destroys data key id for good, recorded as a
// "data-key-destroyed" entry by actor with reason (no personal data):
// every payload sealed with it is unreadable from then on
// (ErrKeyDestroyed); every other payload still opens.
func (s *Store) DestroyDataKey(ctx context.Context, id string, actor register.Actor, reason string) (register.Entry, error) {
	kid, ok := parseKeyID(id)
	if !ok {
		return register.Entry{}, fmt.Errorf("payload store: %q is not a data key ID (16 hex digits)", id)
	}
	dk, err := s.reg.DataKey(ctx, id)
	if err != nil {
		return register.Entry{}, err
	}
	dir := register.DirectionOut
	ch := register.ChannelXSozial
	switch dk.Class {
	case register.ClassXSozialFeedback:
		dir = register.DirectionIn
	case register.ClassEmawMessage:
		ch = register.ChannelEmaw
	case register.ClassEmawInbound:
		ch, dir = register.ChannelEmaw, register.DirectionIn
	}
	detail := fmt.Sprintf("data key %s (%s, %s) destroyed", id, dk.Class, dk.Month)
	if reason != "" {
		detail += ": " + reason
	}
	if len(detail) > 512 {
		detail = detail[:512]
	}
	e, err := s.reg.DestroyDataKey(ctx, id, register.AppendParams{Direction: dir, Channel: ch,
		Event: register.EventDataKeyDestroyed, Actor: actor, Detail: detail})
	if err != nil {
		return register.Entry{}, err
	}
	s.keys.forget(kid)
	return e, nil
}

// KEK returns the store's key-encryption key; nil without the hierarchy.
func (s *Store) KEK() *KEK { return s.kek }
