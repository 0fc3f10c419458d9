package schema

import "math/big"

// decimal is a JSON number literal taken apart so that it can be compared exactly
// with another one without big-number arithmetic, whatever its exponent.
// The value is ±0.D × 10^point, where D is digits(sig..end) of the concatenated
// integer and fraction digits with leading and trailing zeros removed.
type decimal struct {
	neg   bool
	intp  string // integer digits as written
	frac  string // fraction digits as written
	sig   int    // index of the first significant digit in intp+frac
	end   int    // index after the last non-zero digit; sig == end means zero
	point int64
}

// maxExp bounds the parsed exponent so the arithmetic below cannot overflow;
// any larger exponent already decides every comparison.
const maxExp = 1 << 50

// parseDecimal parses s, which must follow the JSON number grammar.
func parseDecimal(s string) (d decimal, ok bool) {
	i := 0
	if i < len(s) && s[i] == '-' {
		d.neg = true
		i++
	}
	start := i
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && s[i] >= '1' && s[i] <= '9':
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	default:
		return d, false
	}
	d.intp = s[start:i]
	if i < len(s) && s[i] == '.' {
		i++
		start = i
		for i < len(s) && isDigit(s[i]) {
			i++
		}
		if i == start {
			return d, false
		}
		d.frac = s[start:i]
	}
	var exp int64
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		negExp := false
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			negExp = s[i] == '-'
			i++
		}
		start = i
		for i < len(s) && isDigit(s[i]) {
			if exp < maxExp {
				exp = exp*10 + int64(s[i]-'0')
			}
			i++
		}
		if i == start {
			return d, false
		}
		if negExp {
			exp = -exp
		}
	}
	if i != len(s) {
		return d, false
	}
	n := len(d.intp) + len(d.frac)
	for d.sig < n && d.digit(d.sig) == '0' {
		d.sig++
	}
	d.end = n
	for d.end > d.sig && d.digit(d.end-1) == '0' {
		d.end--
	}
	d.point = int64(len(d.intp)-d.sig) + exp
	return d, true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func (d *decimal) digit(i int) byte {
	if i < len(d.intp) {
		return d.intp[i]
	}
	return d.frac[i-len(d.intp)]
}

func (d *decimal) isZero() bool { return d.sig == d.end }

// isInteger reports whether the value has no fractional part.
func (d *decimal) isInteger() bool {
	return d.isZero() || int64(d.end-d.sig) <= d.point
}

func (d *decimal) sign() int {
	switch {
	case d.isZero():
		return 0
	case d.neg:
		return -1
	}
	return 1
}

// cmp returns -1, 0 or +1 as d is less than, equal to or greater than o.
func (d *decimal) cmp(o *decimal) int {
	sd, so := d.sign(), o.sign()
	if sd != so {
		if sd < so {
			return -1
		}
		return 1
	}
	if sd == 0 {
		return 0
	}
	return sd * d.cmpMag(o)
}

func (d *decimal) cmpMag(o *decimal) int {
	if d.point != o.point {
		if d.point < o.point {
			return -1
		}
		return 1
	}
	ld, lo := d.end-d.sig, o.end-o.sig
	for i := 0; i < ld && i < lo; i++ {
		a, b := d.digit(d.sig+i), o.digit(o.sig+i)
		if a != b {
			if a < b {
				return -1
			}
			return 1
		}
	}
	switch {
	case ld < lo:
		return -1
	case ld > lo:
		return 1
	}
	return 0
}

// multipleOf reports whether d is an integer multiple of m (m > 0), exactly
// and whatever the exponents: d = D·10^a and m = M·10^b with integers D and
// M, so d/m is an integer when M·10^(b-a) divides D (b > a) or M divides
// D·10^(a-b). Past a few powers of ten per digit of M, more factors of ten
// change nothing (M has at most that many factors 2 and 5), and a divisor
// longer than D cannot divide it, so the arithmetic stays small.
func (d *decimal) multipleOf(m *decimal) bool {
	if d.isZero() {
		return true
	}
	dd, md := d.digits(), m.digits()
	a := d.point - int64(len(dd))
	b := m.point - int64(len(md))
	D, _ := new(big.Int).SetString(dd, 10)
	M, _ := new(big.Int).SetString(md, 10)
	ten := big.NewInt(10)
	if k := a - b; k >= 0 {
		k = min(k, int64(4*len(md)+4))
		D.Mul(D, new(big.Int).Exp(ten, big.NewInt(k), nil))
	} else {
		if -k > int64(len(dd)) {
			return false
		}
		M.Mul(M, new(big.Int).Exp(ten, big.NewInt(-k), nil))
	}
	return new(big.Int).Rem(D, M).Sign() == 0
}

// digits returns the significant digits of d, "" for zero.
func (d *decimal) digits() string {
	b := make([]byte, 0, d.end-d.sig)
	for i := d.sig; i < d.end; i++ {
		b = append(b, d.digit(i))
	}
	return string(b)
}
