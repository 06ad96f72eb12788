package scheduler_test

import (
	"strings"
	"testing"
	"time"

	"meldeweg.dev/meldeweg/flow/scheduler"
)

func berlin(y int, m time.Month, d, hh, mm int) time.Time {
	return time.Date(y, m, d, hh, mm, 0, 0, scheduler.Berlin)
}

func TestWorkingDaySkipsWeekendsAndHolidays(t *testing.T) {
	s, err := scheduler.Parse("workday 3 06:00", nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		after time.Time
		want  time.Time
	}{
		{"November 2026 starts on a Sunday", berlin(2026, 10, 31, 0, 0), berlin(2026, 11, 4, 6, 0)},
		{"Neujahr on a Friday", berlin(2026, 12, 31, 0, 0), berlin(2027, 1, 6, 6, 0)},
		{"Karfreitag and Ostermontag 2026", berlin(2026, 3, 31, 0, 0), berlin(2026, 4, 7, 6, 0)},
		{"Tag der Arbeit 2026 is a Friday", berlin(2026, 4, 30, 0, 0), berlin(2026, 5, 6, 6, 0)},
		{"strictly after: the same time is not due again", berlin(2026, 11, 4, 6, 0), berlin(2026, 12, 3, 6, 0)},
	}
	for _, tt := range tests {
		if got := s.Next(tt.after); !got.Equal(tt.want) {
			t.Errorf("%s: Next(%s) = %s, want %s", tt.name, tt.after, got, tt.want)
		}
	}
}

func TestEasterHolidays(t *testing.T) {
	for _, d := range []time.Time{berlin(2024, 3, 29, 0, 0), berlin(2025, 4, 21, 0, 0), berlin(2027, 5, 6, 0, 0), berlin(2026, 5, 25, 0, 0)} {
		if !scheduler.IsHoliday(d) {
			t.Errorf("%s should be a holiday (Karfreitag 2024, Ostermontag 2025, Himmelfahrt 2027, Pfingstmontag 2026)", d.Format("2006-01-02"))
		}
	}
	if scheduler.IsHoliday(berlin(2026, 4, 8, 0, 0)) {
		t.Error("2026-04-08 is no holiday")
	}
}

func TestParseCronRunsInBerlin(t *testing.T) {
	s, err := scheduler.Parse("0 6 * * *", nil)
	if err != nil {
		t.Fatal(err)
	}
	// 05:30 UTC on a winter day is 06:30 in Berlin: the next 06:00 Berlin is tomorrow.
	got := s.Next(time.Date(2026, 12, 1, 5, 30, 0, 0, time.UTC))
	if want := berlin(2026, 12, 2, 6, 0); !got.Equal(want) {
		t.Errorf("Next = %s, want %s", got, want)
	}
}

func TestParseErrorsNameTheSpec(t *testing.T) {
	for _, spec := range []string{"", "workday 0 06:00", "workday 3 25:00", "workday three 06:00", "61 * * * *", "every day"} {
		_, err := scheduler.Parse(spec, nil)
		if err == nil {
			t.Errorf("Parse(%q) accepted", spec)
			continue
		}
		if spec != "" && !strings.Contains(err.Error(), spec) {
			t.Errorf("Parse(%q): %v does not name the spec", spec, err)
		}
	}
}

func TestDueCatchesUpOnce(t *testing.T) {
	s, _ := scheduler.Parse("0 6 * * *", nil)
	last := berlin(2026, 11, 2, 6, 0) // Monday's run
	now := berlin(2026, 11, 5, 12, 0) // Thursday noon: Tue, Wed, Thu were missed
	at, due := scheduler.Due(s, last, time.Time{}, now)
	if !due || !at.Equal(berlin(2026, 11, 5, 6, 0)) {
		t.Fatalf("Due = %s, %v; want one run for Thursday 06:00", at, due)
	}
	if _, due := scheduler.Due(s, at, time.Time{}, now); due {
		t.Error("after the catch-up run the job is due again the same day")
	}
	if _, due := scheduler.Due(s, time.Time{}, now, now); due {
		t.Error("a job that never ran is due before its first tick after Since")
	}
}
