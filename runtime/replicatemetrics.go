package runtime

import (
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// replicationMetricsPath is the textfile of one copy's replication
// metrics on the NAS: one file per copy, as each copy's pull is a unit
// of its own.
func replicationMetricsPath(dir, target string) string {
	return filepath.Join(dir, "bakc-replicate-"+replicaName(target)+".prom")
}

// writeReplicationMetrics writes a replicate run's metrics atomically
// (docs/metrics.md, "Replication"). lastSuccess is the state's, which a
// failed run leaves as it was; now is the end of the run, the lag's
// reference.
func writeReplicationMetrics(path string, r *ReplicateReport, lastSuccess, now time.Time) error {
	reg := prometheus.NewPedanticRegistry()
	labels := []string{"node", "dataset", "target"}
	gauge := func(name, help string, labelNames ...string) *prometheus.GaugeVec {
		g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, labelNames)
		reg.MustRegister(g)
		return g
	}
	lastRun := gauge("bakc_replication_last_run_timestamp_seconds", "Start of the last pull of the node's dataset into its copy on the NAS, Unix time.", labels...)
	lastSuccessG := gauge("bakc_replication_last_success_timestamp_seconds", "Start of the last successful pull, Unix time; 0 if there was none yet.", labels...)
	success := gauge("bakc_replication_success", "1 when the last pull succeeded, 0 when it failed.", labels...)
	exitCode := gauge("bakc_replication_syncoid_exit_code", "Exit code of syncoid in the last pull; -1 when it did not run.", labels...)
	duration := gauge("bakc_replication_duration_seconds", "Time the last pull took.", labels...)
	newest := gauge("bakc_replication_newest_snapshot_timestamp_seconds", "Creation time of the newest snapshot of the copy on the NAS after the last pull (the node's snapshot time), Unix time. Absent when the copy has no snapshot or could not be read.", labels...)
	lag := gauge("bakc_replication_lag_seconds", "How far the copy was behind at the end of the last pull: its end minus the newest snapshot's creation. Absent with the newest snapshot.", labels...)
	failure := gauge("bakc_replication_failure_info", "A failure of the last pull: in which phase, of which category (docs/replication.md); always 1. None after a successful pull.", "node", "dataset", "target", "phase", "category")

	l := []string{r.Node, r.Source, r.Target}
	lastRun.WithLabelValues(l...).Set(unixSeconds(r.Start))
	if lastSuccess.IsZero() {
		lastSuccessG.WithLabelValues(l...).Set(0)
	} else {
		lastSuccessG.WithLabelValues(l...).Set(unixSeconds(lastSuccess))
	}
	ok := 0.0
	if r.Succeeded() {
		ok = 1
	}
	success.WithLabelValues(l...).Set(ok)
	exitCode.WithLabelValues(l...).Set(float64(r.SyncoidExitCode))
	duration.WithLabelValues(l...).Set(r.Duration.Seconds())
	if !r.NewestSnapshot.IsZero() {
		newest.WithLabelValues(l...).Set(unixSeconds(r.NewestSnapshot))
		lag.WithLabelValues(l...).Set(now.Sub(r.NewestSnapshot).Seconds())
	}
	for _, f := range r.Failures {
		failure.WithLabelValues(r.Node, r.Source, r.Target, string(f.Phase), string(f.Category)).Set(1)
	}
	return writeTextfile(path, reg)
}
