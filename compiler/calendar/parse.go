package calendar

import (
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"
)

// shorthands are the words systemd accepts for a whole expression
// (compared without regard to case), with what each one means. "anually"
// is systemd's own backwards-compatible misspelling.
var shorthands = []shorthandSpec{
	{name: "minutely", fields: map[field][]int{fieldSecond: {0}}},
	{name: "hourly", fields: map[field][]int{fieldMinute: {0}, fieldSecond: {0}}},
	{name: "daily", fields: map[field][]int{fieldHour: {0}, fieldMinute: {0}, fieldSecond: {0}}},
	{name: "monthly", fields: map[field][]int{fieldDay: {1}, fieldHour: {0}, fieldMinute: {0}, fieldSecond: {0}}},
	{name: "annually", fields: yearly()},
	{name: "yearly", fields: yearly()},
	{name: "anually", fields: yearly()},
	{name: "weekly", fields: map[field][]int{fieldHour: {0}, fieldMinute: {0}, fieldSecond: {0}}, weekly: true},
	{name: "quarterly", fields: map[field][]int{fieldMonth: {1, 4, 7, 10}, fieldDay: {1}, fieldHour: {0}, fieldMinute: {0}, fieldSecond: {0}}},
	{name: "biannually", fields: semiannually()},
	{name: "bi-annually", fields: semiannually()},
	{name: "semiannually", fields: semiannually()},
	{name: "semi-annually", fields: semiannually()},
}

func yearly() map[field][]int {
	return map[field][]int{fieldMonth: {1}, fieldDay: {1}, fieldHour: {0}, fieldMinute: {0}, fieldSecond: {0}}
}

func semiannually() map[field][]int {
	return map[field][]int{fieldMonth: {1, 7}, fieldDay: {1}, fieldHour: {0}, fieldMinute: {0}, fieldSecond: {0}}
}

// weekdayTable is parse_weekdays' table, in its order: the full name is
// tried before the abbreviation.
var weekdayTable = []struct {
	name string
	nr   int
}{
	{"Monday", 0}, {"Mon", 0},
	{"Tuesday", 1}, {"Tue", 1},
	{"Wednesday", 2}, {"Wed", 2},
	{"Thursday", 3}, {"Thu", 3},
	{"Friday", 4}, {"Fri", 4},
	{"Saturday", 5}, {"Sat", 5},
	{"Sunday", 6}, {"Sun", 6},
}

// Normalize checks a systemd calendar expression (OnCalendar=) the way
// systemd 252 does, in Go (bakc must build and run on a laptop without
// systemd), and returns the normalized form systemd-analyze calendar
// prints as "Normalized form:".
//
// Two things differ from systemd on purpose, because they depend on the
// machine the timer will run on, which the compiler cannot see: a time
// zone name is accepted when it is "UTC" or one of the IANA zone names
// Go knows (the list in zones.go), not by looking in /usr/share/zoneinfo;
// and the local zone's abbreviations ("CET", "EST" as tzname[] of the
// target) are not recognized unless they are zone names themselves.
// docs/schedules.md says more.
//
// The error is an *Error.
func Normalize(expr string) (string, error) {
	s, err := parse(expr, true)
	if err != nil {
		return "", err
	}
	return s.String(), nil
}

