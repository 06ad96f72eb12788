package baapi

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestPathsMatchPatterns(t *testing.T) {
	t.Parallel()
	tests := []struct {
		method, path string
		wantPattern  string
		wantValues   map[string]string
	}{
		{"POST", UploadPath(ChannelXSozial, "m-1"), PatternUpload, map[string]string{"channel": "xsozial", "id": "m-1"}},
		{"POST", UploadPath(ChannelEmaw, "a.b_c"), PatternUpload, map[string]string{"channel": "emaw", "id": "a.b_c"}},
		{"GET", ReplyPath(ChannelEmaw, "m-2"), PatternReply, map[string]string{"channel": "emaw", "id": "m-2"}},
		{"GET", InboxPath(ChannelEmaw), PatternInbox, map[string]string{"channel": "emaw"}},
		{"GET", InboxFilePath(ChannelEmaw, "f1"), PatternInboxFile, map[string]string{"channel": "emaw", "file": "f1"}},
		{"DELETE", InboxFilePath(ChannelXSozial, "f2"), PatternRemoveFile, map[string]string{"channel": "xsozial", "file": "f2"}},
	}
	mux := http.NewServeMux()
	for _, p := range []string{PatternUpload, PatternReply, PatternInbox, PatternInboxFile, PatternRemoveFile} {
		mux.HandleFunc(p, func(http.ResponseWriter, *http.Request) {})
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, tt.path, nil)
			_, got := mux.Handler(r)
			if got != tt.wantPattern {
				t.Fatalf("pattern: got %q, want %q", got, tt.wantPattern)
			}
			// Route the request to read the wildcard values.
			var vals map[string]string
			m := http.NewServeMux()
			m.HandleFunc(tt.wantPattern, func(_ http.ResponseWriter, r *http.Request) {
				vals = map[string]string{}
				for k := range tt.wantValues {
					vals[k] = r.PathValue(k)
				}
			})
			m.ServeHTTP(httptest.NewRecorder(), r)
			for k, want := range tt.wantValues {
				if vals[k] != want {
					t.Errorf("%s: got %q, want %q", k, vals[k], want)
				}
			}
		})
	}
}

func TestIDValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		id      string
		wantErr bool
	}{
		{"abc", false},
		{"emaw-0123456789abcdef", false},
		{"A.b_C-9", false},
		{"018f3a2b-7c4d-7e5f-8a9b-0c1d2e3f4a5b", false},
		{"urn:x", false},
		{"-x", true},
		{"_x", true},
		{strings.Repeat("x", 128), false},
		{"", true},
		{strings.Repeat("x", 129), true},
		{".hidden", true},
		{"a/b", true},
		{"..", true},
		{"a b", true},
		{"ä", true},
		{"a%2F", true},
	}
	for _, tt := range tests {
		errM := MessageID(tt.id).Validate()
		errF := FileID(tt.id).Validate()
		if (errM != nil) != tt.wantErr || (errF != nil) != tt.wantErr {
			t.Errorf("Validate(%q): got %v / %v, wantErr %v", tt.id, errM, errF, tt.wantErr)
		}
		if errM != nil && !errors.Is(errM, ErrBadID) {
			t.Errorf("Validate(%q): %v does not wrap ErrBadID", tt.id, errM)
		}
	}
}

