package calendar

import (
	"time"
)

// Gap is the longest time between two consecutive elapses of a
// schedule over a walked period (LongestGap).
type Gap struct {
	// Longest is the longest time between two consecutive elapses; zero
	// when the schedule elapses fewer than twice in the period.
	Longest time.Duration
	// Elapses is how many elapses were walked.
	Elapses int
	// Complete is true when the walk covered the whole period; false when
	// it stopped at maxGapElapses (a schedule that fires every minute
	// for four years), so that Longest is the longest of the first ones.
	Complete bool
}

// maxGapElapses bounds LongestGap's walk: about 0.2 s of Elapses, and
// more than four years of an hourly schedule (35064 elapses).
const maxGapElapses = 100000

// LongestGap walks the elapses of expr from the instant from until the
// first one after until, in from's location (the node's zone, for an
// expression without one of its own), and returns the longest time
// between two consecutive ones. The gap that ends with the first elapse
// after until counts, so that a schedule rarer than the period (a leap
// day) still has its gap. It is what a monitor of the schedule must wait
// at least before it may say that a run was missed: alert thresholds
// (emit/alerts) are made from it, with the same calendar code that checks
// the schedule.
func LongestGap(expr string, from, until time.Time) (Gap, error) {
	var g Gap
	var prev time.Time
	g.Complete = true
	err := Elapses(expr, from, func(t time.Time) bool {
		g.Elapses++
		if !prev.IsZero() {
			if d := t.Sub(prev); d > g.Longest {
				g.Longest = d
			}
		}
		prev = t
		if t.After(until) {
			return false
		}
		if g.Elapses >= maxGapElapses {
			g.Complete = false
			return false
		}
		return true
	})
	return g, err
}
