// Package schedule answers, from a plan's schedules alone, when a timer
// fires next and how old a task's last success may be before the task
// is overdue. It is the one place that decides "overdue": the alert
// rules (emit/alerts, `bakc alerts`) take their thresholds from Limit,
// and `bakc status` judges a node's files by the same Limit, so that the
// status page and the alert never disagree about whether a backup is
// late. docs/metrics.md explains the derivation with the example's
// numbers.
//
// It reads only plan values and uses compiler/calendar, which reads
// systemd calendar expressions and time spans as systemd 252 does.
package schedule

import (
	"fmt"
	"sync"
	"time"

	"github.com/holthome/bakc/compiler/calendar"
	"github.com/holthome/bakc/compiler/plan"
)

// Limit is how old a task's last success may be before the task is
// overdue, and how that was derived.
type Limit struct {
	Schedule plan.Schedule
	// Gap is the longest time between two consecutive elapses of the
	// schedule (LongestGap), Delay the timer's randomized delay, Grace
	// the node's monitoring grace (Grace).
	Gap, Delay, Grace time.Duration
	// Complete is false when the schedule fires so often that the walk
	// stopped before the end of the period (calendar.LongestGap).
	Complete bool
}

// MaxAge is Gap + Delay + Grace: a last success older than that means at
// least one run was missed or failed. The success is stamped with the
// run's start and reported at its end, so Grace must cover a run.
func (l Limit) MaxAge() time.Duration { return l.Gap + l.Delay + l.Grace }

// Overdue reports whether a task whose last success was at lastSuccess
// is overdue at now. A task that never succeeded (lastSuccess zero) is
// overdue: nothing of it can be restored yet.
func (l Limit) Overdue(lastSuccess, now time.Time) bool {
	return lastSuccess.IsZero() || now.Sub(lastSuccess) > l.MaxAge()
}

// For derives the limit of a task on schedule s with the node's grace
// (Grace); ok is false for a schedule that elapses fewer than twice in
// the period (a single date), which has no gap to be late by.
func For(s plan.Schedule, grace time.Duration) (Limit, bool, error) {
	gap, complete, err := LongestGap(s.Calendar)
	if err != nil {
		return Limit{}, false, fmt.Errorf("schedule %q: %w", s.Calendar, err)
	}
	var delay time.Duration
	if s.RandomizedDelay != "" {
		if delay, err = calendar.ParseTimespan(s.RandomizedDelay); err != nil {
			return Limit{}, false, fmt.Errorf("randomized delay %q: %w", s.RandomizedDelay, err)
		}
	}
	l := Limit{Schedule: s, Gap: gap, Delay: delay, Grace: grace, Complete: complete}
	return l, gap > 0, nil
}

// Grace is the plan's monitoring grace (plan.DefaultGrace when empty):
// the longest a run takes, plus slack.
func Grace(p *plan.Plan) (time.Duration, error) {
	g := p.Monitoring.Grace
	if g == "" {
		g = plan.DefaultGrace
	}
	d, err := calendar.ParseTimespan(g)
	if err != nil {
		return 0, fmt.Errorf("node %s: monitoring grace %q: %w", p.Node.Name, g, err)
	}
	return d, nil
}

// Next is when the schedule's calendar elapses next after after, in
// after's zone; ok is false when it never does again. The timer starts
// its service within the schedule's randomized delay after that.
func Next(s plan.Schedule, after time.Time) (time.Time, bool, error) {
	return calendar.Next(s.Calendar, after)
}

// The period a schedule is walked over: four years and a day from a
// Monday, 2024-01-01 00:00 (a leap year, every month length, every
// weekday of every date), as the compiler's cadence check walks from.
var (
	gapFrom  = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	gapUntil = gapFrom.AddDate(4, 0, 1)
)

// gapZones stand for the node's local zone, which bakc does not know: a
// schedule without a zone of its own is walked in UTC and in a zone with
// summer time, and the longer gap counts. systemd computes elapses on the
// wall clock, so summer time lengthens a daily gap to 25 hours, an
// hourly one to 2 hours (the repeated hour is not an elapse), and skips
// a 02:30 schedule on the day 02:30 does not exist (47 hours).
var gapZones = []string{"UTC", "Europe/Berlin"}

// gapCache holds the gaps by schedule: a fleet has few distinct ones.
var gapCache sync.Map

type gapResult struct {
	gap      time.Duration
	complete bool
	err      error
}

// LongestGap is the longest gap between consecutive elapses of cal over
// the period, in every zone of gapZones; zero when it elapses fewer than
// twice. complete is false when the walk stopped early
// (calendar.LongestGap).
func LongestGap(cal string) (gap time.Duration, complete bool, err error) {
	if v, ok := gapCache.Load(cal); ok {
		r := v.(gapResult)
		return r.gap, r.complete, r.err
	}
	r := gapResult{complete: true}
	for _, z := range gapZones {
		loc, err := time.LoadLocation(z)
		if err != nil {
			r.err = err
			break
		}
		g, err := calendar.LongestGap(cal, gapFrom.In(loc), gapUntil)
		if err != nil {
			r.err = err
			break
		}
		r.gap = max(r.gap, g.Longest)
		r.complete = r.complete && g.Complete
	}
	gapCache.Store(cal, r)
	return r.gap, r.complete, r.err
}
