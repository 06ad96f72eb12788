package check

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"

	"meldeweg.dev/meldeweg/schemas"
	"meldeweg.dev/meldeweg/xsozial"
)

// RTX rules: file-level entry checks, kept in code (they concern the file,
// not the data model).
var rtxRules = map[string]struct {
	sev  Severity
	text string
}{
	"RTX_0010": {Fehler, "Die Datei ist nicht UTF-8-kodiert."},
	"RTX_0020": {Fehler, "Die Datei ist leer oder überschreitet die Größengrenze."},
	"RTX_0030": {Fehler, "Der Dateiname entspricht nicht der Konvention XSOZIAL_<Trägernummer>_<JJJJ-MM>_<T|P>.xml."},
	"RTX_0035": {Fehler, "Dateiname und Kopfdaten widersprechen sich."},
	"RTX_0040": {Fehler, "Kopfdaten fehlen oder sind unvollständig."},
	"RTX_0050": {Fehler, "Die Trägernummer stimmt nicht mit dem konfigurierten Träger überein."},
	"RTX_0051": {Hinweis, "Kein Träger konfiguriert: die Trägernummer wurde nicht abgeglichen."},
	"RTX_0060": {Fehler, "Der Berichtsmonat liegt in der Zukunft."},
	"RTX_0070": {Fehler, "Der Stichtag ist nicht der letzte Tag des Berichtsmonats."},
	"RTX_0080": {Fehler, "Die Schemaversion passt nicht zum Berichtsmonat."},
	"RTX_0090": {Fehler, "Der Erstellungszeitpunkt liegt in der Zukunft oder vor dem Beginn des Berichtsmonats."},
	"RTX_0100": {Fehler, "Die Lieferart ist nicht im Schlüsselkatalog."},
}

type rtxState struct {
	*run
	name    string
	kopf    *xsozial.Record
	kopfErr error
	okMonth bool

	// byte-level state
	tail       []byte // incomplete UTF-8 sequence carried between chunks
	line       int
	badUTF8    int // line of the first invalid byte, 0 if none
	first      bool
	declBad    string
	sizeReport bool
}

func (s *rtxState) find(id, module, merkmal string, line int, detail string) {
	r := rtxRules[id]
	s.lists[StageRTX].add(Finding{Stage: StageRTX, Rule: id, Severity: r.sev, Module: module, Merkmal: merkmal, Line: line, Text: r.text, Detail: detail})
}

// header checks the header fields and the file name.
func (s *rtxState) header() {
	k := s.kopf
	if k == nil {
		s.find("RTX_0040", "K", "", 0, s.kopfErr.Error())
		s.fileName(nil)
		return
	}
	fields := xsozial.KindKopf.Info().Fields
	for i, f := range fields {
		v := k.F[i]
		if v == "" {
			s.find("RTX_0040", "K", f.Merkmal, k.Line, fmt.Sprintf("<%s> fehlt", f.Elem))
			continue
		}
		if ok, exp := xsozial.CheckValue(f.Type, v); !ok {
			s.find("RTX_0040", "K", f.Merkmal, k.FieldLine(i), fmt.Sprintf("<%s>: erwartet %s", f.Elem, exp))
		}
	}
	s.rep.Traeger = k.F[xsozial.KTraeger]
	s.rep.Month = k.F[xsozial.KBerichtsmonat]
	now := s.opts.Now()
	m, okm := xsozial.ParseMonth(k.F[xsozial.KBerichtsmonat])
	s.okMonth = okm
	switch {
	case s.opts.Traeger == "":
		s.find("RTX_0051", "K", "K.1", k.FieldLine(xsozial.KTraeger), "")
	case k.F[xsozial.KTraeger] != s.opts.Traeger:
		s.find("RTX_0050", "K", "K.1", k.FieldLine(xsozial.KTraeger), "konfiguriert: "+s.opts.Traeger+", in der Datei: "+k.F[xsozial.KTraeger])
	}
	if okm {
		if schemas.MonthOf(now).Before(m) {
			s.find("RTX_0060", "K", "K.2", k.FieldLine(xsozial.KBerichtsmonat), "Berichtsmonat "+m.String())
		}
		if st, ok := xsozial.ParseDate(k.F[xsozial.KStichtag]); ok && st != xsozial.LastDay(m) {
			s.find("RTX_0070", "K", "K.3", k.FieldLine(xsozial.KStichtag), "")
		}
		if t, err := time.Parse(time.RFC3339, k.F[xsozial.KErstellt]); err == nil {
			if t.After(now.Add(time.Hour)) || t.Before(m.First()) {
				s.find("RTX_0090", "K", "K.4", k.FieldLine(xsozial.KErstellt), "")
			}
		}
	}
	s.fileName(k)
}

