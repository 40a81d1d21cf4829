package calendar

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// Infinity is what ParseTimespan returns for "infinity" (systemd's
// USEC_INFINITY): the largest time.Duration. FormatTimespan prints it
// back as "infinity".
const Infinity time.Duration = math.MaxInt64

const usecInfinity = math.MaxUint64

// Lengths of systemd's time units in microseconds (time-util.h): a month
// is 30.44 days and a year 365.25 days.
const (
	usecPerMsec   = 1000
	usecPerMinute = 60 * usecPerSec
	usecPerHour   = 60 * usecPerMinute
	usecPerDay    = 24 * usecPerHour
	usecPerWeek   = 7 * usecPerDay
	usecPerMonth  = 2629800 * usecPerSec
	usecPerYear   = 31557600 * usecPerSec
)

// timeUnits is extract_multiplier's table, in its order: the first unit
// that the text starts with wins, so "ms" is tried before "m" and
// "minutes" before "min". Units are case-sensitive ("M" is a month, "m" a
// minute).
var timeUnits = []struct {
	suffix string
	usec   uint64
}{
	{"seconds", usecPerSec}, {"second", usecPerSec}, {"sec", usecPerSec}, {"s", usecPerSec},
	{"minutes", usecPerMinute}, {"minute", usecPerMinute}, {"min", usecPerMinute},
	{"months", usecPerMonth}, {"month", usecPerMonth}, {"M", usecPerMonth},
	{"msec", usecPerMsec}, {"ms", usecPerMsec},
	{"m", usecPerMinute},
	{"hours", usecPerHour}, {"hour", usecPerHour}, {"hr", usecPerHour}, {"h", usecPerHour},
	{"days", usecPerDay}, {"day", usecPerDay}, {"d", usecPerDay},
	{"weeks", usecPerWeek}, {"week", usecPerWeek}, {"w", usecPerWeek},
	{"years", usecPerYear}, {"year", usecPerYear}, {"y", usecPerYear},
	{"usec", 1}, {"us", 1}, {"μs", 1}, {"µs", 1},
}

// ParseTimespan checks a systemd time span (RandomizedDelaySec=,
// TimeoutStartSec=: "30m", "1h 30min", "90", "infinity") the way systemd
// 252's parse_sec does, and returns its length. A number without a unit
// is seconds. "infinity" gives Infinity. A span systemd accepts that does
// not fit a time.Duration (292 years or more) is refused: no timer or
// timeout of bakc's means that, and reading it as infinity would change
// its meaning.
//
// The error is an *Error.
func ParseTimespan(s string) (time.Duration, error) {
	usec, err := parseTimespanUsec(s)
	if err != nil {
		return 0, err
	}
	if usec == usecInfinity {
		return Infinity, nil
	}
	if usec > math.MaxInt64/1000 {
		return 0, &Error{Input: s, Offset: 0, End: len(s),
			Problem: fmt.Sprintf("The time span %q is longer than bakc supports (292 years)", s),
			Hint:    `Write "infinity" for no limit, or a shorter span.`}
	}
	return time.Duration(usec) * time.Microsecond, nil
}

// FormatTimespan prints a length the way systemd-analyze timespan prints
// it as "Human:" (format_timespan with microsecond accuracy): "1h 30min",
// "1.500000s", "infinity". The runbook uses it so that what it shows is
// what systemd will show.
func FormatTimespan(d time.Duration) string {
	if d == Infinity {
		return "infinity"
	}
	if d <= 0 {
		return "0"
	}
	return formatUsec(uint64(d / time.Microsecond))
}

var whitespace = " \t\n\r" // systemd's WHITESPACE

func skipWhitespace(s string, i int) int {
	for i < len(s) && strings.IndexByte(whitespace, s[i]) >= 0 {
		i++
	}
	return i
}

// parseTimespanUsec is systemd's parse_time(t, &usec, USEC_PER_SEC), in
// microseconds, with usecInfinity for "infinity".
func parseTimespanUsec(s string) (uint64, *Error) {
	at := func(i int) byte {
		if i < len(s) {
			return s[i]
		}
		return 0
	}
	fail := func(pos, end int, problem, hint string) *Error {
		return &Error{Input: s, Offset: pos, End: max(end, pos), Problem: problem, Hint: hint}
	}
	tooLong := func(pos, end int) *Error {
		return fail(pos, end, fmt.Sprintf("The time span %q is too long", s),
			`systemd counts time spans in microseconds up to about 584,000 years; write "infinity" for no limit.`)
	}
	p := skipWhitespace(s, 0)
	if strings.HasPrefix(s[p:], "infinity") {
		rest := p + len("infinity")
		if skipWhitespace(s, rest) != len(s) {
			return 0, fail(rest, len(s), fmt.Sprintf("Unexpected %q after \"infinity\"", s[rest:]),
				`"infinity" stands alone; it cannot be added to other lengths.`)
		}
		return usecInfinity, nil
	}
	var usec uint64
	something := false
	for {
		p = skipWhitespace(s, p)
		if p == len(s) {
			if !something {
				return 0, fail(0, len(s), "The time span is empty",
					`Write a length such as "30s", "30min", "1h 30min" or "infinity"; a number alone counts seconds.`)
			}
			break
		}
		if s[p] == '-' {
			return 0, fail(p, p+1, "A time span cannot be negative", `Write a length of 0 or more, as in "30min".`)
		}
		start := p
		l, e, ok, overflow := strtoll(s, p)
		if overflow {
			return 0, tooLong(start, e)
		}
		if l < 0 {
			return 0, fail(start, e, "A time span cannot be negative", `Write a length of 0 or more, as in "30min".`)
		}
		switch {
		case at(e) == '.':
			p = e + 1
			for p < len(s) && s[p] >= '0' && s[p] <= '9' {
				p++
			}
		case !ok:
			return 0, unknownSpanWord(s, p)
		default:
			p = e
		}
		q := skipWhitespace(s, p)
		mult, after := extractMultiplier(s, q)
		if after == p && p < len(s) {
			// "12.34.56": something sticks to the number that is no unit.
			return 0, unknownSpanWord(s, p)
		}
		p = after
		if uint64(l) >= usecInfinity/mult {
			return 0, tooLong(start, p)
		}
		k := uint64(l) * mult
		if k >= usecInfinity-usec {
			return 0, tooLong(start, p)
		}
		usec += k
		something = true
		if at(e) == '.' {
			m := mult / 10
			b := e + 1
			for ; at(b) >= '0' && at(b) <= '9'; b, m = b+1, m/10 {
				k := uint64(at(b)-'0') * m
				if k >= usecInfinity-usec {
					return 0, tooLong(start, p)
				}
				usec += k
			}
			if b == e+1 {
				return 0, fail(e, e+1, fmt.Sprintf("The decimal point in %q has no digits after it", s[start:e+1]),
					`Write a fraction with digits on both sides of the point, as in "1.5h", or none, as in "90min".`)
			}
		}
	}
	return usec, nil
}

