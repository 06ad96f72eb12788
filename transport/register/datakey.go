package register

import (
	"context"
	"fmt"
	"time"
)

// DataClass is the kind of data a payload holds; a tenant's payloads are
// sealed with one data key per class and month, so that destroying one
// key makes exactly that class's payloads of that month unreadable.
type DataClass string

// The data classes.
const (
	// ClassXSozialDataset: XSozial datasets as sent to the BA.
	ClassXSozialDataset DataClass = "xsozial-dataset"
	// ClassXSozialFeedback: the BA's XSozial feedback (Rückmeldungen).
	ClassXSozialFeedback DataClass = "xsozial-feedback"
	// ClassEmawMessage: eM@w messages (uploads) to the BA.
	ClassEmawMessage DataClass = "emaw-message"
	// ClassEmawInbound: eM@w messages and acknowledgements from the BA.
	ClassEmawInbound DataClass = "emaw-inbound"
	// ClassAccessLog: records of reads of personal data.
	ClassAccessLog DataClass = "access-log"
)

// DataClasses lists every DataClass, in the order above.
func DataClasses() []DataClass {
	return []DataClass{ClassXSozialDataset, ClassXSozialFeedback, ClassEmawMessage, ClassEmawInbound, ClassAccessLog}
}

// Valid reports whether c is one of DataClasses.
func (c DataClass) Valid() bool {
	for _, x := range DataClasses() {
		if x == c {
			return true
		}
	}
	return false
}

// ClassOf is the data class of what channel ch carries in direction d:
// datasets and messages out, feedback and inbound messages in.
func ClassOf(ch Channel, d Direction) DataClass {
	switch {
	case ch == ChannelXSozial && d == DirectionOut:
		return ClassXSozialDataset
	case ch == ChannelXSozial:
		return ClassXSozialFeedback
	case d == DirectionOut:
		return ClassEmawMessage
	}
	return ClassEmawInbound
}

// DataKey is one data key as the register keeps it: wrapped under the
// tenant's key-encryption key, never in the clear.
type DataKey struct {
	// ID names the key (16 hex digits); sealed payloads carry it.
	ID    string
	Class DataClass
	// Month is the month the key seals payloads of, "2006-01".
	Month string
	// KEKID names the key-encryption key Wrapped is wrapped under.
	KEKID string
	// Wrapped is the wrapped key; nil once the key is destroyed.
	Wrapped []byte
	Created time.Time
	// Destroyed is when the key was destroyed; zero while it lives.
	Destroyed time.Time
}

// IsDestroyed reports whether the key was destroyed.
func (k DataKey) IsDestroyed() bool { return !k.Destroyed.IsZero() }

