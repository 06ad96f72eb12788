package bacheck

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"regexp"
	"sync"
	"time"

	"meldeweg.dev/meldeweg/emaw/ack"
	"meldeweg.dev/meldeweg/emaw/msg"
	"meldeweg.dev/meldeweg/emaw/pack"
	"meldeweg.dev/meldeweg/emaw/rules"
	"meldeweg.dev/meldeweg/transport/baapi"
	"meldeweg.dev/meldeweg/transport/cms"
)

// Fehler codes of the acknowledgements (see emaw/ack for the ranges).
const (
	CodeInvalid         = "1001" // not valid against the bundle in force
	CodeRule            = "1002" // a business rule is broken
	CodeCorrection      = "1003" // a correction rule is broken
	CodeNotMessage      = "1004" // the event is not an eM@w message
	CodeIDMismatch      = "1005" // Kopf/NachrichtID differs from the event's archive name
	CodeAttachment      = "1006" // the PDF named in Anhang is missing
	CodeDecrypt         = "1010" // envelope: cannot be decrypted
	CodeSigner          = "1011" // envelope: signer certificate not accepted
	CodeAlgorithm       = "1012" // envelope: algorithm refused
	CodeSignature       = "1013" // envelope: signature invalid
	CodeArchive         = "1014" // the plaintext is not a valid upload archive
	CodeBAInternal      = "9000" // the BA's own processing failed
	CodeBAInjected      = "9001" // BA-internal error injected by Config.BAErrors
	unknownProvider     = "UNBEKANNT"
	ackFileSuffix       = ".quittung.xml.p7m"
	maxFehlerTextRunes  = 4000
	textBAErrorRedelive = "Interner Verarbeitungsfehler der BA; bitte das Ereignis unverändert erneut liefern."
)

