package emaw

import (
	"testing"
	"time"
)

func TestMassnahmenummer(t *testing.T) {
	tests := []struct {
		in      Massnahmenummer
		ok      bool
		compact string
	}{
		{"123/21/1/14", true, "12321114"},
		{"12321114", true, "12321114"},
		{"123/21/1/2014", false, "123/21/1/2014"},
		{"12/21/1/14", false, "12/21/1/14"},
		{"1232111", false, "1232111"},
		{"", false, ""},
	}
	for _, tt := range tests {
		if err := tt.in.Check(); (err == nil) != tt.ok {
			t.Errorf("Check(%q) = %v, want ok=%v", tt.in, err, tt.ok)
		}
		if got := tt.in.Compact(); got != tt.compact {
			t.Errorf("Compact(%q) = %q, want %q", tt.in, got, tt.compact)
		}
	}
}

func TestWoche(t *testing.T) {
	tests := []struct {
		in             string
		monday, sunday string
		wantErr        bool
	}{
		{in: "2026-W10", monday: "2026-03-02", sunday: "2026-03-08"},
		{in: "2026-W01", monday: "2025-12-29", sunday: "2026-01-04"},
		{in: "2020-W53", monday: "2020-12-28", sunday: "2021-01-03"},
		{in: "2026-W53", monday: "2026-12-28", sunday: "2027-01-03"},
		{in: "2025-W53", wantErr: true},
		{in: "2026-10", wantErr: true},
		{in: "2026-W00", wantErr: true},
	}
	for _, tt := range tests {
		w, err := ParseWoche(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("ParseWoche(%q) err = %v, wantErr %v", tt.in, err, tt.wantErr)
			continue
		}
		if err != nil {
			continue
		}
		if got := w.Monday().String(); got != tt.monday {
			t.Errorf("%s Monday = %s, want %s", tt.in, got, tt.monday)
		}
		if got := w.Sunday().String(); got != tt.sunday {
			t.Errorf("%s Sunday = %s, want %s", tt.in, got, tt.sunday)
		}
		if got := WeekOf(w.Sunday()).String(); got != tt.in {
			t.Errorf("WeekOf(%s) = %s, want %s", w.Sunday(), got, tt.in)
		}
	}
}

func TestDate(t *testing.T) {
	d := MustDate("2026-02-28")
	if got := d.AddDays(1).String(); got != "2026-03-01" {
		t.Errorf("AddDays = %s", got)
	}
	if got := MustDate("2026-03-05").Monday().String(); got != "2026-03-02" {
		t.Errorf("Monday = %s", got)
	}
	if got := MustDate("2026-03-08").Monday().String(); got != "2026-03-02" {
		t.Errorf("Monday of a Sunday = %s", got)
	}
	if d.Weekday() != time.Saturday {
		t.Errorf("Weekday = %v", d.Weekday())
	}
	for _, bad := range []string{"2026-02-30", "26-02-01", "2026-2-1", ""} {
		if _, err := ParseDate(bad); err == nil {
			t.Errorf("ParseDate(%q) accepted", bad)
		}
	}
	p := Period{From: MustDate("2026-01-05"), To: MustDate("2026-01-09")}
	for _, tt := range []struct {
		d    string
		want bool
	}{{"2026-01-04", false}, {"2026-01-05", true}, {"2026-01-09", true}, {"2026-01-10", false}} {
		if got := p.Contains(MustDate(tt.d)); got != tt.want {
			t.Errorf("Contains(%s) = %v, want %v", tt.d, got, tt.want)
		}
	}
}

func TestBetrag(t *testing.T) {
	tests := []struct {
		in   string
		want Betrag
		err  bool
	}{
		{in: "1840.50", want: 184050},
		{in: "12", want: 1200},
		{in: "12.5", want: 1250},
		{in: "0.07", want: 7},
		{in: "12.", err: true},
		{in: "-1.00", err: true},
		{in: "1.005", err: true},
		{in: "1,50", err: true},
		{in: ".50", err: true},
		{in: "1.-5", err: true},
	}
	for _, tt := range tests {
		got, err := ParseBetrag(tt.in)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("ParseBetrag(%q) = %d, %v; want %d, err=%v", tt.in, got, err, tt.want, tt.err)
		}
	}
	if s := Betrag(184050).String(); s != "1840.50" {
		t.Errorf("String = %s", s)
	}
}

func TestKundennummer(t *testing.T) {
	if err := CheckKundennummer("123A456789"); err != nil {
		t.Error(err)
	}
	err := CheckKundennummer("123a45678")
	if err == nil {
		t.Fatal("accepted a malformed Kundennummer")
	}
	if got := err.Error(); contains(got, "123a45678") {
		t.Errorf("error repeats the value: %s", got)
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}
