package scheduler

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// Schedule says when a job is due next: the first scheduled time strictly
// after t. robfig/cron's schedules satisfy it.
type Schedule interface {
	Next(t time.Time) time.Time
}

// Berlin is the default time zone of every schedule: the BA's deadlines
// and a Jobcenter's working hours are German local time. Tests and
// operators can name another zone with CRON_TZ= in the spec.
var Berlin = mustLoad("Europe/Berlin")

func mustLoad(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(fmt.Sprintf("scheduler: time zone %s: %v (install tzdata or import time/tzdata)", name, err))
	}
	return loc
}

// Parse reads a schedule spec:
//
//   - a cron expression in the standard five fields (minute hour
//     day-of-month month day-of-week) or a descriptor such as @daily or
//     "@every 5m", through robfig/cron; it runs in loc (Europe/Berlin when
//     nil) unless the spec starts with CRON_TZ=Zone;
//   - "workday N HH:MM": the N-th working day of every month (Monday to
//     Friday, German nationwide public holidays excluded, see WorkingDay)
//     at HH:MM in loc, the form the monthly § 51b delivery needs ("on the
//     3rd working day at 06:00"), which cron cannot express.
//
// An error names the spec and what was expected.
func Parse(spec string, loc *time.Location) (Schedule, error) {
	if loc == nil {
		loc = Berlin
	}
	spec = strings.TrimSpace(spec)
	if rest, ok := strings.CutPrefix(spec, "workday "); ok {
		return parseWorkday(spec, strings.TrimSpace(rest), loc)
	}
	if spec == "" {
		return nil, fmt.Errorf("schedule is empty: want a cron expression (\"0 6 * * *\"), a descriptor (\"@every 5m\") or \"workday N HH:MM\"")
	}
	cronSpec := spec
	if !strings.HasPrefix(spec, "CRON_TZ=") && !strings.HasPrefix(spec, "TZ=") && !strings.HasPrefix(spec, "@every") {
		cronSpec = "CRON_TZ=" + loc.String() + " " + spec
	}
	s, err := cron.ParseStandard(cronSpec)
	if err != nil {
		return nil, fmt.Errorf("schedule %q: %v (want five cron fields, a descriptor such as @daily or \"@every 5m\", or \"workday N HH:MM\")", spec, err)
	}
	return s, nil
}

func parseWorkday(spec, rest string, loc *time.Location) (Schedule, error) {
	bad := func(why string) error {
		return fmt.Errorf("schedule %q: %s (want \"workday N HH:MM\", N from 1 to 15)", spec, why)
	}
	fields := strings.Fields(rest)
	if len(fields) != 2 {
		return nil, bad("wrong number of fields")
	}
	n, err := strconv.Atoi(fields[0])
	if err != nil || n < 1 || n > 15 {
		return nil, bad(fmt.Sprintf("%q is not a working day number", fields[0]))
	}
	at, err := time.Parse("15:04", fields[1])
	if err != nil {
		return nil, bad(fmt.Sprintf("%q is not a time of day", fields[1]))
	}
	return WorkingDay{N: n, Hour: at.Hour(), Minute: at.Minute(), Loc: loc}, nil
}

// WorkingDay is due on the N-th working day of every month at Hour:Minute
// in Loc. Working days are Monday to Friday except the German nationwide
// public holidays (IsHoliday).
//
// Limits: holidays of single Länder (Fronleichnam, Reformationstag, …) are
// not known; a Land that has one on an early working day shifts the run by
// a day at most, which the monthly flow tolerates (it runs until accepted).
type WorkingDay struct {
	N            int
	Hour, Minute int
	Loc          *time.Location
}

// Next returns the first N-th-working-day time strictly after t.
func (w WorkingDay) Next(t time.Time) time.Time {
	loc := w.Loc
	if loc == nil {
		loc = Berlin
	}
	lt := t.In(loc)
	y, m := lt.Year(), lt.Month()
	for range 24 { // this month or a later one; 24 is far more than ever needed
		if at := w.in(y, m, loc); at.After(t) {
			return at
		}
		m++
		if m > time.December {
			m, y = time.January, y+1
		}
	}
	return time.Time{}
}

// in returns the N-th working day of year y, month m at the set time.
func (w WorkingDay) in(y int, m time.Month, loc *time.Location) time.Time {
	count := 0
	for d := 1; d <= 31; d++ {
		day := time.Date(y, m, d, w.Hour, w.Minute, 0, 0, loc)
		if day.Month() != m {
			break
		}
		if day.Weekday() == time.Saturday || day.Weekday() == time.Sunday || IsHoliday(day) {
			continue
		}
		if count++; count == w.N {
			return day
		}
	}
	return time.Date(y, m+1, 1, w.Hour, w.Minute, 0, 0, loc).AddDate(0, 0, -1) // fewer working days than N: the last day
}

// IsHoliday reports whether t's date is a German nationwide public holiday:
// Neujahr, Karfreitag, Ostermontag, Tag der Arbeit, Christi Himmelfahrt,
// Pfingstmontag, Tag der Deutschen Einheit and both Weihnachtstage.
func IsHoliday(t time.Time) bool {
	y, m, d := t.Date()
	switch {
	case m == time.January && d == 1, m == time.May && d == 1, m == time.October && d == 3,
		m == time.December && (d == 25 || d == 26):
		return true
	}
	easter := easterSunday(y)
	date := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	for _, off := range []int{-2, 1, 39, 50} {
		if date.Equal(easter.AddDate(0, 0, off)) {
			return true
		}
	}
	return false
}

// easterSunday computes Easter Sunday of the Gregorian year y (the
// anonymous Gregorian algorithm, also known as Meeus/Jones/Butcher).
func easterSunday(y int) time.Time {
	a := y % 19
	b, c := y/100, y%100
	d, e := b/4, b%4
	f := (b + 8) / 25
	g := (b - f + 1) / 3
	h := (19*a + b - d - g + 15) % 30
	i, k := c/4, c%4
	l := (32 + 2*e + 2*i - h - k) % 7
	m := (a + 11*h + 22*l) / 451
	month := (h + l - 7*m + 114) / 31
	day := (h+l-7*m+114)%31 + 1
	return time.Date(y, time.Month(month), day, 0, 0, 0, 0, time.UTC)
}

// maxCatchUpSteps bounds the walk in Due over missed ticks: a job every
// minute that was down for a year has 525,600; past the bound Due still
// reports one run, scheduled for the last tick it walked to.
const maxCatchUpSteps = 1 << 20

// Due reports whether a job is due at now and for which scheduled time.
// last is the scheduled time of the job's latest run (zero: never ran;
// then since, when the scheduler first knew the job, stands in for it).
// Every tick after last up to now collapses into one run, scheduled for
// the latest of them: a service that was down over several ticks catches
// up once, never once per missed tick.
func Due(s Schedule, last, since, now time.Time) (time.Time, bool) {
	if last.IsZero() {
		last = since
	}
	next := s.Next(last)
	if next.IsZero() || next.After(now) {
		return time.Time{}, false
	}
	for range maxCatchUpSteps {
		after := s.Next(next)
		if after.IsZero() || after.After(now) {
			break
		}
		next = after
	}
	return next, true
}
