// Package basim is a BA counterpart for the demo and the tests: an mTLS
// server speaking the baapi wire model. It stores and deduplicates
// uploads, judges them with a Checker (decrypt, verify, validate), answers
// XSozial deliveries with feedback files and eM@w uploads with OK/NOK
// acknowledgements, offers inbound eM@w messages for download, and on
// request injects faults.
//
// # Durable record
//
// Every first upload of a message ID is written to Config.Dir/uploads and
// recorded as one line of Config.Dir/accepted.jsonl, both synced, before
// the receipt goes out. The file is the simulator's proof of what it
// accepted: tests read it (ReadAccepted) to check that every message
// arrived exactly once. A restarted simulator reloads it, so duplicates
// are dropped across restarts too.
//
// Every reply is written to Config.Dir/replies/<channel>/<id>.json (synced,
// through a rename) before it is offered. A restarted simulator serves the
// stored reply instead of judging the upload again: a sealed reply is
// randomised, and the same message must never get two different answers.
// Only an upload whose check was cut short by a shutdown is judged again.
//
// # Limits
//
// The simulator is a model, not the BA: one process, state in one
// directory, one mailbox per channel for all clients, no authorisation
// beyond "the client certificate chains to the configured CA". Files in
// Dir/inbox/<channel>/ are offered again after a restart even when they
// were collected (DELETE) before.
package basim

