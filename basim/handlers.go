package basim

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"os"
	"strconv"
	"time"

	"meldeweg.dev/meldeweg/transport/baapi"
)

// handleUpload serves baapi.PatternUpload: it checks the request
// against the wire model, stages the body, and records it (store.go).
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
	if s.uploadFault(w, r, k) {
		return
	}

	// Store the body in a temporary file, checking length and hash.
	tmp, err := os.CreateTemp(s.uploadDir(ch), ".upload-*")
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

	garble := s.garbleReceipt(k)
	s.logger.Debug("upload", "channel", ch, "message_id", id, "status", status, "bytes", n, "garbled", garble)
	if garble {
		writeTruncatedJSON(w, http.StatusAccepted, receipt)
		return
	}
	writeJSON(w, http.StatusAccepted, receipt)
}

// handleReply serves baapi.PatternReply: the reply to an accepted
// upload, after waiting up to Config.ReplyWait for its check.
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
	data = s.garbleDownload(name, data)
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	w.Header().Set(baapi.HeaderDigest, baapi.FormatDigest(sum))
	if outcome != "" {
		w.Header().Set(baapi.HeaderOutcome, string(outcome))
	}
	w.WriteHeader(http.StatusOK)
	w.Write(data)
}

// handleInbox serves baapi.PatternInbox: the listing of a channel's
// mailbox.
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

// handleInboxFile serves baapi.PatternInboxFile: one offered file.
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

// handleRemove serves baapi.PatternRemoveFile: the file is no
// longer offered. Removing a file that is gone already succeeds.
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
