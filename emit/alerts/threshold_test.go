package alerts_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/holthome/bakc/emit/alerts"
)

// The example fleet's thresholds, worked out by hand from its schedules
// (docs/metrics.md has the table): the longest gap (summer time included),
// the timer's 30 m randomized delay, the fleet's 2 h grace.
func TestExampleThresholds(t *testing.T) {
	plans, _ := examplePlans(t)
	h, d := time.Hour, 24*time.Hour
	want := map[string]time.Duration{
		"cluster-0 backup etcd":              2*h + 30*time.Minute + 2*h,
		"cluster-0 prune nas-sftp":           7*d + h + 30*time.Minute + 2*h,
		"forge backup databases":             2*h + 30*time.Minute + 2*h,
		"forge backup plex":                  7*d + h + 30*time.Minute + 2*h,
		"forge backup system":                25*h + 30*time.Minute + 2*h,
		"forge verify cloud-secondary":       7*d + h + 30*time.Minute + 2*h,
		"forge restore_test cloud-secondary": 31*d + h + 30*time.Minute + 2*h,
		"forge prune cloud-secondary":        7*d + h + 30*time.Minute + 2*h,
		"forge verify nas-primary":           7*d + h + 30*time.Minute + 2*h,
		"forge restore_test nas-primary":     31*d + h + 30*time.Minute + 2*h,
		"forge prune nas-primary":            7*d + h + 30*time.Minute + 2*h,
		// 02:30 is skipped on the day summer time starts.
		"luna backup state": 47*h + 30*time.Minute + 2*h,
		"luna prune nas":    7*d + h + 30*time.Minute + 2*h,
	}
	got := map[string]time.Duration{}
	for _, p := range plans {
		ths, err := alerts.Thresholds(p)
		require.NoError(t, err)
		for _, th := range ths {
			require.True(t, th.Complete, "%s %s", th.Task, th.Name)
			got[p.Node.Name+" "+th.Task+" "+th.Name] = th.MaxAge()
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("thresholds (-want +got):\n%s", diff)
	}
}
