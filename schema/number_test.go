package schema

import (
	"math/big"
	"testing"
)

func TestDecimal(t *testing.T) {
	nums := []string{
		"0", "-0", "0.0", "0e5", "1", "-1", "1.0", "1.00", "10e-1", "0.1e1", "100e-2", "1.5", "-1.5", "15e-1",
		"2", "1.9999999999999999999", "2.0000000000000000001", "123456789012345678901234567890",
		"1.2345678901234567890123456789e29", "123456789012345678901234567891", "1e29", "1e30", "-1e30",
		"1e-400", "-1e-400", "1e400", "9.99e399", "0.001", "1e-3", "0.0010", "12", "120e-1", "1.2e1",
	}
	for _, a := range nums {
		da, ok := parseDecimal(a)
		if !ok {
			t.Fatalf("parseDecimal(%q) failed", a)
		}
		ra, _ := new(big.Rat).SetString(a)
		if da.isInteger() != ra.IsInt() {
			t.Errorf("isInteger(%s) = %v", a, da.isInteger())
		}
		for _, b := range nums {
			db, _ := parseDecimal(b)
			rb, _ := new(big.Rat).SetString(b)
			if got, want := da.cmp(&db), ra.Cmp(rb); got != want {
				t.Errorf("cmp(%s, %s) = %d, want %d", a, b, got, want)
			}
		}
	}
	for _, bad := range []string{"", "-", "+1", "01", "1.", ".5", "1e", "1e+", "0x10", "1_000", "NaN", "1 ", "--1"} {
		if _, ok := parseDecimal(bad); ok {
			t.Errorf("parseDecimal(%q) accepted", bad)
		}
	}
	// Exponents beyond any big-number arithmetic still compare and classify.
	huge, _ := parseDecimal("1e99999999999999999999999")
	tiny, _ := parseDecimal("1e-99999999999999999999999")
	one, _ := parseDecimal("1")
	if huge.cmp(&one) != 1 || tiny.cmp(&one) != -1 || !huge.isInteger() || tiny.isInteger() {
		t.Error("huge exponents mishandled")
	}
}
