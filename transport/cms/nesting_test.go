package cms

import (
	"bytes"
	"context"
	"encoding/asn1"
	"errors"
	"runtime"
	"strings"
	"testing"
)

// nestedSize is the size of the hostile inputs below: 6 MB, as in the
// report that a 6 MB "30 80" file killed "meldeweg open" with a fatal
// stack overflow (which no recover can catch).
const nestedSize = 6_000_000

// indefiniteNest is n bytes of "30 80": SEQUENCEs of indefinite length,
// each opening inside the last, none ever closed.
func indefiniteNest(n int) []byte { return bytes.Repeat([]byte{0x30, 0x80}, n/2) }

// definiteNest is n bytes of nested definite-length SEQUENCEs, each
// header (30 84 and a four-octet length) announcing exactly the rest: a
// well-formed BER value, just deep.
func definiteNest(n int) []byte {
	b := make([]byte, n/longHeader*longHeader)
	for i := 0; i < len(b); i += longHeader {
		l := len(b) - i - longHeader
		b[i], b[i+1], b[i+2], b[i+3], b[i+4], b[i+5] = tagSequence, 0x84, byte(l>>24), byte(l>>16), byte(l>>8), byte(l)
	}
	return b
}

func mustOID(t testing.TB, oid asn1.ObjectIdentifier) []byte {
	t.Helper()
	b, err := asn1.Marshal(oid)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// signedPrefix is the start of a ContentInfo(SignedData) as the decrypted
// content of a message, up to where the eContent's OCTET STRING begins.
func signedPrefix(t testing.TB, eType asn1.ObjectIdentifier) []byte {
	var b []byte
	b = append(b, 0x30, 0x80)
	b = append(b, mustOID(t, oidSignedData)...)
	b = append(b, tagCtx0, 0x80, 0x30, 0x80, tagInteger, 1, 1, tagSet, 0, 0x30, 0x80)
	b = append(b, mustOID(t, eType)...)
	return append(b, tagCtx0, 0x80)
}

// assertTooDeep checks the refusal: ErrTooDeep (and so ErrMalformed,
// Open's one condition), located in the named layer at a byte offset, with
// the limit in the message.
func assertTooDeep(t *testing.T, err error, layer string) {
	t.Helper()
	if !errors.Is(err, ErrTooDeep) {
		t.Fatalf("err = %v, want ErrTooDeep", err)
	}
	checkOneCondition(t, err)
	var fe *FormatError
	if !errors.As(err, &fe) {
		t.Fatalf("err is %T, want a *FormatError", err)
	}
	if fe.Layer != layer || fe.Offset <= 0 || fe.Offset > 1024 {
		t.Errorf("refused in layer %q at byte %d, want layer %q within the first KiB", fe.Layer, fe.Offset, layer)
	}
	if msg := err.Error(); !strings.Contains(msg, "nesting too deep") || !strings.Contains(msg, "64") || !strings.Contains(msg, "at byte") {
		t.Errorf("message %q: want what (nesting too deep), the limit (64) and the offset", msg)
	}
}

// allocated returns the bytes f allocates. Not parallel: other goroutines'
// allocations would count too.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// maxNestedAlloc bounds what refusing a 6 MB nested input may allocate:
// the pooled 64 KiB buffers of one call and small change, whatever the
// input's size. Before the depth limit a 400 KB input took 238 MB and a
// 6 MB one crashed.
const maxNestedAlloc = 1 << 20

func TestOpenRefusesDeepNesting(t *testing.T) {
	p := newTestPKI(t, "rsa")
	oo := p.openOptions(ProfileCompat)
	octetNest := append(signedPrefix(t, oidData), bytes.Repeat([]byte{tagOctetString | tagConstructed, 0x80}, nestedSize/2)...)
	certNest := append(signedPrefix(t, oidData), 0x04, 1, 'x', 0, 0, 0, 0, tagCtx0, 0x80)
	certNest = append(certNest, indefiniteNest(nestedSize)...)
	tests := []struct {
		name  string
		data  []byte
		layer string
		open  func(o *opener, data []byte) error
	}{
		{"message, indefinite lengths", indefiniteNest(nestedSize), "message", nil},
		{"message, definite lengths", definiteNest(nestedSize), "message", nil},
		{"message, after a valid start", append([]byte{0x30, 0x80, 0x06, 0x0b, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x10, 0x01, 0x17,
			0xa0, 0x80, 0x30, 0x80, 0x02, 0x01, 0x00, tagCtx0, 0x80}, indefiniteNest(nestedSize)...), "message", nil},
		{"signed content, nested OCTET STRING chunks", octetNest, "decrypted content", func(o *opener, data []byte) error {
			return o.signed(context.Background(), new(bytes.Buffer), bytes.NewReader(data), oidData)
		}},
		{"signed content, certificates", certNest, "decrypted content", func(o *opener, data []byte) error {
			return o.signed(context.Background(), new(bytes.Buffer), bytes.NewReader(data), oidData)
		}},
		{"signed content, definite lengths", definiteNest(nestedSize), "decrypted content", func(o *opener, data []byte) error {
			return o.signed(context.Background(), new(bytes.Buffer), bytes.NewReader(data), oidSignedData)
		}},
		{"compressed content", indefiniteNest(nestedSize), "compressed content", func(o *opener, data []byte) error {
			return o.uncompress(new(bytes.Buffer), bytes.NewReader(data))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			n := allocated(func() {
				if tt.open == nil {
					_, err = Open(context.Background(), new(bytes.Buffer), bytes.NewReader(tt.data), oo)
					return
				}
				o := &opener{opts: oo}
				defer o.s.release()
				err = tt.open(o, tt.data)
			})
			assertTooDeep(t, err, tt.layer)
			t.Logf("%d bytes refused, %d bytes allocated: %v", len(tt.data), n, err)
			if n > maxNestedAlloc {
				t.Errorf("refusing %d bytes allocated %d bytes, want at most %d", len(tt.data), n, maxNestedAlloc)
			}
		})
	}
}

// TestElementNestingWithinLimit reads what nests as deep as the limit
// allows, so the limit refuses only what is deeper.
func TestElementNestingWithinLimit(t *testing.T) {
	for _, depth := range []int{maxDepth, maxDepth + 1} {
		in := append(indefiniteNest(2*depth), bytes.Repeat([]byte{0, 0}, depth)...)
		var s scratch
		b := newBERReader(bytes.NewReader(in), "test", &s)
		der, err := b.element("nest")
		s.release()
		if depth > maxDepth {
			if !errors.Is(err, ErrTooDeep) {
				t.Errorf("depth %d: err = %v, want ErrTooDeep", depth, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("depth %d: %v", depth, err)
		}
		// The DER form: the same SEQUENCEs with definite lengths.
		want := []byte{}
		for i := 0; i < depth; i++ {
			want = tlv(tagSequence, want)
		}
		if !bytes.Equal(der, want) {
			t.Errorf("depth %d: got % x, want % x", depth, der, want)
		}
	}
}

// TestElementLengthOverrunsParent refuses a child whose definite length
// runs past its parent's before reading the child's content.
func TestElementLengthOverrunsParent(t *testing.T) {
	in := []byte{0x30, 0x03, 0x04, 0x83, 0xff, 0xff, 0xff}
	var s scratch
	defer s.release()
	_, err := newBERReader(bytes.NewReader(in), "test", &s).element("x")
	if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "overruns the end of x") {
		t.Fatalf("err = %v, want an overrun", err)
	}
}

// BenchmarkOpenDeepNesting measures refusing 6 MB of nesting: B/op stays
// at the call's pooled buffers whatever the input's size.
func BenchmarkOpenDeepNesting(b *testing.B) {
	p := newTestPKI(b, "rsa")
	oo := p.openOptions(ProfileCompat)
	for _, in := range []struct {
		name string
		data []byte
	}{{"indefinite", indefiniteNest(nestedSize)}, {"definite", definiteNest(nestedSize)}} {
		b.Run(in.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(in.data)))
			for b.Loop() {
				if _, err := Open(context.Background(), new(bytes.Buffer), bytes.NewReader(in.data), oo); !errors.Is(err, ErrTooDeep) {
					b.Fatal(err)
				}
			}
		})
	}
}
