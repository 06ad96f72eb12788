package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"meldeweg.dev/meldeweg/basim"
	"meldeweg.dev/meldeweg/basim/bacheck"
	"meldeweg.dev/meldeweg/basim/simtest"
	"meldeweg.dev/meldeweg/emaw/msg"
	"meldeweg.dev/meldeweg/emaw/pack"
	"meldeweg.dev/meldeweg/emaw/rules"
	"meldeweg.dev/meldeweg/flow/exchange"
	"meldeweg.dev/meldeweg/flow/outbox"
	"meldeweg.dev/meldeweg/schemas"
	"meldeweg.dev/meldeweg/transport/baapi"
	"meldeweg.dev/meldeweg/transport/client"
	"meldeweg.dev/meldeweg/transport/cms"
	"meldeweg.dev/meldeweg/transport/pki"
	"meldeweg.dev/meldeweg/transport/register"
	"meldeweg.dev/meldeweg/transport/register/payload"
	"meldeweg.dev/meldeweg/transport/register/sqlitestore"
)

// BenchmarkDelivery measures eM@w messages per second end to end, one
// event per upload, over the production path: build and validate an
// Eintritt (schema and rules), pack it, send it (Outbox.Send, as "send"
// does: seal it, keep the plain and the sealed form in the register with
// the "built", "sealed", "queued" and "sending" entries in one commit,
// upload it over mTLS, receipt and "sent" in a second), fetch the BA
// checker's sealed acknowledgement, open it and settle the upload (a
// feedback entry per event and "acknowledged", keeping the answer, in a
// third commit). W workers send and W collect acknowledgements, as "send"
// and "poll" do. Next to it, in the same run and against the same
// simulator (which judges every upload, raw ones too), the raw rate of
// bare mTLS POSTs of a sealed upload from W kept-alive connections.
// Goal: e2e ≥ 50% of raw. The CPU time per message and per POST is
// reported too.
//
// The BA runs in two arrangements:
//
//   - ba=own-cpu: the simulator runs as "meldeweg sim" in a process of its
//     own, pinned to CPU 1, and Meldeweg and the raw clients to CPU 0 (the
//     benchmark process, GOMAXPROCS 1). This is the arrangement of
//     production, where the BA's servers do the BA's work: the comparison
//     is Meldeweg's whole pipeline against bare POSTs, each against the
//     same BA. The raw rate is then what one simulator CPU judges. Needs
//     two CPUs and taskset (util-linux); skipped otherwise.
//   - ba=in-process: the simulator runs in the benchmark's process and
//     shares both CPUs with Meldeweg, so every cycle the BA spends on an
//     upload (decrypt, verify, validate, sign the answer, five fsyncs; raw
//     uploads are judged the same way) is one Meldeweg cannot use. The
//     ratio is then bounded by the CPU per message of both programs
//     together against the BA's alone; it is reported for comparison.
//
// Where the time goes (CPU profile and strace -f -e trace=fsync): per
// message the client waits for 3 synchronous register commits (several
// workers share one fsync through the SQLite group commit) and the
// simulator for 5 fsyncs, and four RSA private-key operations happen
// (client signs, BA decrypts, BA signs, client decrypts) where a raw POST
// has the simulator's two.
func BenchmarkDelivery(b *testing.B) {
	const n = 200 // eM@w messages (events) per run
	for _, arr := range []baArrangement{baOwnCPU, baInProcess} {
		for _, c := range []struct{ perUpload, workers int }{{1, 1}, {1, 4}, {1, 8}, {10, 4}} {
			b.Run(fmt.Sprintf("ba=%s/events-per-upload=%d/workers=%d", arr, c.perUpload, c.workers), func(b *testing.B) {
				for b.Loop() {
					e2e, raw, size := deliveryRates(b, arr, c.workers, n, c.perUpload)
					b.ReportMetric(e2e, "e2e-msgs/s")
					b.ReportMetric(raw, "raw-posts/s")
					b.ReportMetric(e2e/raw*100, "e2e-%-of-raw")
					goal := "goal ≥ 50% with one event per upload"
					if arr == baInProcess {
						goal = "for comparison: the BA's work competes for the same CPUs; the goal is measured with ba=own-cpu"
					}
					b.Logf("BA %s: eM@w end to end, %d event(s) per upload, %d workers: %.0f msgs/s; raw mTLS POSTs, %d clients: %.0f/s; ratio %.0f%% (%s); %d bytes sealed per upload",
						arr, c.perUpload, c.workers, e2e, c.workers, raw, e2e/raw*100, goal, size)
				}
			})
		}
	}
}

// baArrangement is where the simulator runs (see BenchmarkDelivery).
type baArrangement string

