package client_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"meldeweg.dev/meldeweg/basim"
	"meldeweg.dev/meldeweg/basim/simtest"
	"meldeweg.dev/meldeweg/transport/baapi"
	"meldeweg.dev/meldeweg/transport/client"
)

// TestEveryAttemptIsReported: a real simulator on loopback answers 503,
// then resets the connection mid-body, then garbles the receipt, then
// confirms; the observer of the request's context hears of each attempt
// once, in order, with its outcome and whether another follows.
func TestEveryAttemptIsReported(t *testing.T) {
	t.Parallel()
	p := simtest.NewPKI(t)
	s := simtest.Start(t, p, basim.Config{Faults: basim.Faults{Unavailable: 1, RetryAfter: time.Millisecond, ResetUploads: 1, CorruptResponses: 1}})
	c, log := newClient(t, s.URL, p.ClientTLS(t), nil)
	var mu sync.Mutex
	var got []string
	ctx := client.WithAttemptObserver(context.Background(), func(r client.AttemptResult) {
		mu.Lock()
		defer mu.Unlock()
		outcome := r.Outcome()
		if outcome == "connection closed" {
			// The transport closes the connection it saw reset while
			// sending, and then may report only that.
			outcome = "connection reset"
		}
		got = append(got, fmt.Sprintf("%s %s #%d %s", r.Method, r.MessageID, r.N, outcome))
		if r.Retry {
			got[len(got)-1] += " (retry)"
		}
	})
	if _, err := c.Upload(ctx, baapi.ChannelEmaw, "m-obs", client.ContentTypeSealed, client.BytesBody(randomBytes(t, 256<<10))); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"POST m-obs #1 HTTP 503 (retry)",
		"POST m-obs #2 connection reset (retry)",
		"POST m-obs #3 corrupt response (HTTP 202) (retry)",
		"POST m-obs #4 HTTP 202",
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(got, "\n") != strings.Join(want, "\n") || log.n() != 4 {
		t.Fatalf("attempts reported (%d made):\n%s\nwant:\n%s", log.n(), strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// A request without an observer reports nothing and works as before.
	if _, err := c.List(context.Background(), baapi.ChannelEmaw); err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 {
		t.Fatalf("a request without an observer was reported: %q", got[4:])
	}
}
