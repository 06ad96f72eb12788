package bacheck_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"meldeweg.dev/meldeweg/basim/bacheck"
	"meldeweg.dev/meldeweg/emaw/ack"
	"meldeweg.dev/meldeweg/emaw/msg"
	"meldeweg.dev/meldeweg/transport/baapi"
	"meldeweg.dev/meldeweg/transport/cms"
)

// answer is one Ergebnis as the tests compare it.
type answer struct {
	id      string
	outcome ack.Outcome
	codes   string
}

func (a answer) String() string { return a.id + ":" + string(a.outcome) + "[" + a.codes + "]" }

// quittung opens and parses a sealed acknowledgement as the provider.
func (b *bench) quittung(t *testing.T, sealed []byte) *ack.Quittung {
	t.Helper()
	if bytes.Contains(sealed, []byte("Quittung")) {
		t.Fatal("the acknowledgement travels in plain text")
	}
	q, _, err := ack.Unmarshal(context.Background(), msg.NewCodec(b.reg), openReply(t, b.pkiDir, "emaw-encrypt", sealed), "reply")
	if err != nil {
		t.Fatal(err)
	}
	return q
}

func answers(q *ack.Quittung) []answer {
	var out []answer
	for _, e := range q.Ergebnis {
		var codes []string
		for _, f := range e.Fehler {
			codes = append(codes, f.Code)
		}
		out = append(out, answer{e.NachrichtID, e.Outcome(), strings.Join(codes, ",")})
	}
	return out
}