import (
	"bufio"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
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

// Reply is a Checker's verdict on an upload.
type Reply struct {
	Outcome baapi.Outcome
	// Name is the file name the BA gives the reply.
	Name string
	// Data is the feedback file (XSozial) or acknowledgement (eM@w).
	Data []byte
}

// Checker judges an accepted upload. payload is the path of the stored
// upload; it must not be changed. An error means the checker itself
// failed; the simulator then answers NOK with a BA-internal error, as the
// BA does ("the provider re-delivers").
type Checker interface {
	Check(ctx context.Context, ch baapi.Channel, id baapi.MessageID, payload string) (Reply, error)
}

// CheckerFunc adapts a function to Checker.
type CheckerFunc func(ctx context.Context, ch baapi.Channel, id baapi.MessageID, payload string) (Reply, error)

// Check implements Checker.
func (f CheckerFunc) Check(ctx context.Context, ch baapi.Channel, id baapi.MessageID, payload string) (Reply, error) {
	return f(ctx, ch, id, payload)
}

// Config configures a Server.
type Config struct {
	// TLS is the server's mutual-TLS configuration (client.ServerTLSConfig:
	// server certificate, client CA pool, client certificates required).
	// Required.
	TLS *tls.Config
	// Dir holds the simulator's state (accepted.jsonl, uploads/, inbox/).
	// Required; created if missing.
	Dir string
	// Checker judges uploads. Defaults to StructuralChecker.
	Checker Checker
	// Faults to inject.
	Faults Faults
	// ReplyWait is how long GET reply waits for a reply still being
	// checked before answering 202 (long poll). Defaults to 2s.
	ReplyWait time.Duration
	// MaxUploadBytes refuses larger uploads with 413. Defaults to 2 GiB.
	MaxUploadBytes int64
	// Logger gets one line per request outcome. Defaults to none. Message
	// IDs and sizes are logged, contents never.
	Logger *slog.Logger
	// Now is the clock for receipts and listings. Defaults to time.Now.
	Now func() time.Time
}

// AcceptedRecord is one line of accepted.jsonl.
type AcceptedRecord struct {
	MessageID  baapi.MessageID `json:"message_id"`
	Channel    baapi.Channel   `json:"channel"`
	Size       int64           `json:"size"`
	SHA256     string          `json:"sha256"`
	ReceivedAt time.Time       `json:"received_at"`
}

// AcceptedFile is the name of the accepted-message record in Config.Dir.
const AcceptedFile = "accepted.jsonl"

// Stats counts what the server did, for tests and the operator.
type Stats struct {
	Accepted, Duplicates, Unavailable, Resets, Corrupted, Refused int
}

// Server is the simulator. Create it with New, run it with Serve.
type Server struct {
	cfg    Config
	srv    *http.Server
	logger *slog.Logger

	mu        sync.Mutex
	accepted  map[key]AcceptedRecord
	replies   map[key]*replyState
	inbox     map[baapi.Channel][]*offered // in offer order
	attempts  map[key]int                  // upload attempts seen, per message
	answered  map[key]int                  // 2xx upload answers given, per message
	downloads map[string]int               // downloads per file path, for CorruptResponses
	log       *os.File
	stats     Stats
	fileSeq   int
	checkWG   sync.WaitGroup
	closing   chan struct{}
	closeOnce sync.Once
}

type key struct {
	ch baapi.Channel
	id baapi.MessageID
}

type replyState struct {
	done  chan struct{}
	reply Reply
	sum   [sha256.Size]byte
}

type offered struct {
	info baapi.FileInfo
	data []byte
}

// New checks cfg, creates the state directory and reloads an earlier
// accepted.jsonl. It does not listen; call Serve.
func New(cfg Config) (*Server, error) {
	switch {
	case cfg.TLS == nil:
		return nil, errors.New("sim: TLS is required")
	case cfg.TLS.ClientAuth != tls.RequireAndVerifyClientCert:
		return nil, errors.New("sim: TLS must require and verify client certificates (see client.ServerTLSConfig)")
	case cfg.Dir == "":
		return nil, errors.New("sim: Dir is required")
	case cfg.Faults.Unavailable < 0 || cfg.Faults.ResetUploads < 0 || cfg.Faults.CorruptResponses < 0:
		return nil, errors.New("sim: Faults counts must not be negative")
	}
	if cfg.Checker == nil {
		cfg.Checker = StructuralChecker{}
	}
	if cfg.ReplyWait <= 0 {
		cfg.ReplyWait = 2 * time.Second
	}
	if cfg.MaxUploadBytes <= 0 {
		cfg.MaxUploadBytes = 2 << 30
	}
	if cfg.Faults.RetryAfter <= 0 {
		cfg.Faults.RetryAfter = time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	dirs := []string{cfg.Dir, filepath.Join(cfg.Dir, "inbox")}
	for _, ch := range baapi.Channels() {
		dirs = append(dirs, filepath.Join(cfg.Dir, "uploads", string(ch)), filepath.Join(cfg.Dir, "replies", string(ch)))
	}
	for _, d := range dirs {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("sim: %w", err)
		}
	}
	s := &Server{
		cfg: cfg, logger: logger,
		accepted: map[key]AcceptedRecord{}, replies: map[key]*replyState{},
		inbox: map[baapi.Channel][]*offered{}, attempts: map[key]int{}, answered: map[key]int{},
		downloads: map[string]int{}, closing: make(chan struct{}),
	}
	recs, err := ReadAccepted(cfg.Dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	for _, r := range recs {
		s.accepted[key{r.Channel, r.MessageID}] = r
	}
	s.log, err = os.OpenFile(filepath.Join(cfg.Dir, AcceptedFile), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("sim: %w", err)
	}
	// Offer the stored replies of reloaded uploads again; judge the ones
	// without a stored reply.
	for _, r := range recs {
		k := key{r.Channel, r.MessageID}
		s.mu.Lock()
		_, seen := s.replies[k]
		s.mu.Unlock()
		if seen {
			continue // a duplicate line in the record
		}
		reply, err := s.loadReply(k)
		switch {
		case err == nil:
			s.mu.Lock()
			s.publishLocked(k, &replyState{done: make(chan struct{})}, reply)
			s.mu.Unlock()
		case errors.Is(err, os.ErrNotExist):
			s.startCheck(k, r)
		default:
			return nil, err
		}
	}
	if err := s.loadInboxDir(); err != nil {
		return nil, err
	}

	mux := http.NewServeMux()
	mux.HandleFunc(baapi.PatternUpload, s.handleUpload)
	mux.HandleFunc(baapi.PatternReply, s.handleReply)
	mux.HandleFunc(baapi.PatternInbox, s.handleInbox)
	mux.HandleFunc(baapi.PatternInboxFile, s.handleInboxFile)
	mux.HandleFunc(baapi.PatternRemoveFile, s.handleRemove)
	s.srv = &http.Server{
		Handler:           s.slow(mux),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       10 * time.Minute, // whole request, upload body included
		WriteTimeout:      10 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelDebug),
	}
	return s, nil
}

// Serve accepts mTLS connections on l until Shutdown or Close; it returns
// http.ErrServerClosed after those.
func (s *Server) Serve(l net.Listener) error {
	return s.srv.Serve(tls.NewListener(l, s.cfg.TLS))
}

// Shutdown stops accepting, waits for running requests and checks, and
// closes the record.
func (s *Server) Shutdown(ctx context.Context) error {
	s.closeOnce.Do(func() { close(s.closing) })
	err := s.srv.Shutdown(ctx)
	s.checkWG.Wait()
	if cerr := s.log.Close(); err == nil && cerr != nil && !errors.Is(cerr, os.ErrClosed) {
		err = cerr
	}
	return err
}

// Close stops at once, dropping open connections.
func (s *Server) Close() error {
	s.closeOnce.Do(func() { close(s.closing) })
	err := s.srv.Close()
	s.checkWG.Wait()
	s.log.Close()
	return err
}

// Stats returns a snapshot of the counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// Accepted returns the accepted records, ordered by time of receipt.
func (s *Server) Accepted() []AcceptedRecord {
	s.mu.Lock()
	out := make([]AcceptedRecord, 0, len(s.accepted))
	for _, r := range s.accepted {
		out = append(out, r)
	}
	s.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].ReceivedAt.Before(out[j].ReceivedAt) })
	return out
}

