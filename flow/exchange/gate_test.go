package exchange_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"meldeweg.dev/meldeweg/emaw/msg"
	"meldeweg.dev/meldeweg/emaw/pack"
	"meldeweg.dev/meldeweg/flow/exchange"
	"meldeweg.dev/meldeweg/schemas"
)

func TestCheckUpload(t *testing.T) {
	reg, err := schemas.Load(schemas.Options{})
	if err != nil {
		t.Fatal(err)
	}
	codec := msg.NewCodec(reg)
	ctx := context.Background()
	upload := func(ms ...msg.Message) []byte {
		var evs []pack.Event
		for _, m := range ms {
			xml, _, err := codec.Marshal(ctx, m)
			if err != nil {
				t.Fatal(err)
			}
			evs = append(evs, pack.Event{ID: m.Header().NachrichtID, Parts: []pack.Part{{Name: m.Header().NachrichtID + ".xml", Data: xml}}})
		}
		var b bytes.Buffer
		if _, err := pack.Write(&b, evs); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	noGrund := example(msg.TypeAustritt, "EV-3").(*msg.Austritt)
	noGrund.Grund = ""
	tests := []struct {
		name string
		data []byte
		want []string // findings that must be named; nil: passes
	}{
		{"valid", upload(example(msg.TypeEintritt, "EV-1"), example(msg.TypeAnwesenheitMonat, "EV-2")), nil},
		{"not a ZIP", []byte("hello\n"), []string{"up.zip"}},
		{"breaks a rule", upload(example(msg.TypeEintritt, "EV-1"), noGrund), []string{"Austritt EV-3: Austritt/Grund", "[austritt-grund-verbleib]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := exchange.CheckUpload(ctx, codec, tt.data, "up.zip")
			var ue *exchange.UploadError
			switch {
			case tt.want == nil && err != nil:
				t.Fatalf("got %v, want it to pass", err)
			case tt.want != nil && !errors.As(err, &ue):
				t.Fatalf("got %v, want an *UploadError", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(strings.Join(ue.Findings, "\n"), w) {
					t.Errorf("findings %q lack %q", ue.Findings, w)
				}
			}
		})
	}
}