// TestEmawReplies: sealed eM@w uploads get a sealed acknowledgement with
// one answer per event, classified as emaw/ack classifies them.
func TestEmawReplies(t *testing.T) {
	t.Parallel()
	pkiDir, otherCA := testPKI(t), testPKI(t)
	reg := registry(t)

	known := &bacheck.Directory{
		Measures:     []bacheck.Assignment{{Provider: "T4711", Massnahme: "123/21/1/26", Verfahrenszweig: "01"}},
		Participants: []bacheck.Participant{{Kundennummer: "123A456789", Cosachid: "C0000001"}},
	}
	b := start(t, pkiDir, bacheck.Config{Known: known, Providers: []string{"T4711"}})

	noGrund := example(msg.TypeAustritt, "EV-AUSTRITT-OHNE-GRUND").(*msg.Austritt)
	noGrund.Grund = ""
	otherMeasure := example(msg.TypeEintritt, "EV-FREMDE-MASSNAHME")
	otherMeasure.Header().Massnahme.Nummer = "999/99/9/26"
	stranger := example(msg.TypeEintritt, "EV-FREMDER-TN").(*msg.Eintritt)
	stranger.Teilnehmer.Kundennummer = "999Z999999"
	// A participant the BA announced in an inbound Anmeldung is known.
	anm := bacheck.Anmeldungen("T4711", "BA-D123")[1].(*msg.AnmeldungBAE)
	announced := example(msg.TypeEintritt, "EV-ANGEMELDET").(*msg.Eintritt)
	announced.Teilnehmer = anm.Teilnehmer
	beurteilung := example(msg.TypeBeurteilung, "EV-BEURTEILUNG")

	zipOf := func(ms ...msg.Message) []byte { return emawZIP(t, reg, ms...) }
	tests := []struct {
		name        string
		id          baapi.MessageID
		body        []byte
		wantOutcome baapi.Outcome
		want        []answer
		wantText    string
	}{
		{"one valid and one invalid event", "em-1",
			seal(t, zipOf(example(msg.TypeEintritt, "EV-OK"), noGrund), pkiDir, "emaw-sign", pkiDir, cms.ProfileCompat), baapi.OutcomeNOK,
			[]answer{{"EV-AUSTRITT-OHNE-GRUND", ack.OutcomeRejected, bacheck.CodeRule}, {"EV-OK", ack.OutcomeAcknowledged, ""}}, "Grund"},
		{"bsi profile, attachment", "em-2",
			seal(t, zipOf(beurteilung), pkiDir, "emaw-sign", pkiDir, cms.ProfileBSI), baapi.OutcomeOK,
			[]answer{{"EV-BEURTEILUNG", ack.OutcomeAcknowledged, ""}}, ""},
		{"provider not assigned", "em-3",
			seal(t, zipOf(otherMeasure), pkiDir, "emaw-sign", pkiDir, cms.ProfileCompat), baapi.OutcomeNOK,
			[]answer{{"EV-FREMDE-MASSNAHME", ack.OutcomeNotAssigned, ack.CodeNotAssigned}}, "nicht zugeordnet"},
		{"participant unknown", "em-4",
			seal(t, zipOf(stranger), pkiDir, "emaw-sign", pkiDir, cms.ProfileCompat), baapi.OutcomeNOK,
			[]answer{{"EV-FREMDER-TN", ack.OutcomeParticipantUnknown, ack.CodeParticipantUnknown}}, "nicht bekannt"},
		{"participant announced inbound", "em-5",
			seal(t, zipOf(announced), pkiDir, "emaw-sign", pkiDir, cms.ProfileCompat), baapi.OutcomeOK,
			[]answer{{"EV-ANGEMELDET", ack.OutcomeAcknowledged, ""}}, ""},
		{"signed under another CA", "em-6",
			seal(t, zipOf(example(msg.TypeEintritt, "EV-X")), otherCA, "emaw-sign", pkiDir, cms.ProfileCompat), baapi.OutcomeNOK,
			[]answer{{"em-6", ack.OutcomeRejected, bacheck.CodeSigner}}, "not issued by a trusted CA"},
		{"garbage bytes", "em-7", []byte("PK\x03\x04 not sealed at all"), baapi.OutcomeNOK,
			[]answer{{"em-7", ack.OutcomeRejected, bacheck.CodeDecrypt}}, "keine verschlüsselte CMS-Nachricht"},
		{"tampered upload", "em-10",
			flip(seal(t, zipOf(example(msg.TypeEintritt, "EV-Y")), pkiDir, "emaw-sign", pkiDir, cms.ProfileBSI)), baapi.OutcomeNOK,
			[]answer{{"em-10", ack.OutcomeRejected, bacheck.CodeDecrypt}}, "nicht entschlüsselt"},
		{"sealed, but not a ZIP", "em-8",
			seal(t, []byte("<Nachricht/>"), pkiDir, "emaw-sign", pkiDir, cms.ProfileCompat), baapi.OutcomeNOK,
			[]answer{{"em-8", ack.OutcomeRejected, bacheck.CodeArchive}}, "not a ZIP archive"},
		{"message ID outside the schema's alphabet", "em:9",
			[]byte("garbage"), baapi.OutcomeNOK,
			[]answer{{"X-", ack.OutcomeRejected, bacheck.CodeDecrypt}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sealed, f := b.reply(t, baapi.ChannelEmaw, tt.id, tt.body)
			if f.Outcome != tt.wantOutcome {
				t.Errorf("X-BA-Outcome: got %q, want %q", f.Outcome, tt.wantOutcome)
			}
			q := b.quittung(t, sealed)
			got := answers(q)
			if len(got) != len(tt.want) {
				t.Fatalf("got answers %v, want %v", got, tt.want)
			}
			for i := range got {
				w := tt.want[i]
				if got[i].outcome != w.outcome || got[i].codes != w.codes || !strings.HasPrefix(got[i].id, w.id) {
					t.Errorf("answer %d: got %v, want %v", i, got[i], w)
				}
			}
			var texts strings.Builder
			for _, e := range q.Ergebnis {
				for _, fe := range e.Fehler {
					texts.WriteString(fe.Text)
				}
			}
			if !strings.Contains(texts.String(), tt.wantText) {
				t.Errorf("Fehler texts %q: want one containing %q", texts.String(), tt.wantText)
			}
			for _, pd := range []string{"123A456789", "999Z999999", "C0000001", "Mustermann"} {
				if strings.Contains(texts.String(), pd) {
					t.Errorf("personal data %q in the acknowledgement's texts", pd)
				}
			}
			if q.Absender != "BA-D123" {
				t.Errorf("Absender %q, want BA-D123", q.Absender)
			}
		})
	}
}

