package outbox

import (
	"context"
	"io"
	"sync"

	"meldeweg.dev/meldeweg/transport/client"
	"meldeweg.dev/meldeweg/transport/register"
	"meldeweg.dev/meldeweg/transport/register/payload"
)

// sealedPayloads serves the kept (already CMS-sealed) payloads as upload
// bodies, decrypted from rest anew for every attempt.
type sealedPayloads struct{ s *payload.Store }

// body opens the payload at once, so a payload that is not kept is an
// error before anything is sent; the first attempt reads that reader, every
// later one opens the payload again.
func (p sealedPayloads) body(ctx context.Context, ref register.PayloadRef) (*client.Body, error) {
	first, err := p.s.Open(ctx, ref.SHA256)
	if err != nil {
		return nil, err
	}
	var mu sync.Mutex
	return client.ReaderBody(ref.Size, ref.SHA256, func() (io.Reader, error) {
		mu.Lock()
		r := first
		first = nil
		mu.Unlock()
		if r != nil {
			return r, nil
		}
		return p.s.Open(ctx, ref.SHA256)
	}), nil
}
