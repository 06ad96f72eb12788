package register

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

var t0 = time.Date(2026, 2, 3, 4, 5, 6, 789012345, time.UTC)

func sum(s string) Hash {
	var h Hash
	copy(h[:], s)
	return h
}

func params(i int) AppendParams {
	k, _ := XSozialKey("12345", "2026-01")
	return AppendParams{
		Direction: DirectionOut, Channel: ChannelXSozial, Event: EventQueued, Actor: System("test"),
		Endpoint: "https://ba.example/xsozial/upload", MessageID: MessageID("m-" + strings.Repeat("x", i%3+1)),
		Correlation: k, Attempt: i % 2, Payload: PayloadRef{SHA256: sum("payload"), Size: int64(100 + i)},
		Detail: "entry number " + strings.Repeat("i", i%5),
	}
}

func chain(t *testing.T, n int) []Entry {
	t.Helper()
	var out []Entry
	var prev Hash
	for i := range n {
		e, err := newEntry(prev, int64(i+1), t0.Add(time.Duration(i)*time.Second), params(i))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
		prev = e.Hash()
	}
	return out
}

func seq(entries []Entry) func(func(Entry, error) bool) {
	return func(yield func(Entry, error) bool) {
		for _, e := range entries {
			if !yield(e, nil) {
				return
			}
		}
	}
}

// TestEntryHashGolden pins the canonical encoding: a change to it breaks
// every stored register, so it must be a new encoding version instead.
func TestEntryHashGolden(t *testing.T) {
	var b bytes.Buffer
	for _, e := range chain(t, 3) {
		b.WriteString(e.Hash().String() + "\n")
	}
	golden := filepath.Join("testdata", "entry-hashes-v1.golden")
	if *update {
		if err := os.WriteFile(golden, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update once to create it)", err)
	}
	if got := b.String(); got != string(want) {
		t.Errorf("entry hashes changed:\ngot\n%s\nwant\n%s", got, want)
	}
}

// TestEntryHashGoldenKept pins encoding v2, used by entries that kept
// their payload's bytes.
func TestEntryHashGoldenKept(t *testing.T) {
	p := params(1)
	p.Data = strings.NewReader("sealed bytes")
	e, err := newEntry(sum("prev"), 7, t0, p)
	if err != nil {
		t.Fatal(err)
	}
	if !e.PayloadKept() || e.p.Data != nil {
		t.Fatal("an entry with data does not record that it kept it, or holds on to the reader")
	}
	golden := filepath.Join("testdata", "entry-hash-v2.golden")
	got := e.Hash().String() + "\n"
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update once to create it)", err)
	}
	if got != string(want) {
		t.Errorf("entry hash changed: got %s, want %s", got, want)
	}
	// Disowning the kept payload breaks the hash.
	r := e.Record()
	r.PayloadKept = false
	if RecordEntry(r).computeHash() == e.Hash() {
		t.Error("an entry hashes the same whether or not it kept its payload")
	}
	if RecordEntry(e.Record()).computeHash() != e.Hash() {
		t.Error("round trip through Record changed a v2 hash")
	}
}

// TestEntryHashGoldenTenant pins encoding v3, used by every entry of a
// register bound to a tenant: the tenant and the kept flag are covered.
func TestEntryHashGoldenTenant(t *testing.T) {
	p := params(1)
	p.Data = strings.NewReader("sealed bytes")
	kept, err := newTenantEntry("traeger-a", sum("prev"), 7, t0, p)
	if err != nil {
		t.Fatal(err)
	}
	named, err := newTenantEntry("traeger-a", sum("prev"), 7, t0, params(1))
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "entry-hash-v3.golden")
	got := kept.Hash().String() + "\n" + named.Hash().String() + "\n"
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update once to create it)", err)
	}
	if got != string(want) {
		t.Errorf("entry hashes changed:\ngot\n%s\nwant\n%s", got, want)
	}
	for _, e := range []Entry{kept, named} {
		r := e.Record()
		if RecordEntry(r).computeHash() != e.Hash() {
			t.Error("round trip through Record changed a v3 hash")
		}
		for _, other := range []string{"traeger-b", ""} {
			r.Tenant = other
			if RecordEntry(r).computeHash() == e.Hash() {
				t.Errorf("an entry of tenant traeger-a hashes the same as one of %q", other)
			}
		}
		r = e.Record()
		r.PayloadKept = !r.PayloadKept
		if RecordEntry(r).computeHash() == e.Hash() {
			t.Error("a v3 entry hashes the same whether or not it kept its payload")
		}
	}
}