const (
	baOwnCPU    baArrangement = "own-cpu"
	baInProcess baArrangement = "in-process"
)

// deliveryRates runs n messages end to end, perUpload to an upload, with
// workers goroutines, and n raw POSTs with as many clients, in alternating
// rounds, and returns messages per second, POSTs per second and the size
// of one sealed upload.
func deliveryRates(b *testing.B, arr baArrangement, workers, n, perUpload int) (e2e, raw float64, sealedSize int) {
	ctx := context.Background()
	var ba *baBundle
	baCPU := func() time.Duration { return 0 }
	if arr == baOwnCPU {
		var pid int
		ba, pid = startOwnCPUBA(b)
		baCPU = func() time.Duration { return processCPU(b, pid) }
	} else {
		ba = startBA(b, bacheck.Config{}, basim.Faults{})
	}
	dir := b.TempDir()
	reg, err := schemas.Load(schemas.Options{})
	if err != nil {
		b.Fatal(err)
	}
	codec := msg.NewCodec(reg)
	store, err := sqlitestore.Open(ctx, filepath.Join(dir, "register.db"), sqlitestore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	ps, err := payload.Open(filepath.Join(dir, "payloads"), store)
	if err != nil {
		b.Fatal(err)
	}
	ep, tlsCfg := benchEndpoint(b, ba)
	defer ep.Client.Close()

	// stages sum the time spent per stage: build+validate+pack, submit
	// (seal, store, register), deliver (claim, upload, receipt), fetch and
	// open the acknowledgement, record it.
	var stages [4]atomic.Int64
	// send builds, validates, packs, submits and delivers one message and
	// returns its ID once the BA's receipt confirmed it.
	send := func(ob *outbox.Outbox, i int) register.MessageID {
		tb := time.Now()
		var evs []pack.Event
		for j := range perUpload {
			id := fmt.Sprintf("BENCH-%06d-%02d", i, j)
			m := example(msg.TypeEintritt, id)
			xml, _, err := codec.Marshal(ctx, m)
			if err != nil {
				b.Fatal(err)
			}
			if fs := rules.Check(m, rules.Options{}); len(fs) > 0 {
				b.Fatal(rules.AsError(fs))
			}
			evs = append(evs, pack.Event{ID: id, Parts: []pack.Part{{Name: id + ".xml", Data: xml}}})
		}
		var zip bytes.Buffer
		if _, err := pack.Write(&zip, evs); err != nil {
			b.Fatal(err)
		}
		mid := register.MessageID(baapi.ContentMessageID(baapi.ChannelEmaw, sha256.Sum256(zip.Bytes())))
		t0 := time.Now()
		stages[0].Add(int64(t0.Sub(tb)))
		sm, _, err := ob.Send(ctx, ep, outbox.SubmitParams{ID: mid, Plain: evs[0].ID + ".zip", Data: zip.Bytes(), KeepPlain: true, Detail: "bench"})
		if err != nil || sm.State != register.MessageSent {
			b.Fatalf("send %s: %v (%s)", mid, err, sm.State)
		}
		stages[1].Add(int64(time.Since(t0)))
		return mid
	}
	// settle fetches, opens and records the acknowledgement of mid.
	settle := func(ob *outbox.Outbox, mid register.MessageID) {
		t0 := time.Now()
		r, err := ob.AwaitReply(ctx, ep, mid, 5*time.Millisecond)
		if err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		stages[2].Add(int64(t1.Sub(t0)))
		res, err := exchange.RecordAck(ctx, ob, codec, mid, r)
		stages[3].Add(int64(time.Since(t1)))
		if err != nil || !res.Settled || res.Message.State != register.MessageAcknowledged || len(res.Answers) != perUpload {
			b.Fatalf("settle %s: %v %+v", mid, err, res)
		}
	}
	newOutbox := func(name string) *outbox.Outbox {
		return &outbox.Outbox{Store: store, Payloads: ps, Actor: register.System("bench"), Worker: name}
	}

	settle(newOutbox("warm-up"), send(newOutbox("warm-up"), 0))
	// The raw POSTs carry a real sealed upload, so the simulator stores,
	// records and judges them as it does the end-to-end ones.
	sample := sealedSample(b, ep, codec)
	rp := newRawPoster(b, ba.url, tlsCfg, sample, workers)
	defer rp.close()

	// e2eRound sends uploads first..last end to end: senders hand every
	// sent message to the collectors, as "send" and "poll" do in
	// production; the round ends when the last message is acknowledged and
	// settled.
	uploads := n / perUpload
	e2eRound := func(first, last int) {
		next := atomic.Int64{}
		next.Store(int64(first - 1))
		sent := make(chan register.MessageID, last-first+1)
		var senders, collectors sync.WaitGroup
		for w := range workers {
			senders.Add(1)
			go func() {
				defer senders.Done()
				ob := newOutbox(fmt.Sprintf("send-%d", w))
				for {
					i := int(next.Add(1))
					if i > last {
						return
					}
					sent <- send(ob, i)
				}
			}()
			collectors.Add(1)
			go func() {
				defer collectors.Done()
				ob := newOutbox(fmt.Sprintf("collect-%d", w))
				for mid := range sent {
					settle(ob, mid)
				}
			}()
		}
		senders.Wait()
		close(sent)
		collectors.Wait()
	}

	// The two run in alternating rounds, so that a change in the speed of
	// the (shared, virtual) machine during the run affects both alike.
	const rounds = 4
	var e2eWall, e2eCPU, e2eBA, rawWall, rawCPU, rawBA time.Duration
	measure := func(wall, cpu, baTime *time.Duration, run func()) {
		c0, ba0, t0 := cpuTime(), baCPU(), time.Now()
		run()
		*wall += time.Since(t0)
		*cpu += cpuTime() - c0
		*baTime += baCPU() - ba0
	}
	for r := range rounds {
		first, last := r*uploads/rounds+1, (r+1)*uploads/rounds
		measure(&e2eWall, &e2eCPU, &e2eBA, func() { e2eRound(first, last) })
		measure(&rawWall, &rawCPU, &rawBA, func() { rp.run(r*n/rounds+1, (r+1)*n/rounds) })
	}
	perMsg := func(d time.Duration) float64 { return d.Seconds() * 1e3 / float64(n) }
	b.ReportMetric(perMsg(e2eCPU), "e2e-cpu-ms/msg")
	b.ReportMetric(perMsg(rawCPU), "raw-cpu-ms/post")
	if arr == baOwnCPU {
		b.ReportMetric(perMsg(e2eBA), "e2e-ba-cpu-ms/msg")
		b.ReportMetric(perMsg(rawBA), "raw-ba-cpu-ms/post")
	}
	var parts []string
	for i, name := range []string{"build", "send", "await-ack", "settle"} {
		ms := float64(stages[i].Load()) / float64(uploads+1) / 1e6
		parts = append(parts, fmt.Sprintf("%s %.1f ms", name, ms))
		b.ReportMetric(ms, name+"-ms/upload")
	}
	b.Logf("time per upload and stage (summed over workers): %s", strings.Join(parts, ", "))
	return float64(n) / e2eWall.Seconds(), float64(n) / rawWall.Seconds(), len(sample)
}

// benchEndpoint is the provider's eM@w endpoint from the test PKI, and its
// mTLS configuration for the raw POSTs.
func benchEndpoint(b *testing.B, ba *baBundle) (*outbox.Endpoint, *tls.Config) {
	ep := ba.ba.Endpoint(b, baapi.ChannelEmaw)
	tlsCfg := ba.ba.ClientTLS(b, baapi.ChannelEmaw)
	c, err := client.New(client.Config{BaseURL: ba.url, TLS: tlsCfg})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	ep.Client = c // the default attempts, as "send" has
	return ep, tlsCfg
}

// sealedSample is one sealed upload (an Eintritt) as the raw POSTs send it.
func sealedSample(b *testing.B, ep *outbox.Endpoint, codec *msg.Codec) []byte {
	m := example(msg.TypeEintritt, "RAW-1")
	xml, _, err := codec.Marshal(context.Background(), m)
	if err != nil {
		b.Fatal(err)
	}
	var zip, sealed bytes.Buffer
	if _, err := pack.Write(&zip, []pack.Event{{ID: "RAW-1", Parts: []pack.Part{{Name: "RAW-1.xml", Data: xml}}}}); err != nil {
		b.Fatal(err)
	}
	if err := cms.Seal(context.Background(), &sealed, &zip, cms.SealOptions{Signer: ep.Signer, Recipients: []*x509.Certificate{ep.BA}}); err != nil {
		b.Fatal(err)
	}
	return sealed.Bytes()
}

// rawPoster sends uploads of body with bare mTLS http.Clients: one
// kept-alive connection per client, no retries, no checks beyond the
// status.
type rawPoster struct {
	b      *testing.B
	url    string
	body   []byte
	digest string
	hcs    []*http.Client
	close  func()
}

// newRawPoster connects clients clients (each sends one upload to warm up).
func newRawPoster(b *testing.B, url string, tlsCfg *tls.Config, body []byte, clients int) *rawPoster {
	rp := &rawPoster{b: b, url: url, body: body, digest: baapi.FormatDigest(sha256.Sum256(body))}
	var trs []*http.Transport
	for w := range clients {
		tr := &http.Transport{TLSClientConfig: tlsCfg.Clone()}
		trs = append(trs, tr)
		rp.hcs = append(rp.hcs, &http.Client{Transport: tr})
		rp.post(rp.hcs[w], -1-w)
	}
	rp.close = func() {
		for _, tr := range trs {
			tr.CloseIdleConnections()
		}
	}
	return rp
}

func (rp *rawPoster) post(hc *http.Client, i int) {
	id := baapi.MessageID(fmt.Sprintf("raw-%06d", i))
	req, _ := http.NewRequest(http.MethodPost, rp.url+baapi.UploadPath(baapi.ChannelEmaw, id), bytes.NewReader(rp.body))
	req.Header.Set(baapi.HeaderMessageID, string(id))
	req.Header.Set(baapi.HeaderDigest, rp.digest)
	resp, err := hc.Do(req)
	if err != nil {
		rp.b.Fatal(err)
	}
	// Read the receipt to the end, so the connection is kept alive (an
	// unread body closes it, and every POST would pay a handshake).
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		rp.b.Fatalf("raw POST: %s", resp.Status)
	}
}

