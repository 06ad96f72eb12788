package payload_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"meldeweg.dev/meldeweg/transport/register"
	"meldeweg.dev/meldeweg/transport/register/payload"
	"meldeweg.dev/meldeweg/transport/register/sqlitestore"
)

const chunk = 64 << 10

func open(t *testing.T) *payload.Store {
	t.Helper()
	s, err := payload.Open(filepath.Join(t.TempDir(), "payloads"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func random(t *testing.T, n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func TestRoundTrip(t *testing.T) {
	s := open(t)
	for _, n := range []int{0, 1, chunk - 1, chunk, chunk + 1, 3*chunk + 5} {
		want := random(t, n)
		ref, err := s.Put(context.Background(), bytes.NewReader(want))
		if err != nil {
			t.Fatal(err)
		}
		if ref.SHA256 != sha256.Sum256(want) || ref.Size != int64(n) {
			t.Fatalf("size %d: Put returned %s/%d", n, ref.SHA256, ref.Size)
		}
		r, err := s.Open(ref.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(r)
		r.Close()
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("size %d: read back %d bytes, %v", n, len(got), err)
		}
	}
}

func TestStoredSealedAndPrivate(t *testing.T) {
	s := open(t)
	secret := bytes.Repeat([]byte("Kundennummer 123D456789 Erika Mustermann\n"), 100)
	ref, err := s.Put(context.Background(), bytes.NewReader(secret))
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := os.ReadFile(s.Path(ref.SHA256))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte("Mustermann")) || bytes.Contains(sealed, []byte("123D456789")) {
		t.Fatal("the sealed file contains plaintext")
	}
	fi, err := os.Stat(filepath.Join(s.Dir(), "payload.key"))
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o600 {
		t.Fatalf("key file mode %04o, want 0600", got)
	}
	// Reopening uses the same key.
	again, err := payload.Open(s.Dir())
	if err != nil {
		t.Fatal(err)
	}
	r, err := again.Open(ref.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := io.ReadAll(r); err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("reopened store read %d bytes, %v", len(got), err)
	}
}

func TestKeyFileTooOpenIsRefused(t *testing.T) {
	s := open(t)
	if err := os.Chmod(filepath.Join(s.Dir(), "payload.key"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := payload.Open(s.Dir()); err == nil {
		t.Fatal("a world-readable key file was accepted")
	}
}

func TestTamperingIsDetected(t *testing.T) {
	plain := random(t, 2*chunk+100)
	tests := []struct {
		name   string
		damage func(t *testing.T, s *payload.Store, file string, ref register.PayloadRef)
	}{
		{"flipped bit", func(t *testing.T, _ *payload.Store, file string, _ register.PayloadRef) {
			b, _ := os.ReadFile(file)
			b[len(b)/2] ^= 1
			os.WriteFile(file, b, 0o600)
		}},
		{"last chunk cut off", func(t *testing.T, _ *payload.Store, file string, _ register.PayloadRef) {
			os.Truncate(file, int64(8+32+2*(chunk+16)))
		}},
		{"chunks swapped", func(t *testing.T, _ *payload.Store, file string, _ register.PayloadRef) {
			b, _ := os.ReadFile(file)
			c0 := append([]byte(nil), b[40:40+chunk+16]...)
			copy(b[40:], b[40+chunk+16:40+2*(chunk+16)])
			copy(b[40+chunk+16:], c0)
			os.WriteFile(file, b, 0o600)
		}},
		{"other payload under this address", func(t *testing.T, s *payload.Store, file string, _ register.PayloadRef) {
			other, err := s.Put(context.Background(), bytes.NewReader([]byte("something else")))
			if err != nil {
				t.Fatal(err)
			}
			b, _ := os.ReadFile(s.Path(other.SHA256))
			os.WriteFile(file, b, 0o600)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t)
			ref, err := s.Put(context.Background(), bytes.NewReader(plain))
			if err != nil {
				t.Fatal(err)
			}
			tt.damage(t, s, s.Path(ref.SHA256), ref)
			r, err := s.Open(ref.SHA256)
			if err == nil {
				_, err = io.ReadAll(r)
				r.Close()
			}
			if !errors.Is(err, payload.ErrCorrupt) {
				t.Fatalf("got %v, want ErrCorrupt", err)
			}
		})
	}
}

func TestDeleteIsRecordedAndChainVerifies(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	reg, err := sqlitestore.Open(ctx, filepath.Join(t.TempDir(), "register.db"), sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	ref, err := s.Put(ctx, bytes.NewReader([]byte("<Austritt/>")))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Append(ctx, register.AppendParams{Direction: register.DirectionOut, Channel: register.ChannelEmaw,
		Event: register.EventSealed, Actor: register.System("send"), MessageID: "m-1", Payload: ref}); err != nil {
		t.Fatal(err)
	}
	e, err := s.Delete(ctx, reg, payload.DeleteParams{Payload: ref, Direction: register.DirectionOut, Channel: register.ChannelEmaw,
		MessageID: "m-1", Actor: register.Operator("alice"), Reason: "retention period ended"})
	if err != nil {
		t.Fatal(err)
	}
	if e.Event() != register.EventPayloadDeleted || e.Payload() != ref || e.Seq() != 2 {
		t.Fatalf("deletion entry: event %s payload %v seq %d", e.Event(), e.Payload(), e.Seq())
	}
	if has, _ := s.Has(ref.SHA256); has {
		t.Fatal("the payload file is still there")
	}
	if _, err := s.Open(ref.SHA256); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Open after delete: got %v, want fs.ErrNotExist", err)
	}
	if rep, err := reg.Verify(ctx); err != nil || rep.Entries != 2 {
		t.Fatalf("Verify after deletion = %+v, %v", rep, err)
	}
}
