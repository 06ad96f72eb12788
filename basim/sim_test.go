package basim_test

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"meldeweg.dev/meldeweg/basim"
	"meldeweg.dev/meldeweg/basim/simtest"
	"meldeweg.dev/meldeweg/transport/baapi"
	"meldeweg.dev/meldeweg/transport/client"
)

// rawClient is a plain mTLS http.Client, to send requests our client
// would never build.
func rawClient(t *testing.T, p *simtest.PKI) *http.Client {
	tr := &http.Transport{TLSClientConfig: p.ClientTLS(t)}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// TestUploadRequestsRefused: the simulator refuses uploads that do not
// follow the wire model, and records none of them.
func TestUploadRequestsRefused(t *testing.T) {
	t.Parallel()
	p := simtest.NewPKI(t)
	s := simtest.Start(t, p, basim.Config{MaxUploadBytes: 1000})
	hc := rawClient(t, p)
	body := []byte("payload")
	digest := baapi.FormatDigest(sha256.Sum256(body))
	tests := []struct {
		name       string
		path       string
		header     map[string]string
		body       io.Reader
		chunked    bool
		wantStatus int
		wantCode   baapi.ProblemCode
	}{
		{"unknown channel", "/xbau/v1/messages/m1", map[string]string{baapi.HeaderMessageID: "m1", baapi.HeaderDigest: digest}, bytes.NewReader(body), false, 404, baapi.ProblemNotFound},
		{"bad message ID", "/emaw/v1/messages/.m1", map[string]string{baapi.HeaderMessageID: ".m1", baapi.HeaderDigest: digest}, bytes.NewReader(body), false, 400, baapi.ProblemBadRequest},
		{"header and path disagree", "/emaw/v1/messages/m1", map[string]string{baapi.HeaderMessageID: "m2", baapi.HeaderDigest: digest}, bytes.NewReader(body), false, 400, baapi.ProblemBadRequest},
		{"no digest", "/emaw/v1/messages/m1", map[string]string{baapi.HeaderMessageID: "m1"}, bytes.NewReader(body), false, 400, baapi.ProblemBadRequest},
		{"wrong digest", "/emaw/v1/messages/m1", map[string]string{baapi.HeaderMessageID: "m1", baapi.HeaderDigest: baapi.FormatDigest(sha256.Sum256([]byte("other")))}, bytes.NewReader(body), false, 400, baapi.ProblemDigest},
		{"chunked", "/emaw/v1/messages/m1", map[string]string{baapi.HeaderMessageID: "m1", baapi.HeaderDigest: digest}, io.MultiReader(bytes.NewReader(body)), true, 411, baapi.ProblemBadRequest},
		{"too large", "/emaw/v1/messages/m1", map[string]string{baapi.HeaderMessageID: "m1", baapi.HeaderDigest: digest}, bytes.NewReader(make([]byte, 1001)), false, 413, baapi.ProblemTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest("POST", s.URL+tt.path, tt.body)
			if tt.chunked {
				req.ContentLength = -1
			}
			for k, v := range tt.header {
				req.Header.Set(k, v)
			}
			resp, err := hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			data, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.wantStatus || !strings.Contains(string(data), string(tt.wantCode)) {
				t.Fatalf("got %d %s, want %d %s", resp.StatusCode, data, tt.wantStatus, tt.wantCode)
			}
		})
	}
	if n := len(s.Accepted()); n != 0 {
		t.Fatalf("accepted %d uploads, want 0", n)
	}
}

// TestRestartKeepsDuplicates: a restarted simulator reloads
// accepted.jsonl, drops the old IDs as duplicates and offers the replies
// again.
func TestRestartKeepsDuplicates(t *testing.T) {
	t.Parallel()
	p := simtest.NewPKI(t)
	dir := t.TempDir()
	ctx := context.Background()
	upload := func(s *simtest.Sim) baapi.Receipt {
		c, err := client.New(client.Config{BaseURL: s.URL, TLS: p.ClientTLS(t)})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		rec, err := client.EmawMailbox{C: c}.Upload(ctx, "m-restart", client.BytesBody([]byte("not a zip")))
		if err != nil {
			t.Fatal(err)
		}
		return rec
	}
	s1 := simtest.Start(t, p, basim.Config{Dir: dir})
	if rec := upload(s1); rec.Status != baapi.ReceiptAccepted {
		t.Fatalf("first upload: %q", rec.Status)
	}
	if err := s1.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	s2 := simtest.Start(t, p, basim.Config{Dir: dir})
	if rec := upload(s2); rec.Status != baapi.ReceiptDuplicate {
		t.Fatalf("upload after restart: got %q, want duplicate", rec.Status)
	}
	acc, err := basim.ReadAccepted(dir)
	if err != nil || len(acc) != 1 {
		t.Fatalf("accepted.jsonl: %v, %d lines, want 1", err, len(acc))
	}
}

