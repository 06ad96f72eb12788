package basim

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"meldeweg.dev/meldeweg/transport/baapi"
)

// offered is one file in a channel's mailbox: a reply or an inbound
// message.
type offered struct {
	info baapi.FileInfo
	data []byte
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

// find returns file id of channel ch's mailbox and its index; nil and -1
// when it is not (or no longer) offered.
func (s *Server) find(ch baapi.Channel, id baapi.FileID) (*offered, int) {
	for i, o := range s.inbox[ch] {
		if o.info.ID == id {
			return o, i
		}
	}
	return nil, -1
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
