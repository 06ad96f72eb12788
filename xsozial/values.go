package xsozial

import (
	"strings"
	"time"

	"meldeweg.dev/meldeweg/schemas"
)

// CheckValue reports whether v has the shape of type t as the model's XSD
// defines it, and if not, what was expected. Values are as in the XML
// (amounts with two decimals, "J"/"N").
func CheckValue(t FieldType, v string) (ok bool, expected string) {
	switch t {
	case TText:
		n := len([]rune(v))
		return n >= 1 && n <= 60 && !strings.ContainsAny(v, "\r\n\t"), "text of 1 to 60 characters on one line"
	case TTraeger:
		return digits(v, 5), "five digits"
	case TBGNummer:
		return len(v) == 14 && digits(v[:5], 5) && v[5:7] == "BG" && digits(v[7:], 7), "five digits, \"BG\", seven digits (e.g. 12345BG0000042)"
	case TKundennummer:
		return len(v) == 10 && digits(v[:3], 3) && v[3] >= 'A' && v[3] <= 'Z' && digits(v[4:], 6), "three digits, a capital letter, six digits (e.g. 123A456789)"
	case TAktenzeichen:
		if len(v) < 1 || len(v) > 20 {
			return false, "1 to 20 letters, digits, \"/\" or \"-\""
		}
		for i := 0; i < len(v); i++ {
			c := v[i]
			if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c == '/' || c == '-') {
				return false, "1 to 20 letters, digits, \"/\" or \"-\""
			}
		}
		return true, ""
	case TMonat:
		_, ok := ParseMonth(v)
		return ok, "a month YYYY-MM"
	case TDatum:
		_, ok := ParseDate(v)
		return ok, "a date YYYY-MM-DD"
	case TZeit:
		_, err := time.Parse(time.RFC3339, v)
		return err == nil, "a date and time (RFC 3339), e.g. 2026-11-02T08:00:00Z"
	case TBetrag:
		i := strings.IndexByte(v, '.')
		return i >= 1 && i <= 9 && len(v) == i+3 && digits(v[:i], i) && digits(v[i+1:], 2), "an amount in euros with two decimals, not negative, below 1,000,000,000"
	case TStunden:
		return decimal1(v, 2), "hours from 0 to 99.9 with at most one decimal"
	case TFlaeche:
		return decimal1(v, 4), "square metres from 0 to 9999.9 with at most one decimal"
	case TSchluessel:
		return len(v) >= 1 && len(v) <= 3 && digits(v, len(v)), "a key of one to three digits"
	case TJaNein:
		return v == "J" || v == "N", "J or N"
	case TVerwendung:
		return v == "T" || v == "P", "T (test) or P (production)"
	}
	return false, "a known type"
}

func digits(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// decimal1 accepts up to maxInt integer digits and at most one decimal.
func decimal1(v string, maxInt int) bool {
	ip, fp, dot := strings.Cut(v, ".")
	if len(ip) < 1 || len(ip) > maxInt || !digits(ip, len(ip)) {
		return false
	}
	if dot {
		return len(fp) == 1 && digits(fp, 1)
	}
	return true
}

// Date is a calendar date packed as the integer yyyymmdd: it compares
// correctly and costs nothing to build.
type Date int32

// ParseDate parses YYYY-MM-DD into a packed yyyymmdd Date, checking that
// the day exists.
func ParseDate(s string) (Date, bool) {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' || !digits(s[:4], 4) || !digits(s[5:7], 2) || !digits(s[8:], 2) {
		return 0, false
	}
	y := atoi(s[:4])
	m := atoi(s[5:7])
	d := atoi(s[8:])
	if m < 1 || m > 12 || d < 1 || d > daysIn(y, m) || y < 1 {
		return 0, false
	}
	return Date(y*10000 + m*100 + d), true
}

// Year, Month and Day take a Date apart.
func (d Date) Year() int  { return int(d) / 10000 }
func (d Date) Month() int { return int(d) / 100 % 100 }
func (d Date) Day() int   { return int(d) % 100 }

// AgeAt returns the completed years of a person born on d at date at.
func (d Date) AgeAt(at Date) int {
	age := at.Year() - d.Year()
	if at.Month()*100+at.Day() < d.Month()*100+d.Day() {
		age--
	}
	return age
}

// LastDay returns the last day of m as a Date.
func LastDay(m schemas.Month) Date {
	return Date(m.Year*10000 + int(m.Month)*100 + daysIn(m.Year, int(m.Month)))
}

// FirstDay returns the first day of m as a Date.
func FirstDay(m schemas.Month) Date { return Date(m.Year*10000 + int(m.Month)*100 + 1) }

// ParseMonth parses YYYY-MM without allocating.
func ParseMonth(s string) (schemas.Month, bool) {
	if len(s) != 7 || s[4] != '-' || !digits(s[:4], 4) || !digits(s[5:], 2) {
		return schemas.Month{}, false
	}
	m := atoi(s[5:])
	y := atoi(s[:4])
	if m < 1 || m > 12 || y < 1 {
		return schemas.Month{}, false
	}
	return schemas.Month{Year: y, Month: time.Month(m)}, true
}

// ParseCents parses an amount with two decimals into cents.
func ParseCents(s string) (int64, bool) {
	if ok, _ := CheckValue(TBetrag, s); !ok {
		return 0, false
	}
	var c int64
	for i := 0; i < len(s); i++ {
		if s[i] != '.' {
			c = c*10 + int64(s[i]-'0')
		}
	}
	return c, true
}

// ParseTenths parses a decimal with at most one decimal into tenths.
func ParseTenths(s string) (int64, bool) {
	ip, fp, dot := strings.Cut(s, ".")
	if ip == "" || !digits(ip, len(ip)) || len(ip) > 9 || (dot && (len(fp) != 1 || !digits(fp, 1))) {
		return 0, false
	}
	v := int64(atoi(ip)) * 10
	if dot {
		v += int64(fp[0] - '0')
	}
	return v, true
}

// Window returns the first and last month a file for month holds.
func Window(month schemas.Month) (first, last schemas.Month) {
	return month.AddMonths(-WaitingMonths), month
}

// InWindow reports whether m lies in the window of month.
func InWindow(m, month schemas.Month) bool {
	first, last := Window(month)
	return !m.Before(first) && !last.Before(m)
}

func atoi(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		n = n*10 + int(s[i]-'0')
	}
	return n
}

func daysIn(y, m int) int {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}
