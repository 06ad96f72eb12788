package status

import (
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"meldeweg.dev/meldeweg/transport/register"
)

// lineKey names a delivery line.
type lineKey struct {
	traeger, month string
	test           bool
}

// correlationRe reads an XSozial correlation key.
var correlationRe = regexp.MustCompile(`^xsozial traeger=([0-9]+) month=([0-9]{4}-[0-9]{2})( test)?$`)

type xsozialReader struct {
	lines      map[lineKey][]string // message IDs in order of first entry
	deliveries map[string]*Delivery
	lineOf     map[string]lineKey
	unassigned []string
}

func newXSozialReader() *xsozialReader {
	return &xsozialReader{lines: map[lineKey][]string{}, deliveries: map[string]*Delivery{}, lineOf: map[string]lineKey{}}
}

func (x *xsozialReader) entry(e register.Entry) {
	id := string(e.MessageID())
	if id == "" {
		return
	}
	d := x.deliveries[id]
	if d == nil {
		d = &Delivery{ID: id, Kind: "first", seq: e.Seq()}
		x.deliveries[id] = d
		if m := correlationRe.FindStringSubmatch(e.Correlation().String()); m != nil {
			k := lineKey{m[1], m[2], m[3] != ""}
			x.lines[k] = append(x.lines[k], id)
			x.lineOf[id] = k
		} else {
			x.unassigned = append(x.unassigned, id)
		}
	}
	at := e.Time().UTC()
	d.UpdatedAt = at
	ev := e.Event()
	switch {
	case ev == register.EventBuilt:
		d.BuiltAt = timePtr(at)
		d.Status, d.Check, d.Feedback = StatusBuilt, "", nil
		detail := e.Detail()
		if strings.Contains(detail, ", Lieferart 2,") {
			d.Kind = "correction"
		}
		if strings.HasPrefix(detail, "built ") && strings.Contains(detail, "_T.xml with ") {
			d.test = true
		}
		if r := e.Related(); r != "" {
			d.Supersedes = string(r)
		}
	case ev == register.EventChecked:
		if strings.HasPrefix(e.Detail(), "check PASSED") {
			d.Check, d.Status = "passed", StatusChecked
		} else {
			d.Check, d.Status = "failed", StatusCheckFailed
		}
	case ev == register.EventFeedback && e.Direction() == register.DirectionIn:
		d.Feedback = parseFeedback(e.Detail(), at)
	case isStateEvent(ev):
		st := register.MessageState(ev)
		d.State = st
		d.Status = statusOf(st)
		switch st {
		case register.MessageQueued:
			if d.QueuedAt == nil {
				d.QueuedAt = timePtr(at)
			}
			if r := e.Related(); r != "" && d.Supersedes == "" {
				d.Supersedes = string(r)
				if d.BuiltAt == nil {
					d.Kind = "resend"
				}
			}
		case register.MessageSent:
			d.SentAt = timePtr(at)
		}
	}
}

func statusOf(s register.MessageState) LineStatus {
	switch s {
	case register.MessageSent:
		return StatusSent
	case register.MessageAcknowledged:
		return StatusAccepted
	case register.MessageRejected:
		return StatusRejected
	case register.MessageDead:
		return StatusDead
	}
	return StatusSending // queued, sending, retry-wait
}

func (x *xsozialReader) section() XSozialSection {
	// A test delivery recorded under the production key by an older
	// version moves to its test line.
	for k, ids := range x.lines {
		if k.test {
			continue
		}
		var keep []string
		for _, id := range ids {
			if x.deliveries[id].test {
				tk := lineKey{k.traeger, k.month, true}
				x.lines[tk] = append(x.lines[tk], id)
				continue
			}
			keep = append(keep, id)
		}
		if len(keep) == 0 {
			delete(x.lines, k)
		} else {
			x.lines[k] = keep
		}
	}
	keys := make([]lineKey, 0, len(x.lines))
	for k := range x.lines {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := keys[i], keys[j]
		if a.traeger != b.traeger {
			return a.traeger < b.traeger
		}
		if a.month != b.month {
			return a.month < b.month
		}
		return !a.test && b.test
	})
	s := XSozialSection{Lines: []Line{}, Unassigned: []Delivery{}}
	for _, k := range keys {
		ids := x.lines[k]
		l := Line{Traeger: k.traeger, Month: k.month, Test: k.test}
		for _, id := range ids {
			l.Deliveries = append(l.Deliveries, *x.deliveries[id])
		}
		sort.SliceStable(l.Deliveries, func(i, j int) bool { return l.Deliveries[i].seq < l.Deliveries[j].seq })
		last := l.Deliveries[len(l.Deliveries)-1]
		l.Status = last.Status
		for i := len(l.Deliveries) - 1; i >= 0; i-- {
			d := l.Deliveries[i]
			if d.State == "" {
				continue // never queued: a build or check that did not reach the BA
			}
			l.CorrectionPending = d.State == register.MessageRejected
			break
		}
		s.Lines = append(s.Lines, l)
	}
	for _, id := range x.unassigned {
		s.Unassigned = append(s.Unassigned, *x.deliveries[id])
	}
	return s
}

// feedbackRe reads the summary monthly.Verdict records: "abgelehnt: 2
// Fehler, 1 Hinweise (R13_0030, R3_0010)".
var feedbackRe = regexp.MustCompile(`^(\S+): ([0-9]+) Fehler, ([0-9]+) Hinweise(?: \(([^)]*)\))?`)

func parseFeedback(detail string, at time.Time) *Feedback {
	f := &Feedback{Result: strings.TrimSuffix(firstWord(detail), ":"), Fehler: -1, Hinweise: -1, Rules: []string{}, At: at}
	m := feedbackRe.FindStringSubmatch(detail)
	if m == nil {
		return f
	}
	f.Result = m[1]
	f.Fehler, _ = strconv.Atoi(m[2])
	f.Hinweise, _ = strconv.Atoi(m[3])
	if m[4] != "" {
		for _, r := range strings.Split(m[4], ",") {
			if r = strings.TrimSpace(r); r != "" {
				f.Rules = append(f.Rules, r)
			}
		}
	}
	return f
}
