package calendar

import (
	"fmt"
	"time"

	// The zones of ValidTimezone must load on any machine, with or
	// without /usr/share/zoneinfo: the list was made from this data.
	_ "time/tzdata"
)

// Next returns the first time after the instant after at which expr
// elapses, as systemd 252 computes it (calendar_spec_next_usec); ok is
// false when it never elapses again ("2020-01-01", "*-02-30", or a date
// past 2199), which for a timer means it is dead. The compiler reports
// that as an error; systemd would load such a timer without a word.
//
// An expression with a time zone ("… UTC", "… Europe/Berlin") is computed
// in that zone. One without is computed in after's location, which
// stands for the node's local zone: the compiler does not know it, so it
// passes UTC, which gives the right answer to "does it ever elapse?"
// everywhere but in the last hours before a final date.
func Next(expr string, after time.Time) (next time.Time, ok bool, err error) {
	s, perr := parse(expr, true)
	if perr != nil {
		return time.Time{}, false, perr
	}
	loc := after.Location()
	switch {
	case s.utc:
		loc = time.UTC
	case s.timezone != "":
		if loc, err = time.LoadLocation(s.timezone); err != nil {
			return time.Time{}, false, fmt.Errorf("calendar: time zone %s: %w", s.timezone, err)
		}
	}
	return s.next(after, loc)
}

// maxIterations is systemd's safety valve (MAX_CALENDAR_ITERATIONS).
const maxIterations = 1000

// next is calendar_spec_next_usec_impl and find_next, line by line, as
// in systemd 252.39, which Debian 12 ships (src/shared/calendarspec.c).
// c carries tm_isdst from one mktime to the next as in C: localtime's
// at the start, -1 (spec->dst: bakc knows no zone abbreviations) after
// the normalization at the top of each round, and mktime's own result
// where tm_within_bounds copies a normalized time back. The first
// mktime reads the start with the start's own isdst, which makes its
// result, and so glibc's offset state for the rest of the search,
// independent of the calls before (other expressions, in systemd).
func (s *spec) next(after time.Time, loc *time.Location) (time.Time, bool, error) {
	if after.Unix() < 0 {
		return time.Time{}, false, fmt.Errorf("calendar: %v is before 1970", after)
	}
	usec := after.UnixMicro() + 1
	cl := &clock{loc: loc}
	start := cl.convert(usec / usecPerSec)
	startUsec := int(usec % usecPerSec)
	c, tmUsec := start, startUsec
	// invalidateDST is set once the search got stuck at or before its
	// start (252.39; see below): from then on c keeps the isdst of the
	// last normalization instead of asking mktime to decide.
	invalidateDST := false
	reset := func(from field) {
		switch from {
		case fieldMonth:
			c.mon = 0
			fallthrough
		case fieldDay:
			c.mday = 1
			fallthrough
		case fieldHour:
			c.hour = 0
			fallthrough
		case fieldMinute:
			c.min = 0
			fallthrough
		case fieldSecond:
			c.sec = 0
			tmUsec = 0
		}
	}
	for range maxIterations {
		// Normalize the current date.
		cl.mktime(&c)
		if !invalidateDST {
			c.isdst = -1
		}

		r, found := s.match(fieldYear, &c, &c.year, cl)
		if !found {
			return time.Time{}, false, nil
		}
		if r {
			reset(fieldMonth)
		}
		if b, err := s.withinBounds(&c, cl); err != nil || !b {
			return time.Time{}, false, nil
		}

		c.mon++
		r, found = s.match(fieldMonth, &c, &c.mon, cl)
		c.mon--
		if r {
			reset(fieldDay)
		}
		if b, ok := s.step(found, &c, cl); !ok {
			c.year++
			reset(fieldMonth)
			continue
		} else if !b {
			continue
		}

		r, found = s.match(fieldDay, &c, &c.mday, cl)
		if r {
			reset(fieldHour)
		}
		if b, ok := s.step(found, &c, cl); !ok {
			c.mon++
			reset(fieldDay)
			continue
		} else if !b {
			continue
		}

		if !s.matchesWeekday(c, cl) {
			c.mday++
			reset(fieldHour)
			continue
		}

		r, found = s.match(fieldHour, &c, &c.hour, cl)
		if r {
			reset(fieldMinute)
		}
		if b, ok := s.step(found, &c, cl); !ok {
			c.mday++
			reset(fieldHour)
			continue
		} else if !b {
			// The hour may not exist on this day (a time zone change):
			// try again from the normalized time.
			continue
		}

		r, found = s.match(fieldMinute, &c, &c.min, cl)
		if r {
			reset(fieldSecond)
		}
		if b, ok := s.step(found, &c, cl); !ok {
			c.hour++
			reset(fieldMinute)
			continue
		} else if !b {
			continue
		}

		us := c.sec*usecPerSec + tmUsec
		_, found = s.match(fieldSecond, &c, &us, cl)
		tmUsec = us % usecPerSec
		c.sec = us / usecPerSec
		if b, ok := s.step(found, &c, cl); !ok {
			c.min++
			reset(fieldSecond)
			continue
		} else if !b {
			continue
		}

		// systemd 252.39 (not 252.0): a result that is not after the
		// start, compared as wall-clock fields, means the search went
		// back across a change of offset; move on an hour and let
		// mktime pick the side.
		r2 := compareTm(start, c)
		if r2 == 0 {
			r2 = compareInt(startUsec, tmUsec+1)
		}
		if r2 >= 0 {
			invalidateDST = true
			c.hour++
			continue
		}

		t, ok := cl.mktime(&c)
		if !ok {
			return time.Time{}, false, fmt.Errorf("calendar: mktime fails on the result for %q (systemd fails too)", s.String())
		}
		return time.Unix(t, int64(tmUsec)*1000).In(loc), true, nil
	}
	return time.Time{}, false, fmt.Errorf("calendar: no result after %d steps for %q (systemd gives up too)", maxIterations, s.String())
}

