package basim

import (
	"crypto/tls"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	"meldeweg.dev/meldeweg/transport/baapi"
)

// Faults selects injected failures. The zero value injects none. Counts
// apply per message ID (uploads) or per file (downloads), so every message
// meets the same faults whatever the order of arrival.
type Faults struct {
	// Unavailable answers the first N upload attempts of each message with
	// 503 and Retry-After, without reading the body.
	Unavailable int
	// RetryAfter is the Retry-After sent with 503, rounded up to whole
	// seconds; it may be a huge value to test the client's cap. Defaults
	// to 1s.
	RetryAfter time.Duration
	// RetryAfterDate sends Retry-After as an HTTP date (now+RetryAfter)
	// instead of seconds.
	RetryAfterDate bool
	// ResetUploads cuts the next N upload attempts of each message (after
	// the Unavailable ones) off mid-body: half the body is read, then the
	// TCP connection is reset. Nothing is recorded.
	ResetUploads int
	// Slow delays every answer by this long.
	Slow time.Duration
	// DuplicateReplies offers every reply twice in the inbox listing,
	// under two file IDs (the BA re-sending an acknowledgement).
	DuplicateReplies bool
	// CorruptResponses garbles the first N receipts of each message (the
	// upload IS recorded; only the answer is damaged) and the first N
	// downloads of each reply or inbox file (one byte flipped, the digest
	// header unchanged).
	CorruptResponses int
}

// slow delays every answer by Faults.Slow.
func (s *Server) slow(h http.Handler) http.Handler {
	if s.cfg.Faults.Slow <= 0 {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t := time.NewTimer(s.cfg.Faults.Slow)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			return
		}
		h.ServeHTTP(w, r)
	})
}

// uploadFault counts an upload attempt of k and answers it with the fault
// it meets, if any: 503 for the first Faults.Unavailable attempts, a reset
// mid-body for the next Faults.ResetUploads. It reports whether it
// answered; if so, the handler is done.
func (s *Server) uploadFault(w http.ResponseWriter, r *http.Request, k key) bool {
	s.mu.Lock()
	s.attempts[k]++
	attempt := s.attempts[k]
	f := s.cfg.Faults
	if attempt <= f.Unavailable {
		s.stats.Unavailable++
		s.mu.Unlock()
		if f.RetryAfterDate {
			w.Header().Set(baapi.HeaderRetryAfter, s.cfg.Now().Add(f.RetryAfter).UTC().Format(http.TimeFormat))
		} else {
			secs := int64((f.RetryAfter + time.Second - 1) / time.Second)
			w.Header().Set(baapi.HeaderRetryAfter, strconv.FormatInt(secs, 10))
		}
		s.problem(w, http.StatusServiceUnavailable, baapi.ProblemUnavailable, "simulated maintenance; retry later")
		s.logger.Debug("upload refused: unavailable", "channel", k.ch, "message_id", k.id, "attempt", attempt)
		return true
	}
	reset := attempt <= f.Unavailable+f.ResetUploads
	s.mu.Unlock()

	if reset {
		s.resetMidBody(w, r, k, attempt)
	}
	return reset
}

// resetMidBody reads half the body, then resets the TCP connection
// (SO_LINGER 0), as a dropped line during an upload would.
func (s *Server) resetMidBody(w http.ResponseWriter, r *http.Request, k key, attempt int) {
	s.mu.Lock()
	s.stats.Resets++
	s.mu.Unlock()
	io.CopyN(io.Discard, r.Body, r.ContentLength/2)
	s.logger.Debug("upload reset mid-body", "channel", k.ch, "message_id", k.id, "attempt", attempt)
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler) // HTTP/2: resets the stream
	}
	if tc, ok := conn.(*tls.Conn); ok {
		if tcp, ok := tc.NetConn().(*net.TCPConn); ok {
			tcp.SetLinger(0)
			tcp.Close()
			return
		}
	}
	conn.Close()
}

// garbleReceipt counts a 2xx upload answer for k and reports whether it
// is one of the first Faults.CorruptResponses, to be garbled.
func (s *Server) garbleReceipt(k key) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.answered[k]++
	garble := s.answered[k] <= s.cfg.Faults.CorruptResponses
	if garble {
		s.stats.Corrupted++
	}
	return garble
}

// writeTruncatedJSON answers with the first half of v's JSON.
func writeTruncatedJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b[:len(b)/2])
}

// garbleDownload counts a download of name and returns data, with one
// byte flipped in a copy for the first Faults.CorruptResponses downloads
// of each name.
func (s *Server) garbleDownload(name string, data []byte) []byte {
	s.mu.Lock()
	s.downloads[name]++
	garble := s.downloads[name] <= s.cfg.Faults.CorruptResponses && len(data) > 0
	if garble {
		s.stats.Corrupted++
	}
	s.mu.Unlock()
	if garble {
		data = append([]byte(nil), data...)
		data[len(data)/2] ^= 0xff
	}
	return data
}
