package sqlitestore_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"meldeweg.dev/meldeweg/transport/register"
	"meldeweg.dev/meldeweg/transport/register/sqlitestore"
)

// BenchmarkAppend measures register appends per second with synchronous
// commits (WAL, synchronous=FULL: each Append is one fsynced transaction),
// the goal being at least 2,000/s. Each iteration appends 2,000
// entries to a fresh file on the machine's disk, then verifies the chain.
func BenchmarkAppend(b *testing.B) {
	for _, workers := range []int{1, 8, 32} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			perIter := 2000 / workers * workers
			var total time.Duration
			for range b.N {
				s, err := sqlitestore.Open(context.Background(), filepath.Join(b.TempDir(), "register.db"), sqlitestore.Options{})
				if err != nil {
					b.Fatal(err)
				}
				p := register.AppendParams{
					Direction: register.DirectionOut, Channel: register.ChannelEmaw, Event: register.EventSent,
					Actor: register.System("bench"), Endpoint: "https://ba.example/emaw/upload", MessageID: "bench-1",
					Payload: register.PayloadRef{SHA256: sha256.Sum256([]byte("x")), Size: 4096}, Attempt: 1,
				}
				start := time.Now()
				var wg sync.WaitGroup
				for range workers {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for range perIter / workers {
							if _, err := s.Append(context.Background(), p); err != nil {
								b.Error(err)
								return
							}
						}
					}()
				}
				wg.Wait()
				total += time.Since(start)
				rep, err := s.Verify(context.Background(), register.VerifyParams{})
				if err != nil || rep.Entries != int64(perIter) {
					b.Fatalf("Verify = %+v, %v", rep, err)
				}
				s.Close()
			}
			b.ReportMetric(float64(perIter*b.N)/total.Seconds(), "appends/s")
			b.ReportMetric(0, "ns/op")
		})
	}
}