func TestReadAccepted(t *testing.T) {
	t.Parallel()
	good := `{"message_id":"m1","channel":"emaw","size":1,"sha256":"ab","received_at":"2026-03-01T12:00:00Z"}` + "\n"
	tests := []struct {
		name    string
		content string
		want    int
		wantErr string
	}{
		{"two lines", good + good, 2, ""},
		{"torn last line is ignored", good + `{"message_id":"m2","chan`, 1, ""},
		{"damaged line is named", good + "garbage\n" + good, 1, "line 2"},
	}
	for _, tt := range tests {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, basim.AcceptedFile), []byte(tt.content), 0o600)
		got, err := basim.ReadAccepted(dir)
		if len(got) != tt.want || (tt.wantErr == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%s: got %d records, %v; want %d, error containing %q", tt.name, len(got), err, tt.want, tt.wantErr)
		}
	}
	if _, err := basim.ReadAccepted(t.TempDir()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: got %v, want os.ErrNotExist", err)
	}
}

func TestStructuralChecker(t *testing.T) {
	t.Parallel()
	zipOf := func(entries map[string]string) []byte {
		var b bytes.Buffer
		zw := zip.NewWriter(&b)
		for name, content := range entries {
			w, _ := zw.Create(name)
			w.Write([]byte(content))
		}
		zw.Close()
		return b.Bytes()
	}
	tests := []struct {
		name        string
		ch          baapi.Channel
		payload     []byte
		wantOutcome baapi.Outcome
		wantText    string
	}{
		{"eM@w ZIP with XML", baapi.ChannelEmaw, zipOf(map[string]string{"a.xml": "<a/>", "b.pdf": "%PDF"}), baapi.OutcomeOK, "<Ergebnis>OK</Ergebnis>"},
		{"eM@w not a ZIP", baapi.ChannelEmaw, []byte("hello"), baapi.OutcomeNOK, "ZIP_0001"},
		{"eM@w empty ZIP", baapi.ChannelEmaw, zipOf(nil), baapi.OutcomeNOK, "ZIP_0002"},
		{"eM@w broken XML", baapi.ChannelEmaw, zipOf(map[string]string{"a.xml": "<a>"}), baapi.OutcomeNOK, "XML_0001 entry &#34;a.xml&#34;"},
		{"XSozial DER", baapi.ChannelXSozial, []byte{0x30, 0x03, 0x02, 0x01, 0x00}, baapi.OutcomeOK, "angenommen"},
		{"XSozial plain XML", baapi.ChannelXSozial, []byte("<x/>"), baapi.OutcomeNOK, "RTX_0001"},
	}
	for _, tt := range tests {
		path := filepath.Join(t.TempDir(), "payload")
		os.WriteFile(path, tt.payload, 0o600)
		r, err := basim.StructuralChecker{}.Check(context.Background(), tt.ch, "m1", path)
		if err != nil || r.Outcome != tt.wantOutcome || !strings.Contains(string(r.Data), tt.wantText) {
			t.Errorf("%s: got %v %q %s; want %q containing %q", tt.name, err, r.Outcome, r.Data, tt.wantOutcome, tt.wantText)
		}
	}
}

