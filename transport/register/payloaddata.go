package register

import (
	"errors"
	"fmt"
	"io"
	"sync"
)

// PayloadChunkSize is the most kept payload bytes a backend stores in one
// row: large payloads (a monthly XSozial dataset of hundreds of
// megabytes) are written and read a chunk at a time, so neither side
// holds a payload in memory.
const PayloadChunkSize = 1 << 20

// writeChunks reads r to the end in chunks of PayloadChunkSize and calls
// put for each, numbered from 0; an empty r gives no chunk. It returns the
// bytes and chunks written. The store calls it inside the transaction that
// appends the entry the data belongs to.
func writeChunks(r io.Reader, put func(n int, chunk []byte) error) (size int64, chunks int, err error) {
	// A fresh megabyte per call, zeroed, cost more CPU than the rest of
	// an eM@w delivery's register work (BenchmarkDelivery's profile).
	bp := chunkBufs.Get().(*[]byte)
	defer chunkBufs.Put(bp)
	buf := *bp
	for {
		k, err := io.ReadFull(r, buf)
		if k > 0 {
			if perr := put(chunks, buf[:k]); perr != nil {
				return size, chunks, perr
			}
			size += int64(k)
			chunks++
		}
		switch {
		case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
			return size, chunks, nil
		case err != nil:
			return size, chunks, fmt.Errorf("reading payload data: %w", err)
		}
	}
}

var chunkBufs = sync.Pool{New: func() any { b := make([]byte, PayloadChunkSize); return &b }}

// newChunkReader reads a kept payload of chunks chunks, fetching chunk n
// with get only when the reader reaches it. A chunk that has gone (the
// payload was deleted while it was read) is an error wrapping ErrNotFound,
// never a short read.
func newChunkReader(sum Hash, chunks int, get func(n int) ([]byte, error)) io.ReadCloser {
	return &chunkReader{sum: sum, chunks: chunks, get: get}
}

type chunkReader struct {
	sum    Hash
	chunks int
	next   int
	get    func(n int) ([]byte, error)
	buf    []byte
	err    error
}

func (r *chunkReader) Read(p []byte) (int, error) {
	for len(r.buf) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		if r.next >= r.chunks {
			return 0, io.EOF
		}
		b, err := r.get(r.next)
		if err != nil {
			r.err = fmt.Errorf("payload %s, chunk %d of %d: %w", r.sum, r.next+1, r.chunks, err)
			return 0, r.err
		}
		r.buf = b
		r.next++
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}

func (r *chunkReader) Close() error { return nil }

// checkDeletePayload validates DeletePayload's parameters.
func checkDeletePayload(p AppendParams) error {
	switch {
	case p.Event != EventPayloadDeleted:
		return &FieldError{Field: "Event", Expected: `"payload-deleted"`}
	case p.Payload.IsZero():
		return &FieldError{Field: "Payload", Expected: "the SHA-256 and size of the payload to delete"}
	case p.Data != nil:
		return &FieldError{Field: "Data", Expected: "none: a deletion stores nothing"}
	}
	return p.validate()
}
