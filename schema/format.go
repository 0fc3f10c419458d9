package schema

import (
	"net"
	"net/mail"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// formatChecker returns the check of a format, or nil for a format it does
// not know, which draft-04 says to ignore. It knows the formats draft-04
// defines (date-time, email, hostname, ipv4, ipv6, uri), the ones the
// draft-04 metaschema uses (regex, uri-reference) and a few common others
// (date, time, ip-address, uuid). Every build, the AWS Lambda one
// included, checks the same formats. Non-strings always pass.
func formatChecker(name string) func(any) bool {
	var check func(string) bool
	switch name {
	case "date-time":
		check = isDateTime
	case "date":
		check = isDate
	case "time":
		check = isTime
	case "email":
		check = isEmail
	case "hostname":
		check = isHostname
	case "ipv4", "ip-address":
		check = isIPv4
	case "ipv6":
		check = isIPv6
	case "uri":
		check = isURI
	case "uri-reference", "uriref":
		check = isURIReference
	case "regex":
		check = isRegex
	case "uuid":
		check = isUUID
	default:
		return nil
	}
	return func(v any) bool {
		s, ok := v.(string)
		return !ok || check(s)
	}
}

// isDateTime checks an RFC 3339 date-time (section 5.6), leap seconds
// included.
func isDateTime(s string) bool {
	if len(s) < 20 || (s[10] != 'T' && s[10] != 't') {
		return false
	}
	return isDate(s[:10]) && isTime(s[11:])
}

// isDate checks an RFC 3339 full-date.
func isDate(s string) bool {
	_, err := time.Parse("2006-01-02", s)
	return err == nil
}

// inRange parses s as a decimal number between lo and hi.
func inRange(s string, lo, hi int) (int, bool) {
	n, err := strconv.Atoi(s)
	return n, err == nil && n >= lo && n <= hi
}

// isTime checks an RFC 3339 full-time: hh:mm:ss, optional fraction, then Z
// or an offset. A leap second (ss = 60) must fall at 23:59 UTC.
func isTime(s string) bool {
	if len(s) < 9 || s[2] != ':' || s[5] != ':' {
		return false
	}
	h, ok1 := inRange(s[0:2], 0, 23)
	m, ok2 := inRange(s[3:5], 0, 59)
	sec, ok3 := inRange(s[6:8], 0, 60)
	if !ok1 || !ok2 || !ok3 {
		return false
	}
	rest := s[8:]
	if rest[0] == '.' {
		i := 1
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			i++
		}
		if i == 1 {
			return false
		}
		rest = rest[i:]
	}
	switch {
	case rest == "":
		return false
	case rest == "z" || rest == "Z":
	case len(rest) == 6 && rest[3] == ':' && (rest[0] == '+' || rest[0] == '-'):
		oh, ok1 := inRange(rest[1:3], 0, 23)
		om, ok2 := inRange(rest[4:6], 0, 59)
		if !ok1 || !ok2 {
			return false
		}
		// The time in UTC, for the leap second check.
		off := oh*60 + om
		if rest[0] == '+' {
			off = -off
		}
		t := ((h*60+m+off)%(24*60) + 24*60) % (24 * 60)
		h, m = t/60, t%60
	default:
		return false
	}
	return sec != 60 || (h == 23 && m == 59)
}

// isHostname checks an RFC 1123 host name: dot-separated labels of 1 to 63
// letters, digits and hyphens, not ending with a hyphen, the whole at most
// 253 characters without a final dot, and not starting with a hyphen.
func isHostname(s string) bool {
	s = strings.TrimSuffix(s, ".")
	if len(s) > 253 || strings.HasPrefix(s, "-") {
		return false
	}
	for label := range strings.SplitSeq(s, ".") {
		if len(label) < 1 || len(label) > 63 || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// isEmail checks an RFC 5322 address of at most 254 characters whose local
// part has at most 64 and whose domain is a host name or a bracketed IP
// address.
func isEmail(s string) bool {
	if len(s) > 254 {
		return false
	}
	at := strings.LastIndexByte(s, '@')
	if at < 0 || at > 64 {
		return false
	}
	domain := s[at+1:]
	if len(domain) >= 2 && domain[0] == '[' && domain[len(domain)-1] == ']' {
		ip := domain[1 : len(domain)-1]
		if v6, ok := strings.CutPrefix(ip, "IPv6:"); ok {
			return isIPv6(v6)
		}
		return isIPv4(ip)
	}
	if !isHostname(domain) {
		return false
	}
	_, err := mail.ParseAddress(s)
	return err == nil
}

// isIPv4 checks a dotted quad of decimal numbers up to 255, without
// leading zeros (which some parsers read as octal).
func isIPv4(s string) bool {
	parts := strings.Split(s, ".")
	if len(parts) != 4 {
		return false
	}
	for _, p := range parts {
		n, ok := inRange(p, 0, 255)
		if !ok || (n != 0 && p[0] == '0') {
			return false
		}
	}
	return true
}

// isIPv6 checks an IPv6 address as net.ParseIP reads it.
func isIPv6(s string) bool {
	return strings.Contains(s, ":") && net.ParseIP(s) != nil
}

// parseURI parses a URI reference; a host with a colon must be a bracketed
// IPv6 address.
func parseURI(s string) (*url.URL, bool) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, false
	}
	if host := u.Hostname(); strings.Contains(host, ":") {
		if !strings.Contains(u.Host, "[") || !strings.Contains(u.Host, "]") || !isIPv6(host) {
			return nil, false
		}
	}
	return u, true
}

// isURI checks an absolute URI.
func isURI(s string) bool {
	u, ok := parseURI(s)
	return ok && u.IsAbs()
}

// isURIReference checks a URI or a relative reference.
func isURIReference(s string) bool {
	_, ok := parseURI(s)
	return ok && !strings.Contains(s, `\`)
}

// isRegex checks a regular expression Go's regexp package accepts, the
// engine every pattern runs on.
func isRegex(s string) bool {
	_, err := regexp.Compile(s)
	return err == nil
}

// isUUID checks 8-4-4-4-12 hexadecimal digits.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch i {
		case 8, 13, 18, 23:
			if s[i] != '-' {
				return false
			}
		default:
			c := s[i]
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
				return false
			}
		}
	}
	return true
}