// ReadAccepted reads dir/accepted.jsonl in file order. It returns every
// line, so a message accepted twice (a simulator bug the crash test looks
// for) shows up twice. A line that does not parse is an error naming it,
// except a torn last line without its newline (a crash while writing),
// which is ignored.
func ReadAccepted(dir string) ([]AcceptedRecord, error) {
	f, err := os.Open(filepath.Join(dir, AcceptedFile))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []AcceptedRecord
	br := bufio.NewReader(f)
	for line := 1; ; line++ {
		b, err := br.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			return out, nil // a torn last line (no newline) is ignored
		}
		if err != nil {
			return out, err
		}
		var r AcceptedRecord
		if err := json.Unmarshal(b, &r); err != nil {
			return out, fmt.Errorf("%s line %d: %w", AcceptedFile, line, err)
		}
		out = append(out, r)
	}
}

// Offer makes an inbound message available for download on channel ch
// (for eM@w: an Anmeldung or other BA→provider message). name is the BA's
// file name, shown in listings.
func (s *Server) Offer(ch baapi.Channel, name string, data []byte) baapi.FileID {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.offerLocked(ch, baapi.KindMessage, name, "", data)
}

func (s *Server) offerLocked(ch baapi.Channel, kind baapi.FileKind, name string, ref baapi.MessageID, data []byte) baapi.FileID {
	s.fileSeq++
	id := baapi.FileID(fmt.Sprintf("f%06d", s.fileSeq))
	sum := sha256.Sum256(data)
	s.inbox[ch] = append(s.inbox[ch], &offered{
		info: baapi.FileInfo{ID: id, Kind: kind, Name: name, Size: int64(len(data)), SHA256: hex.EncodeToString(sum[:]), Ref: ref, AvailableAt: s.cfg.Now().UTC()},
		data: data,
	})
	return id
}

// loadInboxDir offers the files in Dir/inbox/<channel>/ (e.g. Anmeldungen
// dropped there for the demo), in name order.
func (s *Server) loadInboxDir() error {
	for _, ch := range baapi.Channels() {
		dir := filepath.Join(s.cfg.Dir, "inbox", string(ch))
		ents, err := os.ReadDir(dir)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("sim: %w", err)
		}
		for _, e := range ents {
			if !e.Type().IsRegular() || strings.HasPrefix(e.Name(), ".") {
				continue // temporary files of a writer
			}
			data, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				return fmt.Errorf("sim: %w", err)
			}
			s.Offer(ch, e.Name(), data)
		}
	}
	return nil
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