// extractMultiplier returns the unit s starts with at i and the offset
// after it; the default (seconds) and i itself when there is none.
func extractMultiplier(s string, i int) (uint64, int) {
	for _, u := range timeUnits {
		if strings.HasPrefix(s[i:], u.suffix) {
			return u.usec, i + len(u.suffix)
		}
	}
	return usecPerSec, i
}

// unknownSpanWord explains text in a time span that is neither a number
// nor a unit, naming the whole word it belongs to.
func unknownSpanWord(s string, p int) *Error {
	start, end := p, p
	isLetter := func(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80 }
	if p < len(s) && isLetter(s[p]) {
		for start > 0 && isLetter(s[start-1]) {
			start--
		}
		for end < len(s) && isLetter(s[end]) {
			end++
		}
	}
	units := `The units are us, ms, s, min (or m), h, d, w, M (months) and y, with their long forms ("minutes", "hours"); a number alone counts seconds.`
	if end == start {
		end = min(p+1, len(s))
		return &Error{Input: s, Offset: p, End: end, Problem: fmt.Sprintf("Unexpected %q in the time span", s[p:end]),
			Hint: `A time span is numbers, each followed by a unit, as in "1h 30min" or "1.5h". ` + units}
	}
	word := s[start:end]
	hint := units
	var names []string
	for _, u := range timeUnits {
		names = append(names, u.suffix)
	}
	if c := closest(word, names); c != "" && len(word) > 1 {
		hint = fmt.Sprintf("Did you mean %q? ", c) + units
	}
	return &Error{Input: s, Offset: start, End: end, Problem: fmt.Sprintf("%q is not a time unit", word), Hint: hint}
}

// strtoll is C's strtoll(s+i, &end, 10): leading white space, an optional
// sign, then decimal digits. ok is false (and end is i) when there are no
// digits; overflow when the value does not fit an int64.
func strtoll(s string, i int) (v int64, end int, ok, overflow bool) {
	j := i
	for j < len(s) && isCSpace(s[j]) {
		j++
	}
	neg := false
	if j < len(s) && (s[j] == '+' || s[j] == '-') {
		neg = s[j] == '-'
		j++
	}
	d := j
	var u uint64
	limit := uint64(math.MaxInt64)
	if neg {
		limit++
	}
	for j < len(s) && s[j] >= '0' && s[j] <= '9' {
		digit := uint64(s[j] - '0')
		if u > (limit-digit)/10 {
			overflow = true
		} else {
			u = u*10 + digit
		}
		j++
	}
	if j == d {
		return 0, i, false, false
	}
	if overflow {
		return 0, j, true, true
	}
	if neg {
		return -int64(u), j, true, false
	}
	return int64(u), j, true, false
}

// formatUsec is format_timespan(t, USEC_PER_USEC) for t > 0 and finite.
func formatUsec(t uint64) string {
	table := []struct {
		suffix string
		usec   uint64
	}{
		{"y", usecPerYear}, {"month", usecPerMonth}, {"w", usecPerWeek}, {"d", usecPerDay},
		{"h", usecPerHour}, {"min", usecPerMinute}, {"s", usecPerSec}, {"ms", usecPerMsec}, {"us", 1},
	}
	if t == usecInfinity {
		return "infinity"
	}
	if t == 0 {
		return "0"
	}
	var b strings.Builder
	for _, u := range table {
		if t == 0 {
			break
		}
		if t < u.usec {
			continue
		}
		a, rem := t/u.usec, t%u.usec
		sep := ""
		if b.Len() > 0 {
			sep = " "
		}
		if t < usecPerMinute && rem > 0 {
			j := 0
			for cc := u.usec; cc > 1; cc /= 10 {
				j++
			}
			if j > 0 {
				fmt.Fprintf(&b, "%s%d.%0*d%s", sep, a, j, rem, u.suffix)
				t = 0
				continue
			}
		}
		fmt.Fprintf(&b, "%s%d%s", sep, a, u.suffix)
		t = rem
	}
	return b.String()
}