// TestHashCoversEveryField changes one field at a time and expects a
// different hash each time.
func TestHashCoversEveryField(t *testing.T) {
	base, err := newEntry(sum("prev"), 7, t0, params(1))
	if err != nil {
		t.Fatal(err)
	}
	r := base.Record()
	mutations := map[string]func(*Record){
		"seq":         func(r *Record) { r.Seq++ },
		"time":        func(r *Record) { r.Time = r.Time.Add(time.Microsecond) },
		"direction":   func(r *Record) { r.Direction = "in" },
		"channel":     func(r *Record) { r.Channel = "emaw" },
		"event":       func(r *Record) { r.Event = "sent" },
		"actor":       func(r *Record) { r.Actor = "operator:test" },
		"endpoint":    func(r *Record) { r.Endpoint += "x" },
		"message_id":  func(r *Record) { r.MessageID += "x" },
		"related":     func(r *Record) { r.Related = "r" },
		"correlation": func(r *Record) { r.Correlation = "xsozial traeger=12345 month=2026-02" },
		"attempt":     func(r *Record) { r.Attempt++ },
		"payload_sha": func(r *Record) { r.PayloadSHA256[0] ^= 1 },
		"payload_sz":  func(r *Record) { r.PayloadSize++ },
		"detail":      func(r *Record) { r.Detail += "." },
		"prev_hash":   func(r *Record) { r.PrevHash[31] ^= 1 },
		"kept":        func(r *Record) { r.PayloadKept = true },
		"tenant":      func(r *Record) { r.Tenant = "traeger-a" },
	}
	for name, mutate := range mutations {
		t.Run(name, func(t *testing.T) {
			m := r
			mutate(&m)
			if got := RecordEntry(m).computeHash(); got == base.Hash() {
				t.Errorf("changing %s left the hash at %s", name, got)
			}
		})
	}
	if got := RecordEntry(r).computeHash(); got != base.Hash() {
		t.Errorf("round trip through Record changed the hash: got %s, want %s", got, base.Hash())
	}
}

func TestAppendParamsValidation(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*AppendParams)
		field  string // "" = valid
	}{
		{"valid", func(*AppendParams) {}, ""},
		{"no direction", func(p *AppendParams) { p.Direction = "" }, "Direction"},
		{"bad channel", func(p *AppendParams) { p.Channel = "fax" }, "Channel"},
		{"bad event", func(p *AppendParams) { p.Event = "lost" }, "Event"},
		{"no actor", func(p *AppendParams) { p.Actor = Actor{} }, "Actor"},
		{"actor with space", func(p *AppendParams) { p.Actor = Operator("Max Mustermann") }, "Actor"},
		{"endpoint with query", func(p *AppendParams) { p.Endpoint = "https://ba.example/u?kdnr=123D456789" }, "Endpoint"},
		{"endpoint with user", func(p *AppendParams) { p.Endpoint = "https://u:p@ba.example/u" }, "Endpoint"},
		{"bad message id", func(p *AppendParams) { p.MessageID = "has space" }, "MessageID"},
		{"negative attempt", func(p *AppendParams) { p.Attempt = -1 }, "Attempt"},
		{"size without hash", func(p *AppendParams) { p.Payload = PayloadRef{Size: 3} }, "Payload"},
		{"multi-line detail", func(p *AppendParams) { p.Detail = "a\nb" }, "Detail"},
		{"forged correlation", func(p *AppendParams) { p.Correlation = CorrelationKey{"emaw massnahme=1 participant=123D456789"} }, "Correlation"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := params(0)
			tt.mutate(&p)
			_, err := newEntry(Hash{}, 1, t0, p)
			var fe *FieldError
			switch {
			case tt.field == "" && err != nil:
				t.Fatalf("got error %v, want none", err)
			case tt.field != "" && !errors.As(err, &fe):
				t.Fatalf("got %v, want a *FieldError for %s", err, tt.field)
			case tt.field != "" && fe.Field != tt.field:
				t.Fatalf("got field %s, want %s", fe.Field, tt.field)
			case tt.field != "" && !errors.Is(err, ErrInvalidParams):
				t.Fatalf("errors.Is(%v, ErrInvalidParams) = false", err)
			}
		})
	}
}

