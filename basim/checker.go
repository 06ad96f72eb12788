package basim

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"meldeweg.dev/meldeweg/transport/baapi"
)

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

// replyState is the answer to one accepted upload: done is closed once
// reply (and its hash sum) is set.
type replyState struct {
	done  chan struct{}
	reply Reply
	sum   [sha256.Size]byte
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

// StructuralChecker is the default Checker of Config, for transport
// tests that send unsealed bytes. It checks the shape only: an eM@w upload
// must be a ZIP whose entries are all readable and whose .xml entries are
// well-formed XML; an XSozial upload must be a DER/BER SEQUENCE (the outer
// shape of a CMS ContentInfo). It does not decrypt, verify signatures or
// validate against schemas, and its replies are not sealed. The BA's
// checker, which does all that and which "meldeweg sim" uses, is
// basim/bacheck.
//
// Its replies are small XML documents in the simulator's own model format
// (namespace "urn:meldeweg:sim"), not the BA's: <Quittung> with
// <Ergebnis>OK|NOK</Ergebnis> for eM@w and <Rueckmeldung> with
// <Ergebnis>angenommen|abgelehnt</Ergebnis> for XSozial, each with the
// message ID and one <Befund> per finding.
type StructuralChecker struct{}

// Check implements Checker.
func (StructuralChecker) Check(ctx context.Context, ch baapi.Channel, id baapi.MessageID, payload string) (Reply, error) {
	var findings []string
	switch ch {
	case baapi.ChannelEmaw:
		findings = checkZip(payload)
	case baapi.ChannelXSozial:
		f, err := os.Open(payload)
		if err != nil {
			return Reply{}, err
		}
		defer f.Close()
		var head [1]byte
		if _, err := io.ReadFull(f, head[:]); err != nil || head[0] != 0x30 {
			findings = append(findings, "RTX_0001 the delivery is not a CMS structure (no DER/BER SEQUENCE)")
		}
	default:
		return Reply{}, fmt.Errorf("unknown channel %q", ch)
	}
	return modelReply(ch, id, findings), nil
}

func checkZip(payload string) []string {
	zr, err := zip.OpenReader(payload)
	if err != nil {
		return []string{"ZIP_0001 the upload is not a readable ZIP file: " + err.Error()}
	}
	defer zr.Close()
	if len(zr.File) == 0 {
		return []string{"ZIP_0002 the ZIP file is empty"}
	}
	var findings []string
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			findings = append(findings, fmt.Sprintf("ZIP_0003 entry %q: %v", f.Name, err))
			continue
		}
		if strings.HasSuffix(strings.ToLower(f.Name), ".xml") {
			dec := xml.NewDecoder(io.LimitReader(rc, 256<<20))
			for {
				_, err := dec.Token()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					findings = append(findings, fmt.Sprintf("XML_0001 entry %q: not well-formed: %v", f.Name, err))
					break
				}
			}
		} else if _, err := io.Copy(io.Discard, rc); err != nil {
			findings = append(findings, fmt.Sprintf("ZIP_0003 entry %q: %v", f.Name, err))
		}
		rc.Close()
	}
	return findings
}

// modelReply renders the simulator's model reply; no findings means OK.
func modelReply(ch baapi.Channel, id baapi.MessageID, findings []string) Reply {
	type doc struct {
		XMLName   xml.Name
		Xmlns     string   `xml:"xmlns,attr"`
		MessageID string   `xml:"MessageID"`
		Ergebnis  string   `xml:"Ergebnis"`
		Befund    []string `xml:"Befund"`
	}
	d := doc{Xmlns: "urn:meldeweg:sim", MessageID: string(id), Befund: findings}
	outcome := baapi.OutcomeOK
	if len(findings) > 0 {
		outcome = baapi.OutcomeNOK
	}
	name := string(id)
	if ch == baapi.ChannelEmaw {
		d.XMLName.Local = "Quittung"
		d.Ergebnis = map[baapi.Outcome]string{baapi.OutcomeOK: "OK", baapi.OutcomeNOK: "NOK"}[outcome]
		name += "." + d.Ergebnis + ".xml"
	} else {
		d.XMLName.Local = "Rueckmeldung"
		d.Ergebnis = map[baapi.Outcome]string{baapi.OutcomeOK: "angenommen", baapi.OutcomeNOK: "abgelehnt"}[outcome]
		name += ".rueckmeldung.xml"
	}
	var b bytes.Buffer
	b.WriteString(xml.Header)
	enc := xml.NewEncoder(&b)
	enc.Indent("", "  ")
	enc.Encode(d)
	b.WriteByte('\n')
	return Reply{Outcome: outcome, Name: name, Data: b.Bytes()}
}

// internalErrorReply is the NOK the BA sends when its own processing
// failed; the sender re-delivers.
func internalErrorReply(ch baapi.Channel, id baapi.MessageID) Reply {
	return modelReply(ch, id, []string{"BA_0500 BA-interner Fehler; bitte erneut liefern"})
}
