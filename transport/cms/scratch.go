package cms

import (
	"bufio"
	"compress/zlib"
	"crypto/aes"
	"io"
	"sync"
)

// bufSize is the size of every buffer one Seal or Open borrows: one
// chunk, plus a block of room for the CBC layers.
const bufSize = chunkSize + aes.BlockSize

// scratch lends the buffers of one Seal or Open call and takes them all
// back when the call ends. Every layer streams through 64 KiB buffers so
// that memory stays flat for large XSozial datasets; for a stream of small
// eM@w uploads (a few KiB each) allocating them anew was most of the
// garbage of BenchmarkDelivery. "go test ./transport/cms -bench
// SealOpenSmall -benchmem" (a 3 KB message sealed and opened): 1,046,795
// B/op and 3.07 ms/op with fresh buffers, 71,207 B/op and 1.96 ms/op
// pooled (2026-11-27; two RSA private-key operations are ~1.7 ms of it).
//
// Nothing lent may outlive the call: release runs when Seal or Open
// returns, and no layer hands a borrowed slice to its caller.
type scratch struct {
	bufs    []*[bufSize]byte
	readers []*bufio.Reader
	writer  *bufio.Writer
	zr      io.ReadCloser
}

var (
	bufPool     = sync.Pool{New: func() any { return new([bufSize]byte) }}
	readerPool  = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, chunkSize) }}
	writerPool  = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, chunkSize) }}
	zlibReaders sync.Pool // io.ReadCloser that is also a zlib.Resetter
)

// buf lends a buffer of bufSize bytes (length bufSize, contents undefined).
func (s *scratch) buf() []byte {
	b := bufPool.Get().(*[bufSize]byte)
	s.bufs = append(s.bufs, b)
	return b[:]
}

// reader lends a 64 KiB bufio.Reader over r.
func (s *scratch) reader(r io.Reader) *bufio.Reader {
	br := readerPool.Get().(*bufio.Reader)
	br.Reset(r)
	s.readers = append(s.readers, br)
	return br
}

// bufWriter lends the call's one 64 KiB bufio.Writer, over w.
func (s *scratch) bufWriter(w io.Writer) *bufio.Writer {
	bw := writerPool.Get().(*bufio.Writer)
	bw.Reset(w)
	s.writer = bw
	return bw
}

// zlibReader lends a zlib reader over r (reading its header, as
// zlib.NewReader does).
func (s *scratch) zlibReader(r io.Reader) (io.ReadCloser, error) {
	if zr, ok := zlibReaders.Get().(io.ReadCloser); ok {
		if err := zr.(zlib.Resetter).Reset(r, nil); err != nil {
			return nil, err // a reader that failed its reset is not reused
		}
		s.zr = zr
		return zr, nil
	}
	zr, err := zlib.NewReader(r)
	if err != nil {
		return nil, err
	}
	s.zr = zr
	return zr, nil
}

// release takes back everything lent, dropping the references the pooled
// readers and writers hold to the call's streams.
func (s *scratch) release() {
	for _, b := range s.bufs {
		bufPool.Put(b)
	}
	for _, br := range s.readers {
		br.Reset(nil)
		readerPool.Put(br)
	}
	if s.writer != nil {
		s.writer.Reset(nil)
		writerPool.Put(s.writer)
	}
	if s.zr != nil {
		zlibReaders.Put(s.zr)
	}
	*s = scratch{}
}
