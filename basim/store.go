package basim

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"time"

	"meldeweg.dev/meldeweg/transport/atomicfile"
	"meldeweg.dev/meldeweg/transport/baapi"
)

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

// openStore creates the state directories, reloads an earlier
// accepted.jsonl and opens it for appending. The stored replies of
// reloaded uploads are offered again; uploads without one are judged.
func (s *Server) openStore() error {
	dirs := []string{s.cfg.Dir, filepath.Join(s.cfg.Dir, "inbox")}
	for _, ch := range baapi.Channels() {
		dirs = append(dirs, filepath.Join(s.cfg.Dir, "uploads", string(ch)), filepath.Join(s.cfg.Dir, "replies", string(ch)))
	}
	for _, d := range dirs {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return fmt.Errorf("sim: %w", err)
		}
	}
	recs, err := ReadAccepted(s.cfg.Dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	for _, r := range recs {
		s.accepted[key{r.Channel, r.MessageID}] = r
	}
	s.log, err = os.OpenFile(filepath.Join(s.cfg.Dir, AcceptedFile), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("sim: %w", err)
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
			return err
		}
	}
	return nil
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

var errConflict = errors.New("conflict")

// record makes an upload durable exactly once: under the lock it either
// finds the ID accepted before (duplicate, or conflict on another hash)
// or moves the file into place, syncs, appends the record line, syncs and
// starts the check.
//
// tmpPath is the upload, already synced by the handler, which streamed
// and hashed it before it knew whether to keep it; so the file is placed
// here by hand rather than through atomicfile, whose writer would copy
// up to MaxUploadBytes a second time under the lock.
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

// uploadDir is where the uploads of channel ch are kept, and where the
// handler stages an upload while it arrives.
func (s *Server) uploadDir(ch baapi.Channel) string {
	return filepath.Join(s.cfg.Dir, "uploads", string(ch))
}

func (s *Server) payloadPath(k key) string {
	return filepath.Join(s.uploadDir(k.ch), string(k.id))
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

// storeReply writes the reply durably (atomicfile: a synced temporary
// file renamed into place, then the directory synced).
func (s *Server) storeReply(k key, r Reply) error {
	b, err := json.Marshal(storedReply{Outcome: r.Outcome, Name: r.Name, Data: r.Data})
	if err != nil {
		return err
	}
	return atomicfile.WriteBytes(s.replyPath(k), 0o600, b)
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
