package registertest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"meldeweg.dev/meldeweg/transport/register"
	pstore "meldeweg.dev/meldeweg/transport/register/payload"
)

func newKEK(t *testing.T, name string) *pstore.KEK {
	t.Helper()
	b := make([]byte, 32)
	rand.Read(b)
	k, err := pstore.ParseKEK([]byte(hex.EncodeToString(b)), name)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// readAll opens payload sum through ps and reads it to the end.
func readAll(ctx context.Context, ps *pstore.Store, sum register.Hash) (string, error) {
	rc, err := ps.Open(ctx, sum)
	if err != nil {
		return "", err
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	return string(b), err
}

// exerciseKeys tests the key hierarchy over the store: data keys per
// class and month wrapped under a KEK, the legacy instance key, KEK
// rotation and the destruction of one data key.
func exerciseKeys(t *testing.T, open OpenFunc) {
	t.Run("KeyHierarchy", func(t *testing.T) {
		b := setup(t, open)
		ctx := b.ctx
		dir := t.TempDir()
		month := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
		now := month
		clock := func() time.Time { return now }

		// Before the hierarchy: the instance key seals.
		legacy, err := pstore.Open(dir, b.store)
		if err != nil {
			t.Fatal(err)
		}
		type kept struct {
			name, plain string
			ref         register.PayloadRef
		}
		var all []*kept
		keep := func(ps *pstore.Store, class register.DataClass, name, plain string) *kept {
			t.Helper()
			sealed, err := ps.SealClass(ctx, class, strings.NewReader(plain))
			if err != nil {
				t.Fatal(err)
			}
			defer sealed.Close()
			if _, err := b.store.Append(ctx, sealed.Entry(appendParams(len(all)))); err != nil {
				t.Fatal(err)
			}
			k := &kept{name: name, plain: plain, ref: sealed.Ref}
			all = append(all, k)
			return k
		}
		old := keep(legacy, "", "legacy", "<Datensatz>before the hierarchy</Datensatz>")

		k1 := newKEK(t, "kek-1")
		ps, err := pstore.OpenWith(dir, b.store, pstore.Options{KEK: k1, Now: clock})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ps.Seal(ctx, strings.NewReader("x")); err == nil {
			t.Error("Seal without a data class under a KEK succeeded")
		}
		novA := keep(ps, register.ClassXSozialDataset, "dataset nov a", "<Datensatz>a</Datensatz>")
		novB := keep(ps, register.ClassXSozialDataset, "dataset nov b", "<Datensatz>b</Datensatz>")
		keep(ps, register.ClassEmawMessage, "emaw nov", "<Eintritt/>")
		now = now.AddDate(0, 1, 0)
		keep(ps, register.ClassXSozialDataset, "dataset dec", "<Datensatz>dec</Datensatz>")

		keys, err := b.store.DataKeys(ctx, register.DataKeysParams{})
		if err != nil || len(keys) != 3 {
			t.Fatalf("data keys: %d, %v; want 3 (dataset nov, emaw nov, dataset dec)", len(keys), err)
		}
		var novKey register.DataKey
		for _, k := range keys {
			if k.KEKID != k1.ID() || len(k.Wrapped) == 0 || k.IsDestroyed() {
				t.Errorf("data key %s: kek %s, %d wrapped bytes, destroyed %v", k.ID, k.KEKID, len(k.Wrapped), k.IsDestroyed())
			}
			if k.Class == register.ClassXSozialDataset && k.Month == "2026-11" {
				novKey = k
			}
		}
		if novKey.ID == "" {
			t.Fatal("no data key for xsozial-dataset 2026-11")
		}

		// A fresh store with the KEK opens everything, the legacy
		// payload with the instance key.
		ps, err = pstore.OpenWith(dir, b.store, pstore.Options{KEK: k1, Now: clock})
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range all {
			if got, err := readAll(ctx, ps, k.ref.SHA256); err != nil || got != k.plain {
				t.Errorf("%s: %q, %v", k.name, got, err)
			}
		}

		// Without the KEK the store refuses to open, saying why.
		if _, err := pstore.Load(dir, b.store); !errors.Is(err, pstore.ErrNoKEK) {
			t.Errorf("opening without the KEK: %v; want ErrNoKEK", err)
		}

		// Rotation: every payload opens with the new KEK, none (of the
		// hierarchy) with the old.
		k2 := newKEK(t, "kek-2")
		n, e, err := ps.RotateKEK(ctx, k2, register.Operator("admin"))
		if err != nil || n != 3 || e.Event() != register.EventKEKRotated {
			t.Fatalf("RotateKEK: %d keys, entry %s, %v; want 3 and a kek-rotated entry", n, e.Event(), err)
		}
		withNew, err := pstore.OpenWith(dir, b.store, pstore.Options{KEK: k2, Now: clock})
		if err != nil {
			t.Fatal(err)
		}
		withOld, err := pstore.OpenWith(dir, b.store, pstore.Options{KEK: k1, Now: clock})
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range all {
			if got, err := readAll(ctx, withNew, k.ref.SHA256); err != nil || got != k.plain {
				t.Errorf("%s with the new KEK: %q, %v", k.name, got, err)
			}
			_, err := readAll(ctx, withOld, k.ref.SHA256)
			if k == old {
				if err != nil {
					t.Errorf("the legacy payload no longer opens: %v", err)
				}
				continue
			}
			if !errors.Is(err, pstore.ErrKEKMismatch) {
				t.Errorf("%s with the old KEK: %v; want ErrKEKMismatch", k.name, err)
			}
		}

		// Destroying one data key makes exactly its payloads unreadable.
		de, err := withNew.DestroyDataKey(ctx, novKey.ID, register.Operator("dpo"), "retention ended")
		if err != nil {
			t.Fatal(err)
		}
		if de.Event() != register.EventDataKeyDestroyed || !strings.Contains(de.Detail(), novKey.ID) {
			t.Errorf("destroy entry: %s %q", de.Event(), de.Detail())
		}
		got, err := b.store.DataKey(ctx, novKey.ID)
		if err != nil || !got.IsDestroyed() || got.Wrapped != nil {
			t.Errorf("destroyed key: destroyed %v, %d wrapped bytes, %v", got.IsDestroyed(), len(got.Wrapped), err)
		}
		fresh, err := pstore.OpenWith(dir, b.store, pstore.Options{KEK: k2, Now: clock})
		if err != nil {
			t.Fatal(err)
		}
		for _, ps := range []*pstore.Store{withNew, fresh} {
			for _, k := range all {
				got, err := readAll(ctx, ps, k.ref.SHA256)
				if k == novA || k == novB {
					if !errors.Is(err, pstore.ErrKeyDestroyed) {
						t.Errorf("%s after its key was destroyed: %v; want ErrKeyDestroyed", k.name, err)
					}
					continue
				}
				if err != nil || got != k.plain {
					t.Errorf("%s after another key was destroyed: %q, %v", k.name, got, err)
				}
			}
		}
		if _, err := withNew.DestroyDataKey(ctx, novKey.ID, register.Operator("dpo"), ""); !errors.Is(err, register.ErrStateConflict) {
			t.Errorf("destroying twice: %v; want ErrStateConflict", err)
		}
		// A new payload of that class and month gets a new key.
		now = month
		again := keep(fresh, register.ClassXSozialDataset, "dataset nov again", "<Datensatz>c</Datensatz>")
		if got, err := readAll(ctx, fresh, again.ref.SHA256); err != nil || got != again.plain {
			t.Errorf("new payload after destruction: %q, %v", got, err)
		}
		mustVerify(t, b.store, int64(len(all)+2))
	})
}
