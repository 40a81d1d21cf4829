package schedule

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/holthome/bakc/compiler/plan"
)

// The longest gaps over the four-year period, in UTC and a zone with
// summer time (the longer counts): the night the clocks go back makes a
// day 25 hours long, an hour two, and a week or a weekend an hour longer.
func TestLongestGap(t *testing.T) {
	h, d := time.Hour, 24*time.Hour
	for _, tc := range []struct {
		name, expr string
		want       time.Duration
	}{
		{"hourly", "hourly", 2 * h},
		{"daily", "daily", 25 * h},
		{"daily in UTC", "*-*-* 00:00:00 UTC", 24 * h},
		{"weekly", "weekly", 7*d + h},
		{"weekdays", "Mon..Fri 02:00", 3*d + h},
		{"leap day", "*-02-29 00:00:00", (365*3 + 366) * d},
		{"once", "2027-01-01 00:00:00", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, complete, err := LongestGap(tc.expr)
			require.NoError(t, err)
			require.True(t, complete)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestLimit(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name  string
		s     plan.Schedule
		grace time.Duration
		want  time.Duration
	}{
		// daily: 25 hours (summer time), its delay, the grace.
		{"daily with delay", plan.Schedule{Calendar: "daily", RandomizedDelay: "30min"}, time.Hour, 26*time.Hour + 30*time.Minute},
		{"hourly, grace 2h", plan.Schedule{Calendar: "hourly"}, 2 * time.Hour, 4 * time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, ok, err := For(tc.s, tc.grace)
			require.NoError(t, err)
			require.True(t, ok)
			require.Equal(t, tc.want, l.MaxAge())
			require.True(t, l.Overdue(now.Add(-tc.want-time.Second), now), "a success older than MaxAge is overdue")
			require.False(t, l.Overdue(now.Add(-tc.want+time.Second), now), "a success younger than MaxAge is not")
			require.True(t, l.Overdue(time.Time{}, now), "no success yet is overdue")
		})
	}
	_, ok, err := For(plan.Schedule{Calendar: "2020-01-01"}, time.Hour)
	require.NoError(t, err)
	require.False(t, ok, "a schedule that fires once has no limit: it is never overdue")
	_, _, err = For(plan.Schedule{Calendar: "daily", RandomizedDelay: "soon"}, time.Hour)
	require.ErrorContains(t, err, `randomized delay "soon"`)
}

func TestGrace(t *testing.T) {
	p := &plan.Plan{}
	g, err := Grace(p)
	require.NoError(t, err)
	require.Equal(t, time.Hour, g, "plan.DefaultGrace")
	p.Monitoring.Grace = "2h 30min"
	g, err = Grace(p)
	require.NoError(t, err)
	require.Equal(t, 150*time.Minute, g)
}
