package monthly

import (
	"context"
	"fmt"

	"meldeweg.dev/meldeweg/schemas"
	"meldeweg.dev/meldeweg/xsozial/check"
)

// CheckDataset checks a dataset that is about to be sent the way "xsozial
// check" and Run do: RTX (file level, against traeger when it is set),
// VTX (XSD of the bundle in force for the file's month) and PTX (that
// bundle's plausibility rules). The dataset may be sent only when the
// report Passed. The error is set only when the file cannot be read.
func CheckDataset(ctx context.Context, path string, reg *schemas.Registry, traeger string) (*check.Report, error) {
	return check.CheckFile(ctx, path, check.Options{Registry: reg, Traeger: traeger})
}

// Refusal sums up the Fehler of a failed check without personal data: one
// line per stage that did not pass, then one per rule with Fehler (stage,
// rule, count, the first line, the rule's text). Record keys (BG-Nummer,
// Kundennummer) and field values are left out; "meldeweg xsozial check"
// writes the full report.
func Refusal(rep *check.Report) []string {
	var out []string
	for _, s := range rep.Stages {
		if s.Status != check.StatusPassed {
			out = append(out, fmt.Sprintf("%s %s: %d Fehler, %d Hinweise", s.Stage, s.Status, s.Fehler, s.Hinweise))
		}
	}
	type rule struct {
		f check.Finding
		n int
	}
	byRule := map[string]*rule{}
	var order []string
	for _, f := range rep.Findings {
		if f.Severity != check.Fehler {
			continue
		}
		r := byRule[f.Rule]
		if r == nil {
			r = &rule{f: f}
			byRule[f.Rule] = r
			order = append(order, f.Rule)
		}
		r.n++
	}
	for _, id := range order {
		r := byRule[id]
		at := ""
		if r.f.Line > 0 {
			at = fmt.Sprintf(", first at line %d", r.f.Line)
		}
		out = append(out, fmt.Sprintf("%s %s: %d Fehler%s: %s", r.f.Stage, id, r.n, at, r.f.Text))
	}
	return out
}