func (s *Server) problem(w http.ResponseWriter, status int, code baapi.ProblemCode, format string, args ...any) {
	p := baapi.Problem{Status: status, Code: code, Detail: fmt.Sprintf(format, args...)}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(p)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// route reads and checks the channel and ID wildcards.
func (s *Server) channel(w http.ResponseWriter, r *http.Request) (baapi.Channel, bool) {
	ch, err := baapi.ParseChannel(r.PathValue("channel"))
	if err != nil {
		s.problem(w, http.StatusNotFound, baapi.ProblemNotFound, "%v", err)
		return "", false
	}
	return ch, true
}

// messageKey reads channel and message ID from the path; on a bad one it
// has answered already and returns false.
func (s *Server) messageKey(w http.ResponseWriter, r *http.Request) (key, bool) {
	ch, ok := s.channel(w, r)
	if !ok {
		return key{}, false
	}
	id, err := baapi.ParseMessageID(r.PathValue("id"))
	if err != nil {
		s.problem(w, http.StatusBadRequest, baapi.ProblemBadRequest, "%v", err)
		return key{}, false
	}
	return key{ch, id}, true
}

func (s *Server) handleUpload(w http.ResponseWriter, r *http.Request) {
	k, ok := s.messageKey(w, r)
	if !ok {
		return
	}
	ch, id := k.ch, k.id
	if h := r.Header.Get(baapi.HeaderMessageID); h != string(id) {
		s.problem(w, http.StatusBadRequest, baapi.ProblemBadRequest, "header %s %q does not match the path's message ID %q", baapi.HeaderMessageID, h, id)
		return
	}
	want, err := baapi.ParseDigest(r.Header.Get(baapi.HeaderDigest))
	if err != nil {
		s.problem(w, http.StatusBadRequest, baapi.ProblemBadRequest, "%v", err)
		return
	}
	if r.ContentLength < 0 {
		s.problem(w, http.StatusLengthRequired, baapi.ProblemBadRequest, "Content-Length is required; chunked uploads are refused")
		return
	}
	if r.ContentLength > s.cfg.MaxUploadBytes {
		s.problem(w, http.StatusRequestEntityTooLarge, baapi.ProblemTooLarge, "upload of %d bytes exceeds the limit of %d", r.ContentLength, s.cfg.MaxUploadBytes)
		return
	}

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
		s.logger.Debug("upload refused: unavailable", "channel", ch, "message_id", id, "attempt", attempt)
		return
	}
	reset := attempt <= f.Unavailable+f.ResetUploads
	s.mu.Unlock()

	if reset {
		s.resetMidBody(w, r, k, attempt)
		return
	}

	// Store the body in a temporary file, checking length and hash.
	tmp, err := os.CreateTemp(filepath.Join(s.cfg.Dir, "uploads", string(ch)), ".upload-*")
	if err != nil {
		s.problem(w, http.StatusInternalServerError, baapi.ProblemUnavailable, "storing the upload failed")
		return
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), io.LimitReader(r.Body, s.cfg.MaxUploadBytes+1))
	if err != nil {
		s.logger.Debug("upload broke off", "channel", ch, "message_id", id, "bytes", n, "err", err)
		s.problem(w, http.StatusBadRequest, baapi.ProblemLength, "body broke off after %d of %d bytes", n, r.ContentLength)
		return
	}
	if n != r.ContentLength {
		s.problem(w, http.StatusBadRequest, baapi.ProblemLength, "body has %d bytes, Content-Length says %d", n, r.ContentLength)
		return
	}
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	if sum != want {
		s.refused()
		s.problem(w, http.StatusBadRequest, baapi.ProblemDigest, "body SHA-256 %x does not match Content-Digest %x", sum, want)
		return
	}
	if err := tmp.Sync(); err != nil {
		s.problem(w, http.StatusInternalServerError, baapi.ProblemUnavailable, "storing the upload failed")
		return
	}
	tmp.Close()

	rec, status, err := s.record(k, tmp.Name(), n, sum)
	if errors.Is(err, errConflict) {
		s.problem(w, http.StatusConflict, baapi.ProblemConflict, "message ID %s was accepted before with SHA-256 %s", id, rec.SHA256)
		return
	}
	if err != nil {
		s.logger.Error("recording an upload failed", "message_id", id, "err", err)
		s.problem(w, http.StatusInternalServerError, baapi.ProblemUnavailable, "recording the upload failed")
		return
	}
	receipt := baapi.Receipt{MessageID: id, Channel: ch, Status: status, Size: rec.Size, SHA256: rec.SHA256, ReceivedAt: rec.ReceivedAt}

	s.mu.Lock()
	s.answered[k]++
	garble := s.answered[k] <= f.CorruptResponses
	if garble {
		s.stats.Corrupted++
	}
	s.mu.Unlock()
	s.logger.Debug("upload", "channel", ch, "message_id", id, "status", status, "bytes", n, "garbled", garble)
	if garble {
		b, _ := json.Marshal(receipt)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted)
		w.Write(b[:len(b)/2]) // truncated JSON
		return
	}
	writeJSON(w, http.StatusAccepted, receipt)
}

var errConflict = errors.New("conflict")

