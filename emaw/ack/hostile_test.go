package ack

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"meldeweg.dev/meldeweg/emaw/msg"
)

// TestUnmarshalRefusesHostileNesting: an acknowledgement is untrusted
// input from the BA's side. 48 MB of text, and elements nested millions
// deep before and after a readable Erstellt, are refused with a clear
// error (by the codec's sniff and depth limit, then by libxml2's depth
// limit), never read whole into a tree.
func TestUnmarshalRefusesHostileNesting(t *testing.T) {
	ctx := context.Background()
	c := codec(t)
	good, _, err := Marshal(ctx, c, example())
	if err != nil {
		t.Fatal(err)
	}
	const size = 48 << 20
	nest := func(prefix []byte) []byte {
		return append(append([]byte(nil), prefix...), bytes.Repeat([]byte("<Ergebnis>"), (size-len(prefix))/10)...)
	}
	root := good[:bytes.Index(good, []byte("<QuittungID>"))]
	afterErstellt := good[:bytes.Index(good, []byte("</Erstellt>"))+len("</Erstellt>")]
	tests := []struct {
		name   string
		data   []byte
		wantIs error
		want   string
	}{
		{"text", bytes.Repeat([]byte("Quittung? no.\n"), size/14), msg.ErrNotXML, "q.xml: not an eM@w document: not XML: found text"},
		{"nesting before Erstellt", nest(root), msg.ErrTooDeep, "q.xml: not an eM@w document: elements nested too deep: more than 32 levels (the limit) at line"},
		{"nesting after Erstellt", nest(afterErstellt), msg.ErrInvalid, "Excessive depth in document: 256"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, _, err := Unmarshal(ctx, c, tt.data, "q.xml")
			if q != nil || !errors.Is(err, tt.wantIs) {
				t.Fatalf("got %v, %v; want nil, %v", q, err, tt.wantIs)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}
