package calendar

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// exprGen builds random calendar expressions from the grammar's parts
// (weekdays, dates with "-" and "~", times, time zones, shorthands, "@"
// epochs), each part a list of numbers, ranges and repetitions drawn
// near the limits systemd checks. Most come out valid or nearly so,
// which byte mutations of a seed rarely do: the differential test
// (differential_test.go) compares them with systemd-analyze.
type exprGen struct {
	r *rand.Rand
	// localZone is the zone systemd-analyze runs in; zone names that are
	// its abbreviations are not generated (systemd reads them as the
	// local zone, bakc does not know them: docs/schedules.md).
	localZone string
}

// genZones are the zones the generator appends: ones with a change of
// offset (by an hour, by 30 minutes, at midnight), ones without, and a
// far one. All are zone files on the test machine and in bakc's list.
var genZones = []string{
	"UTC", "utc", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe",
	"America/Havana", "Asia/Kolkata", "Pacific/Chatham", "Asia/Tokyo", "Etc/GMT-14",
	"America/Santiago", "Europe/London", "Europe/Dublin", "Africa/Casablanca", "Antarctica/Troll", "Pacific/Apia",
}

// chance is true with probability p.
func (g *exprGen) chance(p float64) bool { return g.r.Float64() < p }

// pick returns one of xs.
func pick[T any](g *exprGen, xs ...T) T { return xs[g.r.IntN(len(xs))] }

// between returns a number in [lo, hi].
func (g *exprGen) between(lo, hi int) int { return lo + g.r.IntN(hi-lo+1) }

// expr is one expression.
func (g *exprGen) expr() string {
	switch x := g.r.Float64(); {
	case x < 0.04:
		return g.shorthand()
	case x < 0.06:
		return g.epoch()
	}
	var parts []string
	hasWeekdays := g.chance(0.3)
	if hasWeekdays {
		parts = append(parts, g.weekdays())
	}
	form := g.r.IntN(10)
	// 0-3: date and time, 4-5: date, 6-8: time, 9: neither (weekdays
	// alone, or an empty schedule).
	if form <= 5 {
		parts = append(parts, g.date())
	}
	if form <= 3 || (form >= 6 && form <= 8) {
		parts = append(parts, g.time())
	}
	if len(parts) == 0 && !g.chance(0.05) {
		parts = append(parts, g.time())
	}
	if g.chance(0.25) {
		parts = append(parts, g.zone())
	}
	sep := " "
	if g.chance(0.02) {
		sep = "  "
	}
	out := strings.Join(parts, sep)
	switch {
	case g.chance(0.01):
		out = " " + out
	case g.chance(0.01):
		out += " "
	}
	return out
}

func (g *exprGen) zone() string { return pick(g, genZones...) }

// oddCase writes s in its own case, lower case, upper case or mixed.
func (g *exprGen) oddCase(s string) string {
	switch x := g.r.Float64(); {
	case x < 0.8:
		return s
	case x < 0.88:
		return strings.ToLower(s)
	case x < 0.95:
		return strings.ToUpper(s)
	}
	b := []byte(s)
	for i := range b {
		if g.chance(0.5) {
			b[i] = asciiLower(b[i])
		} else if b[i] >= 'a' && b[i] <= 'z' {
			b[i] -= 'a' - 'A'
		}
	}
	return string(b)
}

func (g *exprGen) shorthand() string {
	s := g.oddCase(pick(g, "minutely", "hourly", "daily", "weekly", "monthly", "quarterly",
		"semiannually", "semi-annually", "biannually", "bi-annually", "yearly", "annually", "anually"))
	if g.chance(0.3) {
		s += " " + g.zone()
	}
	return s
}

func (g *exprGen) epoch() string {
	var v string
	switch x := g.r.Float64(); {
	case x < 0.6:
		v = fmt.Sprint(g.r.Int64N(maxEpoch + 1))
	case x < 0.8:
		v = fmt.Sprint(maxEpoch + int64(g.between(-2, 2)))
	case x < 0.9:
		v = fmt.Sprint(g.between(0, 100000))
	default:
		v = pick(g, "-1", "+5", " 7", "18446744073709551615", "18446744073709551616", "1e9", "")
	}
	s := "@" + v
	if g.chance(0.1) {
		s += " " + g.zone()
	}
	return s
}

// weekdays is a list of weekdays and weekday ranges, now and then a
// broken one.
func (g *exprGen) weekdays() string {
	day := func() (string, int) {
		d := g.r.IntN(7)
		name := weekdayNames[d]
		if g.chance(0.2) {
			name = [...]string{"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"}[d]
		}
		return g.oddCase(name), d
	}
	n := 1
	if g.chance(0.35) {
		n = g.between(2, 4)
	}
	items := make([]string, n)
	for i := range items {
		a, da := day()
		if g.chance(0.35) {
			b, db := day()
			// Mostly forwards: backwards ranges are errors.
			if db < da && g.chance(0.8) {
				a, b = b, a
			}
			items[i] = a + pick(g, "..", "..", "..", "-") + b
		} else {
			items[i] = a
		}
	}
	s := strings.Join(items, ",")
	if g.chance(0.03) {
		s = pick(g, s+",", s+"..", "Mo", "Mon...Fri", "Mon;Tue", "Mon.Fri", s+"x")
	}
	return s
}

