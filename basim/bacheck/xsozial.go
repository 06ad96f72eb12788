package bacheck

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"time"

	"meldeweg.dev/meldeweg/schemas"
	"meldeweg.dev/meldeweg/transport/baapi"
	"meldeweg.dev/meldeweg/transport/cms"
	"meldeweg.dev/meldeweg/xsozial"
	"meldeweg.dev/meldeweg/xsozial/check"
	"meldeweg.dev/meldeweg/xsozial/feedback"
)

// Placeholders for a feedback whose delivery has no readable header: the
// feedback format requires both fields.
const (
	UnknownTraeger = "unbekannt"
)

// headerSize is how much plaintext is read to find the dataset header; the
// check reads the same amount for the same purpose.
const headerSize = 64 << 10

// checkXSozial opens the delivery and pipes the plaintext straight into
// the three-stage check, so the dataset never touches the disk. The check
// reads data that is not yet authenticated (the signature is at the end),
// so its report is used only when Open succeeds.
func (c *Checker) checkXSozial(ctx context.Context, id baapi.MessageID, payload string) ([]byte, string, baapi.Outcome, error) {
	now := c.cfg.Now()
	f, err := os.Open(payload)
	if err != nil {
		return nil, "", "", err
	}
	defer f.Close()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pr, pw := io.Pipe()
	opened := make(chan error, 1)
	go func() {
		_, err := cms.Open(ctx, pw, f, c.openOptions())
		pw.CloseWithError(err) // nil closes with io.EOF
		opened <- err
	}()

	h := sha256.New()
	plain := io.TeeReader(pr, h)
	prefix := make([]byte, headerSize)
	n, _ := io.ReadFull(plain, prefix)
	prefix = prefix[:n]
	traeger, month, test := readHeader(prefix)

	rep, checkErr := check.Check(ctx, io.MultiReader(bytes.NewReader(prefix), plain), "", check.Options{
		Registry: c.cfg.Registry, Traeger: traeger, Now: c.cfg.Now,
	})
	// Drain what the check did not read, so Open reaches the signature.
	io.Copy(io.Discard, plain)
	pr.Close()
	openErr := <-opened

	file := string(id)
	if traeger != "" && month != (schemas.Month{}) {
		file = check.FileName(traeger, month, test)
	}
	var fb *feedback.Feedback
	switch {
	case openErr != nil:
		ee := classifyEnvelope(openErr)
		fb = &feedback.Feedback{File: string(id), Received: now.UTC().Format(time.RFC3339), Result: feedback.Rejected,
			Findings: []feedback.Finding{{Stage: "Umschlag", Rule: ee.Rule, Severity: string(check.Fehler), Text: ee.Text}}}
	case checkErr != nil:
		return nil, "", "", fmt.Errorf("checking the delivery: %w", checkErr)
	default:
		fb = feedback.FromReport(rep, file, hex.EncodeToString(h.Sum(nil)), now)
	}
	fillHeader(fb, now)
	var out bytes.Buffer
	if err := feedback.Write(&out, fb); err != nil {
		return nil, "", "", err
	}
	outcome := baapi.OutcomeOK
	if fb.Result != feedback.Accepted {
		outcome = baapi.OutcomeNOK
	}
	return out.Bytes(), string(id) + ".rueckmeldung.xml.p7m", outcome, nil
}

// readHeader reads Trägernummer, reporting month and test flag from the
// dataset header at the start of prefix; empty values when it has none.
func readHeader(prefix []byte) (traeger string, month schemas.Month, test bool) {
	rd := xsozial.NewReader(bytes.NewReader(prefix))
	var rec xsozial.Record
	ev, err := rd.Next(&rec)
	if err != nil || ev != xsozial.EventRecord || rec.Kind != xsozial.KindKopf {
		return "", schemas.Month{}, false
	}
	m, err := schemas.ParseMonth(rec.F[xsozial.KBerichtsmonat])
	if err != nil {
		m = schemas.Month{}
	}
	return rec.F[xsozial.KTraeger], m, rec.F[xsozial.KVerwendung] == "T"
}

// fillHeader puts placeholders where the delivery gave no usable
// Trägernummer or reporting month, so that the feedback parses; the
// findings say what was wrong.
func fillHeader(fb *feedback.Feedback, now time.Time) {
	if fb.Traeger == "" {
		fb.Traeger = UnknownTraeger
	}
	if _, err := schemas.ParseMonth(fb.Month); err != nil {
		fb.Month = schemas.MonthOf(now).String()
	}
}

// internalError is the sealed reply for a failure inside the BA: the
// sender re-delivers.
func (c *Checker) internalError(ctx context.Context, ch baapi.Channel, id baapi.MessageID) ([]byte, string, baapi.Outcome, error) {
	now := c.cfg.Now()
	if ch == baapi.ChannelEmaw {
		data, err := c.emawUploadNOK(ctx, id, CodeBAInternal, "Interner Verarbeitungsfehler der BA; bitte dieselbe Lieferung erneut senden.", now)
		return data, string(id) + ".quittung.xml.p7m", baapi.OutcomeNOK, err
	}
	fb := &feedback.Feedback{File: string(id), Received: now.UTC().Format(time.RFC3339), Result: feedback.Rejected,
		Findings: []feedback.Finding{{Stage: "BA", Rule: "BA_0500", Severity: string(check.Fehler), Text: "Interner Verarbeitungsfehler der BA; bitte dieselbe Lieferung erneut senden."}}}
	fillHeader(fb, now)
	var out bytes.Buffer
	if err := feedback.Write(&out, fb); err != nil {
		return nil, "", "", err
	}
	return out.Bytes(), string(id) + ".rueckmeldung.xml.p7m", baapi.OutcomeNOK, nil
}
