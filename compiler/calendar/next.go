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

// tm is C's struct tm as find_next uses it: mon counts from 0, and any
// field may be out of range until normalize.
type tm struct {
	year, mon, mday, hour, min, sec int
}

func tmOf(t time.Time) tm {
	return tm{t.Year(), int(t.Month()) - 1, t.Day(), t.Hour(), t.Minute(), t.Second()}
}

// clock is the zone find_next works in, with the state glibc's mktime
// keeps between calls: the offset of its last result, which decides
// which of two instants a wall-clock time that occurs twice is.
type clock struct {
	loc        *time.Location
	lastOffset int64
}

func (cl *clock) offsetAt(instant int64) int64 {
	_, off := time.Unix(instant, 0).In(cl.loc).Zone()
	return int64(off)
}

// normalize is mktime with tm_isdst = -1, as systemd calls it:
// out-of-range fields carry over, and the wall-clock time becomes an
// instant the way glibc picks one around a change of offset.
func (cl *clock) normalize(c tm) (tm, time.Time) {
	w := time.Date(c.year, time.Month(c.mon+1), c.mday, c.hour, c.min, c.sec, 0, time.UTC)
	if cl.loc == time.UTC {
		return tmOf(w), w
	}
	x := cl.resolve(w.Unix())
	cl.lastOffset = cl.offsetAt(x)
	t := time.Unix(x, 0).In(cl.loc)
	return tmOf(t), t
}

// resolve finds the instant whose wall clock reads wall (seconds as if
// the wall clock were UTC). time.Date leaves the two hard cases
// unspecified and decides them differently from glibc, which systemd
// uses. A time that occurs twice (the clock is set back) is read with
// the offset of mktime's previous result, as glibc's first guess is. A
// time that does not occur (the clock skips ahead) is moved by the size
// of the gap, to the side that is daylight saving time (02:30 becomes
// 03:30), as glibc prefers.
func (cl *clock) resolve(wall int64) int64 {
	valid := func(x int64) bool { return x+cl.offsetAt(x) == wall }
	if x := wall - cl.lastOffset; valid(x) {
		return x
	}
	// Offsets change at most once within two days in any zone.
	a, b := wall-cl.offsetAt(wall-2*86400), wall-cl.offsetAt(wall+2*86400)
	switch {
	case valid(a) && valid(b):
		return min(a, b)
	case valid(a):
		return a
	case valid(b):
		return b
	}
	if !time.Unix(a, 0).In(cl.loc).IsDST() && time.Unix(b, 0).In(cl.loc).IsDST() {
		return b
	}
	return a
}

// maxIterations is systemd's safety valve (MAX_CALENDAR_ITERATIONS).
const maxIterations = 1000

// next is calendar_spec_next_usec_impl and find_next.
func (s *spec) next(after time.Time, loc *time.Location) (time.Time, bool, error) {
	if after.Unix() < 0 {
		return time.Time{}, false, fmt.Errorf("calendar: %v is before 1970", after)
	}
	usec := after.UnixMicro() + 1
	start := time.UnixMicro(usec).In(loc)
	c := tmOf(start)
	// The first mktime gets localtime's tm_isdst, so it reads the start
	// with the start's own offset.
	_, off := start.Zone()
	cl := &clock{loc: loc, lastOffset: int64(off)}
	tmUsec := int(usec % usecPerSec)
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
		c, _ = cl.normalize(c)

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

		_, t := cl.normalize(c)
		return t.Add(time.Duration(tmUsec) * time.Microsecond), true, nil
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
// days before the month's end ("~1" is the last day), or -1.
func endOfMonthDay(c tm, cl *clock, day int) int {
	t := c
	t.mon++
	t.mday = 1 - day
	n, _ := cl.normalize(t)
	if n.mon != c.mon {
		return -1
	}
	return n.mday
}

// withinBounds is tm_within_bounds: in range (true), normalized into
// range (false, *c updated), or past 2199 / going backwards (error).
func (s *spec) withinBounds(c *tm, cl *clock) (bool, error) {
	if c.year > maxYear {
		return false, fmt.Errorf("past %d", maxYear)
	}
	t, _ := cl.normalize(*c)
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
	_, t := cl.normalize(c)
	k := int(t.Weekday()) - 1
	if t.Weekday() == time.Sunday {
		k = 6
	}
	return s.weekdays&(1<<k) != 0
}
