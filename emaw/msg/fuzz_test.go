package msg

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzUnmarshal feeds arbitrary bytes to the message parser, validation
// included. It must never panic, and whatever it accepts must be a
// catalogue message that builds and validates again.
func FuzzUnmarshal(f *testing.F) {
	for _, name := range []string{"out/Eintritt.xml", "out/AnwesenheitMonat.xml", "in/AnmeldungKontakt.xml"} {
		if data, err := os.ReadFile(filepath.Join(goldenDir, "messages", name)); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte(`<Nachricht xmlns="urn:meldeweg:model:emaw" version="2.18"/>`))
	c := testCodec(f)
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, data []byte) {
		m, b, err := c.Unmarshal(ctx, data, "fuzz.xml")
		if err != nil {
			if m != nil {
				t.Fatalf("message and error: %v", err)
			}
			return
		}
		if _, ok := Lookup(m.Type()); !ok {
			t.Fatalf("accepted unknown type %q", m.Type())
		}
		out, b2, err := c.Marshal(ctx, m)
		var inv *InvalidError
		if errors.As(err, &inv) {
			// A value the Go type normalises (e.g. a time zone) may not
			// round-trip, but what was accepted must build.
			t.Logf("re-marshal invalid: %v", inv)
			return
		}
		if err != nil {
			t.Fatalf("accepted message does not build: %v", err)
		}
		if b2 != b {
			t.Fatalf("bundle changed from %s to %s", b.ID(), b2.ID())
		}
		if _, _, err := c.Unmarshal(ctx, out, "again.xml"); err != nil {
			t.Fatalf("re-built message does not read back: %v\n%s", err, out)
		}
	})
}

// FuzzDecode fuzzes the reader behind Unmarshal without the schema, so
// inputs the validator would stop still reach it.
func FuzzDecode(f *testing.F) {
	if data, err := os.ReadFile(filepath.Join(goldenDir, "messages", "out", "Beurteilung.xml")); err == nil {
		f.Add(data)
	}
	f.Add([]byte(`<Nachricht xmlns="urn:meldeweg:model:emaw"><Kopf/><Eintritt><Eintrittsdatum>x</Eintrittsdatum></Eintritt></Nachricht>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := decode(data)
		if (m == nil) == (err == nil) {
			t.Fatalf("decode = %v, %v: want exactly one of message and error", m, err)
		}
	})
}
