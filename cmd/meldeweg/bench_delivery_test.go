package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"meldeweg.dev/meldeweg/emaw/msg"
	"meldeweg.dev/meldeweg/emaw/pack"
	"meldeweg.dev/meldeweg/schemas"
	"meldeweg.dev/meldeweg/transport/baapi"
	"meldeweg.dev/meldeweg/transport/client"
	"meldeweg.dev/meldeweg/transport/cms"
	"meldeweg.dev/meldeweg/transport/pki"
	"meldeweg.dev/meldeweg/transport/register"
	"meldeweg.dev/meldeweg/transport/register/sqlitestore"
	"meldeweg.dev/meldeweg/transport/sim"
	"meldeweg.dev/meldeweg/transport/sim/simtest"
)

// BenchmarkDelivery measures eM@w messages per second end to end — build
// and validate an Eintritt, pack it, seal it (CMS), spool and enqueue it in
// the SQLite register, claim and upload it over mTLS, record the receipt
// and fetch and record the acknowledgement — next to the raw rate of mTLS
// POSTs of the same sealed bytes to the same simulator in the same run.
// Both are sequential, one message at a time. Goal: e2e ≥ 50% of raw.
func BenchmarkDelivery(b *testing.B) {
	const n = 200
	ctx := context.Background()
	dir := b.TempDir()
	pkiDir := filepath.Join(dir, "pki")
	if err := pki.Init(pkiDir, pki.InitOptions{}); err != nil {
		b.Fatal(err)
	}
	signer, err := pki.LoadIdentity(filepath.Join(pkiDir, "emaw-sign.pem"), filepath.Join(pkiDir, "emaw-sign.key"), pki.Password{})
	if err != nil {
		b.Fatal(err)
	}
	baEnc, err := pki.LoadCertificates(filepath.Join(pkiDir, "ba-encrypt.pem"))
	if err != nil {
		b.Fatal(err)
	}
	reg, err := schemas.Load(schemas.Options{})
	if err != nil {
		b.Fatal(err)
	}
	codec := msg.NewCodec(reg)

	p := simtest.NewPKI(b)
	s := simtest.Start(b, p, sim.Config{})
	c, err := client.New(client.Config{BaseURL: s.URL, TLS: p.ClientTLS(b)})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	store, err := sqlitestore.Open(ctx, filepath.Join(dir, "register.db"), sqlitestore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	spool := client.SpoolDir(filepath.Join(dir, "spool"))
	actor := register.System("bench")
	sender := &client.Sender{Store: store, Client: c, Payloads: spool, Worker: "bench-1", Actor: actor}
	mb := client.EmawMailbox{C: c}

	// one message, end to end
	deliver := func(i int) []byte {
		m := msg.Example(msg.TypeEintritt)
		id := fmt.Sprintf("BENCH-%06d", i)
		m.Header().NachrichtID = id
		xml, _, err := codec.Marshal(ctx, m)
		if err != nil {
			b.Fatal(err)
		}
		var zip bytes.Buffer
		if _, err := pack.Write(&zip, []pack.Event{{ID: id, Parts: []pack.Part{{Name: id + ".xml", Data: xml}}}}); err != nil {
			b.Fatal(err)
		}
		var sealed bytes.Buffer
		if err := cms.Seal(ctx, &sealed, &zip, cms.SealOptions{Signer: cms.Signer{Key: signer.Key, Cert: signer.Cert},
			Recipients: baEnc[:1]}); err != nil {
			b.Fatal(err)
		}
		file := filepath.Join(dir, id+".p7m")
		if err := os.WriteFile(file, sealed.Bytes(), 0o600); err != nil {
			b.Fatal(err)
		}
		ref, err := spool.Put(file)
		if err != nil {
			b.Fatal(err)
		}
		mid := register.MessageID("bench-" + id)
		if _, err := store.Enqueue(ctx, register.EnqueueParams{ID: mid, Channel: register.ChannelEmaw, Payload: ref, Actor: actor}); err != nil {
			b.Fatal(err)
		}
		res, err := sender.SendDue(ctx, 1)
		if err != nil || len(res) != 1 || res[0].Err != nil || res[0].Message.State != register.MessageSent {
			b.Fatalf("send: %v %+v", err, res)
		}
		for {
			ack, _, err := mb.Ack(ctx, baapi.MessageID(mid))
			if errors.Is(err, client.ErrNotReady) {
				continue
			}
			if err != nil {
				b.Fatal(err)
			}
			ackRef := register.PayloadRef{SHA256: sha256.Sum256(ack), Size: int64(len(ack))}
			if _, err := store.Transition(ctx, register.MarkAcknowledged(mid, ackRef, actor)); err != nil {
				b.Fatal(err)
			}
			break
		}
		return sealed.Bytes()
	}

	for b.Loop() {
		sample := deliver(0) // warm-up, and the body for the raw POSTs
		start := time.Now()
		for i := 1; i <= n; i++ {
			deliver(i)
		}
		e2e := float64(n) / time.Since(start).Seconds()

		raw := rawPOSTRate(b, s.URL, p.ClientTLS(b), sample, n)
		b.ReportMetric(e2e, "e2e-msgs/s")
		b.ReportMetric(raw, "raw-posts/s")
		b.ReportMetric(e2e/raw*100, "e2e-%-of-raw")
		b.Logf("eM@w end to end: %.0f msgs/s; raw mTLS POSTs: %.0f/s; ratio %.0f%% (goal ≥ 50%%); %d bytes sealed per message",
			e2e, raw, e2e/raw*100, len(sample))
	}
}

// rawPOSTRate sends n uploads of body with a bare mTLS http.Client (one
// kept-alive connection, no retries, no checks beyond the status) and
// returns uploads per second.
func rawPOSTRate(b *testing.B, url string, tlsCfg *tls.Config, body []byte, n int) float64 {
	tr := &http.Transport{TLSClientConfig: tlsCfg}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr}
	digest := baapi.FormatDigest(sha256.Sum256(body))
	post := func(i int) {
		id := baapi.MessageID(fmt.Sprintf("raw-%06d", i))
		req, _ := http.NewRequest(http.MethodPost, url+baapi.UploadPath(baapi.ChannelEmaw, id), bytes.NewReader(body))
		req.Header.Set(baapi.HeaderMessageID, string(id))
		req.Header.Set(baapi.HeaderDigest, digest)
		resp, err := hc.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			b.Fatalf("raw POST: %s", resp.Status)
		}
	}
	post(0)
	start := time.Now()
	for i := 1; i <= n; i++ {
		post(i)
	}
	return float64(n) / time.Since(start).Seconds()
}
