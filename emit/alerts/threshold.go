// Package alerts emits monitoring as code for a fleet, from its plans
// only: Prometheus alerting rules whose thresholds come from each task's
// schedule (with the calendar code that checks the schedules), the same
// as NixOS config for the monitoring host, and a Grafana dashboard.
// docs/metrics.md explains every alert and how its threshold is derived.
package alerts

import (
	"fmt"
	"time"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/compiler/schedule"
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
// call the task overdue, and how that was derived: the task's
// schedule.Limit, the one rule `bakc status` judges by as well.
type Threshold struct {
	// Task is TaskBackup (Name is the job) or a repository task (Name is
	// the repository).
	Task, Name string
	schedule.Limit
}

// threshold derives a task's threshold from its schedule and grace; ok
// is false for a schedule that elapses fewer than twice in the period (a
// single date), which has no gap to be late by.
func threshold(task, name string, s plan.Schedule, grace time.Duration) (Threshold, bool, error) {
	l, ok, err := schedule.For(s, grace)
	if err != nil {
		return Threshold{}, false, fmt.Errorf("%s %s: %w", task, name, err)
	}
	return Threshold{Task: task, Name: name, Limit: l}, ok, nil
}

// Thresholds are the thresholds of every task of a node: its enabled
// jobs, then per repository its verify, restore test and prune, in the
// plan's order. Tasks whose schedule has no gap are left out.
func Thresholds(p *plan.Plan) ([]Threshold, error) {
	g, err := schedule.Grace(p)
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
