// Package alerts emits monitoring as code for a fleet, from its plans
// only: Prometheus alerting rules whose thresholds come from each task's
// schedule (with the calendar code that checks the schedules), the same
// as NixOS config for the monitoring host, and a Grafana dashboard.
// docs/metrics.md explains every alert and how its threshold is derived.
package alerts

import (
	"fmt"
	"sync"
	"time"

	"github.com/holthome/bakc/compiler/calendar"
	"github.com/holthome/bakc/compiler/plan"
)

// Task kinds, as the metrics name them (bakc_<task>_…) and the units run
// them.
const (
	TaskBackup      = "backup"
	TaskVerify      = "verify"
	TaskRestoreTest = "restore_test"
	TaskPrune       = "prune"
)

// Threshold is how old a task's last success may be before the alerts
// call the task overdue, and how that was derived.
type Threshold struct {
	// Task is TaskBackup (Name is the job) or a repository task (Name is
	// the repository).
	Task, Name string
	Schedule   plan.Schedule
	// Gap is the longest time between two consecutive elapses of the
	// schedule (Gap), Delay the timer's randomized delay, Grace the
	// node's monitoring grace.
	Gap, Delay, Grace time.Duration
	// Complete is false when the schedule fires so often that the walk
	// stopped before the end of the period (calendar.LongestGap).
	Complete bool
}

// MaxAge is Gap + Delay + Grace: a last success older than that means at
// least one run was missed or failed. The success is stamped with the
// run's start and reported at its end, so Grace must cover a run.
func (t Threshold) MaxAge() time.Duration { return t.Gap + t.Delay + t.Grace }

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

// longestGap is the longest gap of cal over the period in every zone of
// gapZones.
func longestGap(cal string) (time.Duration, bool, error) {
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

// threshold derives a task's threshold from its schedule and grace; ok
// is false for a schedule that elapses fewer than twice in the period (a
// single date), which has no gap to be late by.
func threshold(task, name string, s plan.Schedule, grace time.Duration) (Threshold, bool, error) {
	gap, complete, err := longestGap(s.Calendar)
	if err != nil {
		return Threshold{}, false, fmt.Errorf("%s %s: schedule %q: %w", task, name, s.Calendar, err)
	}
	var delay time.Duration
	if s.RandomizedDelay != "" {
		if delay, err = calendar.ParseTimespan(s.RandomizedDelay); err != nil {
			return Threshold{}, false, fmt.Errorf("%s %s: randomized delay %q: %w", task, name, s.RandomizedDelay, err)
		}
	}
	t := Threshold{Task: task, Name: name, Schedule: s, Gap: gap, Delay: delay, Grace: grace, Complete: complete}
	return t, gap > 0, nil
}

// grace is the plan's monitoring grace (plan.DefaultGrace when empty).
func grace(p *plan.Plan) (time.Duration, error) {
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

// Thresholds are the thresholds of every task of a node: its enabled
// jobs, then per repository its verify, restore test and prune, in the
// plan's order. Tasks whose schedule has no gap are left out.
func Thresholds(p *plan.Plan) ([]Threshold, error) {
	g, err := grace(p)
	if err != nil {
		return nil, err
	}
	var out []Threshold
	add := func(task, name string, s plan.Schedule) error {
		t, ok, err := threshold(task, name, s, g)
		if err != nil {
			return err
		}
		if ok {
			out = append(out, t)
		}
		return nil
	}
	for _, j := range p.Jobs {
		if j.Disabled {
			continue
		}
		if err := add(TaskBackup, j.Name, j.Schedule); err != nil {
			return nil, err
		}
	}
	for _, r := range p.Repositories {
		if r.Verify != nil {
			if err := add(TaskVerify, r.Name, r.Verify.Schedule); err != nil {
				return nil, err
			}
		}
		if r.RestoreTest != nil {
			if err := add(TaskRestoreTest, r.Name, r.RestoreTest.Schedule); err != nil {
				return nil, err
			}
		}
		if err := add(TaskPrune, r.Name, r.Prune.Schedule); err != nil {
			return nil, err
		}
	}
	return out, nil
}