// date is YEAR-MONTH-DAY or MONTH-DAY, with "~" before the day now and
// then; each part a chain.
func (g *exprGen) date() string {
	eom := g.chance(0.35)
	sep := "-"
	if eom {
		sep = "~"
	}
	day := g.chain(fieldDay, eom)
	month := g.chain(fieldMonth, false)
	s := month + sep + day
	if g.chance(0.6) {
		s = g.chain(fieldYear, false) + "-" + s
	}
	if g.chance(0.02) {
		s = pick(g, strings.Replace(s, "-", "~", 1), s+"-1", s+"~1", strings.ReplaceAll(s, "-", "/"))
	}
	return s
}

// time is HOUR:MINUTE or HOUR:MINUTE:SECOND.
func (g *exprGen) time() string {
	s := g.chain(fieldHour, false) + ":" + g.chain(fieldMinute, false)
	if g.chance(0.6) {
		s += ":" + g.chain(fieldSecond, false)
	}
	if g.chance(0.01) {
		s = pick(g, s+":", s+":00", s+".", strings.Replace(s, ":", ".", 1))
	}
	return s
}

// chain is "*" or a comma-separated list of components.
func (g *exprGen) chain(f field, eom bool) string {
	if g.chance(0.25) {
		return "*"
	}
	n := 1
	switch x := g.r.Float64(); {
	case x < 0.7:
	case x < 0.93:
		n = g.between(2, 4)
	case x < 0.995:
		n = g.between(5, 12)
	default:
		n = g.between(componentsMax-1, componentsMax+2)
	}
	items := make([]string, n)
	for i := range items {
		items[i] = g.component(f, eom)
	}
	return strings.Join(items, ",")
}

// component is START, START..STOP, START/REPEAT or START..STOP/REPEAT.
func (g *exprGen) component(f field, eom bool) string {
	from, to := f.bounds()
	if f == fieldSecond {
		to = 59
	}
	if eom {
		to = 28
	}
	if f == fieldYear {
		// Years near now, so that most of them still elapse.
		from, to = 2024, 2032
	}
	start := g.value(f, from, to, eom)
	s := g.number(f, start)
	switch x := g.r.Float64(); {
	case x < 0.5:
		return s
	case x < 0.7:
		return s + "/" + g.repeat(f, from, to)
	}
	stop := start + g.between(1, max(1, (to-from)/2))
	switch x := g.r.Float64(); {
	case x < 0.08:
		stop = start
	case x < 0.16:
		stop = start - g.between(1, 3)
	case x < 0.22:
		stop = to + g.between(0, 2)
	}
	s += ".." + g.number(f, max(stop, 0))
	if g.chance(0.5) {
		s += "/" + g.repeat(f, from, to)
	}
	return s
}

// value is a start value: mostly in range, often at its edges, now and
// then just outside.
func (g *exprGen) value(f field, from, to int, eom bool) int {
	switch x := g.r.Float64(); {
	case x < 0.15:
		return pick(g, from, from+1, to-1, to)
	case x < 0.2:
		if f == fieldYear {
			return pick(g, 1969, 1970, 2199, 2200, 0, 69, 70, 99, 100, 25)
		}
		lo, hi := f.bounds()
		if eom {
			hi = 28
		}
		if f == fieldSecond {
			hi = 59
		}
		return max(0, pick(g, lo-1, hi+1, hi+2, 31, 29))
	case x < 0.35 && eom:
		// Lists after "~" meet a limit that falls by 3 per value.
		return g.between(1, 9)
	}
	return g.between(from, to)
}

// number writes v, zero-padded now and then; seconds get fractions.
func (g *exprGen) number(f field, v int) string {
	s := fmt.Sprint(v)
	if g.chance(0.3) {
		s = fmt.Sprintf("%02d", v)
	}
	if f == fieldSecond && g.chance(0.3) {
		s += "." + g.fraction()
	}
	return s
}

// fraction is 1 to 7 digits, often ones that round.
func (g *exprGen) fraction() string {
	switch x := g.r.Float64(); {
	case x < 0.3:
		return pick(g, "5", "25", "75", "125", "000001", "999999", "9999995", "0000005", "0000004", "1234567")
	case x < 0.33:
		return ""
	}
	n := g.between(1, 7)
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('0' + g.r.IntN(10))
	}
	return string(b)
}

// repeat is a repetition: mostly short, sometimes 0 or as long as the
// field; for seconds now and then a fraction.
func (g *exprGen) repeat(f field, from, to int) string {
	var v int
	switch x := g.r.Float64(); {
	case x < 0.05:
		v = 0
	case x < 0.7:
		v = g.between(1, 7)
	case x < 0.85:
		v = to - from + g.between(-1, 1)
	default:
		v = g.between(1, max(1, to-from))
	}
	s := fmt.Sprint(max(v, 0))
	if f == fieldSecond && g.chance(0.3) {
		if g.chance(0.5) {
			s = "0"
		}
		s += "." + g.fraction()
	}
	return s
}