// parse is calendar_spec_from_string. With explain, a syntax error's
// message is improved by guessing what the user meant (explain).
func parse(in string, explain bool) (*spec, *Error) {
	s := &spec{}
	body := in
	switch {
	case hasSuffixFold(in, " UTC"):
		s.utc = true
		body = in[:len(in)-len(" UTC")]
	default:
		if i := strings.LastIndexByte(in, ' '); i >= 0 && ValidTimezone(in[i+1:]) {
			s.timezone = in[i+1:]
			body = in[:i]
		}
	}
	if body == "" {
		return nil, &Error{Input: in, Offset: 0, End: len(in), Problem: "The schedule is empty",
			Hint: `Write a systemd calendar expression such as "daily", "hourly" or "Mon..Fri *-*-* 02:30".`}
	}

	p := &parser{in: in, s: body, explainErrors: explain}
	if sh := shorthand(body); sh != nil {
		for f, vs := range sh.fields {
			for _, v := range vs {
				if f == fieldSecond {
					v *= usecPerSec
				}
				s.fields[f] = append(s.fields[f], component{start: v, stop: -1, pos: 0, end: len(body)})
			}
		}
		if sh.weekly {
			s.weekdays = 1
		}
	} else {
		if err := p.weekdays(s); err != nil {
			return nil, p.explain(err)
		}
		done, err := p.date(s)
		if err != nil {
			return nil, p.explain(err)
		}
		if !done {
			if err := p.time(s); err != nil {
				return nil, p.explain(err)
			}
		}
		if p.i != len(p.s) {
			return nil, p.explain(p.errf(p.i, len(p.s), fmt.Sprintf("Unexpected %q after the time", p.s[p.i:]),
				"Nothing may follow the seconds except a time zone name."))
		}
	}
	s.normalize()
	if err := s.validate(in); err != nil {
		return nil, err
	}
	return s, nil
}

// shorthandSpec is one shorthand: the fields it sets to constant values
// (the others are "*") and whether it is Mondays only.
type shorthandSpec struct {
	name   string
	fields map[field][]int
	weekly bool
}

func shorthand(s string) *shorthandSpec {
	for i := range shorthands {
		if asciiEqualFold(s, shorthands[i].name) {
			return &shorthands[i]
		}
	}
	return nil
}

// asciiEqualFold compares without regard to ASCII case only, as C's
// strcasecmp does: strings.EqualFold would also fold "ſ" to "s" and the
// Kelvin sign to "k", which systemd does not.
func asciiEqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if asciiLower(a[i]) != asciiLower(b[i]) {
			return false
		}
	}
	return true
}

func asciiLower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func hasSuffixFold(s, suffix string) bool {
	return len(s) >= len(suffix) && asciiEqualFold(s[len(s)-len(suffix):], suffix)
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && asciiEqualFold(s[:len(prefix)], prefix)
}

// parser walks the expression without its time zone suffix (s), keeping
// byte offsets that are also offsets into the whole input (in).
type parser struct {
	in            string
	s             string
	i             int
	explainErrors bool
}

// at returns the byte at offset i of s, or 0 past its end, as C's
// NUL-terminated strings do.
func (p *parser) at(i int) byte {
	if i < len(p.s) {
		return p.s[i]
	}
	return 0
}

func (p *parser) errf(pos, end int, problem, hint string) *Error {
	pos = min(pos, len(p.in))
	return &Error{Input: p.in, Offset: pos, End: min(max(end, pos), len(p.in)), Problem: problem, Hint: hint}
}