// reNachrichtID is the NachrichtID pattern of the model bundles.
var reNachrichtID = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._\-]{0,63}$`) })

// answerID is the NachrichtID an answer is given under: id itself when it
// fits the schema's pattern, otherwise a stable substitute derived from
// it (such an answer cannot be linked by the provider anyway).
func answerID(id string) string {
	if reNachrichtID().MatchString(id) {
		return id
	}
	s := sha256.Sum256([]byte(id))
	return "X-" + hex.EncodeToString(s[:12])
}

// checkEmaw opens the upload, unpacks it and answers every event.
func (c *Checker) checkEmaw(ctx context.Context, id baapi.MessageID, payload string) ([]byte, string, baapi.Outcome, error) {
	now := c.cfg.Now()
	name := string(id) + ackFileSuffix
	f, err := os.Open(payload)
	if err != nil {
		return nil, "", "", err
	}
	defer f.Close()
	var buf bytes.Buffer
	cw := &cappedWriter{w: &buf, max: c.cfg.MaxEmawBytes}
	_, err = cms.Open(ctx, cw, f, c.openOptions())
	switch {
	case ctx.Err() != nil:
		return nil, "", "", ctx.Err()
	case cw.over:
		data, err := c.emawUploadNOK(ctx, id, CodeArchive, fmt.Sprintf("Die entschlüsselte Lieferung überschreitet die Grenze von %d Bytes.", c.cfg.MaxEmawBytes), now)
		return data, name, baapi.OutcomeNOK, err
	case err != nil:
		ee := classifyEnvelope(err)
		data, err := c.emawUploadNOK(ctx, id, ee.Code, truncate(ee.Text, maxFehlerTextRunes), now)
		return data, name, baapi.OutcomeNOK, err
	}
	up, err := pack.Open(buf.Bytes(), string(id)+".zip", pack.Limits{})
	if err != nil {
		data, err := c.emawUploadNOK(ctx, id, CodeArchive, truncate("Die Lieferung ist kein gültiges eM@w-Upload-Archiv: "+err.Error(), maxFehlerTextRunes), now)
		return data, name, baapi.OutcomeNOK, err
	}

	q := ack.Quittung{QuittungID: quittungID(id), Erstellt: now.Truncate(time.Second), Absender: c.cfg.Kennung, Empfaenger: unknownProvider}
	if reNachrichtID().MatchString(string(id)) {
		q.Datei = string(id)
	}
	outcome := baapi.OutcomeOK
	for _, ev := range up.Events {
		e, m, err := c.judgeEvent(ctx, ev)
		if err != nil {
			return nil, "", "", err
		}
		if m != nil && q.Empfaenger == unknownProvider && reKennung().MatchString(m.Header().Absender) {
			q.Empfaenger = m.Header().Absender
		}
		if e.Status != ack.StatusOK {
			outcome = baapi.OutcomeNOK
		}
		q.Ergebnis = append(q.Ergebnis, e)
	}
	data, _, err := ack.Marshal(ctx, c.codec, q)
	if err != nil {
		return nil, "", "", fmt.Errorf("writing the acknowledgement: %w", err)
	}
	return data, name, outcome, nil
}

// quittungID is a stable, schema-conform Quittung ID for an upload.
func quittungID(id baapi.MessageID) string {
	s := sha256.Sum256([]byte(id))
	return "Q-" + hex.EncodeToString(s[:12])
}

// emawUploadNOK is the acknowledgement for an upload whose events cannot
// be read: one NOK under the upload's message ID.
func (c *Checker) emawUploadNOK(ctx context.Context, id baapi.MessageID, code, text string, now time.Time) ([]byte, error) {
	q := ack.Quittung{QuittungID: quittungID(id), Erstellt: now.Truncate(time.Second), Absender: c.cfg.Kennung, Empfaenger: unknownProvider,
		Ergebnis: []ack.Ergebnis{{NachrichtID: answerID(string(id)), Status: ack.StatusNOK, Fehler: []ack.Fehler{{Code: code, Text: text}}}}}
	if reNachrichtID().MatchString(string(id)) {
		q.Datei = string(id)
	}
	data, _, err := ack.Marshal(ctx, c.codec, q)
	if err != nil {
		return nil, fmt.Errorf("writing the acknowledgement: %w", err)
	}
	return data, nil
}

// judgeEvent answers one event. It returns the decoded message when the
// event could be read. The error is set only when the BA's own processing
// fails.
func (c *Checker) judgeEvent(ctx context.Context, ev pack.Event) (ack.Ergebnis, msg.Message, error) {
	e := ack.Ergebnis{NachrichtID: answerID(ev.ID), Status: ack.StatusNOK}
	fail := func(code, text string) {
		e.Fehler = append(e.Fehler, ack.Fehler{Code: code, Text: truncate(text, maxFehlerTextRunes)})
	}
	data := ev.XML()
	m, _, err := c.codec.Unmarshal(ctx, data, ev.ID+".xml")
	var fe *msg.FieldError
	switch {
	case err == nil:
	case ctx.Err() != nil:
		return e, nil, ctx.Err()
	case errors.Is(err, msg.ErrInvalid), errors.As(err, &fe):
		fail(CodeInvalid, err.Error())
		return e, nil, nil
	case errors.Is(err, msg.ErrNotMessage):
		fail(CodeNotMessage, err.Error())
		return e, nil, nil
	default:
		// No bundle in force for the event's date, and the like: the
		// event is faulty, not the BA.
		fail(CodeInvalid, err.Error())
		return e, nil, nil
	}
	k := m.Header()
	if k.NachrichtID != ev.ID {
		fail(CodeIDMismatch, fmt.Sprintf("Kopf/NachrichtID %q weicht vom Namen des Ereignisarchivs %q ab.", k.NachrichtID, ev.ID))
	}
	var pdf []byte
	if a, ok := m.(msg.WithAttachment); ok {
		var found bool
		if pdf, found = ev.Part(a.Attachment().Dateiname); !found {
			fail(CodeAttachment, fmt.Sprintf("Die Datei %q aus Anhang/Dateiname fehlt im Ereignisarchiv.", a.Attachment().Dateiname))
		}
	}
	for _, f := range rules.Check(m, rules.Options{Attachment: pdf}) {
		fail(CodeRule, f.String())
	}
	if c.known != nil {
		if !c.known.assigned(k.Absender, k.Massnahme.Key()) {
			fail(ack.CodeNotAssigned, fmt.Sprintf("Der Träger %s ist der Maßnahme %s nicht zugeordnet.", k.Absender, k.Massnahme.Key()))
		}
		if t := msg.ParticipantOf(m); t != nil && !c.known.participant(*t) {
			fail(ack.CodeParticipantUnknown, "Der Teilnehmer (Kundennummer und cosachid) ist der BA nicht bekannt.")
		}
	}

	// The correction rules and the injected BA errors depend on what came
	// before: one event at a time.
	c.mu.Lock()
	defer c.mu.Unlock()
	sent, err := rules.CheckSent(ctx, c.received, m, data)
	if err != nil {
		return e, m, err
	}
	for _, f := range sent {
		fail(CodeCorrection, f.String())
	}
	if len(e.Fehler) > 0 {
		return e, m, nil
	}
	c.attempts[k.NachrichtID]++
	if c.attempts[k.NachrichtID] <= c.cfg.BAErrors {
		fail(CodeBAInjected, textBAErrorRedelive)
		return e, m, nil
	}
	if err := c.received.Record(ctx, rules.SentEventOf(m, data, c.cfg.Now())); err != nil {
		return e, m, err
	}
	e.Status = ack.StatusOK
	return e, m, nil
}
