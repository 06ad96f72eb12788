package schemas

import (
	"fmt"
	"time"
)

// Month is a reporting month (Berichtsmonat). A bundle's validity starts at
// a Stichtag month; a delivery names the month it reports.
type Month struct {
	Year  int
	Month time.Month
}

// ParseMonth parses "YYYY-MM".
func ParseMonth(s string) (Month, error) {
	t, err := time.Parse("2006-01", s)
	if err != nil || len(s) != 7 {
		return Month{}, fmt.Errorf("month %q: expected YYYY-MM, e.g. 2026-10", s)
	}
	return Month{Year: t.Year(), Month: t.Month()}, nil
}

// MonthOf returns the month t falls in.
func MonthOf(t time.Time) Month { return Month{Year: t.Year(), Month: t.Month()} }

func (m Month) String() string {
	if m.IsZero() {
		return ""
	}
	return fmt.Sprintf("%04d-%02d", m.Year, int(m.Month))
}

// IsZero reports whether m is the zero Month.
func (m Month) IsZero() bool { return m.Year == 0 && m.Month == 0 }

// Index is a monotonic number for m: months since year 0.
func (m Month) Index() int { return m.Year*12 + int(m.Month) - 1 }

// Before reports whether m is earlier than o.
func (m Month) Before(o Month) bool { return m.Index() < o.Index() }

// AddMonths returns m shifted by n months (n may be negative).
func (m Month) AddMonths(n int) Month {
	i := m.Index() + n
	return Month{Year: i / 12, Month: time.Month(i%12 + 1)}
}

// First returns the first day of m in UTC.
func (m Month) First() time.Time { return time.Date(m.Year, m.Month, 1, 0, 0, 0, 0, time.UTC) }

// Last returns the last day of m in UTC.
func (m Month) Last() time.Time { return m.AddMonths(1).First().AddDate(0, 0, -1) }

// MarshalText implements encoding.TextMarshaler.
func (m Month) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (m *Month) UnmarshalText(b []byte) error {
	v, err := ParseMonth(string(b))
	if err != nil {
		return err
	}
	*m = v
	return nil
}