func TestCorrelationKeys(t *testing.T) {
	ps, _ := NewPseudonymizer(bytes.Repeat([]byte{7}, 32))
	p := ps.Participant("123D456789", "4711")
	tests := []struct {
		name    string
		build   func() (CorrelationKey, error)
		want    string
		wantErr bool
	}{
		{"xsozial", func() (CorrelationKey, error) { return XSozialKey("12345", "2026-01") }, "xsozial traeger=12345 month=2026-01", false},
		{"xsozial bad month", func() (CorrelationKey, error) { return XSozialKey("12345", "2026-13") }, "", true},
		{"xsozial letters", func() (CorrelationKey, error) { return XSozialKey("123D456789", "2026-01") }, "", true},
		{"emaw", func() (CorrelationKey, error) { return EmawKey("123/21/1/14/06", p) }, "emaw massnahme=123/21/1/14/06 participant=" + p.String(), false},
		{"emaw measure only", func() (CorrelationKey, error) { return EmawKey("1232111406", Pseudonym{}) }, "emaw massnahme=1232111406", false},
		{"emaw bad", func() (CorrelationKey, error) { return EmawKey("abc", p) }, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := tt.build()
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if got := k.String(); got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
			if err == nil {
				back, err := ParseCorrelationKey(k.String())
				if err != nil || back != k {
					t.Fatalf("ParseCorrelationKey(%q) = %v, %v", k, back, err)
				}
			}
		})
	}
	if strings.Contains(p.String(), "123D456789") || strings.Contains(p.String(), "4711") {
		t.Errorf("pseudonym %s contains a raw identifier", p)
	}
	other, _ := NewPseudonymizer(bytes.Repeat([]byte{8}, 32))
	if other.Participant("123D456789", "4711") == p {
		t.Error("two instance keys gave the same pseudonym")
	}
	if ps.Participant("123D45678", "94711") == p {
		t.Error("shifting a character between the fields gave the same pseudonym")
	}
}

func TestVerifyChain(t *testing.T) {
	good := chain(t, 5)
	head := Head{Seq: 5, Hash: good[4].Hash()}
	tests := []struct {
		name    string
		entries func() []Entry
		head    Head
		wantSeq int64 // 0 = intact
		reason  string
	}{
		{"intact", func() []Entry { return good }, head, 0, ""},
		{"empty", func() []Entry { return nil }, Head{}, 0, ""},
		{"content changed", func() []Entry {
			es := slices.Clone(good)
			r := es[2].Record()
			r.Detail = "forged"
			es[2] = RecordEntry(r)
			return es
		}, head, 3, "stored hash does not match"},
		{"content and hash changed", func() []Entry {
			es := slices.Clone(good)
			e, _ := newEntry(es[1].Hash(), 3, t0, params(9))
			es[2] = e
			return es
		}, head, 4, "link to the previous entry"},
		{"entry deleted", func() []Entry { return slices.Delete(slices.Clone(good), 1, 2) }, head, 2, "entry missing"},
		{"tail deleted", func() []Entry { return good[:3] }, head, 4, "entries missing at the end"},
		{"head rewound", func() []Entry { return good }, Head{Seq: 4, Hash: good[3].Hash()}, 5, "beyond the recorded head"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep, err := VerifyChain(context.Background(), seq(tt.entries()), tt.head)
			if tt.wantSeq == 0 {
				if err != nil {
					t.Fatalf("got %v, want intact", err)
				}
				if rep.Entries != int64(len(tt.entries())) {
					t.Fatalf("got %d entries, want %d", rep.Entries, len(tt.entries()))
				}
				return
			}
			var ce *ChainError
			if !errors.As(err, &ce) || !errors.Is(err, ErrChainBroken) {
				t.Fatalf("got %v, want a *ChainError", err)
			}
			if ce.Seq != tt.wantSeq || !strings.Contains(ce.Reason, tt.reason) {
				t.Fatalf("got entry %d %q, want entry %d %q", ce.Seq, ce.Reason, tt.wantSeq, tt.reason)
			}
			if rep.Entries != tt.wantSeq-1 {
				t.Fatalf("report counts %d verified entries, want %d", rep.Entries, tt.wantSeq-1)
			}
		})
	}
}

