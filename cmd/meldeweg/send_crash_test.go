package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"meldeweg.dev/meldeweg/transport/baapi"
	"meldeweg.dev/meldeweg/transport/register"
	"meldeweg.dev/meldeweg/transport/register/sqlitestore"
	"meldeweg.dev/meldeweg/transport/sim"
	"meldeweg.dev/meldeweg/transport/sim/simtest"
)

// TestSendSurvivesSIGKILL kills "meldeweg send" with SIGKILL at a random
// moment (before, during or after the upload), runs it again, and checks
// that the simulator accepted every message exactly once with the right
// bytes, that every message is sent in the register, and that the register
// verifies. 5 rounds by default; MELDEWEG_SOAK_ROUNDS sets more (make soak).
func TestSendSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the real binary")
	}
	rounds := 5
	if v := os.Getenv("MELDEWEG_SOAK_ROUNDS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("MELDEWEG_SOAK_ROUNDS=%q: expected a positive number", v)
		}
		rounds = n
	}
	bin := meldewegBinary(t)
	dir := t.TempDir()
	p := simtest.NewPKI(t)
	files := p.WriteFiles(t, dir)
	// A slow answer widens the window in which the simulator has the
	// message but the sender does not know yet.
	s := simtest.Start(t, p, sim.Config{Faults: sim.Faults{Slow: 30 * time.Millisecond}})
	reg := filepath.Join(dir, "register.db")
	seed := uint64(time.Now().UnixNano())
	rng := mrand.New(mrand.NewPCG(seed, 42))
	t.Logf("seed %d, %d rounds", seed, rounds)

	send := func(file string) *exec.Cmd {
		return exec.Command(bin, "send", file, "--channel", "emaw", "--url", s.URL,
			"--ca", files.CACert, "--cert", files.ClientCert, "--key", files.ClientKey,
			"--register", reg, "--lease", "300ms", "--timeout", "60s")
	}
	// The kill window spans start-up, the upload and the receipt. Warm-up
	// runs (the second with the register already created) measure how
	// long one send takes here; kills fall in [d/4, 5d/4].
	var d time.Duration
	for i := range 2 {
		data := make([]byte, 2<<20)
		data[0] = byte(i)
		warm := filepath.Join(dir, "warm-up-"+strconv.Itoa(i)+".zip")
		os.WriteFile(warm, data, 0o600)
		start := time.Now()
		if out, err := send(warm).CombinedOutput(); err != nil {
			t.Fatalf("warm-up send: %v\n%s", err, out)
		}
		d = time.Since(start)
	}
	killFrom, killSpan := d/4, max(d, 20*time.Millisecond)
	t.Logf("one send takes %v; killing %v to %v after the start", d, killFrom, killFrom+killSpan)
	want := map[baapi.MessageID]string{} // ID → SHA-256 hex
	phases := map[string]int{}
	for i := range rounds {
		data := make([]byte, 1<<20+rng.IntN(3<<20))
		rand.Read(data)
		file := filepath.Join(dir, "msg-"+strconv.Itoa(i)+".zip")
		if err := os.WriteFile(file, data, 0o600); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(data)
		id := baapi.ContentMessageID(baapi.ChannelEmaw, sum)
		want[id] = hex.EncodeToString(sum[:])

		cmd := send(file)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(killFrom + time.Duration(rng.Int64N(int64(killSpan))))
		cmd.Process.Signal(syscall.SIGKILL)
		err := cmd.Wait()
		phase := "finished before the kill"
		var ee *exec.ExitError
		if errors.As(err, &ee) && ee.Sys().(syscall.WaitStatus).Signaled() {
			phase = "killed, message " + messageState(t, reg, register.MessageID(id))
		}
		phases[phase]++

		out, err := send(file).CombinedOutput()
		if err != nil {
			t.Fatalf("round %d: restarted send failed: %v\n%s", i, err, out)
		}
	}
	t.Logf("kill points: %v", phases)

	acc, err := sim.ReadAccepted(s.Dir)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		data := make([]byte, 2<<20)
		data[0] = byte(i)
		sum := sha256.Sum256(data)
		want[baapi.ContentMessageID(baapi.ChannelEmaw, sum)] = hex.EncodeToString(sum[:])
	}
	seen := map[baapi.MessageID]int{}
	for _, r := range acc {
		seen[r.MessageID]++
		if want[r.MessageID] == "" {
			t.Errorf("simulator accepted unknown message %s", r.MessageID)
		} else if r.SHA256 != want[r.MessageID] {
			t.Errorf("message %s: simulator stored SHA-256 %s, sent %s", r.MessageID, r.SHA256, want[r.MessageID])
		}
	}
	for id := range want {
		if seen[id] != 1 {
			t.Errorf("message %s accepted %d times, want exactly once", id, seen[id])
		}
	}

	store, err := sqlitestore.Open(context.Background(), reg, sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if _, err := store.Verify(context.Background()); err != nil {
		t.Fatalf("register does not verify: %v", err)
	}
	for id := range want {
		m, err := store.Message(context.Background(), register.MessageID(id))
		if err != nil || m.State != register.MessageSent {
			t.Errorf("message %s: %v, state %q, want sent", id, err, m.State)
		}
	}
}

// messageState reads a message's state from the register, or "not
// queued yet".
func messageState(t *testing.T, reg string, id register.MessageID) string {
	if _, err := os.Stat(reg); err != nil {
		return "not queued yet (no register)"
	}
	store, err := sqlitestore.Open(context.Background(), reg, sqlitestore.Options{})
	if err != nil {
		t.Fatalf("opening the register after a kill: %v", err)
	}
	defer store.Close()
	m, err := store.Message(context.Background(), id)
	if errors.Is(err, register.ErrNotFound) {
		return "not queued yet"
	}
	if err != nil {
		t.Fatalf("reading the register after a kill: %v", err)
	}
	return string(m.State)
}
