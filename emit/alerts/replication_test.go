package alerts_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/emit/alerts"
)

// TestReplicationAlerts: the example's forge, whose NAS pulls
// rpool/safe/home and rpool/safe/persist hourly (randomized delay 30m,
// grace 2h) and which takes hourly snapshots. The threshold, by hand:
// the hourly schedule's longest gap 2 h (the hour repeated when summer
// time ends) + 30 m + 2 h grace = 4 h 30 m for the pulls, + 2 h for the
// newest snapshot's age at a pull (hourly snapshots, sanoid's hourly
// timer with the same longest gap) = 6 h 30 m. Under promtool test rules,
// with the series `bakc run replicate` writes on the NAS (names and
// labels as cmd/bakc's TestReplicationWithSyncoid reads them): home's
// newest snapshot, taken at 10 minutes, lags a minute after 6 h 40 m and
// not a minute before; persist, never reported, fires after 6 h 30 m;
// a failed pull fires at once with its category, as a warning, and a
// diverged one (the node's history destroyed or rewritten) as critical,
// under its own name.
func TestReplicationAlerts(t *testing.T) {
	p, err := plan.ReadFile("../../examples/homelab/out/forge/plan.json")
	require.NoError(t, err)
	rules, err := alerts.Rules([]*plan.Plan{p}, alerts.Options{})
	require.NoError(t, err)

	const limit = 6*time.Hour + 30*time.Minute
	l, period, kind, ok, err := alerts.ReplicationThreshold(p)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, limit, l.MaxAge()+period, "the code's threshold is the one worked out by hand")
	require.Equal(t, "hourly", kind)

	taken := int64(600) // the newest snapshot on the NAS, seconds after 0
	nas := func(metric, dataset string, extra string) string {
		return fmt.Sprintf(`%s{node="forge",dataset=%q,target="backup/forge/zfs-recv/%s",instance="nas-1:9100",job="node"%s}`,
			metric, dataset, dataset[len("rpool/safe/"):], extra)
	}
	lagLabels := map[string]string{"node": "forge", "dataset": "rpool/safe/home", "target": "backup/forge/zfs-recv/home",
		"instance": "nas-1:9100", "job": "node", "severity": "critical", "task": "replication", "name": "rpool/safe/home"}
	lagAt := func(d time.Duration) expAlert {
		return expAlert{ExpLabels: lagLabels, ExpAnnotations: annotations(t, rules, "BakcReplicationLag", "replication", "rpool/safe/home",
			"forge: the copy of rpool/safe/home on nas-1 is "+humanizeDuration(int64(d.Seconds())-taken)+" behind")}
	}
	ev := func(d time.Duration) string { return model.Duration(d).String() }
	lagStart := time.Duration(taken)*time.Second + limit
	test := promTest{Tests: []testGroup{{
		Name:     "replication of forge",
		Interval: "5m",
		InputSeries: []map[string]string{
			{"series": nas("bakc_replication_newest_snapshot_timestamp_seconds", "rpool/safe/home", ""), "values": fmt.Sprintf("%dx100", taken)},
			{"series": nas("bakc_replication_failure_info", "rpool/safe/home", `,phase="replicate",category="diverged"`), "values": "1x100"},
			{"series": nas("bakc_replication_failure_info", "rpool/safe/persist", `,phase="replicate",category="network"`), "values": "1x100"},
		},
		AlertRuleTest: []alertTest{
			{EvalTime: ev(lagStart - time.Minute), Alertname: "BakcReplicationLag"},
			{EvalTime: ev(lagStart + time.Minute), Alertname: "BakcReplicationLag", ExpAlerts: []expAlert{lagAt(lagStart + time.Minute)}},
			{EvalTime: ev(limit - time.Minute), Alertname: "BakcReplicationNeverReported"},
			{EvalTime: ev(limit + time.Minute), Alertname: "BakcReplicationNeverReported", ExpAlerts: []expAlert{{
				ExpLabels: map[string]string{"node": "forge", "dataset": "rpool/safe/persist", "severity": "critical", "task": "replication", "name": "rpool/safe/persist"},
				ExpAnnotations: annotations(t, rules, "BakcReplicationNeverReported", "replication", "rpool/safe/persist",
					"forge: no copy of rpool/safe/persist on nas-1 has been reported"),
			}}},
			{EvalTime: ev(time.Minute), Alertname: "BakcReplicationFailed", ExpAlerts: []expAlert{{
				ExpLabels: map[string]string{"node": "forge", "dataset": "rpool/safe/persist", "target": "backup/forge/zfs-recv/persist",
					"instance": "nas-1:9100", "job": "node", "severity": "warning", "task": "replication", "phase": "replicate", "category": "network"},
				ExpAnnotations: map[string]string{
					"summary":     "forge: the last pull of rpool/safe/persist by nas-1 failed (network)",
					"description": "The last `bakc run replicate` of rpool/safe/persist into backup/forge/zfs-recv/persist failed. The NAS's error log has the message (docs/replication.md lists the categories); the alert ends with the next successful pull.",
				},
			}}},
			{EvalTime: ev(time.Minute), Alertname: "BakcReplicationDiverged", ExpAlerts: []expAlert{{
				ExpLabels: map[string]string{"node": "forge", "dataset": "rpool/safe/home", "target": "backup/forge/zfs-recv/home",
					"instance": "nas-1:9100", "job": "node", "severity": "critical", "task": "replication", "phase": "replicate", "category": "diverged"},
				ExpAnnotations: map[string]string{
					"summary":     "forge: rpool/safe/home no longer matches its copy on nas-1",
					"description": "The node and the copy backup/forge/zfs-recv/home on nas-1 have no snapshot in common: the node's snapshots were destroyed or rewritten (a compromised node does this), or pruned before nas-1 pulled them. Nothing on nas-1 was changed and pulls stop until this is resolved: find out why before anything else; the copies on nas-1 are the history to restore from.",
				},
			}}},
		},
	}}}
	out, ok := runPromtool(t, rules, test)
	require.True(t, ok, "promtool test rules failed:\n%s", out)

	// A minute early must fail: the assertions can fail.
	wrong := test
	wrong.Tests = []testGroup{test.Tests[0]}
	g := wrong.Tests[0]
	g.AlertRuleTest = append([]alertTest(nil), g.AlertRuleTest...)
	g.AlertRuleTest[0].ExpAlerts = []expAlert{lagAt(lagStart - time.Minute)}
	wrong.Tests[0] = g
	out, ok = runPromtool(t, rules, wrong)
	require.False(t, ok, "promtool accepted a lag alert a minute before its threshold:\n%s", out)
}

// TestSnapshotPeriod: the newest snapshot's age at a pull, by hand: the
// most frequent kind's wall-clock period, at least the longest gap of
// the node's sanoid timer (hourly: 2 h; every 15 minutes with frequent
// snapshots: 1 h 15 m, from 02:45 to 03:00 across the hour summer time
// repeats).
func TestSnapshotPeriod(t *testing.T) {
	for _, tc := range []struct {
		name   string
		policy plan.SnapshotPolicy
		want   time.Duration
		kind   string
	}{
		{"frequent", plan.SnapshotPolicy{Frequently: 4, Hourly: 24}, time.Hour + 15*time.Minute, "frequently"},
		{"hourly", plan.SnapshotPolicy{Hourly: 24, Daily: 7}, 2 * time.Hour, "hourly"},
		{"daily only", plan.SnapshotPolicy{Daily: 7, Monthly: 1}, 25 * time.Hour, "daily"},
		{"none", plan.SnapshotPolicy{}, 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, kind, err := alerts.SnapshotPeriod(tc.policy)
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
			require.Equal(t, tc.kind, kind)
		})
	}
}