func (s *rtxState) fileName(k *xsozial.Record) {
	if s.name == "" || s.name == "-" {
		return
	}
	base := filepath.Base(s.name)
	m := FileNamePattern().FindStringSubmatch(base)
	if m == nil {
		s.find("RTX_0030", "K", "", 0, "Dateiname "+base)
		return
	}
	if k == nil {
		return
	}
	var diffs []string
	if m[1] != k.F[xsozial.KTraeger] {
		diffs = append(diffs, "Trägernummer")
	}
	if m[2] != k.F[xsozial.KBerichtsmonat] {
		diffs = append(diffs, "Berichtsmonat")
	}
	if m[3] != k.F[xsozial.KVerwendung] {
		diffs = append(diffs, "Test/Produktion")
	}
	if len(diffs) > 0 {
		s.find("RTX_0035", "K", "", 0, "abweichend: "+strings.Join(diffs, ", "))
	}
}

// month returns the reporting month of the header, if readable.
func (s *rtxState) month() (schemas.Month, bool) {
	if s.kopf == nil || !s.okMonth {
		return schemas.Month{}, false
	}
	m, _ := xsozial.ParseMonth(s.kopf.F[xsozial.KBerichtsmonat])
	return m, true
}

// bundle checks the header against the bundle chosen for its month.
func (s *rtxState) bundle(b *schemas.Bundle) {
	k := s.kopf
	if v := k.F[xsozial.KSchemaversion]; v != "" && v != b.Version {
		s.find("RTX_0080", "K", "K.9", k.FieldLine(xsozial.KSchemaversion), fmt.Sprintf("Schemaversion %s, für den Berichtsmonat gilt %s", v, b.ID()))
	}
	if spec, err := LoadSpec(b); err == nil {
		if v := k.F[xsozial.KLieferart]; v != "" && !spec.Catalog.Has("lieferart", v) {
			s.find("RTX_0100", "K", "K.7", k.FieldLine(xsozial.KLieferart), "Schlüssel "+v)
		}
	}
}

// observe sees every byte of the file, in order, on the fanout goroutine.
func (s *rtxState) observe(b []byte) {
	if !s.first {
		s.first = true
		s.line = 1
		if bytes.HasPrefix(bytes.TrimPrefix(b, []byte{0xEF, 0xBB, 0xBF}), []byte("<?xml")) {
			end := bytes.Index(b, []byte("?>"))
			if end > 0 {
				decl := string(b[:end])
				if i := strings.Index(decl, "encoding="); i >= 0 && len(decl) > i+10 {
					q := decl[i+9]
					enc := decl[i+10:]
					if j := strings.IndexByte(enc, q); j >= 0 {
						enc = enc[:j]
					}
					if !strings.EqualFold(enc, "UTF-8") {
						s.declBad = enc
					}
				}
			}
		}
	}
	if s.badUTF8 != 0 {
		return
	}
	if len(s.tail) > 0 {
		need := append(append([]byte(nil), s.tail...), b[:min(len(b), 4)]...)
		r, size := utf8.DecodeRune(need)
		if r == utf8.RuneError && size <= 1 {
			s.badUTF8 = s.line
			return
		}
		b = b[size-len(s.tail):]
		s.tail = s.tail[:0]
	}
	t := utf8Tail(b)
	body := b[:len(b)-t]
	if !utf8.Valid(body) {
		for i := 0; i < len(body); {
			r, size := utf8.DecodeRune(body[i:])
			if r == utf8.RuneError && size <= 1 {
				s.badUTF8 = s.line + bytes.Count(body[:i], []byte{'\n'})
				return
			}
			i += size
		}
	}
	s.line += bytes.Count(body, []byte{'\n'})
	s.tail = append(s.tail[:0], b[len(b)-t:]...)
}

// finish adds the findings that need the whole file.
func (s *rtxState) finish(total int64) {
	if s.badUTF8 == 0 && len(s.tail) > 0 {
		s.badUTF8 = s.line
	}
	if s.declBad != "" {
		s.find("RTX_0010", "K", "", 1, "XML-Deklaration nennt encoding=\""+s.declBad+"\"")
	}
	if s.badUTF8 != 0 {
		s.find("RTX_0010", "K", "", s.badUTF8, "erstes ungültiges Byte in dieser Zeile")
	}
	if total == 0 {
		s.find("RTX_0020", "K", "", 0, "die Datei ist leer")
	} else if total > s.opts.MaxBytes {
		s.find("RTX_0020", "K", "", 0, fmt.Sprintf("%d Bytes, Grenze %d Bytes", total, s.opts.MaxBytes))
	}
}
