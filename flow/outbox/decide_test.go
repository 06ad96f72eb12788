package outbox

import (
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"
	"testing"

	"meldeweg.dev/meldeweg/transport/baapi"
	"meldeweg.dev/meldeweg/transport/client"
	"meldeweg.dev/meldeweg/transport/register"
	"meldeweg.dev/meldeweg/transport/register/payload"
)

func TestDecide(t *testing.T) {
	t.Parallel()
	status := func(code int) error {
		return fmt.Errorf("upload m: %w", &client.StatusError{Method: "POST", Path: "/p", StatusCode: code, Problem: baapi.Problem{Status: code}})
	}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name string
		ctx  context.Context
		err  error
		want verdict
	}{
		{"connection reset", nil, &net.OpError{Op: "read", Err: syscall.ECONNRESET}, retryLater},
		{"503 after the client's retries", nil, status(503), retryLater},
		{"429", nil, status(429), retryLater},
		{"408", nil, status(408), retryLater},
		{"425", nil, status(425), retryLater},
		{"corrupt receipt", nil, fmt.Errorf("upload m: %w", client.ErrCorruptResponse), retryLater},
		{"payload store busy", nil, errors.New("database is locked"), retryLater},
		{"400 refused as such", nil, status(400), giveUp},
		{"413 too large", nil, status(413), giveUp},
		{"409 another body under the ID", nil, status(409), conflict},
		{"TLS trust", nil, fmt.Errorf("upload m: %w", &client.TLSError{Err: errors.New("x509: unknown authority")}), giveUp},
		{"payload not kept", nil, fmt.Errorf("payload h: not kept: %w", register.ErrNotFound), giveUp},
		{"payload sealed under another key", nil, fmt.Errorf("payload h: %w", &payload.KeyError{Want: "k1", Have: "k2"}), leave},
		{"payload fails authentication on open", nil, fmt.Errorf("payload h: no sealed-payload header: %w", payload.ErrCorrupt), corruptStop},
		{"payload fails authentication while sent", nil, fmt.Errorf("upload m: %w", fmt.Errorf("reading: %w: %w", client.ErrUploadBody, payload.ErrCorrupt)), corruptStop},
		{"ctx ended", cancelled, fmt.Errorf("upload m: %w", context.Canceled), leave},
	}
	for _, tt := range tests {
		ctx := tt.ctx
		if ctx == nil {
			ctx = context.Background()
		}
		if got := decide(ctx, tt.err); got != tt.want {
			t.Errorf("%s: got %s, want %s", tt.name, got, tt.want)
		}
	}
}
