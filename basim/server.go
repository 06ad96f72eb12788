package basim

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"meldeweg.dev/meldeweg/transport/baapi"
)

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

// key names one message: its channel and message ID.
type key struct {
	ch baapi.Channel
	id baapi.MessageID
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
	s := &Server{
		cfg: cfg, logger: logger,
		accepted: map[key]AcceptedRecord{}, replies: map[key]*replyState{},
		inbox: map[baapi.Channel][]*offered{}, attempts: map[key]int{}, answered: map[key]int{},
		downloads: map[string]int{}, closing: make(chan struct{}),
	}
	if err := s.openStore(); err != nil {
		return nil, err
	}
	if err := s.loadInboxDir(); err != nil {
		return nil, err
	}
	s.srv = &http.Server{
		Handler:           s.routes(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       10 * time.Minute, // whole request, upload body included
		WriteTimeout:      10 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelDebug),
	}
	return s, nil
}

// routes maps the baapi endpoints to their handlers (handlers.go).
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc(baapi.PatternUpload, s.handleUpload)
	mux.HandleFunc(baapi.PatternReply, s.handleReply)
	mux.HandleFunc(baapi.PatternInbox, s.handleInbox)
	mux.HandleFunc(baapi.PatternInboxFile, s.handleInboxFile)
	mux.HandleFunc(baapi.PatternRemoveFile, s.handleRemove)
	return s.slow(mux)
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

// refused counts an upload refused for its content.
func (s *Server) refused() {
	s.mu.Lock()
	s.stats.Refused++
	s.mu.Unlock()
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

// channel reads and checks the channel wildcard; on a bad one it has
// answered already and returns false.
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
