package cms

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The acceptance test of the issue: openssl cms in both directions, for
// both profiles.

// uncompressPy is an independent referee for CompressedData: Debian's
// openssl is built without zlib ("cms -uncompress" fails with
// "unsupported compression algorithm"), so a small BER walker in Python
// extracts the zlib stream and Python's zlib inflates it.
const uncompressPy = `
import sys, zlib
d = open(sys.argv[1], 'rb').read()
def hdr(i):
    t = d[i]; l = d[i+1]; i += 2
    if l == 0x80: return t, None, i
    if l & 0x80:
        n = l & 0x7f; l = int.from_bytes(d[i:i+n], 'big'); i += n
    return t, l, i
def octets(i):
    # returns (bytes, next index) for an OCTET STRING, primitive or constructed
    t, l, i = hdr(i)
    if not t & 0x20: return d[i:i+l], i+l
    out = b''
    if l is None:
        while d[i:i+2] != b'\0\0':
            c, i = octets(i); out += c
        return out, i+2
    end = i + l
    while i < end:
        c, i = octets(i); out += c
    return out, i
# CompressedData: SEQ, INTEGER, AlgorithmIdentifier SEQ, ECI SEQ, OID, [0], OCTET STRING
t, l, i = hdr(0)               # CompressedData
t, l, i = hdr(i); i += l       # version
t, l, i = hdr(i)
assert d[i:i+l] == bytes.fromhex('060b2a864886f70d0109100308'), 'not zlib'
i += l
t, l, i = hdr(i)               # EncapsulatedContentInfo
t, l, i = hdr(i); i += l       # eContentType
t, l, i = hdr(i)               # [0]
z, i = octets(i)
sys.stdout.buffer.write(zlib.decompress(z))
`

// opensslArgs returns the sign and encrypt options of a profile.
func opensslSignOpts(profile Profile, keyType string) []string {
	if profile == ProfileBSI && keyType == "rsa" {
		return []string{"-keyopt", "rsa_padding_mode:pss", "-keyopt", "rsa_pss_saltlen:32"}
	}
	return nil
}

func opensslEncryptOpts(profile Profile) (cipher string, keyopts []string) {
	if profile == ProfileBSI {
		return "-aes-256-gcm", []string{"-keyopt", "rsa_padding_mode:oaep", "-keyopt", "rsa_oaep_md:sha256", "-keyopt", "rsa_mgf1_md:sha256"}
	}
	return "-aes-256-cbc", nil
}

func TestOpenSSLOpensWhatMeldewegSeals(t *testing.T) {
	requireOpenSSL(t)
	for _, profile := range Profiles() {
		for _, keyType := range []string{"rsa", "ecdsa"} {
			for _, uncompressed := range []bool{true, false} {
				name := string(profile) + "/" + keyType
				if uncompressed {
					name += "/uncompressed"
				}
				t.Run(name, func(t *testing.T) {
					p := newTestPKI(t, keyType)
					in := xmlPayload(300_000)
					so := p.sealOptions(profile)
					so.Uncompressed = uncompressed
					var msg bytes.Buffer
					if err := Seal(context.Background(), &msg, bytes.NewReader(in), so); err != nil {
						t.Fatal(err)
					}
					msgPath := writeTemp(t, p.dir, "msg.der", msg.Bytes())
					signed := opensslCmd(t, nil, "cms", "-decrypt", "-inform", "DER", "-in", msgPath, "-recip", p.recCert, "-inkey", p.recKey, "-binary")
					signedPath := writeTemp(t, p.dir, "signed.der", signed)
					content := opensslCmd(t, nil, "cms", "-verify", "-inform", "DER", "-in", signedPath, "-CAfile", p.caPath, "-binary")
					if !uncompressed {
						cPath := writeTemp(t, p.dir, "compressed.der", content)
						out, err := exec.Command("python3", "-c", uncompressPy, cPath).Output()
						if err != nil {
							t.Fatalf("python zlib referee: %v", err)
						}
						if len(content)*4 > len(in) {
							t.Errorf("compressed %d bytes to %d; expected at least fourfold", len(in), len(content))
						}
						content = out
					}
					if !bytes.Equal(content, in) {
						t.Errorf("openssl yields %d bytes, want the %d sealed", len(content), len(in))
					}
					// The algorithms are the profile's: ask openssl what it sees.
					algs := algorithmLines(opensslCmd(t, nil, "cms", "-cmsout", "-print", "-inform", "DER", "-in", msgPath)) +
						algorithmLines(opensslCmd(t, nil, "cms", "-cmsout", "-print", "-inform", "DER", "-in", signedPath))
					for _, want := range profileMarkers(profile, keyType) {
						if !strings.Contains(algs, want) {
							t.Errorf("openssl -print shows no %q among the algorithms:\n%s", want, algs)
						}
					}
					if weak := regexp.MustCompile(`(?i)sha1|\bdes|rc2|md5`).FindString(algs); weak != "" {
						t.Errorf("message uses %s:\n%s", weak, algs)
					}
				})
			}
		}
	}
}

