package cms

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"testing"
)

func TestGCMStreamMatchesGoGCM(t *testing.T) {
	key := make([]byte, 32)
	nonce := make([]byte, 12)
	rand.Read(key)
	rand.Read(nonce)
	block, _ := aes.NewCipher(key)
	ref, _ := cipher.NewGCM(block)
	for _, n := range []int{0, 1, 15, 16, 17, 1000, ghashChunk - 1, ghashChunk, ghashChunk + 1, 3*ghashChunk + 77, 300001} {
		pt := make([]byte, n)
		rand.Read(pt)
		want := ref.Seal(nil, nonce, pt, nil)
		for _, piece := range []int{1, 13, 4096, 1 << 20} {
			s, err := newGCMStream(key, nonce)
			if err != nil {
				t.Fatal(err)
			}
			got := append([]byte(nil), pt...)
			for off := 0; off < len(got); off += piece {
				end := min(off+piece, len(got))
				if err := s.seal(got[off:end]); err != nil {
					t.Fatal(err)
				}
			}
			got = append(got, s.tag()...)
			if !bytes.Equal(got, want) {
				t.Errorf("len %d, pieces of %d: streaming GCM differs from crypto/cipher GCM", n, piece)
			}
			// And back.
			d, _ := newGCMStream(key, nonce)
			ct := append([]byte(nil), want[:n]...)
			if err := d.open(ct); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(ct, pt) || !d.verify(want[n:]) {
				t.Errorf("len %d: streaming GCM open failed", n)
			}
			if n > 0 {
				d2, _ := newGCMStream(key, nonce)
				ct2 := append([]byte(nil), want[:n]...)
				ct2[n/2] ^= 1
				d2.open(ct2)
				if d2.verify(want[n:]) {
					t.Errorf("len %d: flipped bit not detected", n)
				}
			}
		}
	}
}

func TestSealOpenRoundTrip(t *testing.T) {
	for _, profile := range Profiles() {
		for _, keyType := range []string{"rsa", "ecdsa"} {
			p := newTestPKI(t, keyType)
			for _, size := range []int{0, 1, 100, chunkSize, 3*chunkSize + 5, 1 << 20} {
				for _, uncompressed := range []bool{false, true} {
					in := xmlPayload(size)[:size]
					so := p.sealOptions(profile)
					so.Uncompressed = uncompressed
					var msg, out bytes.Buffer
					if err := Seal(context.Background(), &msg, bytes.NewReader(in), so); err != nil {
						t.Fatalf("%s/%s/%d: Seal: %v", profile, keyType, size, err)
					}
					info, err := Open(context.Background(), &out, &msg, p.openOptions(profile))
					if err != nil {
						t.Fatalf("%s/%s/%d/uncompressed=%v: Open: %v", profile, keyType, size, uncompressed, err)
					}
					if !bytes.Equal(out.Bytes(), in) {
						t.Errorf("%s/%s/%d: content differs (got %d bytes, want %d)", profile, keyType, size, out.Len(), len(in))
					}
					if got, want := info.Certificate.SerialNumber, p.signer.Cert.SerialNumber; got.Cmp(want) != 0 {
						t.Errorf("signer serial = %s, want %s", got, want)
					}
					if info.Compressed == uncompressed {
						t.Errorf("Compressed = %v, want %v", info.Compressed, !uncompressed)
					}
				}
			}
		}
	}
}