// record makes an upload durable exactly once: under the lock it either
// finds the ID accepted before (duplicate, or conflict on another hash)
// or moves the file into place, syncs, appends the record line, syncs and
// starts the check.
func (s *Server) record(k key, tmpPath string, size int64, sum [sha256.Size]byte) (AcceptedRecord, baapi.ReceiptStatus, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	hexSum := hex.EncodeToString(sum[:])
	if old, ok := s.accepted[k]; ok {
		if old.SHA256 != hexSum {
			s.stats.Refused++
			return old, "", errConflict
		}
		s.stats.Duplicates++
		return old, baapi.ReceiptDuplicate, nil
	}
	dst := s.payloadPath(k)
	if err := os.Rename(tmpPath, dst); err != nil {
		return AcceptedRecord{}, "", err
	}
	if d, err := os.Open(filepath.Dir(dst)); err == nil {
		d.Sync()
		d.Close()
	}
	rec := AcceptedRecord{MessageID: k.id, Channel: k.ch, Size: size, SHA256: hexSum, ReceivedAt: s.cfg.Now().UTC()}
	line, _ := json.Marshal(rec)
	if _, err := s.log.Write(append(line, '\n')); err != nil {
		return AcceptedRecord{}, "", err
	}
	if err := s.log.Sync(); err != nil {
		return AcceptedRecord{}, "", err
	}
	s.accepted[k] = rec
	s.stats.Accepted++
	s.startCheckLocked(k, rec)
	return rec, baapi.ReceiptAccepted, nil
}

func (s *Server) payloadPath(k key) string {
	return filepath.Join(s.cfg.Dir, "uploads", string(k.ch), string(k.id))
}

func (s *Server) refused() {
	s.mu.Lock()
	s.stats.Refused++
	s.mu.Unlock()
}

func (s *Server) startCheck(k key, rec AcceptedRecord) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.startCheckLocked(k, rec)
}

// startCheckLocked judges an accepted upload in the background; the reply
// is offered in the inbox and on the reply path when done.
func (s *Server) startCheckLocked(k key, rec AcceptedRecord) {
	st := &replyState{done: make(chan struct{})}
	s.replies[k] = st
	s.checkWG.Add(1)
	go func() {
		defer s.checkWG.Done()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go func() {
			select {
			case <-s.closing:
				cancel()
			case <-ctx.Done():
			}
		}()
		reply, err := s.cfg.Checker.Check(ctx, k.ch, k.id, s.payloadPath(k))
		if err != nil {
			s.logger.Error("checking an upload failed", "channel", k.ch, "message_id", k.id, "err", err)
			reply = internalErrorReply(k.ch, k.id)
		}
		if reply.Name == "" {
			reply.Name = string(k.id) + ".reply"
		}
		// A check cut short by a shutdown is judged again after the
		// restart; every other reply is final and kept.
		if err == nil || ctx.Err() == nil {
			if serr := s.storeReply(k, reply); serr != nil {
				s.logger.Error("storing a reply failed; it is offered from memory only", "channel", k.ch, "message_id", k.id, "err", serr)
			}
		}
		s.mu.Lock()
		s.publishLocked(k, st, reply)
		s.mu.Unlock()
	}()
}

// publishLocked makes reply the answer to k: it is served on the reply
// path and offered in the inbox (twice with Faults.DuplicateReplies).
func (s *Server) publishLocked(k key, st *replyState, reply Reply) {
	s.replies[k] = st
	st.reply = reply
	st.sum = sha256.Sum256(reply.Data)
	s.offerLocked(k.ch, baapi.KindReply, reply.Name, k.id, reply.Data)
	if s.cfg.Faults.DuplicateReplies {
		s.offerLocked(k.ch, baapi.KindReply, reply.Name, k.id, reply.Data)
	}
	close(st.done)
}

// storedReply is the file form of a reply.
type storedReply struct {
	Outcome baapi.Outcome `json:"outcome"`
	Name    string        `json:"name"`
	Data    []byte        `json:"data"`
}

func (s *Server) replyPath(k key) string {
	return filepath.Join(s.cfg.Dir, "replies", string(k.ch), string(k.id)+".json")
}

