package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"meldeweg.dev/meldeweg/basim"
	"meldeweg.dev/meldeweg/basim/bacheck"
	"meldeweg.dev/meldeweg/emaw/msg"
	"meldeweg.dev/meldeweg/flow/status"
	"meldeweg.dev/meldeweg/schemas"
	"meldeweg.dev/meldeweg/transport/pki"
	"meldeweg.dev/meldeweg/transport/register"
)

// statusFixture is a register built by real runs against the simulator:
// a month whose check failed, a month the BA rejected (correction
// pending), a month rejected and then accepted as a correction, a test
// delivery beside production, and an eM@w upload with its
// acknowledgement and the inbound Anmeldungen of a poll.
type statusFixture struct {
	ba         *baBundle
	reg, conf  string
	months     []schemas.Month // m-1, m-2, m-3
	emawUpload string
}

func newStatusFixture(t *testing.T) *statusFixture {
	t.Helper()
	ba := startBA(t, bacheck.Config{}, basim.Faults{})
	f := &statusFixture{ba: ba, reg: filepath.Join(ba.dir, "register.db")}
	cur := schemas.MonthOf(time.Now())
	f.months = []schemas.Month{cur.AddMonths(-1), cur.AddMonths(-2), cur.AddMonths(-3)}
	mw := func(want int, args ...string) string {
		t.Helper()
		code, stdout, stderr := runCLI(t, args...)
		if code != want {
			t.Fatalf("meldeweg %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, want, stdout, stderr)
		}
		return stdout
	}
	source := func(m schemas.Month, extra ...string) string {
		dir := filepath.Join(ba.dir, "src-"+m.String()+strings.Join(extra, ""))
		mw(0, append([]string{"testdata", "xsozial", "--bgs", "20", "--seed", "3", "--month", m.String(), "--traeger", "12345", "--out", dir}, extra...)...)
		return dir
	}
	common := []string{"--url", ba.url, "--register", f.reg, "--traeger", "12345", "--work", filepath.Join(ba.dir, "out"), "--feedback-wait", "30s"}
	runMonth := func(want int, m schemas.Month, src string, extra ...string) string {
		args := append([]string{"xsozial", "run", "--month", m.String(), "--in", src}, common...)
		return mw(want, append(args, extra...)...)
	}

	// A configuration that signs with another PKI's key: the BA rejects
	// the envelope, although Meldeweg's own check passed.
	other := filepath.Join(ba.dir, "other-pki")
	mw(0, "pki", "init", other)
	p := func(dir, file string) string { return filepath.Join(dir, file) }
	ep := map[string]string{
		"ca_cert": p(ba.pkiDir, "ca.pem"), "client_cert": p(ba.pkiDir, "traeger-client.pem"), "client_key": p(ba.pkiDir, "traeger-client.key"),
		"sign_cert": p(other, "traeger-sign.pem"), "sign_key": p(other, "traeger-sign.key"),
		"encrypt_cert": p(ba.pkiDir, "traeger-encrypt.pem"), "encrypt_key": p(ba.pkiDir, "traeger-encrypt.key"), "ba_encrypt_cert": p(ba.pkiDir, "ba-encrypt.pem"),
	}
	wrongSigner := filepath.Join(ba.dir, "wrong-signer.json")
	writeJSON(t, wrongSigner, map[string]any{"endpoints": map[string]any{"xsozial": ep}})

	m1, m2, m3 := f.months[0], f.months[1], f.months[2]
	runMonth(1, m3, source(m3, "--faults"), "--pki", ba.pkiDir)
	runMonth(1, m2, source(m2), "--config", wrongSigner)
	src1 := source(m1)
	runMonth(1, m1, src1, "--config", wrongSigner)
	runMonth(0, m1, src1, "--pki", ba.pkiDir, "--correction")
	runMonth(0, m1, src1, "--pki", ba.pkiDir, "--test")

	// eM@w: an upload, its acknowledgement and the inbound messages.
	pkg := filepath.Join(ba.dir, "upload.zip")
	writeUpload(t, pkg, example(msg.TypeEintritt, "EV-1"), example(msg.TypeAnwesenheitMonat, "EV-2"))
	conn := []string{"--pki", ba.pkiDir, "--url", ba.url, "--register", f.reg}
	out := mw(0, append([]string{"send", pkg, "--channel", "emaw"}, conn...)...)
	f.emawUpload = strings.TrimSuffix(strings.Fields(out)[2], ",")
	ba.awaitReplies(t, register.MessageID(f.emawUpload))
	mw(0, append([]string{"poll", "--channel", "emaw"}, conn...)...)

	// The configured certificates: the test PKI's TLS client certificate
	// (with its CA) and one that runs out in 20 days.
	ca, err := pki.NewCA(pki.Spec{CommonName: "Short CA (test)"})
	if err != nil {
		t.Fatal(err)
	}
	id, err := ca.Issue(pki.Spec{CommonName: "short-lived (test)", Usage: pki.UsageClient, NotAfter: time.Now().Add(20*24*time.Hour + time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	short := filepath.Join(ba.dir, "short.pem")
	if err := pki.WritePEM(id, short, filepath.Join(ba.dir, "short.key")); err != nil {
		t.Fatal(err)
	}
	f.conf = filepath.Join(ba.dir, "meldeweg.json")
	writeJSON(t, f.conf, map[string]any{"register": f.reg, "certificates": []map[string]string{
		{"name": "traeger-client", "path": p(ba.pkiDir, "traeger-client.pem")},
		{"name": "short-lived", "path": short},
	}})
	return f
}

func writeJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// normalize replaces what changes from run to run (times, the months
// relative to today, the eM@w upload's ID, the test directory, the days
// a one-year certificate has left) by placeholders of the same width, so
// that the text's columns stay as they are.
func (f *statusFixture) normalize(s string) string {
	s = strings.ReplaceAll(s, f.ba.dir, "$DIR")
	s = strings.ReplaceAll(s, f.emawUpload, "emaw-"+strings.Repeat("X", len(f.emawUpload)-len("emaw-")))
	s = regexp.MustCompile(`[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?Z`).ReplaceAllString(s, "YYYY-MM-DDThh:mm:ssZ")
	s = regexp.MustCompile(`[0-9]{4}-[0-9]{2}-[0-9]{2}`).ReplaceAllString(s, "YYYY-MM-DD")
	for i, m := range f.months {
		s = strings.ReplaceAll(s, m.String(), fmt.Sprintf("MONTH-%d", i+1))
	}
	s = regexp.MustCompile(`\b36[45]\b`).ReplaceAllString(s, "36x")
	s = regexp.MustCompile(`\b365[0-3]\b`).ReplaceAllString(s, "365x")
	s = regexp.MustCompile(`[0-9]+ eM@w report\(s\) overdue`).ReplaceAllString(s, "N eM@w report(s) overdue")
	return s
}

func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "status", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs (run with -update to accept):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// TestStatusGolden runs "meldeweg status" over a register built by real
// runs against the simulator, in both formats, against golden files.
// The deadlines depend on the day the test runs, so their items are
// checked here and left out of the golden files.
func TestStatusGolden(t *testing.T) {
	f := newStatusFixture(t)

	code, stdout, stderr := runCLI(t, "--config", f.conf, "status", "--pki", f.ba.pkiDir)
	if code != exitFindings {
		t.Fatalf("status: exit %d, want 1 (a check failure, a pending correction, an expiring certificate)\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	head, rest, ok := strings.Cut(stdout, "\nDEADLINES (eM@w, on ")
	deadlines, tail, ok2 := strings.Cut(rest, "\nCERTIFICATES\n")
	if !ok || !ok2 {
		t.Fatalf("status has no deadlines or certificates section:\n%s", stdout)
	}
	if !strings.Contains(deadlines, "overdue  AnwesenheitMonat  12321126-01  ps1-") {
		t.Errorf("deadlines do not list the overdue attendance under the participant's pseudonym:\n%s", deadlines)
	}
	for _, personal := range []string{"123A456789", "Mustermann"} {
		if strings.Contains(stdout, personal) {
			t.Errorf("status prints %q", personal)
		}
	}
	text := head + "\nDEADLINES (eM@w, on YYYY-MM-DD)\n  (items depend on the day; checked by the test)\n\nCERTIFICATES\n" + tail
	checkGolden(t, "status.txt", f.normalize(text))

	code, stdout, stderr = runCLI(t, "--config", f.conf, "status", "--pki", f.ba.pkiDir, "--format", "json")
	if code != exitFindings {
		t.Fatalf("status --format json: exit %d\nstderr: %s", code, stderr)
	}
	var doc status.Report
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
		t.Fatalf("status --format json is not JSON: %v\n%s", err, stdout)
	}
	d := doc.Deadlines
	if d == nil || !d.Available || d.Overdue < 1 || len(d.Items) != d.Due+d.Overdue {
		t.Fatalf("deadlines: %+v", d)
	}
	// The items depend on the day; the text above checked them.
	d.Items, d.Due, d.Overdue = []status.DeadlineItem{}, 0, 0
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "status.json", f.normalize(string(b))+"\n")
}

// Without eM@w traffic, status needs no eM@w identity; with it but none
// configured, the deadlines section says why instead of failing.
func TestStatusWithoutEmawIdentity(t *testing.T) {
	f := newStatusFixture(t)
	code, stdout, stderr := runCLI(t, "status", "--register", f.reg)
	if code != exitFindings {
		t.Fatalf("status: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "not computed: configuration: endpoints.emaw.ca_cert: not set") {
		t.Errorf("deadlines without an identity:\n%s", stdout)
	}
	if code, _, stderr := runCLI(t, "status", "--register", filepath.Join(f.ba.dir, "nope.db")); code != exitError || !strings.Contains(stderr, "does not exist") {
		t.Errorf("status of a missing register: exit %d, %s", code, stderr)
	}
	if code, _, _ := runCLI(t, "status", "--format", "yaml"); code != exitError {
		t.Errorf("--format yaml: exit %d, want 2", code)
	}
}
