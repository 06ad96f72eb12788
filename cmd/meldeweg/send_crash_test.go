package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"meldeweg.dev/meldeweg/basim"
	"meldeweg.dev/meldeweg/basim/bacheck"
	"meldeweg.dev/meldeweg/emaw/msg"
	"meldeweg.dev/meldeweg/transport/baapi"
	"meldeweg.dev/meldeweg/transport/register"
	"meldeweg.dev/meldeweg/transport/register/sqlitestore"
)

// TestSendSurvivesSIGKILL kills "meldeweg send --channel emaw" with
// SIGKILL at a random moment (before, during or after sealing, the upload
// and the receipt), runs it again, and checks that the simulator (with the
// real BA checker) accepted every upload exactly once with the bytes of
// the message's latest sealed payload, that every upload is sent in the
// register, that the register verifies, that a poll afterwards settles
// every upload as acknowledged, and that nothing unsealed is stored. Each
// upload is one Beurteilung with a random PDF of 1 to 4 MiB. 5 rounds by
// default; MELDEWEG_SOAK_ROUNDS sets more (make soak).
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
	// A slow answer widens the window in which the simulator has the
	// message but the sender does not know yet.
	ba := startBA(t, bacheck.Config{}, basim.Faults{Slow: 30 * time.Millisecond})
	dir := t.TempDir()
	reg := filepath.Join(dir, "register.db")
	seed := uint64(time.Now().UnixNano())
	rng := mrand.New(mrand.NewPCG(seed, 42))
	t.Logf("seed %d, %d rounds", seed, rounds)

	conn := []string{"--url", ba.url, "--pki", ba.pkiDir, "--register", reg}
	send := func(file string) *exec.Cmd {
		return exec.Command(bin, append([]string{"send", file, "--channel", "emaw", "--lease", "300ms", "--timeout", "60s"}, conn...)...)
	}
	// upload writes an upload ZIP with one Beurteilung and a random PDF
	// of size bytes, and returns its path and message ID.
	upload := func(name string, size int) (string, baapi.MessageID) {
		pdf := make([]byte, size)
		rand.Read(pdf)
		copy(pdf, "%PDF-1.4\n")
		m := example(msg.TypeBeurteilung, name).(*msg.Beurteilung)
		m.Anhang = msg.AnhangFor(name+".pdf", pdf)
		attachments[m.Anhang.SHA256] = pdf
		file := filepath.Join(dir, name+".zip")
		writeUpload(t, file, m)
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		return file, baapi.ContentMessageID(baapi.ChannelEmaw, sha256.Sum256(data))
	}
	var ids []baapi.MessageID
	// The kill window spans start-up, sealing, the upload and the receipt.
	// Warm-up runs (the second with the register already created) measure
	// how long one send takes here (the faster of the two); kills fall in
	// [d/8, 9d/8].
	d := time.Hour
	for i := range 2 {
		file, id := upload("WARM-"+strconv.Itoa(i), 2<<20)
		ids = append(ids, id)
		start := time.Now()
		if out, err := send(file).CombinedOutput(); err != nil {
			t.Fatalf("warm-up send: %v\n%s", err, out)
		}
		d = min(d, time.Since(start))
	}
	killFrom, killSpan := d/8, max(d, 20*time.Millisecond)
	t.Logf("one send takes %v; killing %v to %v after the start", d, killFrom, killFrom+killSpan)
	phases := map[string]int{}
	for i := range rounds {
		file, id := upload("KILL-"+strconv.Itoa(i), 1<<20+rng.IntN(3<<20))
		ids = append(ids, id)
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

	store := openRegisterT(t, reg)
	acc, err := basim.ReadAccepted(ba.simDir)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[baapi.MessageID]int{}
	for _, r := range acc {
		seen[r.MessageID]++
		m, err := store.Message(context.Background(), register.MessageID(r.MessageID))
		if err != nil {
			t.Errorf("simulator accepted %s, unknown to the register: %v", r.MessageID, err)
		} else if r.SHA256 != m.Payload.SHA256.String() {
			t.Errorf("message %s: simulator stored SHA-256 %s, the register's sealed payload is %s", r.MessageID, r.SHA256, m.Payload.SHA256)
		}
	}
	var regIDs []register.MessageID
	for _, id := range ids {
		if seen[id] != 1 {
			t.Errorf("message %s accepted %d times, want exactly once", id, seen[id])
		}
		m, err := store.Message(context.Background(), register.MessageID(id))
		if err != nil || m.State != register.MessageSent {
			t.Errorf("message %s: %v, state %q, want sent", id, err, m.State)
		}
		regIDs = append(regIDs, register.MessageID(id))
	}
	store.Close()

	ba.awaitReplies(t, regIDs...)
	out, err := exec.Command(bin, append([]string{"poll", "--channel", "emaw"}, conn...)...).CombinedOutput()
	if want := fmt.Sprintf("acknowledged %d, rejected 0,", len(ids)); err != nil || !strings.Contains(string(out), want) {
		t.Fatalf("poll after the rounds: %v, want %q:\n%s", err, want, out)
	}
	store = openRegisterT(t, reg)
	for _, id := range regIDs {
		if m, err := store.Message(context.Background(), id); err != nil || m.State != register.MessageAcknowledged {
			t.Errorf("message %s after poll: %v, state %q, want acknowledged", id, err, m.State)
		}
	}
	assertNothingUnsealed(t, reg, "123A456789", "C0000001")
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
