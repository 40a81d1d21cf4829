package alerts

import (
	"fmt"
	"time"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/compiler/schedule"
	"github.com/holthome/bakc/replication"
)

// TaskReplication is the NAS's pull of a node's dataset, as the metrics
// name it (bakc_replication_…, written on the NAS by `bakc run
// replicate`).
const TaskReplication = "replication"

// Alert names of replication; docs/metrics.md.
const (
	alertReplicationFailed        = "BakcReplicationFailed"
	alertReplicationDiverged      = "BakcReplicationDiverged"
	alertReplicationNeverReported = "BakcReplicationNeverReported"
)

// categoryDiverged is runtime.CategoryDiverged (the alerts read only
// plans; the name is the metrics' label value).
const categoryDiverged = "diverged"

// kindPeriods are the longest time between two of sanoid's snapshots of
// a kind: sanoid takes them on the node's wall clock, so a day may be
// 25 hours, and a month 31 days.
var kindPeriods = map[string]time.Duration{
	"frequently": 15 * time.Minute, // sanoid's frequent_period default
	"hourly":     2 * time.Hour,    // the hour repeated when summer time ends
	"daily":      25 * time.Hour,
	"weekly":     7*24*time.Hour + time.Hour,
	"monthly":    31*24*time.Hour + time.Hour,
	"yearly":     366*24*time.Hour + time.Hour,
}

// SnapshotPeriod is the longest the node's newest sanoid snapshot may be
// old when the NAS pulls: the period of the most frequent kind the node
// takes, at least the longest gap of sanoid's own timer
// (replication.SanoidCalendar, which the node's generated configuration
// runs it on: no snapshot is newer than sanoid's last run); the kind's
// name with it.
func SnapshotPeriod(s plan.SnapshotPolicy) (time.Duration, string, error) {
	run, _, err := schedule.LongestGap(replication.SanoidCalendar(s))
	if err != nil {
		return 0, "", err
	}
	for _, k := range s.Kinds() {
		if k.Count > 0 {
			return max(kindPeriods[k.Name], run), k.Name, nil
		}
	}
	return 0, "", nil
}

// ReplicationThreshold is how old the newest snapshot of a node's copy
// on the NAS may be before the copy lags: the pull's schedule.Limit
// (longest gap, randomized delay, grace) plus the age the newest
// snapshot may have had at the last pull (SnapshotPeriod). ok is false
// when the node's plan has no pull schedule (a plan of an older build,
// or a node whose NAS has no receive dataset for it).
func ReplicationThreshold(p *plan.Plan) (l schedule.Limit, period time.Duration, kind string, ok bool, err error) {
	r := p.Replication
	if r == nil || r.Schedule == nil || len(r.Copies) == 0 {
		return schedule.Limit{}, 0, "", false, nil
	}
	g, err := schedule.Grace(p)
	if err != nil {
		return schedule.Limit{}, 0, "", false, err
	}
	l, ok, err = schedule.For(*r.Schedule, g)
	if err != nil || !ok {
		return schedule.Limit{}, 0, "", false, err
	}
	period, kind, err = SnapshotPeriod(r.Snapshots)
	return l, period, kind, period > 0, err
}

// replication is the node's replication rules: per copy on the NAS, the
// lag (the newest snapshot there older than the threshold), and a
// failing last pull. The series come from the NAS's node_exporter and
// carry the node in their own label, so they are selected by it, not
// joined with the node's bakc_node_info.
func (n *nodeWriter) replication() ([]rule, error) {
	l, period, kind, ok, err := ReplicationThreshold(n.plan)
	if err != nil || !ok {
		return nil, err
	}
	r := n.plan.Replication
	limit := l.MaxAge() + period
	derived := fmt.Sprintf("%s + %s (the newest snapshot's age at a pull: the node's %s snapshots, taken by sanoid on %q) = %s",
		derivation(Threshold{Task: TaskReplication, Name: r.NAS, Limit: l}), human(period), kind, replication.SanoidCalendar(r.Snapshots), human(limit))
	var out []rule
	for _, c := range r.Copies {
		sel := fmt.Sprintf("{node=%s,dataset=%s}", q(n.plan.Node.Name), q(c.Source))
		out = append(out, rule{
			Alert:  alertReplicationLag,
			Expr:   fmt.Sprintf("(time() - bakc_replication_newest_snapshot_timestamp_seconds%s)\n  > %d", sel, int64(limit.Seconds())),
			Labels: map[string]string{"severity": critical, "task": TaskReplication, "name": c.Source},
			Annotations: map[string]string{
				"summary":     fmt.Sprintf("%s: the copy of %s on %s is {{ $value | humanizeDuration }} behind", n.plan.Node.Name, c.Source, r.NAS),
				"description": fmt.Sprintf("The newest snapshot of %s that %s holds (%s) is older than the pull's schedule allows: pulls fail or do not run, or the node takes no snapshots. See the NAS's error log and `journalctl -u syncoid-*`, and the node's sanoid.", c.Source, r.NAS, c.Target),
				"threshold":   derived,
			},
		}, rule{
			Alert:  alertReplicationNeverReported,
			Expr:   fmt.Sprintf("absent(bakc_replication_newest_snapshot_timestamp_seconds%s)", sel),
			For:    human(limit),
			Labels: map[string]string{"severity": critical, "task": TaskReplication, "name": c.Source},
			Annotations: map[string]string{
				"summary":     fmt.Sprintf("%s: no copy of %s on %s has been reported", n.plan.Node.Name, c.Source, r.NAS),
				"description": fmt.Sprintf("For longer than the pull's schedule allows, no metrics say that %s holds a snapshot of %s (in %s): the first pull never succeeded, the NAS's syncoid units or node_exporter are not running, or the NAS is not scraped.", r.NAS, c.Source, c.Target),
				"threshold":   derived,
			},
		})
	}
	out = append(out, rule{
		Alert:  alertReplicationFailed,
		Expr:   fmt.Sprintf("bakc_replication_failure_info{node=%s,category!=%q}", q(n.plan.Node.Name), categoryDiverged),
		Labels: map[string]string{"severity": warning, "task": TaskReplication},
		Annotations: map[string]string{
			"summary":     fmt.Sprintf("%s: the last pull of {{ $labels.dataset }} by %s failed ({{ $labels.category }})", n.plan.Node.Name, r.NAS),
			"description": "The last `bakc run replicate` of {{ $labels.dataset }} into {{ $labels.target }} failed. The NAS's error log has the message (docs/replication.md lists the categories); the alert ends with the next successful pull.",
		},
	}, rule{
		// The ransomware case: the node's history was destroyed or
		// rewritten. Nothing on the NAS changed, and nothing will be
		// pulled until someone looks.
		Alert:  alertReplicationDiverged,
		Expr:   fmt.Sprintf("bakc_replication_failure_info{node=%s,category=%q}", q(n.plan.Node.Name), categoryDiverged),
		Labels: map[string]string{"severity": critical, "task": TaskReplication},
		Annotations: map[string]string{
			"summary":     fmt.Sprintf("%s: {{ $labels.dataset }} no longer matches its copy on %s", n.plan.Node.Name, r.NAS),
			"description": fmt.Sprintf("The node and the copy {{ $labels.target }} on %s have no snapshot in common: the node's snapshots were destroyed or rewritten (a compromised node does this), or pruned before %s pulled them. Nothing on %s was changed and pulls stop until this is resolved: find out why before anything else; the copies on %s are the history to restore from.", r.NAS, r.NAS, r.NAS, r.NAS),
		},
	})
	return out, nil
}
