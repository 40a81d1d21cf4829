package runtime

import "github.com/prometheus/client_golang/prometheus"

// registerRestoreTestJobMetrics adds the restore test's series per job
// (docs/metrics.md) to the task's own: which job of the repository
// failed, and how old the snapshot was that was tested. A job the run
// did not reach (the run failed before: preflight, lock, listing) has
// no series; the task's bakc_restore_test_result says that it failed.
func registerRestoreTestJobMetrics(reg *prometheus.Registry, repo string, results []JobRestoreTest) {
	if len(results) == 0 {
		return
	}
	gauge := func(name, help string, labels ...string) *prometheus.GaugeVec {
		g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "bakc_restore_test_job_" + name, Help: help}, labels)
		reg.MustRegister(g)
		return g
	}
	result := gauge("result", "Outcome of the job's part of the last restore test of the repository: 1 for the outcome it had (success, failed, or untested: no snapshot of the job in the repository), 0 for the others.", "repository", "job", "result")
	files := gauge("files", "Files of the job's latest snapshot restored and matching their record in the last restore test.", "repository", "job")
	dumps := gauge("dumps", "Dumps of the job read whole from their latest snapshot and matching their record in the last restore test.", "repository", "job")
	bytes := gauge("bytes", "Bytes of the job's files and dumps read back in the last restore test.", "repository", "job")
	snapshot := gauge("snapshot_timestamp_seconds", "Time of the newest snapshot of the job tested in the last restore test, Unix time; 0 when the job has none in the repository.", "repository", "job")
	for _, r := range results {
		outcome := "success"
		switch {
		case r.Untested:
			outcome = "untested"
		case r.Err != nil:
			outcome = "failed"
		}
		for _, o := range []string{"success", "failed", "untested"} {
			v := 0.0
			if o == outcome {
				v = 1
			}
			result.WithLabelValues(repo, r.Job, o).Set(v)
		}
		files.WithLabelValues(repo, r.Job).Set(float64(r.Files))
		dumps.WithLabelValues(repo, r.Job).Set(float64(r.Dumps))
		bytes.WithLabelValues(repo, r.Job).Set(float64(r.Bytes))
		ts := 0.0
		if !r.Snapshot.IsZero() {
			ts = unixSeconds(r.Snapshot)
		}
		snapshot.WithLabelValues(repo, r.Job).Set(ts)
	}
}