// weekdays is parse_weekdays: an optional list of weekdays and weekday
// ranges ("Mon..Fri", "Sat,Sun", "Mon-Wed") before the date.
func (p *parser) weekdays(s *spec) *Error {
	l := -1
	first := true
	lStart := 0
	for {
		start := p.i
		found := -1
		for _, d := range weekdayTable {
			if !hasPrefixFold(p.s[p.i:], d.name) {
				continue
			}
			skip := len(d.name)
			if c := p.at(p.i + skip); c != 0 && c != '-' && c != '.' && c != ',' && c != ' ' {
				if isLetter(c) {
					end := p.i + skip
					for end < len(p.s) && isLetter(p.s[end]) {
						end++
					}
					return p.errf(start, end, fmt.Sprintf("%q is not a weekday", p.s[start:end]),
						`Weekdays are Mon, Tue, Wed, Thu, Fri, Sat, Sun (or their full English names), followed by a space, "," or ".." and the next weekday.`)
				}
				return p.errf(p.i+skip, p.charEnd(p.i+skip), fmt.Sprintf("Unexpected %q after the weekday %q", p.s[p.i+skip:p.charEnd(p.i+skip)], p.s[start:p.i+skip]),
					`Separate the weekdays from the date or time with a space, as in "Mon 10:00"; list weekdays with "," and write ranges with "..", as in "Mon..Fri".`)
			}
			s.weekdays |= 1 << d.nr
			if l >= 0 {
				if l > d.nr {
					return p.errf(lStart, p.i+skip, fmt.Sprintf("The weekday range %q runs backwards", p.s[lStart:p.i+skip]),
						`Ranges run from Monday towards Sunday: write "Mon..Fri", or split a range across the week's end into two, as in "Fri..Sun,Mon".`)
				}
				for j := l + 1; j < d.nr; j++ {
					s.weekdays |= 1 << j
				}
			}
			p.i += skip
			found = d.nr
			break
		}
		if found < 0 {
			if first {
				return nil
			}
			end := p.i
			for end < len(p.s) && p.s[end] != ' ' && p.s[end] != ',' && p.s[end] != '.' {
				end++
			}
			return p.errf(p.i, end, fmt.Sprintf("Expected a weekday, found %q", p.s[p.i:end]),
				`Weekdays are Mon, Tue, Wed, Thu, Fri, Sat, Sun (or their full names); separate them from the date with a space, as in "Mon,Fri *-*-* 02:00".`)
		}
		switch p.at(p.i) {
		case 0:
			return nil
		case ' ':
			p.skipSpaces()
			return nil
		case '.':
			if l >= 0 || p.at(p.i+1) != '.' {
				return p.errf(p.i, p.i+1, `Unexpected "." in the weekdays`,
					`A weekday range is written with two dots and two ends, as in "Mon..Fri"; list more days with commas, as in "Mon..Wed,Fri".`)
			}
			l, lStart = found, start
			p.i += 2
		case '-':
			if l >= 0 {
				return p.errf(p.i, p.i+1, `Unexpected "-" in the weekdays`,
					`A weekday range has two ends, as in "Mon..Fri"; list more days with commas, as in "Mon..Wed,Fri".`)
			}
			l, lStart = found, start
			p.i++
		case ',':
			l = -1
			p.i++
		}
		if c := p.at(p.i); c == 0 || c == ' ' {
			p.skipSpaces()
			if l >= 0 {
				return p.errf(lStart, p.i, fmt.Sprintf("The weekday range %q has no end", strings.TrimRight(p.s[lStart:p.i], " ")),
					`Write both ends of a weekday range, as in "Mon..Fri".`)
			}
			return nil
		}
		first = false
	}
}

func (p *parser) skipSpaces() {
	for p.i < len(p.s) && p.s[p.i] == ' ' {
		p.i++
	}
}

// date is parse_date: "@epoch", or a date "[YEAR-]MONTH-DAY" with "~"
// instead of the last "-" for days counted from the end of the month, or
// nothing (a time follows directly). It reports whether the expression
// is complete ("@epoch" takes no time).
func (p *parser) date(s *spec) (bool, *Error) {
	if p.i >= len(p.s) {
		return false, nil
	}
	if p.s[p.i] == '@' {
		return true, p.epoch(s)
	}
	start := p.i
	first, err := p.chain(false, fieldYear)
	if err != nil {
		return false, err
	}
	if c := p.at(p.i); c == 0 || c == ':' {
		// That was an hour, not a date: parse it again as a time.
		p.i = start
		return false, nil
	}
	switch p.at(p.i) {
	case '~':
		s.endOfMonth = true
	case '-':
	default:
		return false, p.errf(p.i, p.charEnd(p.i), fmt.Sprintf("Unexpected %q in the date", p.s[p.i:p.charEnd(p.i)]),
			`Write a date as YEAR-MONTH-DAY or MONTH-DAY with "-" between the parts ("*" for any value), as in "*-*-01" or "2025-06-*", and a time after a space.`)
	}
	p.i++
	second, err := p.chain(false, fieldDay)
	if err != nil {
		return false, err
	}
	if c := p.at(p.i); c == 0 || c == ' ' {
		p.skipSpaces()
		s.fields[fieldMonth] = first
		s.fields[fieldDay] = second
		return false, nil
	}
	if s.endOfMonth {
		return false, p.errf(p.i, p.charEnd(p.i), fmt.Sprintf("Unexpected %q after the day", p.s[p.i:p.charEnd(p.i)]),
			`"~" stands between the month and the day (the day counted from the month's end), as in "*-02~01" or "*~07"; a date has at most three parts.`)
	}
	switch p.at(p.i) {
	case '~':
		s.endOfMonth = true
	case '-':
	default:
		return false, p.errf(p.i, p.charEnd(p.i), fmt.Sprintf("Unexpected %q in the date", p.s[p.i:p.charEnd(p.i)]),
			`Write a date as YEAR-MONTH-DAY with "-" between the parts, as in "2025-06-01", and a time after a space, as in "2025-06-01 02:30".`)
	}
	p.i++
	third, err := p.chain(false, fieldDay)
	if err != nil {
		return false, err
	}
	if c := p.at(p.i); c != 0 && c != ' ' {
		return false, p.errf(p.i, p.charEnd(p.i), fmt.Sprintf("Unexpected %q after the date", p.s[p.i:p.charEnd(p.i)]),
			`A date has at most three parts (YEAR-MONTH-DAY); separate the time from it with a space, as in "*-*-* 02:30".`)
	}
	p.skipSpaces()
	s.fields[fieldYear] = first
	s.fields[fieldMonth] = second
	s.fields[fieldDay] = third
	return false, nil
}

