package emaw

import (
	"fmt"
	"strconv"
	"strings"
)

// Betrag is an amount of money in euro cents, written with a decimal
// point and two decimals ("1234.50"). Money never goes through float64.
type Betrag int64

// ParseBetrag parses a non-negative amount with at most two decimals:
// "12", "12.5", "12.50".
func ParseBetrag(s string) (Betrag, error) {
	bad := fmt.Errorf("amount %q: expected euros with at most two decimals, e.g. 1234.50", s)
	whole, frac, hasFrac := strings.Cut(s, ".")
	if whole == "" || len(frac) > 2 || (hasFrac && frac == "") || strings.HasPrefix(whole, "+") || strings.HasPrefix(whole, "-") {
		return 0, bad
	}
	e, err := strconv.ParseInt(whole, 10, 64)
	if err != nil || e > 1e13 {
		return 0, bad
	}
	for len(frac) < 2 {
		frac += "0"
	}
	c, err := strconv.ParseInt(frac, 10, 64)
	if err != nil || strings.HasPrefix(frac, "+") || strings.HasPrefix(frac, "-") {
		return 0, bad
	}
	return Betrag(e*100 + c), nil
}

func (b Betrag) String() string { return fmt.Sprintf("%d.%02d", int64(b)/100, int64(b)%100) }

// MarshalText implements encoding.TextMarshaler.
func (b Betrag) MarshalText() ([]byte, error) {
	if b < 0 {
		return nil, fmt.Errorf("amount %d cents: negative amounts are not allowed", int64(b))
	}
	return []byte(b.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (b *Betrag) UnmarshalText(t []byte) error {
	v, err := ParseBetrag(string(t))
	if err != nil {
		return err
	}
	*b = v
	return nil
}