// storeReply writes the reply durably: a synced temporary file renamed
// into place, then the directory synced.
func (s *Server) storeReply(k key, r Reply) error {
	b, err := json.Marshal(storedReply{Outcome: r.Outcome, Name: r.Name, Data: r.Data})
	if err != nil {
		return err
	}
	path := s.replyPath(k)
	tmp, err := os.CreateTemp(filepath.Dir(path), ".reply-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// loadReply reads a stored reply; os.ErrNotExist when there is none.
func (s *Server) loadReply(k key) (Reply, error) {
	b, err := os.ReadFile(s.replyPath(k))
	if err != nil {
		return Reply{}, err
	}
	var r storedReply
	if err := json.Unmarshal(b, &r); err != nil {
		return Reply{}, fmt.Errorf("sim: stored reply %s: %w", s.replyPath(k), err)
	}
	return Reply{Outcome: r.Outcome, Name: r.Name, Data: r.Data}, nil
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

func (s *Server) handleReply(w http.ResponseWriter, r *http.Request) {
	k, ok := s.messageKey(w, r)
	if !ok {
		return
	}
	ch, id := k.ch, k.id
	s.mu.Lock()
	st := s.replies[k]
	s.mu.Unlock()
	if st == nil {
		s.problem(w, http.StatusNotFound, baapi.ProblemNotFound, "no message %s was accepted on %s", id, ch)
		return
	}
	t := time.NewTimer(s.cfg.ReplyWait)
	defer t.Stop()
	select {
	case <-st.done:
	case <-t.C:
		w.Header().Set(baapi.HeaderRetryAfter, "1")
		s.problem(w, http.StatusAccepted, baapi.ProblemPending, "message %s is still being checked", id)
		return
	case <-r.Context().Done():
		return
	}
	s.serveFile(w, "reply/"+string(ch)+"/"+string(id), st.reply.Data, st.sum, st.reply.Outcome)
}

// serveFile answers with data, its Content-Length and Content-Digest; the
// first Faults.CorruptResponses downloads of each name get a flipped byte.
func (s *Server) serveFile(w http.ResponseWriter, name string, data []byte, sum [sha256.Size]byte, outcome baapi.Outcome) {
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
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	w.Header().Set(baapi.HeaderDigest, baapi.FormatDigest(sum))
	if outcome != "" {
		w.Header().Set(baapi.HeaderOutcome, string(outcome))
	}
	w.WriteHeader(http.StatusOK)
	w.Write(data)
}

func (s *Server) handleInbox(w http.ResponseWriter, r *http.Request) {
	ch, ok := s.channel(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	l := baapi.Listing{Channel: ch, Files: []baapi.FileInfo{}}
	for _, o := range s.inbox[ch] {
		l.Files = append(l.Files, o.info)
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, l)
}

func (s *Server) find(ch baapi.Channel, id baapi.FileID) (*offered, int) {
	for i, o := range s.inbox[ch] {
		if o.info.ID == id {
			return o, i
		}
	}
	return nil, -1
}

func (s *Server) handleInboxFile(w http.ResponseWriter, r *http.Request) {
	ch, ok := s.channel(w, r)
	if !ok {
		return
	}
	id, err := baapi.ParseFileID(r.PathValue("file"))
	if err != nil {
		s.problem(w, http.StatusBadRequest, baapi.ProblemBadRequest, "%v", err)
		return
	}
	s.mu.Lock()
	o, _ := s.find(ch, id)
	s.mu.Unlock()
	if o == nil {
		s.problem(w, http.StatusNotFound, baapi.ProblemNotFound, "no file %s on %s", id, ch)
		return
	}
	sum, _ := hex.DecodeString(o.info.SHA256)
	var s32 [sha256.Size]byte
	copy(s32[:], sum)
	var outcome baapi.Outcome
	if o.info.Kind == baapi.KindReply {
		s.mu.Lock()
		if st := s.replies[key{ch, o.info.Ref}]; st != nil {
			outcome = st.reply.Outcome
		}
		s.mu.Unlock()
	}
	s.serveFile(w, "inbox/"+string(ch)+"/"+string(id), o.data, s32, outcome)
}

func (s *Server) handleRemove(w http.ResponseWriter, r *http.Request) {
	ch, ok := s.channel(w, r)
	if !ok {
		return
	}
	id, err := baapi.ParseFileID(r.PathValue("file"))
	if err != nil {
		s.problem(w, http.StatusBadRequest, baapi.ProblemBadRequest, "%v", err)
		return
	}
	s.mu.Lock()
	if _, i := s.find(ch, id); i >= 0 {
		s.inbox[ch] = append(s.inbox[ch][:i], s.inbox[ch][i+1:]...)
	}
	s.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}