// TestCheckerFailureAnswersNOK: when the checker itself fails, the sender
// gets the BA's internal-error NOK, never silence.
func TestCheckerFailureAnswersNOK(t *testing.T) {
	t.Parallel()
	p := simtest.NewPKI(t)
	failing := basim.CheckerFunc(func(context.Context, baapi.Channel, baapi.MessageID, string) (basim.Reply, error) {
		return basim.Reply{}, errors.New("decryption key missing")
	})
	s := simtest.Start(t, p, basim.Config{Checker: failing})
	c, err := client.New(client.Config{BaseURL: s.URL, TLS: p.ClientTLS(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	mb := client.EmawMailbox{C: c}
	if _, err := mb.Upload(context.Background(), "m1", client.BytesBody([]byte("x"))); err != nil {
		t.Fatal(err)
	}
	ack, f, err := mb.Ack(context.Background(), "m1")
	if err != nil || f.Outcome != baapi.OutcomeNOK || !bytes.Contains(ack, []byte("BA_0500")) {
		t.Fatalf("got %v %q %s, want a NOK with BA_0500", err, f.Outcome, ack)
	}
}

func TestNewRefusesWeakConfig(t *testing.T) {
	t.Parallel()
	p := simtest.NewPKI(t)
	noClientAuth := p.ServerTLS(t)
	noClientAuth.ClientAuth = 0
	tests := []struct {
		name string
		cfg  basim.Config
		want string
	}{
		{"no TLS", basim.Config{Dir: t.TempDir()}, "TLS is required"},
		{"client certificates not required", basim.Config{TLS: noClientAuth, Dir: t.TempDir()}, "require and verify client certificates"},
		{"no dir", basim.Config{TLS: p.ServerTLS(t)}, "Dir is required"},
		{"negative faults", basim.Config{TLS: p.ServerTLS(t), Dir: t.TempDir(), Faults: basim.Faults{Unavailable: -1}}, "negative"},
	}
	for _, tt := range tests {
		if _, err := basim.New(tt.cfg); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: got %v, want error containing %q", tt.name, err, tt.want)
		}
	}
}

// TestRestartServesStoredReply: a reply is kept on disk, so a restarted
// simulator serves the same bytes without judging again (a sealed reply is
// randomised: judging again would give the same message two answers). A
// check cut short by the shutdown is judged again after the restart.
func TestRestartServesStoredReply(t *testing.T) {
	t.Parallel()
	p := simtest.NewPKI(t)
	dir := t.TempDir()
	ctx := context.Background()
	calls := 0
	random := basim.CheckerFunc(func(_ context.Context, _ baapi.Channel, id baapi.MessageID, _ string) (basim.Reply, error) {
		calls++
		b := make([]byte, 16)
		rand.Read(b)
		return basim.Reply{Outcome: baapi.OutcomeOK, Name: string(id) + ".r", Data: b}, nil
	})
	blocking := basim.CheckerFunc(func(ctx context.Context, _ baapi.Channel, _ baapi.MessageID, _ string) (basim.Reply, error) {
		<-ctx.Done()
		return basim.Reply{}, ctx.Err()
	})
	mailbox := func(s *simtest.Sim) (client.EmawMailbox, func()) {
		c, err := client.New(client.Config{BaseURL: s.URL, TLS: p.ClientTLS(t)})
		if err != nil {
			t.Fatal(err)
		}
		return client.EmawMailbox{C: c}, func() { c.Close() }
	}

	s1 := simtest.Start(t, p, basim.Config{Dir: dir, Checker: random})
	mb, done := mailbox(s1)
	if _, err := mb.Upload(ctx, "m-kept", client.BytesBody([]byte("a"))); err != nil {
		t.Fatal(err)
	}
	first, _, err := mb.Ack(ctx, "m-kept")
	if err != nil {
		t.Fatal(err)
	}
	done()
	if err := s1.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	// Replies can hold personal data: 0600, and no temporary file left.
	replies, _ := os.ReadDir(filepath.Join(dir, "replies", string(baapi.ChannelEmaw)))
	if len(replies) != 1 {
		t.Fatalf("stored replies %v, want one", replies)
	}
	if info, err := replies[0].Info(); err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("stored reply %s: %v, want mode 0600", replies[0].Name(), info)
	}

	s2 := simtest.Start(t, p, basim.Config{Dir: dir, Checker: blocking})
	mb, done = mailbox(s2)
	again, _, err := mb.Ack(ctx, "m-kept")
	if err != nil || !bytes.Equal(first, again) {
		t.Fatalf("after the restart: %v, reply %x, want the stored %x", err, again, first)
	}
	if _, err := mb.Upload(ctx, "m-cut", client.BytesBody([]byte("b"))); err != nil {
		t.Fatal(err)
	}
	done()
	if err := s2.Shutdown(ctx); err != nil { // cancels the blocked check
		t.Fatal(err)
	}

	s3 := simtest.Start(t, p, basim.Config{Dir: dir, Checker: random})
	mb, done = mailbox(s3)
	defer done()
	if _, f, err := mb.Ack(ctx, "m-cut"); err != nil || f.Outcome != baapi.OutcomeOK {
		t.Fatalf("the cut-short check: %v %q, want it judged again (ok)", err, f.Outcome)
	}
	if again, _, _ := mb.Ack(ctx, "m-kept"); !bytes.Equal(first, again) {
		t.Fatal("the stored reply changed on the second restart")
	}
	if calls != 2 {
		t.Fatalf("the checker judged %d uploads, want 2 (m-kept once, m-cut once)", calls)
	}
}
