// Package schedule answers, from a plan's schedules alone, when a timer
// fires next and how old a task's last success may be before the task
// is overdue. It is the one place that decides "overdue": `bakc status`
// reads it, and the alert rules derived from the schedules (issue 12)
// are meant to use the same MaxAge, so that the status page and the
// alert never disagree about whether a backup is late.
//
// It reads only plan values and uses compiler/calendar, which reads
// systemd calendar expressions and time spans as systemd 252 does.
package schedule

import (
	"fmt"
	"time"

	"github.com/holthome/bakc/compiler/calendar"
	"github.com/holthome/bakc/compiler/plan"
)

// Grace bounds. A task's success counts from the start of its run, and
// the run must end before its success is recorded, so a task that runs
// on time can look as old as the gap between two elapses plus its
// randomized delay plus the time a run takes. The run's time is the
// job's timeout_start when it has one (systemd stops the run then);
// otherwise it is taken to be at most the gap itself, but never less
// than MinGrace nor more than MaxGrace.
const (
	MinGrace = time.Hour
	MaxGrace = 6 * time.Hour
)

// walk bounds: the gaps are looked for within a year on both sides of
// the instant asked about (a schedule's longest gap is within any year
// of it, weekends and months included), in at most maxElapses elapses
// (a minutely schedule repeats its pattern within days).
const (
	walkBack   = 366 * 24 * time.Hour
	walkAhead  = 366 * 24 * time.Hour
	maxElapses = 40000
)

// Next is when the schedule's calendar elapses next after after, in
// after's zone; ok is false when it never does again. The timer starts
// its service within the schedule's randomized delay after that.
func Next(s plan.Schedule, after time.Time) (time.Time, bool, error) {
	return calendar.Next(s.Calendar, after)
}

// LongestGap is the longest time between two consecutive elapses of
// the calendar expression within a year before and after at, in at's
// zone (so that a day with a DST change counts with its real length).
// ok is false when the expression elapses fewer than twice in that
// span and after it (a one-off date): no gap, and no task can be late
// by it.
func LongestGap(expr string, at time.Time) (gap time.Duration, ok bool, err error) {
	var prev time.Time
	n := 0
	end := at.Add(walkAhead)
	err = calendar.Elapses(expr, at.Add(-walkBack), func(t time.Time) bool {
		if n > 0 {
			gap = max(gap, t.Sub(prev))
		}
		prev = t
		n++
		// Past the window, stop once one gap is known (a yearly or
		// leap-day schedule needs elapses beyond it).
		return n < maxElapses && (t.Before(end) || n < 2)
	})
	if err != nil {
		return 0, false, err
	}
	return gap, n >= 2, nil
}

// Grace is the time a run of a task may take before its success is
// late, for a schedule whose longest gap is gap: the job's
// timeout_start (a systemd time span, "" for none) when it has one,
// else gap within [MinGrace, MaxGrace].
func Grace(gap time.Duration, timeoutStart string) (time.Duration, error) {
	if timeoutStart != "" {
		d, err := calendar.ParseTimespan(timeoutStart)
		if err != nil {
			return 0, fmt.Errorf("timeout %q: %w", timeoutStart, err)
		}
		if d != calendar.Infinity {
			return d, nil
		}
	}
	return min(max(gap, MinGrace), MaxGrace), nil
}

// MaxAge is how old the last success of a task on schedule s may be, at
// the instant at, before the task is overdue: the schedule's longest
// gap, plus its randomized delay, plus Grace. ok is false for a
// schedule that elapses fewer than twice (it is never overdue).
func MaxAge(s plan.Schedule, timeoutStart string, at time.Time) (age time.Duration, ok bool, err error) {
	gap, ok, err := LongestGap(s.Calendar, at)
	if err != nil || !ok {
		return 0, ok, err
	}
	var delay time.Duration
	if s.RandomizedDelay != "" {
		if delay, err = calendar.ParseTimespan(s.RandomizedDelay); err != nil {
			return 0, false, fmt.Errorf("randomized delay %q: %w", s.RandomizedDelay, err)
		}
	}
	grace, err := Grace(gap, timeoutStart)
	if err != nil {
		return 0, false, err
	}
	return gap + delay + grace, true, nil
}

// Overdue reports whether a task on schedule s whose last success was
// at lastSuccess is overdue at now (MaxAge), and the MaxAge it was
// judged by. A task that never succeeded (lastSuccess zero) is overdue:
// nothing of it can be restored yet.
func Overdue(s plan.Schedule, timeoutStart string, lastSuccess, now time.Time) (bool, time.Duration, error) {
	age, ok, err := MaxAge(s, timeoutStart, now)
	if err != nil || !ok {
		return false, age, err
	}
	if lastSuccess.IsZero() {
		return true, age, nil
	}
	return now.Sub(lastSuccess) > age, age, nil
}
