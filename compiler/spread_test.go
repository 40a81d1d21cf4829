package compiler

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/holthome/bakc/compiler/calendar"
	"github.com/holthome/bakc/compiler/plan"
)

// timer is one task's schedule, named for the messages.
type timer struct {
	name string
	s    plan.Schedule
}

// firstMeeting returns the first time in [from, to) at which a start
// window of m, [elapse, elapse+delay), overlaps one of b's, as systemd
// computes the elapses (calendar.Next) in loc; ok is false when they
// never meet. A timer starts at some moment of its window: with
// FixedRandomDelay= at the same offset every time, but which offset is
// known only on the machine (a hash of its machine id and the timer's
// name), so two windows that overlap may meet.
func firstMeeting(t *testing.T, m, b plan.Schedule, loc *time.Location, from, to time.Time) (time.Time, bool) {
	t.Helper()
	dm := delay(t, m)
	db := delay(t, b)
	for after := from.In(loc); ; {
		start, ok, err := calendar.Next(m.Calendar, after)
		require.NoError(t, err)
		if !ok || !start.Before(to) {
			return time.Time{}, false
		}
		// The first window of b that ends after start begins after
		// start-db; it overlaps m's window if it begins before m's ends.
		other, ok, err := calendar.Next(b.Calendar, start.Add(-db))
		require.NoError(t, err)
		if ok && other.Before(start.Add(dm)) {
			return start, true
		}
		after = start
	}
}

func delay(t *testing.T, s plan.Schedule) time.Duration {
	t.Helper()
	if s.RandomizedDelay == "" {
		return 0
	}
	d, err := calendar.ParseTimespan(s.RandomizedDelay)
	require.NoError(t, err)
	return d
}

// TestDefaultMaintenanceMissesBackups: in the example fleet, no prune,
// verify or restore test can start while one of the node's backups may
// be starting, and no two maintenance tasks of one repository can start
// together, for a year and in zones with and without daylight saving
// time. The repository lock (runtime) makes a meeting correct; the
// default schedules make it rare.
func TestDefaultMaintenanceMissesBackups(t *testing.T) {
	f, diags := LoadFleet("../examples/homelab")
	require.False(t, diags.HasErrors(), "%s", diags)
	from := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	to := from.AddDate(1, 0, 0)
	var zones []*time.Location
	for _, name := range []string{"UTC", "Europe/Berlin", "America/New_York", "Australia/Sydney"} {
		loc, err := time.LoadLocation(name)
		require.NoError(t, err)
		zones = append(zones, loc)
	}
	for _, node := range f.NodeNames() {
		p, diags := f.Plan(node)
		require.Empty(t, diags)
		var backups []timer
		for _, j := range p.Jobs {
			backups = append(backups, timer{"backup " + j.Name, j.Schedule})
		}
		for _, r := range p.Repositories {
			maintenance := []timer{{"prune " + r.Name, r.Prune.Schedule}}
			if r.Verify != nil {
				maintenance = append(maintenance, timer{"verify " + r.Name, r.Verify.Schedule})
			}
			if r.RestoreTest != nil {
				maintenance = append(maintenance, timer{"restore test " + r.Name, r.RestoreTest.Schedule})
			}
			for i, m := range maintenance {
				others := append(append([]timer{}, backups...), maintenance[i+1:]...)
				for _, o := range others {
					for _, loc := range zones {
						t.Run(fmt.Sprintf("%s/%s/%s/%s", node, m.name, o.name, loc), func(t *testing.T) {
							if at, met := firstMeeting(t, m.s, o.s, loc, from, to); met {
								t.Errorf("%s (%q within %s) may start with %s (%q within %s) at %s",
									m.name, m.s.Calendar, m.s.RandomizedDelay, o.name, o.s.Calendar, o.s.RandomizedDelay, at)
							}
						})
					}
				}
			}
		}
	}
}

// TestFirstMeeting: the window arithmetic the test above relies on.
func TestFirstMeeting(t *testing.T) {
	from := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	to := from.AddDate(0, 1, 0)
	s := func(cal, d string) plan.Schedule { return plan.Schedule{Calendar: cal, RandomizedDelay: d} }
	tests := []struct {
		name string
		m, b plan.Schedule
		met  bool
	}{
		{"old defaults: weekly prune and daily backup", s("weekly", "30m"), s("daily", "30m"), true},
		{"old defaults: weekly prune and hourly backup", s("weekly", "30m"), s("hourly", "30m"), true},
		{"half hour after an hourly backup", s("Sun *-*-* 03:30:00", "30m"), s("hourly", "30m"), false},
		{"windows that only touch", s("*-*-* 03:30:00", "30m"), s("*-*-* 03:00:00", "30m"), false},
		{"a minute of overlap", s("*-*-* 03:29:00", "30m"), s("*-*-* 03:00:00", "30m"), true},
		{"backup window reaching into maintenance", s("*-*-* 03:30:00", "30m"), s("*-*-* 03:00:00", "31m"), true},
		{"no delay at all, different minutes", s("*-*-* 03:30:00", ""), s("*-*-* 03:00:00", ""), false},
		{"different days", s("Sun *-*-* 03:30:00", "30m"), s("Sat *-*-* 03:30:00", "30m"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, met := firstMeeting(t, tt.m, tt.b, time.UTC, from, to)
			require.Equal(t, tt.met, met)
		})
	}
}
