package calendar

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// Elapses gives what Next gives, called again from each result.
func TestElapsesIsRepeatedNext(t *testing.T) {
	start := time.Date(2024, 3, 30, 22, 0, 0, 0, time.UTC)
	for _, expr := range []string{"hourly", "daily", "*:0/15", "Mon..Fri 03:00", "*-*-01,15 12:00 Europe/Berlin", "2024-04-01 00:00"} {
		t.Run(expr, func(t *testing.T) {
			var want, got []time.Time
			after := start
			for range 50 {
				next, ok, err := Next(expr, after)
				if err != nil {
					t.Fatal(err)
				}
				if !ok {
					break
				}
				want = append(want, next)
				after = next
			}
			err := Elapses(expr, start, func(next time.Time) bool {
				got = append(got, next)
				return len(got) < 50
			})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Elapses(%q) (-want +got):\n%s", expr, diff)
			}
		})
	}
	if err := Elapses("not a calendar", start, func(time.Time) bool { return true }); err == nil {
		t.Error("Elapses accepted an invalid expression")
	}
}
