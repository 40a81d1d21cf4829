package calendar

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// The longest gap of a schedule, walked over four years from a Monday in
// UTC and in Europe/Berlin: the answers are worked out by hand from the
// calendar (a 31-day month, a leap day, the 25-hour day when summer time
// ends), not from the code. Two of them surprised: systemd computes
// elapses on the wall clock, so a node in a zone with summer time gets a
// gap of two hours in an hourly schedule, and none on the day that
// skips the hour of a "02:30" schedule (package calendar follows
// systemd 252 line by line and is checked against systemd-analyze).
func TestLongestGap(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	from := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	until := from.AddDate(4, 0, 1)
	tests := []struct {
		name string
		expr string
		loc  *time.Location
		want time.Duration
		// complete is false for the schedules the walk cannot finish.
		complete bool
	}{
		{"hourly", "hourly", time.UTC, time.Hour, true},
		// systemd matches wall-clock times: when summer time ends, 02:00
		// comes twice and the second is not an elapse of its own.
		{"hourly where summer time ends", "hourly", berlin, 2 * time.Hour, true},
		{"daily in UTC", "daily", time.UTC, 24 * time.Hour, true},
		{"daily where summer time ends", "daily", berlin, 25 * time.Hour, true},
		// 02:30 does not exist on the day summer time starts: systemd
		// skips that day.
		{"02:30 where summer time starts", "*-*-* 02:30:00", berlin, 47 * time.Hour, true},
		{"weekly", "weekly", time.UTC, 7 * 24 * time.Hour, true},
		{"Saturday 03:30 where summer time ends", "Sat *-*-* 03:30:00", berlin, 7*24*time.Hour + time.Hour, true},
		{"monthly: after a 31-day month", "*-*-01 04:30:00", time.UTC, 31 * 24 * time.Hour, true},
		{"weekdays only: the weekend", "Mon..Fri 02:00", time.UTC, 3 * 24 * time.Hour, true},
		{"twice a day", "*-*-* 06,18:00", time.UTC, 12 * time.Hour, true},
		{"uneven hours", "*-*-* 01,04,13:00", time.UTC, 12 * time.Hour, true},
		{"a leap day: four years", "*-02-29 00:00", time.UTC, (3*365 + 366) * 24 * time.Hour, true},
		{"an explicit zone ignores from's", "daily UTC", berlin, 24 * time.Hour, true},
		{"every minute: the walk stops", "minutely", time.UTC, time.Minute, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, err := LongestGap(tt.expr, from.In(tt.loc), until)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, g.Longest); diff != "" {
				t.Errorf("LongestGap(%q) (-want +got):\n%s", tt.expr, diff)
			}
			if g.Complete != tt.complete {
				t.Errorf("Complete = %v, want %v (%d elapses)", g.Complete, tt.complete, g.Elapses)
			}
		})
	}
	t.Run("once", func(t *testing.T) {
		g, err := LongestGap("2025-06-01 00:00", from, until)
		if err != nil {
			t.Fatal(err)
		}
		if g.Longest != 0 || g.Elapses != 1 {
			t.Errorf("a schedule that elapses once has no gap: got %+v", g)
		}
	})
	if _, err := LongestGap("not a calendar", from, until); err == nil {
		t.Error("LongestGap accepted an invalid expression")
	}
}
