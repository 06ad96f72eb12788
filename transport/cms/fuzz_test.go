package cms

import (
	"bytes"
	"context"
	"errors"
	"testing"
)

// checkOneCondition asserts Open's contract: every error it returns wraps
// exactly one of its conditions.
func checkOneCondition(t *testing.T, err error) {
	t.Helper()
	var n int
	for _, c := range allConditions {
		if errors.Is(err, c) {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("error wraps %d of Open's conditions, want exactly one: %v", n, err)
	}
}

// FuzzOpen feeds Open arbitrary messages, seeded with real ones of both
// profiles: no panic, and every refusal wraps exactly one condition. Open
// reads untrusted bytes (the BA's answers) through pooled buffers.
func FuzzOpen(f *testing.F) {
	p := newTestPKI(f, "rsa")
	for _, profile := range []Profile{ProfileCompat, ProfileBSI} {
		for _, n := range []int{0, 300, chunkSize + 5} {
			var sealed bytes.Buffer
			if err := Seal(context.Background(), &sealed, bytes.NewReader(xmlPayload(n)[:n]), p.sealOptions(profile)); err != nil {
				f.Fatal(err)
			}
			f.Add(sealed.Bytes())
		}
	}
	// Nesting, deeper than the limit and within it.
	f.Add(indefiniteNest(2 * (maxDepth + 2)))
	f.Add(definiteNest(longHeader * (maxDepth + 2)))
	f.Add(append(indefiniteNest(2*maxDepth), bytes.Repeat([]byte{0, 0}, maxDepth)...))
	oo := p.openOptions(ProfileBSI) // accepts both profiles' algorithms
	f.Fuzz(func(t *testing.T, data []byte) {
		var out bytes.Buffer
		if _, err := Open(context.Background(), &out, bytes.NewReader(data), oo); err != nil {
			checkOneCondition(t, err)
		}
	})
}

// FuzzOpenSigned feeds the layers inside the encryption (SignedData around
// CompressedData or data) what decryption could yield, which random
// mutations of a whole message would never reach.
func FuzzOpenSigned(f *testing.F) {
	p := newTestPKI(f, "rsa")
	so := p.sealOptions(ProfileCompat).withDefaults()
	for _, compressed := range []bool{true, false} {
		for _, n := range []int{0, 300, chunkSize + 5} {
			var s scratch
			var signed bytes.Buffer
			ct := oidData
			if compressed {
				ct = oidCompressedData
			}
			sig, err := newSignedWriter(&signed, so, ct, s.buf())
			if err != nil {
				f.Fatal(err)
			}
			if compressed {
				comp, err := newCompressWriter(sig, so.CompressionLevel, s.buf())
				if err != nil {
					f.Fatal(err)
				}
				comp.Write(xmlPayload(n)[:n])
				if err := comp.Close(); err != nil {
					f.Fatal(err)
				}
			} else {
				sig.Write(xmlPayload(n)[:n])
			}
			if err := sig.Close(); err != nil {
				f.Fatal(err)
			}
			s.release()
			f.Add(signed.Bytes())
		}
	}
	// Nesting in the content's OCTET STRING chunks and in the certificates.
	f.Add(append(signedPrefix(f, oidData), bytes.Repeat([]byte{tagOctetString | tagConstructed, 0x80}, maxDepth+2)...))
	f.Add(append(append(signedPrefix(f, oidData), 0x04, 1, 'x', 0, 0, 0, 0, tagCtx0, 0x80), indefiniteNest(2*(maxDepth+2))...))
	f.Add(definiteNest(longHeader * (maxDepth + 2)))
	oo := p.openOptions(ProfileCompat)
	f.Fuzz(func(t *testing.T, data []byte) {
		o := &opener{opts: oo}
		defer o.s.release()
		var out bytes.Buffer
		if err := o.signed(context.Background(), &out, bytes.NewReader(data), oidData); err != nil {
			checkOneCondition(t, err)
		}
	})
}
