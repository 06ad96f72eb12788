package status

import (
	"strconv"

	"meldeweg.dev/meldeweg/emaw"
	"meldeweg.dev/meldeweg/emaw/due"
)

// DeadlineSection is the eM@w reports due or overdue on a day.
type DeadlineSection struct {
	// Date is the day the deadlines are judged on.
	Date emaw.Date `json:"date"`
	// Available is false when the deadlines could not be computed; Note
	// says why (for example, no eM@w encryption identity configured).
	Available bool   `json:"available"`
	Note      string `json:"note,omitempty"`
	// Due and Overdue count Items by status.
	Due     int            `json:"due"`
	Overdue int            `json:"overdue"`
	Items   []DeadlineItem `json:"items"`
	// Skipped says what the register held that could not be used (see
	// exchange.StateReport.Skipped).
	Skipped []string `json:"skipped"`
}

// DeadlineItem is one report owed (see due.Item). Participants are named
// by pseudonym and measure, never by personal data.
type DeadlineItem struct {
	Type       string     `json:"type"`
	Massnahme  string     `json:"massnahme"`
	Teilnehmer string     `json:"teilnehmer,omitempty"`
	Period     string     `json:"period"`
	Deadline   emaw.Date  `json:"deadline"`
	Status     due.Status `json:"status"`
}

// AddDeadlines lists what s owes on day (due.List) into the report, and
// an attention line when something is overdue. skipped is what the state
// left out.
func (r *Report) AddDeadlines(s due.State, day emaw.Date, skipped []string) error {
	items, err := due.List(s, day)
	if err != nil {
		return err
	}
	d := &DeadlineSection{Date: day, Available: true, Items: []DeadlineItem{}, Skipped: append([]string{}, skipped...)}
	for _, it := range items {
		d.Items = append(d.Items, DeadlineItem{Type: string(it.Type), Massnahme: it.Massnahme.String(), Teilnehmer: it.Teilnehmer,
			Period: it.Period, Deadline: it.Deadline, Status: it.Status})
		if it.Status == due.StatusOverdue {
			d.Overdue++
		} else {
			d.Due++
		}
	}
	r.Deadlines = d
	if d.Overdue > 0 {
		r.Attention = append(r.Attention, strconv.Itoa(d.Overdue)+" eM@w report(s) overdue")
	}
	return nil
}

// NoDeadlines records that the deadlines were not computed, and why.
func (r *Report) NoDeadlines(day emaw.Date, why string) {
	r.Deadlines = &DeadlineSection{Date: day, Note: why, Items: []DeadlineItem{}, Skipped: []string{}}
}