// epoch parses "@SECONDS" (calendarspec_from_time_t): a fixed UTC time.
func (p *parser) epoch(s *spec) *Error {
	at := p.i
	v, end, ok, overflow := strtoul(p.s, p.i+1)
	switch {
	case !ok:
		return p.errf(at, p.i+1, `"@" is not followed by a number`,
			`"@" takes seconds since 1970-01-01 00:00:00 UTC, as in "@1735689600".`)
	case overflow:
		return p.errf(at, end, fmt.Sprintf("%q is too large", p.s[at:end]),
			`"@" takes seconds since 1970-01-01 00:00:00 UTC, up to the end of 2199.`)
	}
	p.i = end
	// time_t is signed: systemd reads a value past 2^63 (or a negated one)
	// as a time before 1970, which is out of range like any later than
	// 2199.
	secs := int64(v)
	if secs < 0 || secs > maxEpoch {
		return p.errf(at, end, fmt.Sprintf("The time %q is out of range", p.s[at:end]),
			`"@" takes seconds since 1970-01-01 00:00:00 UTC, up to the end of 2199 ("@7258118399").`)
	}
	t := time.Unix(secs, 0).UTC()
	for f, v := range map[field]int{
		fieldYear: t.Year(), fieldMonth: int(t.Month()), fieldDay: t.Day(),
		fieldHour: t.Hour(), fieldMinute: t.Minute(), fieldSecond: t.Second() * usecPerSec,
	} {
		s.fields[f] = []component{{start: v, stop: -1, pos: at, end: end}}
	}
	s.utc = true
	return nil
}

// maxEpoch is the last second of 2199, the last year systemd accepts.
var maxEpoch = time.Date(maxYear+1, 1, 1, 0, 0, 0, 0, time.UTC).Unix() - 1

// strtoul is C's strtoul(s+i, &end, 10): leading white space, an optional
// sign (a "-" negates modulo 2^64), then decimal digits. ok is false when
// there are no digits; overflow when the value does not fit 64 bits.
func strtoul(s string, i int) (v uint64, end int, ok, overflow bool) {
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
	for j < len(s) && s[j] >= '0' && s[j] <= '9' {
		digit := uint64(s[j] - '0')
		if v > (math.MaxUint64-digit)/10 {
			overflow = true
		} else {
			v = v*10 + digit
		}
		j++
	}
	if j == d {
		return 0, i, false, false
	}
	if overflow {
		return math.MaxUint64, j, true, true
	}
	if neg {
		v = -v
	}
	return v, j, true, false
}

func isCSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