// step is find_next's "if (r < 0 || (r = tm_within_bounds(…)) < 0)":
// ok is false when the field has no value left or the time left its
// bounds (the caller moves on to the next larger unit); inBounds is
// false when c was normalized (the caller starts over from it).
func (s *spec) step(found bool, c *tm, cl *clock) (inBounds, ok bool) {
	if !found {
		return false, false
	}
	b, err := s.withinBounds(c, cl)
	if err != nil {
		return false, false
	}
	return b, true
}

// match is find_matching_component: the earliest value of field f's
// chain at or after *val. changed says whether *val moved; found is false
// when no value is left.
func (s *spec) match(f field, c *tm, val *int, cl *clock) (changed, found bool) {
	chain := s.fields[f]
	if len(chain) == 0 {
		return false, true
	}
	endOfMonth := s.endOfMonth && f == fieldDay
	d, set := -1, false
	for _, x := range chain {
		start, stop := x.start, x.stop
		if endOfMonth {
			start = endOfMonthDay(*c, cl, x.start)
			stop = endOfMonthDay(*c, cl, x.stop)
			if stop > 0 {
				start, stop = stop, start
			}
		}
		if start >= *val {
			if !set || start < d {
				d, set = start, true
			}
		} else if x.repeat > 0 {
			k := start + x.repeat*ceilDiv(*val-start, x.repeat)
			if (!set || k < d) && (stop < 0 || k <= stop) {
				d, set = k, true
			}
		}
	}
	if !set {
		return false, false
	}
	changed = *val != d
	*val = d
	return changed, true
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// endOfMonthDay is find_end_of_month: the day of c's month that is day
// days before the month's end ("~1" is the last day), or -1. mktime gets
// c's isdst, as in C.
func endOfMonthDay(c tm, cl *clock, day int) int {
	t := c
	t.mon++
	t.mday = 1 - day
	if _, ok := cl.mktime(&t); !ok || t.mon != c.mon {
		return -1
	}
	return t.mday
}

// withinBounds is tm_within_bounds: in range (true), normalized into
// range (false, *c updated, its isdst included), or past 2199, going
// backwards or refused by mktime (error).
func (s *spec) withinBounds(c *tm, cl *clock) (bool, error) {
	if c.year > maxYear {
		return false, fmt.Errorf("past %d", maxYear)
	}
	t := *c
	if _, ok := cl.mktime(&t); !ok {
		return false, fmt.Errorf("mktime fails")
	}
	cmp := 0
	switch {
	case t.year != c.year:
		cmp = compareInt(t.year, c.year)
		t.mon = 0
	case t.mon != c.mon:
		cmp = compareInt(t.mon, c.mon)
		t.mday = 1
	case t.mday != c.mday:
		cmp = compareInt(t.mday, c.mday)
		t.hour = 0
	case t.hour != c.hour:
		cmp = compareInt(t.hour, c.hour)
		t.min = 0
	case t.min != c.min:
		cmp = compareInt(t.min, c.min)
		t.sec = 0
	default:
		cmp = compareInt(t.sec, c.sec)
	}
	if cmp < 0 {
		return false, fmt.Errorf("refusing to go backwards")
	}
	if cmp > 0 {
		*c = t
	}
	return cmp == 0, nil
}

// compareTm is tm_compare: the wall-clock fields, year first.
func compareTm(a, b tm) int {
	for _, p := range [][2]int{{a.year, b.year}, {a.mon, b.mon}, {a.mday, b.mday}, {a.hour, b.hour}, {a.min, b.min}} {
		if r := compareInt(p[0], p[1]); r != 0 {
			return r
		}
	}
	return compareInt(a.sec, b.sec)
}

func compareInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// matchesWeekday is matches_weekday.
func (s *spec) matchesWeekday(c tm, cl *clock) bool {
	if s.weekdays < 0 || s.weekdays >= allWeekdays {
		return true
	}
	t, ok := cl.mktime(&c)
	if !ok {
		return false
	}
	wd := time.Unix(t, 0).In(cl.loc).Weekday()
	k := int(wd) - 1
	if wd == time.Sunday {
		k = 6
	}
	return s.weekdays&(1<<k) != 0
}
