package bacheck

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"

	"meldeweg.dev/meldeweg/transport/atomicfile"

	"meldeweg.dev/meldeweg/emaw"
	"meldeweg.dev/meldeweg/emaw/msg"
	"meldeweg.dev/meldeweg/transport/baapi"
)

// inboundTypes are the Anmeldungen every provider is offered, one each.
var inboundTypes = []msg.Type{msg.TypeAnmeldungKontakt, msg.TypeAnmeldungBAE, msg.TypeAGHAnmeldung}

// made-up participants; no real person.
var inboundPersons = []msg.Person{
	{Familienname: "Beispiel", Vorname: "Anna", Geburtsdatum: emaw.MustDate("2005-02-11")},
	{Familienname: "Muster", Vorname: "Jonas", Geburtsdatum: emaw.MustDate("1999-07-30")},
	{Familienname: "Probe", Vorname: "Leyla", Geburtsdatum: emaw.MustDate("2003-11-05")},
}

// Anmeldungen returns the inbound Anmeldungen the BA (Kennung ba) sends to
// provider: an AnmeldungKontakt, an AnmeldungBAE and an AGHAnmeldung, each
// for its own made-up participant. The set depends only on provider and
// ba, so every run offers the same messages. NachrichtIDs are
// "<ba>-<provider>-ANM-01" to "-03"; dates are those of msg.Example (March
// 2026, eM@w 2.18).
func Anmeldungen(provider, ba string) []msg.Message {
	h := fnv.New32a()
	h.Write([]byte(provider))
	seed := h.Sum32() % 1000
	out := make([]msg.Message, 0, len(inboundTypes))
	for i, t := range inboundTypes {
		m := msg.Example(t)
		k := m.Header()
		k.NachrichtID = fmt.Sprintf("%s-%s-ANM-%02d", ba, provider, i+1)
		k.Absender, k.Empfaenger = ba, provider
		tn := msg.Teilnehmer{Kundennummer: fmt.Sprintf("%03dS%06d", seed, i+1), Cosachid: fmt.Sprintf("S%03d%02d", seed, i+1)}
		p := inboundPersons[i%len(inboundPersons)]
		switch v := m.(type) {
		case *msg.AnmeldungKontakt:
			v.Teilnehmer, v.Person = tn, p
		case *msg.AnmeldungBAE:
			v.Teilnehmer, v.Person = tn, p
		case *msg.AGHAnmeldung:
			v.Teilnehmer, v.Person = tn, p
		}
		out = append(out, m)
	}
	return out
}

// InboundFileName is the name under which an inbound message is offered.
func InboundFileName(m msg.Message) string {
	return m.Header().NachrichtID + "." + string(m.Type()) + ".xml.p7m"
}

// WriteInbound writes the sealed Anmeldungen of every configured provider
// into dir (the simulator's Dir/inbox/emaw), one file each, sealed by the
// BA to the eM@w encryption certificate. A file that exists already is
// kept: sealing is randomised, and a restarted simulator must offer the
// same bytes as before. Files are written through a temporary file and a
// rename. It returns how many files it wrote.
func (c *Checker) WriteInbound(ctx context.Context, dir string) (int, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return 0, err
	}
	n := 0
	for _, p := range c.cfg.Providers {
		for _, m := range Anmeldungen(p, c.cfg.Kennung) {
			path := filepath.Join(dir, InboundFileName(m))
			if _, err := os.Stat(path); err == nil {
				continue
			} else if !errors.Is(err, os.ErrNotExist) {
				return n, err
			}
			plain, _, err := c.codec.Marshal(ctx, m)
			if err != nil {
				return n, fmt.Errorf("inbound %s %s: %w", m.Type(), m.Header().NachrichtID, err)
			}
			sealed, err := c.seal(ctx, baapi.ChannelEmaw, plain)
			if err != nil {
				return n, fmt.Errorf("sealing inbound %s: %w", m.Header().NachrichtID, err)
			}
			if err := atomicfile.WriteBytes(path, 0o600, sealed); err != nil {
				return n, err
			}
			n++
		}
	}
	return n, nil
}