func (k DataKey) validate() error {
	switch {
	case len(k.ID) != 16 || !isHex(k.ID):
		return &FieldError{Field: "ID", Expected: "16 hex digits"}
	case !k.Class.Valid():
		return &FieldError{Field: "Class", Expected: "one of register.DataClasses()"}
	case !validMonth(k.Month):
		return &FieldError{Field: "Month", Expected: "a month as 2006-01"}
	case len(k.KEKID) != 16 || !isHex(k.KEKID):
		return &FieldError{Field: "KEKID", Expected: "16 hex digits"}
	case len(k.Wrapped) == 0:
		return &FieldError{Field: "Wrapped", Expected: "the wrapped key"}
	}
	return nil
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

func validMonth(s string) bool {
	_, err := time.Parse("2006-01", s)
	return err == nil && len(s) == 7
}

// DataKeysParams selects data keys.
type DataKeysParams struct {
	// After: only keys whose ID sorts after this; "" starts at the first.
	After string
	// Limit: at most this many; defaults to 1000, at most 10000.
	Limit int
}

// RewrapParams configure Store.RewrapDataKeys.
type RewrapParams struct {
	// Rewrap returns k wrapped under the new key-encryption key: KEKID
	// and Wrapped changed, nothing else. An error stops the rotation and
	// nothing changes.
	Rewrap func(k DataKey) (DataKey, error)
	// Entry is the "kek-rotated" entry appended with the change.
	Entry AppendParams
}

// DataKeyGetParams: see Executor.DataKeyGet.
type DataKeyGetParams struct {
	ID string
	// Class and Month, with ID empty: the live key of that class and
	// month.
	Class DataClass
	Month string
}

// DataKeyInsertParams: see Executor.DataKeyInsert.
type DataKeyInsertParams struct {
	Key DataKey
}

// DataKeyListParams: see Executor.DataKeyList.
type DataKeyListParams struct {
	After string
	Limit int
}

// DataKeySetWrappedParams: see Executor.DataKeySetWrapped.
type DataKeySetWrappedParams struct {
	ID string
	// OldKEKID is the KEK the key must still be wrapped under.
	OldKEKID string
	KEKID    string
	Wrapped  []byte
}

// DataKeyDestroyParams: see Executor.DataKeyDestroy.
type DataKeyDestroyParams struct {
	ID string
	At time.Time
}

// DataKey implements Store.
func (s *dbStore) DataKey(ctx context.Context, id string) (DataKey, error) {
	k, err := s.d.DataKeyGet(ctx, &DataKeyGetParams{ID: id})
	if err != nil {
		return DataKey{}, fmt.Errorf("data key %s: %w", id, err)
	}
	return k, nil
}

// PutDataKey implements Store.
func (s *dbStore) PutDataKey(ctx context.Context, k DataKey) (DataKey, error) {
	if err := k.validate(); err != nil {
		return DataKey{}, err
	}
	k.Created, k.Destroyed = s.now(), time.Time{}
	var out DataKey
	err := s.d.Write(ctx, func(x Executor) error {
		live, err := x.DataKeyGet(ctx, &DataKeyGetParams{Class: k.Class, Month: k.Month})
		if err == nil {
			out = live
			return nil
		}
		if err := x.DataKeyInsert(ctx, &DataKeyInsertParams{Key: k}); err != nil {
			return fmt.Errorf("data key %s: %w", k.ID, err)
		}
		out = k
		return nil
	})
	return out, err
}

// DataKeys implements Store.
func (s *dbStore) DataKeys(ctx context.Context, p DataKeysParams) ([]DataKey, error) {
	if p.Limit == 0 {
		p.Limit = 1000
	}
	if p.Limit < 0 || p.Limit > 10000 {
		return nil, &FieldError{Field: "Limit", Expected: "1 to 10000 (0 for 1000)"}
	}
	return s.d.DataKeyList(ctx, &DataKeyListParams{After: p.After, Limit: p.Limit})
}

// RewrapDataKeys implements Store.
func (s *dbStore) RewrapDataKeys(ctx context.Context, p RewrapParams) (int, Entry, error) {
	if p.Entry.Event != EventKEKRotated {
		return 0, Entry{}, &FieldError{Field: "Entry.Event", Expected: `"kek-rotated"`}
	}
	var n int
	var e Entry
	err := s.d.Write(ctx, func(x Executor) error {
		n = 0
		var after string
		for {
			ks, err := x.DataKeyList(ctx, &DataKeyListParams{After: after, Limit: 1000})
			if err != nil {
				return err
			}
			if len(ks) == 0 {
				break
			}
			for _, k := range ks {
				after = k.ID
				if k.IsDestroyed() {
					continue
				}
				nk, err := p.Rewrap(k)
				if err != nil {
					return fmt.Errorf("data key %s: %w", k.ID, err)
				}
				if nk.ID != k.ID || len(nk.Wrapped) == 0 || len(nk.KEKID) != 16 {
					return fmt.Errorf("data key %s: the rewrap changed its ID or gave no key", k.ID)
				}
				ok, err := x.DataKeySetWrapped(ctx, &DataKeySetWrappedParams{ID: k.ID, OldKEKID: k.KEKID, KEKID: nk.KEKID, Wrapped: nk.Wrapped})
				if err != nil {
					return fmt.Errorf("data key %s: %w", k.ID, err)
				}
				if !ok {
					return fmt.Errorf("data key %s changed during the rotation: %w", k.ID, ErrStateConflict)
				}
				n++
			}
		}
		es, err := s.appendChain(ctx, x, s.now(), []AppendParams{p.Entry})
		if err != nil {
			return err
		}
		e = es[0]
		return nil
	})
	if err != nil {
		return 0, Entry{}, err
	}
	return n, e, nil
}

// DestroyDataKey implements Store.
func (s *dbStore) DestroyDataKey(ctx context.Context, id string, p AppendParams) (Entry, error) {
	if p.Event != EventDataKeyDestroyed {
		return Entry{}, &FieldError{Field: "Event", Expected: `"data-key-destroyed"`}
	}
	var e Entry
	err := s.d.Write(ctx, func(x Executor) error {
		k, err := x.DataKeyGet(ctx, &DataKeyGetParams{ID: id})
		if err != nil {
			return fmt.Errorf("data key %s: %w", id, err)
		}
		if k.IsDestroyed() {
			return fmt.Errorf("data key %s was destroyed already (%s): %w", id, k.Destroyed.Format(time.RFC3339), ErrStateConflict)
		}
		now := s.now()
		if err := x.DataKeyDestroy(ctx, &DataKeyDestroyParams{ID: id, At: now}); err != nil {
			return err
		}
		es, err := s.appendChain(ctx, x, now, []AppendParams{p})
		if err != nil {
			return err
		}
		e = es[0]
		return nil
	})
	return e, err
}