// algorithmLines keeps the "algorithm:" lines of openssl cms -print.
func algorithmLines(dump []byte) string {
	var b strings.Builder
	for _, l := range strings.Split(string(dump), "\n") {
		if strings.Contains(l, "algorithm:") {
			b.WriteString(strings.TrimSpace(l) + "\n")
		}
	}
	return b.String()
}

func profileMarkers(p Profile, keyType string) []string {
	var m []string
	if p == ProfileBSI {
		m = []string{"aes-256-gcm", "rsaesOaep", "sha256 (2.16"}
		if keyType == "rsa" {
			m = append(m, "rsassaPss")
		}
	} else {
		m = []string{"aes-256-cbc", "rsaEncryption", "sha256 (2.16"}
		if keyType == "rsa" {
			m = append(m, "sha256WithRSAEncryption")
		}
	}
	if keyType == "ecdsa" {
		m = append(m, "ecdsa-with-SHA256")
	}
	return m
}

func TestMeldewegOpensWhatOpenSSLSeals(t *testing.T) {
	requireOpenSSL(t)
	for _, profile := range Profiles() {
		for _, keyType := range []string{"rsa", "ecdsa"} {
			for _, stream := range []bool{false, true} {
				name := string(profile) + "/" + keyType
				if stream {
					name += "/stream"
				}
				t.Run(name, func(t *testing.T) {
					p := newTestPKI(t, keyType)
					in := xmlPayload(1_000_000)
					inPath := writeTemp(t, p.dir, "in.xml", in)
					signArgs := []string{"cms", "-sign", "-binary", "-nodetach", "-md", "sha256", "-outform", "DER",
						"-in", inPath, "-signer", p.signCert, "-inkey", p.signKey}
					signArgs = append(signArgs, opensslSignOpts(profile, keyType)...)
					// openssl 3.0 cannot stream an RSA-PSS signature ("illegal
					// zero content"); there only the encryption streams.
					if stream && !(profile == ProfileBSI && keyType == "rsa") {
						signArgs = append(signArgs, "-stream")
					}
					signed := opensslCmd(t, nil, signArgs...)
					if stream && !(profile == ProfileBSI && keyType == "rsa") && !bytes.HasPrefix(signed, []byte{0x30, 0x80}) {
						t.Fatalf("openssl -stream did not write indefinite length (starts % x)", signed[:4])
					}
					signedPath := writeTemp(t, p.dir, "signed.der", signed)
					cipherName, keyopts := opensslEncryptOpts(profile)
					encArgs := []string{"cms", "-encrypt", "-binary", "-outform", "DER", cipherName, "-in", signedPath, "-recip", p.recCert}
					encArgs = append(encArgs, keyopts...)
					if stream {
						encArgs = append(encArgs, "-stream")
					}
					msg := opensslCmd(t, nil, encArgs...)
					if stream && !bytes.HasPrefix(msg, []byte{0x30, 0x80}) {
						t.Fatalf("openssl -encrypt -stream did not write indefinite length (starts % x)", msg[:4])
					}
					var out bytes.Buffer
					info, err := Open(context.Background(), &out, bytes.NewReader(msg), p.openOptions(profile))
					if err != nil {
						t.Fatalf("Open: %v", err)
					}
					if !bytes.Equal(out.Bytes(), in) {
						t.Fatalf("Open yields %d bytes, want %d", out.Len(), len(in))
					}
					if info.SigningTime.IsZero() || info.Certificate.SerialNumber.Cmp(p.signer.Cert.SerialNumber) != 0 {
						t.Errorf("signer info = %+v", info)
					}
					t.Logf("%s / %s / %s", info.ContentEncryption, info.KeyTransport, info.Signature)
				})
			}
		}
	}
}

func TestOpenFileLeavesNoOutputOnFailure(t *testing.T) {
	p := newTestPKI(t, "rsa")
	in := writeTemp(t, p.dir, "in.xml", xmlPayload(200_000))
	sealed := filepath.Join(p.dir, "in.p7m")
	if err := SealFile(context.Background(), sealed, in, p.sealOptions(ProfileBSI)); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(sealed)
	data[len(data)/2] ^= 0x10
	bad := writeTemp(t, p.dir, "bad.p7m", data)
	out := filepath.Join(p.dir, "out.xml")
	if _, err := OpenFile(context.Background(), out, bad, p.openOptions(ProfileBSI)); err == nil {
		t.Fatal("OpenFile accepted a damaged message")
	}
	entries, _ := os.ReadDir(p.dir)
	for _, e := range entries {
		if e.Name() == "out.xml" || bytes.HasPrefix([]byte(e.Name()), []byte(".out.xml")) {
			t.Errorf("OpenFile left %s behind", e.Name())
		}
	}
	if _, err := OpenFile(context.Background(), out, sealed, p.openOptions(ProfileBSI)); err != nil {
		t.Fatalf("OpenFile: %v", err)
	}
	got, _ := os.ReadFile(out)
	want, _ := os.ReadFile(in)
	if !bytes.Equal(got, want) {
		t.Error("OpenFile output differs from the sealed input")
	}
}
