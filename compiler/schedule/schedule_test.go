package schedule

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/holthome/bakc/compiler/plan"
)

func TestLongestGap(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	require.NoError(t, err)
	at := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name, expr string
		at         time.Time
		want       time.Duration
		ok         bool
	}{
		{"hourly", "hourly", at, time.Hour, true},
		{"daily in UTC", "daily", at, 24 * time.Hour, true},
		// The day the clocks go back is 25 hours long.
		{"daily with DST", "daily", at.In(berlin), 25 * time.Hour, true},
		{"weekly", "weekly", at, 7 * 24 * time.Hour, true},
		{"weekdays", "Mon..Fri 02:00", at, 3 * 24 * time.Hour, true},
		{"monthly", "monthly", at, 31 * 24 * time.Hour, true},
		{"twice a day", "*-*-* 02,14:00:00", at, 12 * time.Hour, true},
		{"uneven", "*-*-* 02,05:00:00", at, 21 * time.Hour, true},
		{"leap day", "*-02-29 00:00:00", at, (365*3 + 366) * 24 * time.Hour, true},
		{"once", "2027-01-01 00:00:00", at, 0, false},
		{"past", "2020-01-01 00:00:00", at, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok, err := LongestGap(tc.expr, tc.at)
			require.NoError(t, err)
			require.Equal(t, tc.ok, ok)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestMaxAgeAndOverdue(t *testing.T) {
	at := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name    string
		s       plan.Schedule
		timeout string
		want    time.Duration
	}{
		// daily: a day, its delay, and 6 hours (the gap, at most 6 h).
		{"daily with delay", plan.Schedule{Calendar: "daily", RandomizedDelay: "30min"}, "", 24*time.Hour + 30*time.Minute + 6*time.Hour},
		// hourly: an hour, and at least an hour for the run.
		{"hourly", plan.Schedule{Calendar: "hourly"}, "", 2 * time.Hour},
		{"timeout decides the grace", plan.Schedule{Calendar: "daily"}, "2h", 26 * time.Hour},
		{"infinite timeout", plan.Schedule{Calendar: "daily"}, "infinity", 30 * time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok, err := MaxAge(tc.s, tc.timeout, at)
			require.NoError(t, err)
			require.True(t, ok)
			require.Equal(t, tc.want, got)
			late, _, err := Overdue(tc.s, tc.timeout, at.Add(-got-time.Second), at)
			require.NoError(t, err)
			require.True(t, late, "a success older than MaxAge is overdue")
			late, _, err = Overdue(tc.s, tc.timeout, at.Add(-got+time.Second), at)
			require.NoError(t, err)
			require.False(t, late, "a success younger than MaxAge is not")
			late, _, err = Overdue(tc.s, tc.timeout, time.Time{}, at)
			require.NoError(t, err)
			require.True(t, late, "no success yet is overdue")
		})
	}
	late, _, err := Overdue(plan.Schedule{Calendar: "2020-01-01"}, "", time.Time{}, at)
	require.NoError(t, err)
	require.False(t, late, "a schedule that no longer fires is never overdue")
}
