package register

import (
	"bytes"
	"encoding/binary"
	"os/exec"
	"strings"
	"testing"
)

// TestHashAgainstOpenSSL rebuilds the canonical encoding of an entry by
// hand, from the description in computeHash's doc comment, and has
// openssl compute the SHA-256 as an independent referee: an auditor can
// recompute the chain from an export with nothing but this recipe.
func TestHashAgainstOpenSSL(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl not installed")
	}
	kept := params(1)
	kept.Data = bytes.NewReader(nil)
	ek, err := newEntry(sum("prev"), 7, t0, kept)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range []Entry{chain(t, 2)[1], ek} {
		referee(t, e)
	}
}

func referee(t *testing.T, e Entry) {
	t.Helper()
	r := e.Record()
	var b bytes.Buffer
	str := func(s string) { binary.Write(&b, binary.BigEndian, uint32(len(s))); b.WriteString(s) }
	num := func(v int64) { binary.Write(&b, binary.BigEndian, v) }
	if r.PayloadKept {
		str("meldeweg register entry v2")
	} else {
		str("meldeweg register entry v1")
	}
	num(r.Seq)
	num(r.Time.UnixMicro())
	for _, s := range []string{r.Direction, r.Channel, r.Event, r.Actor, r.Endpoint, r.MessageID, r.Related, r.Correlation} {
		str(s)
	}
	num(int64(r.Attempt))
	str(string(r.PayloadSHA256[:]))
	num(r.PayloadSize)
	str(r.Detail)
	if r.PayloadKept {
		num(1)
	}
	str(string(r.PrevHash[:]))
	cmd := exec.Command("openssl", "dgst", "-sha256", "-r")
	cmd.Stdin = &b
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Fields(string(out))[0], e.Hash().String(); got != want {
		t.Fatalf("openssl: %s, register: %s", got, want)
	}
}
