package calendar

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// The limits systemd 252 puts on a calendar expression (calendarspec.c).
const (
	allWeekdays = 127 // BITS_WEEKDAYS: Mon (bit 0) .. Sun (bit 6)
	minYear     = 1970
	maxYear     = 2199
	// componentsMax is CALENDARSPEC_COMPONENTS_MAX: a field may hold at
	// most componentsMax+1 comma-separated values.
	componentsMax = 240
	usecPerSec    = 1000000
)

// component is one value of a field: start, start..stop, start/repeat or
// start..stop/repeat. stop is -1 when there is no range; repeat is 0 when
// the value does not repeat. Seconds are counted in microseconds.
type component struct {
	start, stop, repeat int
	// pos and end are the byte range of the component in the input, so
	// that a range check can point at what the user wrote.
	pos, end int
}

// field names one part of the date and time, for messages and limits.
type field int

const (
	fieldYear field = iota
	fieldMonth
	fieldDay
	fieldHour
	fieldMinute
	fieldSecond
)

func (f field) String() string {
	return [...]string{"year", "month", "day", "hour", "minute", "second"}[f]
}

// bounds are the values a field may take (calendar_spec_valid).
func (f field) bounds() (from, to int) {
	switch f {
	case fieldYear:
		return minYear, maxYear
	case fieldMonth:
		return 1, 12
	case fieldDay:
		return 1, 31
	case fieldHour:
		return 0, 23
	case fieldMinute:
		return 0, 59
	default:
		return 0, 60*usecPerSec - 1
	}
}

// spec is a parsed calendar expression, systemd's CalendarSpec. A nil
// chain is "*" (every value); the seconds' "*" is the chain 0/1s, as in
// systemd, so that it prints back as "*".
type spec struct {
	weekdays   int // bits, Mon = bit 0; -1 for every day
	fields     [6][]component
	endOfMonth bool
	utc        bool
	timezone   string
}

// normalize is calendar_spec_normalize: two-digit years become
// four-digit ones, a range's end is cut to a whole number of
// repetitions, and each field is sorted with duplicates removed.
func (s *spec) normalize() {
	if s.timezone == "UTC" {
		s.utc = true
		s.timezone = ""
	}
	if s.weekdays <= 0 || s.weekdays >= allWeekdays {
		s.weekdays = -1
	}
	if s.endOfMonth && s.fields[fieldDay] == nil {
		s.endOfMonth = false
	}
	for i := range s.fields[fieldYear] {
		c := &s.fields[fieldYear][i]
		c.start = fixYear(c.start)
		c.stop = fixYear(c.stop)
	}
	for f := range s.fields {
		s.fields[f] = normalizeChain(s.fields[f])
	}
}

// fixYear turns 12 into 2012 and 89 into 1989, as systemd does.
func fixYear(y int) int {
	switch {
	case y >= 0 && y < 70:
		return y + 2000
	case y >= 70 && y < 100:
		return y + 1900
	}
	return y
}

func compareComponents(a, b component) int {
	if c := cmp.Compare(a.start, b.start); c != 0 {
		return c
	}
	if c := cmp.Compare(a.stop, b.stop); c != 0 {
		return c
	}
	return cmp.Compare(a.repeat, b.repeat)
}

func normalizeChain(c []component) []component {
	for i := range c {
		x := &c[i]
		if x.stop > x.start && x.repeat > 0 {
			x.stop -= (x.stop - x.start) % x.repeat
		}
		// A repetition that cannot fire even once, or a range whose end
		// is its start, is a single value.
		if (x.stop > x.start && x.repeat > 0 && x.start+x.repeat > x.stop) || x.start == x.stop {
			x.repeat = 0
			x.stop = -1
		}
	}
	if len(c) <= 1 {
		return c
	}
	sorted := slices.Clone(c)
	slices.SortStableFunc(sorted, compareComponents)
	return slices.CompactFunc(sorted, func(a, b component) bool { return compareComponents(a, b) == 0 })
}