// run sends uploads first..last, every client in its own goroutine.
func (rp *rawPoster) run(first, last int) {
	next := atomic.Int64{}
	next.Store(int64(first - 1))
	var wg sync.WaitGroup
	for _, hc := range rp.hcs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1))
				if i > last {
					return
				}
				rp.post(hc, i)
			}
		}()
	}
	wg.Wait()
}

// cpuTime is the CPU time this process (client and simulator) has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// startOwnCPUBA runs the simulator as "meldeweg sim" pinned to CPU 1 and
// pins this process (Meldeweg, the raw clients) to CPU 0 with one P, until
// the benchmark ends. It returns the simulator and its process ID.
func startOwnCPUBA(b *testing.B) (*baBundle, int) {
	if runtime.NumCPU() < 2 {
		b.Skip("ba=own-cpu needs two CPUs")
	}
	taskset, err := exec.LookPath("taskset")
	if err != nil {
		b.Skip("ba=own-cpu needs taskset (util-linux)")
	}
	bin := meldewegBinary(b)
	dir := b.TempDir()
	pkiDir, simDir, ready := filepath.Join(dir, "pki"), filepath.Join(dir, "sim"), filepath.Join(dir, "sim.url")
	if err := pki.Init(pkiDir, pki.InitOptions{}); err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(taskset, "--cpu-list", "1", bin, "sim", "--pki", pkiDir, "--dir", simDir,
		"--listen", "127.0.0.1:0", "--ready-file", ready, "--reply-wait", "500ms")
	cmd.Env = append(os.Environ(), "GOMAXPROCS=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	b.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		if err := <-exited; err != nil {
			b.Errorf("meldeweg sim: %v\n%s", err, stderr.Bytes())
		}
	})
	var url string
	for deadline := time.Now().Add(30 * time.Second); url == ""; {
		select {
		case err := <-exited:
			b.Fatalf("meldeweg sim exited: %v\n%s", err, stderr.Bytes())
		case <-time.After(20 * time.Millisecond):
		}
		if data, err := os.ReadFile(ready); err == nil {
			url = strings.TrimSpace(string(data))
		} else if time.Now().After(deadline) {
			b.Fatalf("meldeweg sim did not start listening\n%s", stderr.Bytes())
		}
	}
	pin := func(cpus string) {
		if out, err := exec.Command(taskset, "--all-tasks", "--pid", "--cpu-list", cpus, strconv.Itoa(os.Getpid())).CombinedOutput(); err != nil {
			b.Fatalf("taskset: %v: %s", err, out)
		}
	}
	pin("0")
	procs := runtime.GOMAXPROCS(1)
	b.Cleanup(func() {
		runtime.GOMAXPROCS(procs)
		pin("0-" + strconv.Itoa(runtime.NumCPU()-1))
	})
	ba := &simtest.BA{Dir: dir, PKIDir: pkiDir, SimDir: simDir, URL: url}
	return &baBundle{dir: dir, pkiDir: pkiDir, simDir: simDir, url: url, ba: ba}, cmd.Process.Pid
}

// processCPU is the CPU time (user and system) process pid has used, from
// /proc/PID/stat in clock ticks of 10 ms.
func processCPU(b *testing.B, pid int) time.Duration {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		b.Fatal(err)
	}
	// The command name (field 2) is in parentheses and may hold spaces;
	// utime and stime are fields 14 and 15.
	f := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+2:]))
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		b.Fatalf("/proc/%d/stat: %q", pid, data)
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond
}
