package bacheck_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"meldeweg.dev/meldeweg/basim/bacheck"
	"meldeweg.dev/meldeweg/transport/baapi"
	"meldeweg.dev/meldeweg/transport/cms"
	"meldeweg.dev/meldeweg/xsozial/feedback"
)

// goldenRules reads the rule counts of a golden check report in
// testdata/xsozial, the independent expectation for the BA's feedback.
func goldenRules(t *testing.T, set string) (map[string]int, bool) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "testdata", "xsozial", set, "expected-check.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Passed   bool `json:"passed"`
		Findings []struct {
			Rule string `json:"rule"`
		} `json:"findings"`
	}
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, f := range rep.Findings {
		out[f.Rule]++
	}
	return out, rep.Passed
}

func dataset(t *testing.T, set string) ([]byte, string) {
	t.Helper()
	m, err := filepath.Glob(filepath.Join("..", "..", "testdata", "xsozial", set, "XSOZIAL_*.xml"))
	if err != nil || len(m) != 1 {
		t.Fatalf("dataset of %s: %v %v", set, m, err)
	}
	data, err := os.ReadFile(m[0])
	if err != nil {
		t.Fatal(err)
	}
	return data, filepath.Base(m[0])
}

func rulesOf(fb *feedback.Feedback) map[string]int {
	out := map[string]int{}
	for _, f := range fb.Findings {
		out[f.Rule]++
	}
	return out
}

// TestXSozialReplies: sealed XSozial deliveries go through the simulator
// on loopback; every reply opens with traeger-encrypt, is signed by
// ba-sign under the test CA, parses as feedback and says what the golden
// check reports (or the envelope failure) say.
func TestXSozialReplies(t *testing.T) {
	t.Parallel()
	pkiDir, otherCA := testPKI(t), testPKI(t)
	b := start(t, pkiDir, bacheck.Config{})
	clean, cleanName := dataset(t, "clean")
	faulty, _ := dataset(t, "faulty")
	cleanRules, cleanPassed := goldenRules(t, "clean")
	faultyRules, faultyPassed := goldenRules(t, "faulty")
	if !cleanPassed || faultyPassed {
		t.Fatal("golden reports changed: clean must pass, faulty must fail")
	}
	sum := sha256.Sum256(clean)

	tests := []struct {
		name        string
		body        []byte
		wantOutcome baapi.Outcome
		wantResult  feedback.Result
		wantRules   map[string]int
		wantText    string // in the first finding's text
		wantTraeger string
	}{
		{"valid dataset, compat", seal(t, clean, pkiDir, "traeger-sign", pkiDir, cms.ProfileCompat), baapi.OutcomeOK, feedback.Accepted, cleanRules, "", "12345"},
		{"valid dataset, bsi", seal(t, clean, pkiDir, "traeger-sign", pkiDir, cms.ProfileBSI), baapi.OutcomeOK, feedback.Accepted, cleanRules, "", "12345"},
		{"faulty dataset", seal(t, faulty, pkiDir, "traeger-sign", pkiDir, cms.ProfileCompat), baapi.OutcomeNOK, feedback.Rejected, faultyRules, "", "12345"},
		{"signed under another CA", seal(t, clean, otherCA, "traeger-sign", pkiDir, cms.ProfileCompat), baapi.OutcomeNOK, feedback.Rejected,
			map[string]int{bacheck.RuleSigner: 1}, "not issued by a trusted CA", bacheck.UnknownTraeger},
		{"garbage bytes", []byte("this is not a CMS message"), baapi.OutcomeNOK, feedback.Rejected,
			map[string]int{bacheck.RuleDecrypt: 1}, "keine verschlüsselte CMS-Nachricht", bacheck.UnknownTraeger},
		{"encrypted for someone else", seal(t, clean, pkiDir, "traeger-sign", otherCA, cms.ProfileCompat), baapi.OutcomeNOK, feedback.Rejected,
			map[string]int{bacheck.RuleDecrypt: 1}, "nicht für das Verschlüsselungszertifikat der BA", bacheck.UnknownTraeger},
		{"truncated delivery", half(seal(t, clean, pkiDir, "traeger-sign", pkiDir, cms.ProfileCompat)), baapi.OutcomeNOK, feedback.Rejected,
			map[string]int{bacheck.RuleDecrypt: 1}, "truncated", bacheck.UnknownTraeger},
		{"tampered delivery", flip(seal(t, clean, pkiDir, "traeger-sign", pkiDir, cms.ProfileCompat)), baapi.OutcomeNOK, feedback.Rejected,
			map[string]int{bacheck.RuleSignature: 1}, "does not match its signature", bacheck.UnknownTraeger},
		{"sealed, but not a dataset", seal(t, []byte("Hallo BA"), pkiDir, "traeger-sign", pkiDir, cms.ProfileCompat), baapi.OutcomeNOK, feedback.Rejected,
			nil, "", bacheck.UnknownTraeger},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			id := baapi.MessageID(fmt.Sprintf("xs-%d", i))
			sealed, f := b.reply(t, baapi.ChannelXSozial, id, tt.body)
			if f.Outcome != tt.wantOutcome {
				t.Errorf("X-BA-Outcome: got %q, want %q", f.Outcome, tt.wantOutcome)
			}
			if bytes.Contains(sealed, []byte("rueckmeldung")) {
				t.Fatal("the reply travels in plain text")
			}
			fb, err := feedback.Parse(bytes.NewReader(openReply(t, pkiDir, "traeger-encrypt", sealed)))
			if err != nil {
				t.Fatal(err)
			}
			if fb.Result != tt.wantResult || fb.Traeger != tt.wantTraeger {
				t.Errorf("got %s from %s, want %s from %s", fb.Result, fb.Traeger, tt.wantResult, tt.wantTraeger)
			}
			if tt.wantRules != nil {
				if got := rulesOf(fb); fmt.Sprint(got) != fmt.Sprint(tt.wantRules) {
					t.Errorf("rules: got %v, want %v", got, tt.wantRules)
				}
			}
			if tt.wantText != "" && (len(fb.Findings) == 0 || !strings.Contains(fb.Findings[0].Text, tt.wantText)) {
				t.Errorf("findings %+v: want a text containing %q", fb.Findings, tt.wantText)
			}
			if tt.wantResult == feedback.Rejected && len(fb.Findings) == 0 {
				t.Error("a rejection without findings")
			}
		})
	}

	// The accepted feedback names the delivered file and proves by its
	// SHA-256 which bytes the BA checked.
	t.Run("feedback names the dataset", func(t *testing.T) {
		t.Parallel()
		sealed, _ := b.reply(t, baapi.ChannelXSozial, "xs-named", seal(t, clean, pkiDir, "traeger-sign", pkiDir, cms.ProfileCompat))
		fb, err := feedback.Parse(bytes.NewReader(openReply(t, pkiDir, "traeger-encrypt", sealed)))
		if err != nil {
			t.Fatal(err)
		}
		if fb.File != cleanName || fb.SHA256 != hex.EncodeToString(sum[:]) || fb.Month != "2026-10" {
			t.Errorf("got file %q sha256 %s month %s; want %q %x 2026-10", fb.File, fb.SHA256, fb.Month, cleanName, sum)
		}
	})
}

// half returns the first half of b.
func half(b []byte) []byte { return b[:len(b)/2] }

// flip returns b with one byte in the middle of the ciphertext inverted.
func flip(b []byte) []byte {
	c := append([]byte(nil), b...)
	c[len(c)/2] ^= 0xff
	return c
}