// time is parse_calendar_time: HOUR:MINUTE[:SECOND], or nothing for
// 00:00:00.
func (p *parser) time(s *spec) *Error {
	if p.i >= len(p.s) {
		s.fields[fieldHour] = []component{{start: 0, stop: -1, pos: p.i, end: p.i}}
		s.fields[fieldMinute] = []component{{start: 0, stop: -1, pos: p.i, end: p.i}}
		s.fields[fieldSecond] = []component{{start: 0, stop: -1, pos: p.i, end: p.i}}
		return nil
	}
	h, err := p.chain(false, fieldHour)
	if err != nil {
		return err
	}
	if p.at(p.i) != ':' {
		return p.errf(p.i, p.charEnd(p.i), fmt.Sprintf("Expected \":\" after the hour, found %s", p.describe(p.i)),
			`Write a time as HOUR:MINUTE or HOUR:MINUTE:SECOND, as in "02:30" or "*:0/15"; a date needs "-" between its parts.`)
	}
	p.i++
	m, err := p.chain(false, fieldMinute)
	if err != nil {
		return err
	}
	var sec []component
	switch p.at(p.i) {
	case 0:
		sec = []component{{start: 0, stop: -1, pos: p.i, end: p.i}}
	case ':':
		p.i++
		sec, err = p.chain(true, fieldSecond)
		if err != nil {
			return err
		}
		if p.at(p.i) != 0 {
			return p.errf(p.i, len(p.s), fmt.Sprintf("Unexpected %q after the seconds", p.s[p.i:]),
				`Nothing may follow HOUR:MINUTE:SECOND except a space and a time zone name ("UTC", "Europe/Berlin").`)
		}
	default:
		return p.errf(p.i, len(p.s), fmt.Sprintf("Unexpected %q after the minutes", p.s[p.i:]),
			`Write a time as HOUR:MINUTE or HOUR:MINUTE:SECOND; only a time zone name ("UTC", "Europe/Berlin") may follow it, after a space.`)
	}
	s.fields[fieldHour] = h
	s.fields[fieldMinute] = m
	s.fields[fieldSecond] = sec
	return nil
}

// describe names the character at i for a message.
func (p *parser) describe(i int) string {
	if i >= len(p.s) {
		return "the end of the expression"
	}
	return fmt.Sprintf("%q", p.s[i:p.charEnd(i)])
}

// charEnd is the end of the UTF-8 character at i (one byte if it is not
// valid UTF-8), so that messages never cut a character in half.
func (p *parser) charEnd(i int) int {
	if i >= len(p.s) {
		return i
	}
	_, n := utf8.DecodeRuneInString(p.s[i:])
	return i + n
}

// chain is parse_chain: "*" or a comma-separated list of components. The
// field is only used in messages (the date's first part may turn out to
// be a year, a month or an hour, so messages about it stay general).
func (p *parser) chain(usec bool, _ field) ([]component, *Error) {
	if p.at(p.i) == '*' {
		p.i++
		if usec {
			return []component{{start: 0, stop: -1, repeat: usecPerSec, pos: p.i - 1, end: p.i}}, nil
		}
		return nil, nil
	}
	var out []component
	for nesting := 0; ; nesting++ {
		if nesting > componentsMax {
			return nil, p.errf(p.i, p.i, fmt.Sprintf("More than %d values in one field", componentsMax+1),
				"systemd accepts at most 241 comma-separated values in a field; use a range (\"..\") or a repetition (\"/\") instead.")
		}
		c, err := p.component(usec)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
		if p.at(p.i) != ',' {
			return out, nil
		}
		p.i++
	}
}

// component is prepend_component: START[..STOP][/REPEAT].
func (p *parser) component(usec bool) (component, *Error) {
	pos := p.i
	start, err := p.decimal(usec, "")
	if err != nil {
		return component{}, err
	}
	stop, repeat := -1, 0
	if p.at(p.i) == '.' && p.at(p.i+1) == '.' {
		p.i += 2
		stop, err = p.decimal(usec, `".."`)
		if err != nil {
			return component{}, err
		}
		repeat = 1
		if usec {
			repeat = usecPerSec
		}
	}
	if p.at(p.i) == '/' {
		p.i++
		rpos := p.i
		repeat, err = p.decimal(usec, `"/"`)
		if err != nil {
			return component{}, err
		}
		if repeat == 0 {
			return component{}, p.errf(rpos, p.i, "A repetition of 0 never advances",
				`Write the step after "/" as 1 or more, as in "*:0/15" (every 15 minutes).`)
		}
	} else {
		if start > math.MaxInt32-repeat {
			return component{}, p.errf(pos, p.i, fmt.Sprintf("The number %q is too large", p.s[pos:p.i]),
				"No field of a calendar expression goes beyond 2199 (years); check for a missing separator.")
		}
		// A range of seconds steps by whole seconds unless it says
		// otherwise, so it must span at least one second.
		if usec && stop >= 0 && start+repeat > stop {
			return component{}, p.errf(pos, p.i, fmt.Sprintf("The seconds range %q is shorter than one second", p.s[pos:p.i]),
				`A range of seconds steps by one second: make its end at least one second after its start, or give a step, as in "05..06/0.25".`)
		}
	}
	switch c := p.at(p.i); c {
	case 0, ' ', ',', '-', '~', ':':
	default:
		end := p.charEnd(p.i)
		hint := `A value is a number, START..END, START/STEP or START..END/STEP; values are separated by ",", date parts by "-" and time parts by ":".`
		if c == '.' && !usec {
			hint = `Only seconds may have a fraction ("00:00:30.5"); a range is written with two dots, as in "01..05".`
		}
		return component{}, p.errf(p.i, end, fmt.Sprintf("Unexpected %q after %q", p.s[p.i:end], p.s[pos:p.i]), hint)
	}
	return component{start: start, stop: stop, repeat: repeat, pos: pos, end: p.i}, nil
}

