package calendar

import "time"

// tm is C's struct tm as systemd's find_next uses it: mon counts from 0,
// any field may be out of range until mktime normalizes it, and isdst is
// what the caller asks of mktime (-1: decide; 0 or 1: the wall-clock time
// is meant in standard or daylight saving time). year is the full year
// (C's tm_year+1900); yday (0-based) is only set by mktime.
type tm struct {
	year, mon, mday, hour, min, sec int
	isdst                           int
	yday                            int
}

// clock is the zone find_next works in, with the state glibc's mktime
// keeps between calls (its static localtime_offset).
type clock struct {
	loc *time.Location
	// offset is glibc's localtime_offset: the result of the last
	// successful mktime minus the wall-clock time it was asked for, as
	// seconds (minus the UTC offset, except after a gap). It is mktime's
	// first guess, which decides among the instants of a wall-clock time
	// that occurs twice.
	offset int64
}

// convert is localtime_r (gmtime_r in UTC).
func (cl *clock) convert(t int64) tm {
	x := time.Unix(t, 0).In(cl.loc)
	isdst := 0
	if x.IsDST() {
		isdst = 1
	}
	return tm{
		year: x.Year(), mon: int(x.Month()) - 1, mday: x.Day(),
		hour: x.Hour(), min: x.Minute(), sec: x.Second(),
		isdst: isdst, yday: x.YearDay() - 1,
	}
}

// wallSeconds is the wall-clock time year-yday hour:min:sec as seconds
// since 1970 as if the zone were UTC (glibc's ydhms_diff from the epoch).
func wallSeconds(year, yday, hour, min, sec int64) int64 {
	jan1 := time.Date(int(year), 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	return jan1 + ((yday*24+hour)*60+min)*60 + sec
}

func (c tm) wall() int64 {
	return wallSeconds(int64(c.year), int64(c.yday), int64(c.hour), int64(c.min), int64(c.sec))
}

// monthYday is glibc's __mon_yday: days before each month, for common
// and leap years.
var monthYday = [2][13]int{
	{0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334, 365},
	{0, 31, 60, 91, 121, 152, 182, 213, 244, 274, 305, 335, 366},
}

func isLeap(y int) bool { return y%4 == 0 && (y%100 != 0 || y%400 == 0) }

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// isdstDiffer is glibc's isdst_differ: both are known and one is
// daylight saving time and the other not.
func isdstDiffer(a, b int) bool { return (a == 0) != (b == 0) && a >= 0 && b >= 0 }

// mktime is glibc's mktime (__mktime_internal with localtime_r) as Debian
// 12 ships it (2.36 with the upstream fix that assumes a one-hour
// difference when no time with the isdst asked for is near), or
// timegm when the zone is UTC, as systemd's mktime_or_timegm: it turns
// the wall-clock time in *c, whose fields may be out of range, into an
// instant, and on success normalizes *c to it (isdst included). ok is
// false where glibc returns -1, leaving *c as it was.
//
// glibc's choices matter around a change of offset: a wall-clock time
// that occurs twice is read with the offset of the previous result
// (cl.offset) unless isdst says which one is meant; one that does not
// occur is moved by the size of the gap; and a time asked for with the
// wrong isdst (00:00 with isdst=1 in winter) is read with the offset of
// the nearest time that has it, an hour off. systemd keeps tm_isdst from
// one mktime to the next within find_next, so all of this shows in the
// next elapse it computes.
func (cl *clock) mktime(c *tm) (int64, bool) {
	if cl.loc == time.UTC {
		// timegm sets tm_isdst to 0 first; there is nothing to choose.
		t := time.Date(c.year, time.Month(c.mon+1), c.mday, c.hour, c.min, c.sec, 0, time.UTC).Unix()
		*c = cl.convert(t)
		return t, true
	}
	secRequested := c.sec
	sec := min(max(c.sec, 0), 59)
	isdst := c.isdst

	monRem := c.mon % 12
	neg := b2i(monRem < 0)
	year := c.year + c.mon/12 - neg
	yday := monthYday[b2i(isLeap(year))][monRem+12*neg] - 1 + c.mday
	wall := wallSeconds(int64(year), int64(yday), int64(c.hour), int64(c.min), int64(sec))

	t0 := wall + cl.offset
	t, t1, t2 := t0, t0, t0
	dst2 := 0
	probes := 6
	var x tm
	found := false
	for {
		x = cl.convert(t)
		dt := wall - x.wall()
		if dt == 0 {
			break
		}
		if t == t1 && t != t2 && (x.isdst < 0 || (isdst < 0 && dst2 <= b2i(x.isdst != 0)) ||
			(isdst >= 0 && (isdst != 0) != (x.isdst != 0))) {
			// Oscillating around a gap: take the side whose isdst
			// differs from the one asked for (or, with -1, the
			// daylight saving side).
			found = true
			break
		}
		probes--
		if probes == 0 {
			return 0, false
		}
		t1, t2, t, dst2 = t2, t, t+dt, b2i(x.isdst != 0)
	}
	if !found && isdstDiffer(isdst, x.isdst) {
		// The right wall-clock time with the wrong isdst: use the
		// offset of the nearest time, a week at a time in both
		// directions, that has the isdst asked for.
		const stride, durationMax = 601200, 457243209
		dstDifference := b2i(isdst == 0) - b2i(x.isdst == 0)
		ok := false
	probe:
		for delta := int64(stride); delta < durationMax/2+stride; delta += stride {
			for dir := int64(-1); dir <= 1; dir += 2 {
				ot := t + delta*dir
				otm := cl.convert(ot)
				if !isdstDiffer(isdst, otm.isdst) {
					t = ot + (wall - otm.wall())
					x = cl.convert(t)
					ok = true
					break probe
				}
			}
		}
		if !ok {
			// None nearby (a zone without daylight saving time):
			// assume it would be one hour.
			t += 3600 * int64(dstDifference)
			x = cl.convert(t)
		}
	}
	cl.offset = t - wall
	if secRequested != x.sec {
		// Seconds outside 0..59 were read as 0 or 59; add the rest.
		adj := int64(b2i(sec == 0 && x.sec == 60) - sec + secRequested)
		t += adj
		x = cl.convert(t)
	}
	*c = x
	return t, true
}
