package payload_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"meldeweg.dev/meldeweg/transport/register"
	"meldeweg.dev/meldeweg/transport/register/payload"
	"meldeweg.dev/meldeweg/transport/register/sqlitestore"
)

const chunk = 64 << 10

type fixture struct {
	ps     *payload.Store
	reg    *sqlitestore.Store
	dbFile string
}

func open(t *testing.T) *fixture {
	t.Helper()
	dir := t.TempDir()
	f := &fixture{dbFile: filepath.Join(dir, "register.db")}
	reg, err := sqlitestore.Open(context.Background(), f.dbFile, sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	f.reg = reg
	if f.ps, err = payload.Open(filepath.Join(dir, "payloads"), reg); err != nil {
		t.Fatal(err)
	}
	return f
}

// keep seals plain and appends a "sealed" entry that keeps it.
func (f *fixture) keep(t *testing.T, plain []byte) register.PayloadRef {
	t.Helper()
	p, err := f.ps.Seal(context.Background(), bytes.NewReader(plain))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if _, err := f.reg.Append(context.Background(), p.Entry(register.AppendParams{Direction: register.DirectionOut,
		Channel: register.ChannelEmaw, Event: register.EventSealed, Actor: register.System("test")})); err != nil {
		t.Fatal(err)
	}
	return p.Ref
}

func (f *fixture) read(sum register.Hash) ([]byte, error) {
	r, err := f.ps.Open(context.Background(), sum)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

func random(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func TestRoundTrip(t *testing.T) {
	f := open(t)
	// Past 8 MiB Seal spills to an unlinked temporary file.
	for _, n := range []int{0, 1, chunk - 1, chunk, chunk + 1, 3*chunk + 5, 9 << 20} {
		want := random(n)
		ref := f.keep(t, want)
		if ref.SHA256 != sha256.Sum256(want) || ref.Size != int64(n) {
			t.Fatalf("size %d: Seal returned %s/%d", n, ref.SHA256, ref.Size)
		}
		got, err := f.read(ref.SHA256)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("size %d: read back %d bytes, %v", n, len(got), err)
		}
	}
	if left, _ := os.ReadDir(filepath.Join(f.ps.Dir(), "tmp")); len(left) != 0 {
		t.Fatalf("temporary files left behind: %v", left)
	}
}

// TestReadersDoNotShareBuffers: readers and seals borrow pooled buffers;
// many open at once, read in interleaved steps and closed in any order,
// each still returns its own payload, and a reader refuses Read after
// Close (its buffers belong to someone else by then).
func TestReadersDoNotShareBuffers(t *testing.T) {
	f := open(t)
	const n = 8
	var want [n][]byte
	var refs [n]register.PayloadRef
	for i := range n {
		want[i] = random(chunk + 1000*i)
		refs[i] = f.keep(t, want[i])
	}
	var rs [n]io.ReadCloser
	var got [n][]byte
	for i := range n {
		r, err := f.ps.Open(context.Background(), refs[i].SHA256)
		if err != nil {
			t.Fatal(err)
		}
		rs[i] = r
	}
	buf := make([]byte, 4000)
	for open := n; open > 0; {
		open = 0
		for i := range n {
			if rs[i] == nil {
				continue
			}
			k, err := rs[i].Read(buf)
			got[i] = append(got[i], buf[:k]...)
			switch {
			case err == io.EOF:
				rs[i].Close()
				rs[i] = nil
			case err != nil:
				t.Fatalf("payload %d: %v", i, err)
			default:
				open++
			}
		}
	}
	for i := range n {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("payload %d: read back %d bytes that differ from the %d kept", i, len(got[i]), len(want[i]))
		}
	}
	r, err := f.ps.Open(context.Background(), refs[0].SHA256)
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	if k, err := r.Read(buf); k != 0 || err == nil {
		t.Fatalf("Read after Close = %d, %v; want an error", k, err)
	}
}

func TestNothingKeptUntilAppended(t *testing.T) {
	f := open(t)
	p, err := f.ps.Seal(context.Background(), bytes.NewReader([]byte("<Eintritt/>")))
	if err != nil {
		t.Fatal(err)
	}
	p.Close()
	if _, err := f.read(p.Ref.SHA256); !errors.Is(err, register.ErrNotFound) {
		t.Fatalf("Open of a payload never appended: %v, want ErrNotFound", err)
	}
}

func TestStoredSealedAndPrivate(t *testing.T) {
	f := open(t)
	secret := bytes.Repeat([]byte("Kundennummer 123D456789 Erika Mustermann\n"), 100)
	ref := f.keep(t, secret)
	f.reg.Close()
	// The database and its write-ahead log hold the payload only sealed.
	for _, file := range []string{f.dbFile, f.dbFile + "-wal"} {
		b, err := os.ReadFile(file)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte("Mustermann")) || bytes.Contains(b, []byte("123D456789")) {
			t.Fatalf("%s contains plaintext", filepath.Base(file))
		}
	}
	fi, err := os.Stat(filepath.Join(f.ps.Dir(), "payload.key"))
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o600 {
		t.Fatalf("key file mode %04o, want 0600", got)
	}
	// Reopening uses the same key.
	reg, err := sqlitestore.Open(context.Background(), f.dbFile, sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	again, err := payload.Open(f.ps.Dir(), reg)
	if err != nil {
		t.Fatal(err)
	}
	r, err := again.Open(context.Background(), ref.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := io.ReadAll(r); err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("reopened store read %d bytes, %v", len(got), err)
	}
}

func TestKeyFileTooOpenIsRefused(t *testing.T) {
	f := open(t)
	if err := os.Chmod(filepath.Join(f.ps.Dir(), "payload.key"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := payload.Open(f.ps.Dir(), f.reg); err == nil {
		t.Fatal("a world-readable key file was accepted")
	}
}

// rewrite reads and replaces the bytes the register keeps for sum, as
// someone with write access to the database file could.
func rewrite(t *testing.T, dbFile string, sum register.Hash, change func([]byte) []byte) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+dbFile+"?_busy_timeout=5000")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var b []byte
	if err := db.QueryRow(`SELECT data FROM register_payload_chunks WHERE sha256 = ? AND n = 0`, sum[:]).Scan(&b); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE register_payload_chunks SET data = ? WHERE sha256 = ? AND n = 0`, change(b), sum[:]); err != nil {
		t.Fatal(err)
	}
}

func TestTamperingIsDetected(t *testing.T) {
	plain := random(2*chunk + 100)
	const head = 8 + 8 + 32 // magic, key ID, salt
	tests := []struct {
		name   string
		damage func(f *fixture) func([]byte) []byte
	}{
		{"flipped bit", func(*fixture) func([]byte) []byte {
			return func(b []byte) []byte { b[len(b)/2] ^= 1; return b }
		}},
		{"last chunk cut off", func(*fixture) func([]byte) []byte {
			return func(b []byte) []byte { return b[:head+2*(chunk+16)] }
		}},
		{"chunks swapped", func(*fixture) func([]byte) []byte {
			return func(b []byte) []byte {
				c0 := append([]byte(nil), b[head:head+chunk+16]...)
				copy(b[head:], b[head+chunk+16:head+2*(chunk+16)])
				copy(b[head+chunk+16:], c0)
				return b
			}
		}},
		{"header replaced", func(*fixture) func([]byte) []byte {
			return func(b []byte) []byte { copy(b, "NOTSEAL\n"); return b }
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := open(t)
			ref := f.keep(t, plain)
			rewrite(t, f.dbFile, ref.SHA256, tt.damage(f))
			if _, err := f.read(ref.SHA256); !errors.Is(err, payload.ErrCorrupt) {
				t.Fatalf("got %v, want ErrCorrupt", err)
			}
		})
	}
	t.Run("other payload under this address", func(t *testing.T) {
		f := open(t)
		ref := f.keep(t, plain)
		other := f.keep(t, []byte("something else"))
		var otherBytes []byte
		rewrite(t, f.dbFile, other.SHA256, func(b []byte) []byte { otherBytes = append([]byte(nil), b...); return b })
		rewrite(t, f.dbFile, ref.SHA256, func([]byte) []byte { return otherBytes })
		if _, err := f.read(ref.SHA256); !errors.Is(err, payload.ErrCorrupt) {
			t.Fatalf("got %v, want ErrCorrupt", err)
		}
	})
}

func TestDeleteIsRecordedAndChainVerifies(t *testing.T) {
	ctx := context.Background()
	f := open(t)
	ref := f.keep(t, []byte("<Austritt/>"))
	e, err := f.ps.Delete(ctx, payload.DeleteParams{Payload: ref, Direction: register.DirectionOut, Channel: register.ChannelEmaw,
		MessageID: "m-1", Actor: register.Operator("alice"), Reason: "retention period ended"})
	if err != nil {
		t.Fatal(err)
	}
	if e.Event() != register.EventPayloadDeleted || e.Payload() != ref || e.Seq() != 2 {
		t.Fatalf("deletion entry: event %s payload %v seq %d", e.Event(), e.Payload(), e.Seq())
	}
	if _, err := f.reg.Payload(ctx, ref.SHA256); !errors.Is(err, register.ErrNotFound) {
		t.Fatalf("the payload is still kept: %v", err)
	}
	if _, err := f.read(ref.SHA256); !errors.Is(err, register.ErrNotFound) {
		t.Fatalf("Open after delete: got %v, want ErrNotFound", err)
	}
	if rep, err := f.reg.Verify(ctx, register.VerifyParams{}); err != nil || rep.Entries != 2 {
		t.Fatalf("Verify after deletion = %+v, %v", rep, err)
	}
}

// Payloads an older Meldeweg kept as files, <dir>/<xx>/<sha256>.sealed in
// the same format, are still read, and a retention deletion removes them.
func TestFilesOfOlderRegistersAreRead(t *testing.T) {
	ctx := context.Background()
	f := open(t)
	plain := []byte("<Anwesenheit/>")
	p, err := f.ps.Seal(ctx, bytes.NewReader(plain))
	if err != nil {
		t.Fatal(err)
	}
	h := p.Ref.SHA256.String()
	file := filepath.Join(f.ps.Dir(), h[:2], h+".sealed")
	sealed, _ := io.ReadAll(p.Data())
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, sealed, 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := f.read(p.Ref.SHA256); err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("reading a file of an older register: %q, %v", got, err)
	}
	if _, err := f.ps.Delete(ctx, payload.DeleteParams{Payload: p.Ref, Direction: register.DirectionOut, Channel: register.ChannelEmaw,
		Actor: register.Operator("alice"), Reason: "retention period ended"}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(file); !os.IsNotExist(err) {
		t.Fatalf("file after deletion: %v", err)
	}
}

// A wrong key directory must not get a fresh key for a register that keeps
// payloads (that key could never open them); the error names the key ID
// the payloads want and the file looked at, and nothing is created.
func TestWrongDirectoryGetsNoNewKey(t *testing.T) {
	f := open(t)
	ref := f.keep(t, []byte("<Eintritt/>"))
	wrong := filepath.Join(t.TempDir(), "elsewhere")
	for name, openFn := range map[string]func(string, register.Store) (*payload.Store, error){"Open": payload.Open, "Load": payload.Load} {
		_, err := openFn(wrong, f.reg)
		var ke *payload.KeyError
		if !errors.Is(err, payload.ErrNoKey) || !errors.As(err, &ke) {
			t.Fatalf("%s of a directory without the key: %v, want ErrNoKey", name, err)
		}
		for _, want := range []string{f.ps.KeyID().String(), filepath.Join(wrong, "payload.key"), ref.SHA256.String()} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s: error %q does not name %s", name, err, want)
			}
		}
		if _, err := os.Stat(wrong); !os.IsNotExist(err) {
			t.Fatalf("%s created %s: %v", name, wrong, err)
		}
	}
}

// A directory holding another instance's key is refused at Open, naming
// both key IDs; a payload sealed under another key than the one a store
// has is refused when read, not reported as corrupt.
func TestWrongKeyIsNamed(t *testing.T) {
	ctx := context.Background()
	f := open(t)
	other := open(t) // another instance, with its own key
	f.keep(t, []byte("<Eintritt/>"))
	_, err := payload.Open(other.ps.Dir(), f.reg)
	if !errors.Is(err, payload.ErrWrongKey) || !strings.Contains(err.Error(), f.ps.KeyID().String()) || !strings.Contains(err.Error(), other.ps.KeyID().String()) {
		t.Fatalf("Open with another instance's key: %v, want ErrWrongKey naming both key IDs", err)
	}
	// A store opened with another key before the register kept anything.
	reg, err := sqlitestore.Open(ctx, filepath.Join(t.TempDir(), "r.db"), sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	a, err := payload.Open(f.ps.Dir(), reg)
	if err != nil {
		t.Fatal(err)
	}
	b, err := payload.Open(other.ps.Dir(), reg)
	if err != nil {
		t.Fatal(err)
	}
	p, err := a.Seal(ctx, bytes.NewReader([]byte("<Austritt/>")))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if _, err := reg.Append(ctx, p.Entry(register.AppendParams{Direction: register.DirectionOut,
		Channel: register.ChannelEmaw, Event: register.EventSealed, Actor: register.System("test")})); err != nil {
		t.Fatal(err)
	}
	_, err = b.Open(ctx, p.Ref.SHA256)
	if !errors.Is(err, payload.ErrWrongKey) || errors.Is(err, payload.ErrCorrupt) || !strings.Contains(err.Error(), a.KeyID().String()) {
		t.Fatalf("reading a payload of another key: %v, want ErrWrongKey naming key %s", err, a.KeyID())
	}
}

// The key directory is 0700 and the key files in it 0600.
func TestKeyFilesArePrivate(t *testing.T) {
	f := open(t)
	if _, err := register.LoadPseudonymizer(filepath.Join(f.ps.Dir(), "pseudonym.key")); err != nil {
		t.Fatal(err)
	}
	for file, want := range map[string]os.FileMode{
		f.ps.Dir():                                 0o700,
		filepath.Join(f.ps.Dir(), "payload.key"):   0o600,
		filepath.Join(f.ps.Dir(), "pseudonym.key"): 0o600,
	} {
		fi, err := os.Stat(file)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s: mode %04o, want %04o", file, got, want)
		}
	}
}