// decimal is parse_component_decimal: digits, and for seconds an optional
// fraction of up to six digits (more are rounded at the seventh).
func (p *parser) decimal(usec bool, after string) (int, *Error) {
	pos := p.i
	if c := p.at(p.i); c < '0' || c > '9' {
		return 0, p.notANumber(after)
	}
	var v uint64
	overflow := false
	for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
		digit := uint64(p.s[p.i] - '0')
		if v > (math.MaxUint64-digit)/10 {
			overflow = true
		} else {
			v = v*10 + digit
		}
		p.i++
	}
	tooLarge := func() *Error {
		return p.errf(pos, p.i, fmt.Sprintf("The number %q is too large", p.s[pos:p.i]),
			"No field of a calendar expression goes beyond 2199 (years); check for a missing separator.")
	}
	if overflow {
		return 0, tooLarge()
	}
	if usec {
		if v > math.MaxUint64/usecPerSec {
			return 0, tooLarge()
		}
		v *= usecPerSec
		if p.at(p.i) == '.' && p.at(p.i+1) != '.' {
			p.i++
			add, ok := p.fraction(6)
			if !ok {
				return 0, p.errf(p.i-1, p.i, fmt.Sprintf("The fraction in %q has no digits", p.s[pos:p.i]),
					`Write seconds with a fraction as "30.5", or without one as "30".`)
			}
			if v+add < v {
				return 0, tooLarge()
			}
			v += add
		}
	}
	if v > math.MaxInt32 {
		return 0, tooLarge()
	}
	return int(v), nil
}

// fraction is parse_fractional_part_u: up to digits digits (padded with
// zeros), rounded up by the next digit, further digits skipped.
func (p *parser) fraction(digits int) (uint64, bool) {
	var v uint64
	i := 0
	for ; i < digits; i++ {
		c := p.at(p.i)
		if c < '0' || c > '9' {
			if i == 0 {
				return 0, false
			}
			for ; i < digits; i++ {
				v *= 10
			}
			break
		}
		v = v*10 + uint64(c-'0')
		p.i++
	}
	if c := p.at(p.i); c >= '5' && c <= '9' {
		v++
	}
	for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
		p.i++
	}
	return v, true
}

// notANumber explains a place where a number (or "*") was expected.
func (p *parser) notANumber(after string) *Error {
	rest := p.s[p.i:]
	if rest == "" {
		where := "The expression ends where a number was expected"
		if after != "" {
			where = fmt.Sprintf("A number is missing after %s", after)
		}
		return p.errf(p.i, p.i, where, `Complete it, as in "*-*-* 02:30" or "Mon..Fri 08..17:00".`)
	}
	end := p.i
	for end < len(p.s) && !strings.ContainsRune(" ,-~:./", rune(p.s[end])) {
		end++
	}
	if end == p.i {
		end = p.i + 1
	}
	word := p.s[p.i:end]
	if after != "" {
		return p.errf(p.i, end, fmt.Sprintf("Expected a number after %s, found %q", after, word),
			`Ranges are written START..END and repetitions START/STEP with numbers, as in "01..05" or "0/15".`)
	}
	return p.errf(p.i, end, fmt.Sprintf("Expected a number or \"*\", found %q", word),
		`A calendar expression is "[WEEKDAYS] [YEAR-]MONTH-DAY [HOUR:MINUTE[:SECOND]] [TIMEZONE]" with numbers or "*" in each part, as in "Mon..Fri *-*-* 02:30", or a shorthand such as "daily".`)
}

