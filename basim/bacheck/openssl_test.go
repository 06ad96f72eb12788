package bacheck_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"meldeweg.dev/meldeweg/basim/bacheck"
	"meldeweg.dev/meldeweg/emaw/msg"
	"meldeweg.dev/meldeweg/transport/baapi"
	"meldeweg.dev/meldeweg/transport/cms"
)

// TestRepliesOpenWithOpenSSL: openssl, as an independent referee,
// decrypts each kind of reply with the receiver's key and verifies the
// BA's signature against the test CA; with the other receiver's key it
// cannot decrypt. (Debian's openssl has no zlib, so it stops at the
// signed CompressedData; the content is compared in the Go tests.)
func TestRepliesOpenWithOpenSSL(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Fatal("openssl is required as the referee: ", err)
	}
	pkiDir := testPKI(t)
	b := start(t, pkiDir, bacheck.Config{})
	clean, _ := dataset(t, "clean")
	xsReply, _ := b.reply(t, baapi.ChannelXSozial, "ossl-xs", seal(t, clean, pkiDir, "traeger-sign", pkiDir, cms.ProfileCompat))
	emReply, _ := b.reply(t, baapi.ChannelEmaw, "ossl-em", seal(t, emawZIP(t, b.reg, example(msg.TypeEintritt, "EV-OSSL")), pkiDir, "emaw-sign", pkiDir, cms.ProfileCompat))
	tests := []struct {
		name, recipient string
		reply           []byte
		wantOK          bool
	}{
		{"XSozial feedback, traeger-encrypt", "traeger-encrypt", xsReply, true},
		{"eM@w acknowledgement, emaw-encrypt", "emaw-encrypt", emReply, true},
		{"XSozial feedback, emaw-encrypt", "emaw-encrypt", xsReply, false},
		{"eM@w acknowledgement, traeger-encrypt", "traeger-encrypt", emReply, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			in, signed := filepath.Join(dir, "reply.p7m"), filepath.Join(dir, "signed.der")
			if err := os.WriteFile(in, tt.reply, 0o600); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command("openssl", "cms", "-decrypt", "-inform", "DER", "-in", in,
				"-recip", filepath.Join(pkiDir, tt.recipient+".pem"), "-inkey", filepath.Join(pkiDir, tt.recipient+".key"), "-out", signed).CombinedOutput()
			if !tt.wantOK {
				if err == nil {
					t.Fatalf("openssl decrypted a reply sealed for someone else")
				}
				return
			}
			if err != nil {
				t.Fatalf("openssl cms -decrypt: %v\n%s", err, out)
			}
			out, err = exec.Command("openssl", "cms", "-verify", "-inform", "DER", "-in", signed,
				"-CAfile", filepath.Join(pkiDir, "ca.pem"), "-out", filepath.Join(dir, "content.der")).CombinedOutput()
			if err != nil || !strings.Contains(string(out), "Verification successful") {
				t.Fatalf("openssl cms -verify: %v\n%s", err, out)
			}
		})
	}
}
