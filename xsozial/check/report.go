package check

import (
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"strings"
	"sync"
	"text/tabwriter"
)

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// Verdict is the one-word outcome: PASSED or FAILED.
func (r *Report) Verdict() string {
	if r.Passed {
		return "PASSED"
	}
	return "FAILED"
}

// figureRows are the key figures with their German labels.
func (r *Report) figureRows() [][2]string {
	f := r.Figures
	i := func(n int) string { return fmt.Sprint(n) }
	return [][2]string{
		{"Bedarfsgemeinschaften (BG)", i(f.BGs)},
		{"BG im Berichtsmonat", i(f.BGsImBerichtsmonat)},
		{"BG-Monate (Zahlmonate)", i(f.BGMonate)},
		{"Personenmonate", i(f.Personen)},
		{"Personen im Berichtsmonat", i(f.PersonenImBerichtsmonat)},
		{"Erwerbsfähige Leistungsberechtigte im Berichtsmonat", i(f.ELbImBerichtsmonat)},
		{"Ansprüche (Modul 7)", i(f.Ansprueche)},
		{"Maßnahmen (Modul 13)", i(f.Massnahmen)},
		{"Phasen der Arbeitsuche (Modul 14)", i(f.Arbeitsuche)},
		{"Widersprüche und Klagen (Modul 16)", i(f.Widersprueche)},
		{"BuT-Leistungen (Modul 18)", i(f.BuT)},
		{"Monate mit Einnahmen/Ausgaben (Modul 1)", i(f.Finanzmonate)},
		{"Zahlbetrag im Berichtsmonat (EUR)", f.ZahlbetragBerichtsmonat},
	}
}

// WriteText writes the report for a terminal: a summary per stage, the
// key figures, then one line per finding.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "file:          %s (%d bytes)\n", r.File, r.Bytes)
	fmt.Fprintf(&b, "Träger:        %s\n", orDash(r.Traeger))
	fmt.Fprintf(&b, "Berichtsmonat: %s\n", orDash(r.Month))
	bundle := orDash(r.Bundle)
	if r.Model {
		bundle += " (model, not the BA's schema)"
	}
	fmt.Fprintf(&b, "bundle:        %s\n\n", bundle)
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STAGE\tSTATUS\tFEHLER\tHINWEISE\tNOTE")
	for _, s := range r.Stages {
		note := s.Note
		if s.Omitted > 0 {
			note = strings.TrimSpace(note + fmt.Sprintf(" (%d findings not listed)", s.Omitted))
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\n", s.Stage, s.Status, s.Fehler, s.Hinweise, note)
	}
	tw.Flush()
	b.WriteString("\nKennzahlen\n")
	tw = tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	for _, row := range r.figureRows() {
		fmt.Fprintf(tw, "  %s\t%s\n", row[0], row[1])
	}
	tw.Flush()
	if len(r.Findings) > 0 {
		b.WriteString("\nFindings\n")
		for _, f := range r.Findings {
			b.WriteString(f.String())
			b.WriteByte('\n')
		}
	}
	fmt.Fprintf(&b, "\nresult: %s\n", r.Verdict())
	_, err := io.WriteString(w, b.String())
	return err
}

// String is the finding on one line:
// "line 12: PTX R3_0020 Fehler Modul 3 Merkmal 3.1 BG … Kundennummer …: text (detail)".
func (f Finding) String() string {
	var b strings.Builder
	if f.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", f.Line)
	}
	fmt.Fprintf(&b, "%s %s %s", f.Stage, f.Rule, f.Severity)
	if f.Module != "" {
		fmt.Fprintf(&b, " Modul %s", f.Module)
	}
	if f.Merkmal != "" {
		fmt.Fprintf(&b, " Merkmal %s", f.Merkmal)
	}
	if f.BG != "" {
		fmt.Fprintf(&b, " BG %s", f.BG)
	}
	if f.Kundennummer != "" {
		fmt.Fprintf(&b, " Kundennummer %s", f.Kundennummer)
	}
	fmt.Fprintf(&b, ": %s", f.Text)
	if f.Detail != "" {
		fmt.Fprintf(&b, " (%s)", f.Detail)
	}
	return b.String()
}

func orDash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}