// explain improves the message of a parse error where the user most
// likely wrote a word: a misspelled shorthand, weekday or time zone.
func (p *parser) explain(e *Error) *Error {
	if e == nil || !p.explainErrors {
		return e
	}
	// A last word that is not a zone, after an expression that is valid
	// without it: the zone is what is wrong ("daily Europe/Berln").
	if i := strings.LastIndexByte(p.in, ' '); i > 0 && looksLikeZone(p.in[i+1:]) {
		if _, err := parse(p.in[:i], false); err == nil {
			return zoneError(e, p.in, i+1)
		}
	}
	whole := strings.TrimSpace(p.in)
	if isWord(whole) {
		e.Offset, e.End = 0, len(p.in)
		e.Problem = fmt.Sprintf("%q is not a shorthand systemd knows", whole)
		e.Hint = "The shorthands are " + shorthandList() + "."
		if s := closest(whole, shorthandNames()); s != "" {
			e.Hint = fmt.Sprintf("Did you mean %q? ", s) + e.Hint
		}
		return e
	}
	// A word at the end after a space is meant as a time zone.
	if i := strings.LastIndexByte(p.in, ' '); i >= 0 && e.Offset > i && looksLikeZone(p.in[i+1:]) {
		return zoneError(e, p.in, i+1)
	}
	// A word where the expression starts, that is neither a weekday nor
	// a shorthand ("Mox 10:00", "every day").
	if e.Offset == 0 && isLetter(p.at(0)) && !startsWithWeekday(p.in) {
		end := 0
		for end < len(p.in) && isLetter(p.in[end]) {
			end++
		}
		word := p.in[:end]
		e.End = end
		e.Problem = fmt.Sprintf("%q is neither a weekday nor a shorthand", word)
		e.Hint = `Weekdays are Mon, Tue, Wed, Thu, Fri, Sat and Sun (or their full English names), as in "Mon..Fri 02:30"; the shorthands are ` + shorthandList() + "."
		names := shorthandNames()
		for _, d := range weekdayTable {
			names = append(names, d.name)
		}
		if s := closest(word, names); s != "" {
			e.Hint = fmt.Sprintf("Did you mean %q? ", s) + e.Hint
		}
	}
	return e
}

func zoneError(e *Error, in string, at int) *Error {
	zone := in[at:]
	e.Offset, e.End = at, len(in)
	e.Problem = fmt.Sprintf("%q is not a time zone", zone)
	e.Hint = `Time zones are "UTC" or IANA names as in /usr/share/zoneinfo, written with their exact case ("Europe/Berlin", "America/New_York").`
	if s := closestZone(zone); s != "" {
		e.Hint = fmt.Sprintf("Did you mean %q? ", s) + e.Hint
	}
	return e
}

func startsWithWeekday(s string) bool {
	for _, d := range weekdayTable {
		if hasPrefixFold(s, d.name) {
			return true
		}
	}
	return false
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

func isWord(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-') {
			return false
		}
	}
	return !isWeekdayWord(s)
}

func isWeekdayWord(s string) bool {
	for _, d := range weekdayTable {
		if asciiEqualFold(s, d.name) {
			return true
		}
	}
	return false
}

func looksLikeZone(s string) bool {
	if s == "" || isWeekdayWord(s) {
		return false
	}
	letter := false
	for _, c := range s {
		switch {
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			letter = true
		case c >= '0' && c <= '9' || c == '/' || c == '_' || c == '-' || c == '+':
		default:
			return false
		}
	}
	return letter
}

func shorthandNames() []string {
	out := make([]string, 0, len(shorthands))
	for _, s := range shorthands {
		if s.name != "anually" {
			out = append(out, s.name)
		}
	}
	return out
}

func shorthandList() string {
	names := shorthandNames()
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}