func TestParseChannel(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in      string
		want    Channel
		wantErr bool
	}{
		{"xsozial", ChannelXSozial, false},
		{"emaw", ChannelEmaw, false},
		{"EMAW", "", true},
		{"", "", true},
	} {
		got, err := ParseChannel(tt.in)
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("ParseChannel(%q) = %q, %v; want %q, wantErr %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestDigestRoundTrip(t *testing.T) {
	t.Parallel()
	sum := sha256.Sum256([]byte("hello"))
	h := FormatDigest(sum)
	if want := "sha-256=:LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ=:"; h != want {
		t.Fatalf("FormatDigest: got %q, want %q", h, want)
	}
	tests := []struct {
		header  string
		wantErr bool
	}{
		{h, false},
		{"sha-512=:AAAA:, " + h, false},
		{"sha-256=LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ=", true},
		{"sha-256=:AAAA:", true},
		{"sha-256=:!!:", true},
		{"md5=:AAAA:", true},
		{"", true},
	}
	for _, tt := range tests {
		got, err := ParseDigest(tt.header)
		if (err != nil) != tt.wantErr {
			t.Errorf("ParseDigest(%q): err %v, wantErr %v", tt.header, err, tt.wantErr)
			continue
		}
		if err == nil && got != sum {
			t.Errorf("ParseDigest(%q): got %x, want %x", tt.header, got, sum)
		}
		if err != nil && !errors.Is(err, ErrBadDigest) {
			t.Errorf("ParseDigest(%q): %v does not wrap ErrBadDigest", tt.header, err)
		}
	}
}

func TestReceiptConfirm(t *testing.T) {
	t.Parallel()
	sum := sha256.Sum256([]byte("payload"))
	good := Receipt{MessageID: "m1", Channel: ChannelEmaw, Status: ReceiptAccepted, Size: 7, SHA256: hex.EncodeToString(sum[:])}
	tests := []struct {
		name      string
		edit      func(*Receipt)
		wantField string
	}{
		{"accepted", func(*Receipt) {}, ""},
		{"duplicate", func(r *Receipt) { r.Status = ReceiptDuplicate }, ""},
		{"other id", func(r *Receipt) { r.MessageID = "m2" }, "message ID"},
		{"other channel", func(r *Receipt) { r.Channel = ChannelXSozial }, "channel"},
		{"empty status", func(r *Receipt) { r.Status = "" }, "status"},
		{"short", func(r *Receipt) { r.Size = 6 }, "size"},
		{"other hash", func(r *Receipt) { r.SHA256 = strings.Repeat("0", 64) }, "SHA-256"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := good
			tt.edit(&r)
			err := r.Confirm(ChannelEmaw, "m1", 7, sum)
			var me *ReceiptMismatchError
			switch {
			case tt.wantField == "" && err != nil:
				t.Fatalf("got %v, want nil", err)
			case tt.wantField != "" && !errors.As(err, &me):
				t.Fatalf("got %v, want *ReceiptMismatchError", err)
			case tt.wantField != "" && me.Field != tt.wantField:
				t.Fatalf("field: got %q, want %q", me.Field, tt.wantField)
			}
		})
	}
}

func TestContentMessageID(t *testing.T) {
	t.Parallel()
	a := ContentMessageID(ChannelEmaw, sha256.Sum256([]byte("x")))
	b := ContentMessageID(ChannelEmaw, sha256.Sum256([]byte("x")))
	c := ContentMessageID(ChannelXSozial, sha256.Sum256([]byte("x")))
	if a != b || a == c {
		t.Fatalf("got %q %q %q: want equal IDs for equal content and channel only", a, b, c)
	}
	if err := a.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestListingValidate(t *testing.T) {
	t.Parallel()
	h := strings.Repeat("ab", 32)
	tests := []struct {
		name    string
		files   []FileInfo
		wantErr string
	}{
		{"empty", nil, ""},
		{"message", []FileInfo{{ID: "f1", Kind: KindMessage, SHA256: h}}, ""},
		{"reply", []FileInfo{{ID: "f1", Kind: KindReply, Ref: "m1", SHA256: h}}, ""},
		{"reply without ref", []FileInfo{{ID: "f1", Kind: KindReply, SHA256: h}}, "entry 0 (f1): reply without a valid ref"},
		{"bad id", []FileInfo{{ID: "../x", Kind: KindMessage, SHA256: h}}, "entry 0"},
		{"bad kind", []FileInfo{{ID: "f1", Kind: "x", SHA256: h}}, `kind "x"`},
		{"bad hash", []FileInfo{{ID: "f1", Kind: KindMessage, SHA256: "zz"}}, "not 64 hex digits"},
		{"negative size", []FileInfo{{ID: "f1", Kind: KindMessage, SHA256: h, Size: -1}}, "negative size"},
	}
	for _, tt := range tests {
		err := Listing{Files: tt.files}.Validate()
		if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("%s: got %v, want error containing %q", tt.name, err, tt.wantErr)
		}
	}
}