func TestApply(t *testing.T) {
	now := t0.Add(time.Hour)
	msg := func(s MessageState, attempt, max int) Message {
		return Message{ID: "m1", Channel: ChannelEmaw, State: s, Attempt: attempt, MaxAttempts: max, Payload: PayloadRef{SHA256: sum("p"), Size: 1}}
	}
	op := Operator("alice")
	tests := []struct {
		name      string
		m         Message
		tr        Transition
		want      MessageState
		conflict  bool
		wantEvent Event
	}{
		{"sent", msg(MessageSending, 1, 3), MarkSent("m1", 1, op), MessageSent, false, EventSent},
		{"sent by stale worker", msg(MessageSending, 2, 3), MarkSent("m1", 1, op), "", true, ""},
		{"sent twice", msg(MessageSent, 1, 3), MarkSent("m1", 1, op), "", true, ""},
		{"retry", msg(MessageSending, 1, 3), MarkRetry("m1", 1, now, "HTTP 503", op), MessageRetryWait, false, EventRetryWait},
		{"retry exhausted", msg(MessageSending, 3, 3), MarkRetry("m1", 3, now, "HTTP 503", op), MessageDead, false, EventDead},
		{"redeliver sent", msg(MessageSent, 1, 3), MarkRetry("m1", 1, now, "NOK: BA-internal error", op), MessageRetryWait, false, EventRetryWait},
		{"ack", msg(MessageSent, 1, 3), MarkAcknowledged("m1", PayloadRef{}, op), MessageAcknowledged, false, EventAcknowledged},
		{"ack before sent", msg(MessageSending, 1, 3), MarkAcknowledged("m1", PayloadRef{}, op), "", true, ""},
		{"ack twice", msg(MessageAcknowledged, 1, 3), MarkAcknowledged("m1", PayloadRef{}, op), "", true, ""},
		{"rejected", msg(MessageSent, 1, 3), MarkRejected("m1", "R13_0030", PayloadRef{}, op), MessageRejected, false, EventRejected},
		{"dead from queued", msg(MessageQueued, 0, 3), MarkDead("m1", "operator gave up", op), MessageDead, false, EventDead},
		{"dead after ack", msg(MessageAcknowledged, 1, 3), MarkDead("m1", "x", op), "", true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ap, err := Apply(tt.m, tt.tr, now)
			if tt.conflict {
				var sc *StateConflictError
				if !errors.As(err, &sc) || !errors.Is(err, ErrStateConflict) {
					t.Fatalf("got %v, want a *StateConflictError", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.State != tt.want || ap.Event != tt.wantEvent {
				t.Fatalf("got state %s event %s, want %s %s", got.State, ap.Event, tt.want, tt.wantEvent)
			}
			if ap.Attempt != tt.m.Attempt || ap.MessageID != "m1" {
				t.Fatalf("entry attempt %d id %s, want %d m1", ap.Attempt, ap.MessageID, tt.m.Attempt)
			}
			if err := ap.validate(); err != nil {
				t.Fatalf("entry params invalid: %v", err)
			}
		})
	}
}

// TestStateListsComplete parses the source and fails if a MessageState or
// Event constant is missing from MessageStates() or Events().
func TestStateListsComplete(t *testing.T) {
	fset := token.NewFileSet()
	pkgs, err := parser.ParseDir(fset, ".", func(fi os.FileInfo) bool { return !strings.HasSuffix(fi.Name(), "_test.go") }, 0)
	if err != nil {
		t.Fatal(err)
	}
	declared := map[string][]string{}
	for _, f := range pkgs["register"].Files {
		for _, d := range f.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, s := range gd.Specs {
				vs := s.(*ast.ValueSpec)
				if id, ok := vs.Type.(*ast.Ident); ok && (id.Name == "MessageState" || id.Name == "Event") {
					for _, n := range vs.Names {
						declared[id.Name] = append(declared[id.Name], n.Name)
					}
				}
			}
		}
	}
	if len(declared["MessageState"]) != len(MessageStates()) {
		t.Errorf("%d MessageState constants declared (%v), MessageStates() lists %d", len(declared["MessageState"]), declared["MessageState"], len(MessageStates()))
	}
	if len(declared["Event"]) != len(Events()) {
		t.Errorf("%d Event constants declared (%v), Events() lists %d", len(declared["Event"]), declared["Event"], len(Events()))
	}
	for _, s := range MessageStates() {
		if !Event(s).valid() {
			t.Errorf("state %s has no Event of the same name", s)
		}
	}
}

func TestExportJSONLRoundTrip(t *testing.T) {
	es := chain(t, 4)
	var b bytes.Buffer
	n, err := ExportJSONL(&b, seq(es))
	if err != nil || n != 4 {
		t.Fatalf("ExportJSONL = %d, %v", n, err)
	}
	var back []Entry
	for _, line := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		var r Record
		if err := r.UnmarshalJSON([]byte(line)); err != nil {
			t.Fatal(err)
		}
		back = append(back, RecordEntry(r))
	}
	if _, err := VerifyChain(context.Background(), seq(back), Head{Seq: 4, Hash: es[3].Hash()}); err != nil {
		t.Fatalf("exported chain does not verify: %v", err)
	}
	var c bytes.Buffer
	if n, err := ExportCSV(&c, seq(es)); err != nil || n != 4 {
		t.Fatalf("ExportCSV = %d, %v", n, err)
	}
	lines := strings.Split(strings.TrimSpace(c.String()), "\n")
	if len(lines) != 5 || !strings.HasPrefix(lines[0], "seq,time,") || !strings.HasSuffix(lines[4], es[3].Hash().String()) {
		t.Fatalf("unexpected CSV:\n%s", c.String())
	}
}

// TestChainFollowsTheHead: Chain builds what newEntry one by one would,
// continuing from the head given; an invalid params gives no entries.
func TestChainFollowsTheHead(t *testing.T) {
	head := chain(t, 2)[1]
	ps := []AppendParams{params(2), params(3), params(4)}
	es, err := chainEntries(head.Hash(), head.Seq(), t0, ps)
	if err != nil || len(es) != 3 {
		t.Fatalf("Chain: %d entries, %v", len(es), err)
	}
	prev := head.Hash()
	for i, e := range es {
		want, err := newEntry(prev, head.Seq()+int64(i)+1, t0, ps[i])
		if err != nil || e != want {
			t.Fatalf("entry %d: %+v, want %+v (%v)", i, e, want, err)
		}
		prev = e.Hash()
	}
	bad := params(5)
	bad.Actor = Actor{}
	if es, err := chainEntries(head.Hash(), head.Seq(), t0, []AppendParams{params(2), bad}); err == nil || es != nil {
		t.Fatalf("Chain with an invalid params: %d entries, %v", len(es), err)
	}
}