// htmlTmpl is parsed at first use, not at start-up.
var htmlTmpl = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("report").Funcs(template.FuncMap{
		"statusDE": func(s Status) string {
			switch s {
			case StatusPassed:
				return "bestanden"
			case StatusFailed:
				return "nicht bestanden"
			}
			return "nicht vollständig durchgeführt"
		},
	}).Parse(`<!DOCTYPE html>
<html lang="de">
<head>
<meta charset="utf-8">
<title>Prüfbericht {{.R.File}}</title>
<style>
body { font-family: sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #bbb; padding: 0.3em 0.6em; text-align: left; vertical-align: top; }
th { background: #eee; }
td.num { text-align: right; }
.passed { color: #065f1a; font-weight: bold; }
.failed, .incomplete { color: #a01010; font-weight: bold; }
.Fehler { background: #fde8e8; }
.Hinweis { background: #fff8e0; }
.verdict { font-size: 1.4em; }
</style>
</head>
<body>
<h1>Prüfbericht XSozial-BA-SGB II</h1>
<p class="verdict">Ergebnis: {{if .R.Passed}}<span class="passed">Die Lieferung hat alle Prüfstufen bestanden.</span>{{else}}<span class="failed">Die Lieferung hat nicht alle Prüfstufen bestanden.</span>{{end}}</p>
<table>
<tr><th>Datei</th><td>{{.R.File}} ({{.R.Bytes}} Bytes)</td></tr>
<tr><th>Trägernummer</th><td>{{.R.Traeger}}</td></tr>
<tr><th>Berichtsmonat</th><td>{{.R.Month}}</td></tr>
<tr><th>Schema</th><td>{{.R.Bundle}}{{if .R.Model}} (Modell des Meldeweg-Projekts, nicht das Schema der BA){{end}}</td></tr>
</table>
<h2>Prüfstufen</h2>
<table>
<tr><th>Stufe</th><th>Bedeutung</th><th>Ergebnis</th><th>Fehler</th><th>Hinweise</th><th>Bemerkung</th></tr>
{{range .R.Stages}}<tr><td>{{.Stage}}</td><td>{{index $.Meaning .Stage}}</td><td class="{{.Status}}">{{statusDE .Status}}</td><td class="num">{{.Fehler}}</td><td class="num">{{.Hinweise}}</td><td>{{.Note}}{{if .Omitted}} ({{.Omitted}} Befunde nicht aufgeführt){{end}}</td></tr>
{{end}}</table>
<h2>Kennzahlen</h2>
<table>
{{range .Figures}}<tr><th>{{index . 0}}</th><td class="num">{{index . 1}}</td></tr>
{{end}}</table>
<h2>Fehler und Hinweise</h2>
{{if .R.Findings}}<table>
<tr><th>Zeile</th><th>Stufe</th><th>Regel</th><th>Schwere</th><th>Modul</th><th>Merkmal</th><th>BG-Nummer</th><th>Kundennummer</th><th>Beschreibung</th></tr>
{{range .R.Findings}}<tr class="{{.Severity}}"><td class="num">{{if .Line}}{{.Line}}{{end}}</td><td>{{.Stage}}</td><td>{{.Rule}}</td><td>{{.Severity}}</td><td>{{.Module}}</td><td>{{.Merkmal}}</td><td>{{.BG}}</td><td>{{.Kundennummer}}</td><td>{{.Text}}{{if .Detail}} <small>({{.Detail}})</small>{{end}}</td></tr>
{{end}}</table>{{else}}<p>Keine.</p>{{end}}
<p><small>Erstellt von Meldeweg. Die Befunde nennen Datensätze nur über BG-Nummer und Kundennummer, nie über Namen oder Geburtsdaten.</small></p>
</body>
</html>
`))
})

// WriteHTML writes the report as a self-contained HTML page for a
// Sachbearbeiter (German labels).
func (r *Report) WriteHTML(w io.Writer) error {
	return htmlTmpl().Execute(w, map[string]any{
		"R":       r,
		"Figures": r.figureRows(),
		"Meaning": map[Stage]string{
			StageRTX: "Eingangsprüfung der Datei (Kopfdaten, Träger, Dateiname, Kodierung, Größe)",
			StageVTX: "Prüfung gegen das XML-Schema",
			StagePTX: "Plausibilitätsprüfung (Regeln des Schemas)",
		},
	})
}