// validate is calendar_spec_valid, one component at a time in the order
// they were written, so that the first problem reported is the leftmost.
// It runs on the normalized spec but in source order; a component's place
// in the normalized chain (sorted, without duplicates) matters for days
// counted from the month's end (see validComponent).
func (s *spec) validate(in string) *Error {
	for f := fieldYear; f <= fieldSecond; f++ {
		type placed struct {
			c     component
			index int
		}
		cs := make([]placed, len(s.fields[f]))
		for i, c := range s.fields[f] {
			cs[i] = placed{c, i}
		}
		slices.SortStableFunc(cs, func(a, b placed) int { return cmp.Compare(a.c.pos, b.c.pos) })
		for _, x := range cs {
			if err := validComponent(in, f, x.c, s.endOfMonth && f == fieldDay, x.index); err != nil {
				return err
			}
		}
	}
	return nil
}

// endOfMonthListMax is the longest list of days after "~" that systemd
// 252 can accept: the limit of the tenth value would be 1, which only
// "~1" meets, and "~1" always sorts first.
const endOfMonthListMax = 9

// validComponent is chain_valid for one component, the index-th of its
// normalized chain.
//
// For days after "~", chain_valid (systemd 252, src/shared/calendarspec.c,
// lines 172-213) lowers its upper bound "to" by 3 to forbid days more
// than 28 from the month's end, and then calls itself for the next
// component with the lowered bound, which lowers it by 3 again: the
// index-th value of the sorted list may be at most 28-3*index ("~1,25"
// is valid, "~1,26" is not, "~1,2,23" is not). Timers with such a list
// are refused at boot, so bakc must refuse them too.
func validComponent(in string, f field, c component, endOfMonth bool, index int) *Error {
	from, to := f.bounds()
	what := f.String()
	fail := func(problem, hint string, args ...any) *Error {
		return &Error{Input: in, Offset: c.pos, End: c.end, Problem: problem, Hint: fmt.Sprintf(hint, args...)}
	}
	written := in[c.pos:c.end]
	if endOfMonth {
		to -= 3 * (index + 1)
	}
	rangeHint := func() string {
		switch {
		case f == fieldYear:
			return "Years go from 1970 to 2199 (two-digit years 70..99 mean 1970..1999, 00..69 mean 2000..2069)."
		case endOfMonth && index >= endOfMonthListMax:
			return fmt.Sprintf(`After "~", systemd accepts at most %d values in a list of days (each further value lowers the limit by 3).`, endOfMonthListMax)
		case endOfMonth && index > 0:
			return fmt.Sprintf(`After "~", days count back from the last day of the month ("~01" is the last day) and go from 1 to 28, but systemd lowers that limit by 3 for each further value of a list, counted in sorted order: %q is value %d, so it may be at most %d. Use a range ("~01..07") or fewer values.`, written, index+1, to)
		case endOfMonth:
			return `After "~", days count back from the last day of the month ("~01" is the last day) and go from 1 to 28.`
		default:
			return fmt.Sprintf("The %s goes from %s to %s.", what, fmtValue(f, from), fmtValue(f, to))
		}
	}
	if c.start < from || c.start > to {
		return fail(fmt.Sprintf("The %s %q is out of range", what, written), "%s", rangeHint())
	}
	unit := 1
	if f == fieldSecond {
		unit = usecPerSec
	}
	if c.repeat > to-from {
		return fail(fmt.Sprintf("The repetition in %q is longer than the whole range of the %s", written, what),
			"%s Write a repetition (after \"/\") shorter than that, or list the values with commas.", rangeHint())
	}
	if c.stop >= 0 {
		if c.stop < from || c.stop > to {
			return fail(fmt.Sprintf("The end of the %s range %q is out of range", what, written), "%s", rangeHint())
		}
		if c.start+c.repeat > c.stop {
			if c.repeat == unit {
				return fail(fmt.Sprintf("The %s range %q is empty or runs backwards", what, written),
					"A range's end must come after its start, as in %q; for a single value write it without \"..\".", exampleRange(f))
			}
			return fail(fmt.Sprintf("The %s range %q leaves no room for a second value", what, written),
				"The repetition after \"/\" must be at most the length of the range (end minus start).")
		}
		return nil
	}
	if endOfMonth && c.repeat > 0 && c.start-c.repeat < from {
		return fail(fmt.Sprintf("The repetition in %q never repeats", written),
			`After "~", days count back from the month's last day; a repetition "~N/R" needs N-R to be at least 1. List the days with commas instead.`)
	}
	if !endOfMonth && c.start+c.repeat > to {
		return fail(fmt.Sprintf("The repetition in %q never repeats", written),
			"%s Start earlier, use a shorter repetition, or write the single value without \"/\".", rangeHint())
	}
	return nil
}