// TestEmawBAErrorThenOK: with BAErrors 1 the first delivery of an event
// gets a BA-internal error (re-deliver), the re-delivery in a new upload
// is acknowledged, and an acknowledged event sent again unchanged is
// acknowledged again, while a changed one under the same ID is rejected.
func TestEmawBAErrorThenOK(t *testing.T) {
	t.Parallel()
	pkiDir := testPKI(t)
	b := start(t, pkiDir, bacheck.Config{BAErrors: 1})
	ev := example(msg.TypeEintritt, "EV-RETRY")
	changed := example(msg.TypeEintritt, "EV-RETRY").(*msg.Eintritt)
	changed.Eintrittsdatum = changed.Eintrittsdatum.AddDays(1)
	steps := []struct {
		m    msg.Message
		want ack.Outcome
	}{
		{ev, ack.OutcomeBAError},
		{ev, ack.OutcomeAcknowledged},
		{ev, ack.OutcomeAcknowledged},
		{changed, ack.OutcomeRejected},
	}
	for i, st := range steps {
		id := baapi.MessageID(fmt.Sprintf("retry-%d", i))
		sealed, _ := b.reply(t, baapi.ChannelEmaw, id, seal(t, emawZIP(t, b.reg, st.m), pkiDir, "emaw-sign", pkiDir, cms.ProfileCompat))
		q := b.quittung(t, sealed)
		if got := q.Ergebnis[0].Outcome(); got != st.want {
			t.Fatalf("delivery %d: got %s %v, want %s", i+1, got, q.Ergebnis[0].Fehler, st.want)
		}
		if st.want == ack.OutcomeBAError && !st.want.Redeliver() {
			t.Fatal("a BA-internal error must ask for re-delivery")
		}
	}
}

// TestInbound: the Anmeldungen of each provider are written sealed,
// offered by the simulator, open with emaw-encrypt, are valid against the
// bundle in force, and are not re-sealed when they exist.
func TestInbound(t *testing.T) {
	t.Parallel()
	pkiDir := testPKI(t)
	reg := registry(t)
	cfg, err := bacheck.LoadTestPKI(pkiDir, bacheck.Config{Registry: reg, Providers: []string{"T4711", "T0815"}})
	if err != nil {
		t.Fatal(err)
	}
	c, err := bacheck.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "inbox", "emaw")
	n, err := c.WriteInbound(context.Background(), dir)
	if err != nil || n != 6 {
		t.Fatalf("WriteInbound: %d files, %v; want 6", n, err)
	}
	first := map[string][]byte{}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		first[e.Name()], _ = os.ReadFile(filepath.Join(dir, e.Name()))
	}
	if n, err := c.WriteInbound(context.Background(), dir); err != nil || n != 0 {
		t.Fatalf("second WriteInbound: %d files, %v; want 0", n, err)
	}
	codec := msg.NewCodec(reg)
	seen := map[string]bool{}
	for _, p := range []string{"T4711", "T0815"} {
		for _, m := range bacheck.Anmeldungen(p, "BA-D123") {
			name := bacheck.InboundFileName(m)
			data, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(data, first[name]) {
				t.Errorf("%s was sealed again", name)
			}
			got, _, err := codec.Unmarshal(context.Background(), openReply(t, pkiDir, "emaw-encrypt", data), name)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			k := got.Header()
			if k.Empfaenger != p || k.Richtung != msg.BAanTraeger || got.Type() != m.Type() {
				t.Errorf("%s: %s to %s (%s), want %s to %s", name, got.Type(), k.Empfaenger, k.Richtung, m.Type(), p)
			}
			tn := msg.ParticipantOf(got)
			if seen[tn.Kundennummer] {
				t.Errorf("%s: participant used twice", name)
			}
			seen[tn.Kundennummer] = true
		}
	}

	// The simulator offers them; a provider downloads and opens each.
	b := start(t, pkiDir, bacheck.Config{Providers: []string{"T4711"}})
	l, err := b.em.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range l.Files {
		if f.Kind != baapi.KindMessage {
			t.Errorf("%s: kind %s, want message", f.Name, f.Kind)
		}
		dst := filepath.Join(t.TempDir(), "file")
		if _, err := b.em.Download(context.Background(), f, dst); err != nil {
			t.Fatal(err)
		}
		data, _ := os.ReadFile(dst)
		if _, _, err := codec.Unmarshal(context.Background(), openReply(t, pkiDir, "emaw-encrypt", data), f.Name); err != nil {
			t.Errorf("%s: %v", f.Name, err)
		}
		names = append(names, f.Name)
	}
	want := "BA-D123-T4711-ANM-01.AnmeldungKontakt.xml.p7m BA-D123-T4711-ANM-02.AnmeldungBAE.xml.p7m BA-D123-T4711-ANM-03.AGHAnmeldung.xml.p7m"
	if got := strings.Join(names, " "); got != want {
		t.Errorf("offered %s, want %s", got, want)
	}
}
