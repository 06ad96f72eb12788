package cms

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"
)

// TestConcurrentCallsKeepTheirBuffers: Seal and Open borrow pooled
// buffers; many calls at once, in both profiles, with sizes around the
// chunk boundaries, each get back exactly their own content (run with
// -race, a buffer shared between calls is also a reported race).
func TestConcurrentCallsKeepTheirBuffers(t *testing.T) {
	p := newTestPKI(t, "rsa")
	sizes := []int{0, 1, 3000, chunkSize - 1, chunkSize, chunkSize + 1, 3*chunkSize + 7}
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i, n := range sizes {
				profile := ProfileCompat
				if (g+i)%2 == 1 {
					profile = ProfileBSI
				}
				want := xmlPayload(n)[:n]
				if i%3 == 0 {
					want = bytes.Repeat([]byte{byte(g)}, n) // a different content per goroutine
				}
				var sealed, got bytes.Buffer
				if err := Seal(context.Background(), &sealed, bytes.NewReader(want), p.sealOptions(profile)); err != nil {
					errs <- err
					return
				}
				if _, err := Open(context.Background(), &got, &sealed, p.openOptions(profile)); err != nil {
					errs <- fmt.Errorf("goroutine %d, %d bytes, %s: %w", g, n, profile, err)
					return
				}
				if !bytes.Equal(got.Bytes(), want) {
					errs <- fmt.Errorf("goroutine %d, %d bytes, %s: opened content differs from what was sealed", g, n, profile)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// BenchmarkSealOpenSmall seals and opens one eM@w-sized message (3 KB);
// -benchmem shows what a message costs the garbage collector.
func BenchmarkSealOpenSmall(b *testing.B) {
	p := newTestPKI(b, "rsa")
	msg := xmlPayload(3000)
	so, oo := p.sealOptions(ProfileCompat), p.openOptions(ProfileCompat)
	b.ReportAllocs()
	for b.Loop() {
		var sealed, got bytes.Buffer
		if err := Seal(context.Background(), &sealed, bytes.NewReader(msg), so); err != nil {
			b.Fatal(err)
		}
		if _, err := Open(context.Background(), &got, &sealed, oo); err != nil {
			b.Fatal(err)
		}
	}
}