func exampleRange(f field) string {
	switch f {
	case fieldYear:
		return "2024..2026"
	case fieldMonth:
		return "03..05"
	case fieldDay:
		return "01..07"
	case fieldHour:
		return "08..17"
	case fieldMinute:
		return "00..29"
	default:
		return "00..29"
	}
}

// fmtValue prints a field value for a message: seconds with a fraction
// when they have one.
func fmtValue(f field, v int) string {
	if f != fieldSecond {
		return fmt.Sprint(v)
	}
	if v%usecPerSec == 0 {
		return fmt.Sprint(v / usecPerSec)
	}
	return strings.TrimRight(fmt.Sprintf("%d.%06d", v/usecPerSec, v%usecPerSec), "0")
}

var weekdayNames = [7]string{"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"}

// String is calendar_spec_to_string: the "Normalized form" that
// systemd-analyze calendar prints.
func (s *spec) String() string {
	var b strings.Builder
	if s.weekdays > 0 && s.weekdays <= allWeekdays {
		formatWeekdays(&b, s.weekdays)
		b.WriteByte(' ')
	}
	formatChain(&b, 4, s.fields[fieldYear], false)
	b.WriteByte('-')
	formatChain(&b, 2, s.fields[fieldMonth], false)
	if s.endOfMonth {
		b.WriteByte('~')
	} else {
		b.WriteByte('-')
	}
	formatChain(&b, 2, s.fields[fieldDay], false)
	b.WriteByte(' ')
	formatChain(&b, 2, s.fields[fieldHour], false)
	b.WriteByte(':')
	formatChain(&b, 2, s.fields[fieldMinute], false)
	b.WriteByte(':')
	formatChain(&b, 2, s.fields[fieldSecond], true)
	switch {
	case s.utc:
		b.WriteString(" UTC")
	case s.timezone != "":
		b.WriteByte(' ')
		b.WriteString(s.timezone)
	}
	return b.String()
}

// formatWeekdays is format_weekdays: runs of three or more days become a
// range, runs of two a comma list.
func formatWeekdays(b *strings.Builder, bits int) {
	l := -1
	needComma := false
	x := 0
	for ; x < len(weekdayNames); x++ {
		if bits&(1<<x) != 0 {
			if l < 0 {
				if needComma {
					b.WriteByte(',')
				} else {
					needComma = true
				}
				b.WriteString(weekdayNames[x])
				l = x
			}
		} else if l >= 0 {
			if x > l+1 {
				if x > l+2 {
					b.WriteString("..")
				} else {
					b.WriteString(",")
				}
				b.WriteString(weekdayNames[x-1])
			}
			l = -1
		}
	}
	if l >= 0 && x > l+1 {
		if x > l+2 {
			b.WriteString("..")
		} else {
			b.WriteString(",")
		}
		b.WriteString(weekdayNames[x-1])
	}
}

// formatChain is format_chain, including its way of printing fractional
// seconds (".%06d" after the whole part of each number).
func formatChain(b *strings.Builder, width int, c []component, usec bool) {
	d := 1
	if usec {
		d = usecPerSec
	}
	if len(c) == 0 {
		b.WriteByte('*')
		return
	}
	// chain_is_star: a seconds chain holding "0/1" anywhere (every
	// whole second) prints as "*", whatever else it lists.
	for _, x := range c {
		if usec && x.start == 0 && x.stop < 0 && x.repeat == usecPerSec {
			b.WriteByte('*')
			return
		}
	}
	for i, x := range c {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(b, "%0*d", width, x.start/d)
		if x.start%d > 0 {
			fmt.Fprintf(b, ".%06d", x.start%d)
		}
		if x.stop > 0 {
			fmt.Fprintf(b, "..%0*d", width, x.stop/d)
		}
		if x.stop%d > 0 {
			fmt.Fprintf(b, ".%06d", x.stop%d)
		}
		if x.repeat > 0 && !(x.stop > 0 && x.repeat == d) {
			fmt.Fprintf(b, "/%d", x.repeat/d)
		}
		if x.repeat%d > 0 {
			fmt.Fprintf(b, ".%06d", x.repeat%d)
		}
	}
}
