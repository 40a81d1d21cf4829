package runtime

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// The metrics are documented in docs/metrics.md; a change here is a
// change there.

// backupMetricsPath is the textfile of a job's backup metrics. One file
// per job: jobs run at the same time in separate processes, and each
// replaces only its own file.
func backupMetricsPath(dir, job string) string {
	return filepath.Join(dir, "bakc-backup-"+job+".prom")
}

// writeBackupMetrics writes a backup run's metrics, per repository,
// atomically (WriteToTextfile writes a temporary file and renames it, so
// node_exporter never reads half a file). state is the state after the
// run: the last success survives a failed run through it.
func writeBackupMetrics(path string, rep *Report, state *taskState) error {
	reg := prometheus.NewPedanticRegistry()
	labels := []string{"job", "repository"}
	gauge := func(name, help string, labelNames ...string) *prometheus.GaugeVec {
		g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, labelNames)
		reg.MustRegister(g)
		return g
	}
	lastRun := gauge("bakc_backup_last_run_timestamp_seconds", "Start of the last backup run of the job, Unix time.", labels...)
	lastSuccess := gauge("bakc_backup_last_success_timestamp_seconds", "Start of the last complete backup into the repository, Unix time; 0 if there was none yet.", labels...)
	duration := gauge("bakc_backup_duration_seconds", "Time restic backup and forget took in the last run.", labels...)
	result := gauge("bakc_backup_result", "Outcome of the last run: 1 for the outcome it had (complete, partial or failed), 0 for the others.", "job", "repository", "result")
	resticExit := gauge("bakc_backup_restic_exit_code", "Exit code of restic backup in the last run; -1 when it did not run.", labels...)
	filesNew := gauge("bakc_backup_files_new", "Files restic found new in the last backup.", labels...)
	filesChanged := gauge("bakc_backup_files_changed", "Files restic found changed in the last backup.", labels...)
	filesUnmodified := gauge("bakc_backup_files_unmodified", "Files restic found unmodified in the last backup.", labels...)
	filesProcessed := gauge("bakc_backup_processed_files", "Files restic processed in the last backup.", labels...)
	bytesAdded := gauge("bakc_backup_added_bytes", "Bytes of new data restic added to the repository in the last backup (before compression).", labels...)
	bytesProcessed := gauge("bakc_backup_processed_bytes", "Bytes restic processed in the last backup.", labels...)
	forgetOK := gauge("bakc_backup_forget_success", "1 when forget applied the retention after the last complete backup, 0 when it failed.", labels...)
	snapInfo := gauge("bakc_backup_snapshot_info", "The restic snapshot of the last complete or partial backup into the repository, as a label; always 1.", "job", "repository", "snapshot_id")
	exitCode := gauge("bakc_backup_exit_code", "Exit code of the last `bakc run backup` of the job (see docs/runtime.md).", "job")
	runDuration := gauge("bakc_backup_run_duration_seconds", "Time the whole last run of the job took, hooks and snapshots included.", "job")

	job := rep.Job
	exitCode.WithLabelValues(job).Set(float64(rep.ExitCode))
	runDuration.WithLabelValues(job).Set(rep.Duration.Seconds())
	for _, rr := range rep.Repositories {
		l := []string{job, rr.Name}
		lastRun.WithLabelValues(l...).Set(unixSeconds(rep.Start))
		st := state.Repositories[rr.Name]
		if st.LastSuccess.IsZero() {
			lastSuccess.WithLabelValues(l...).Set(0)
		} else {
			lastSuccess.WithLabelValues(l...).Set(unixSeconds(st.LastSuccess))
		}
		duration.WithLabelValues(l...).Set(rr.Duration.Seconds())
		for _, o := range []Outcome{OutcomeComplete, OutcomePartial, OutcomeFailed} {
			v := 0.0
			if rr.Outcome == o {
				v = 1
			}
			result.WithLabelValues(job, rr.Name, string(o)).Set(v)
		}
		resticExit.WithLabelValues(l...).Set(float64(rr.ResticExitCode))
		if s := rr.Summary; s != nil {
			filesNew.WithLabelValues(l...).Set(float64(s.FilesNew))
			filesChanged.WithLabelValues(l...).Set(float64(s.FilesChanged))
			filesUnmodified.WithLabelValues(l...).Set(float64(s.FilesUnmodified))
			filesProcessed.WithLabelValues(l...).Set(float64(s.TotalFilesProcessed))
			bytesAdded.WithLabelValues(l...).Set(float64(s.DataAdded))
			bytesProcessed.WithLabelValues(l...).Set(float64(s.TotalBytesProcessed))
		}
		if rr.Outcome == OutcomeComplete {
			v := 0.0
			if rr.Forgotten {
				v = 1
			}
			forgetOK.WithLabelValues(l...).Set(v)
		}
		if st.SnapshotID != "" {
			snapInfo.WithLabelValues(job, rr.Name, st.SnapshotID).Set(1)
		}
	}
	registerDumpMetrics(reg, rep, state)
	registerBackupFailures(reg, rep) // alertmetrics.go
	return writeTextfile(path, reg)
}

// writeTextfile writes a registry to a textfile atomically, making the
// folder if node_exporter's package did not.
func writeTextfile(path string, reg *prometheus.Registry) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("metrics folder: %w", err)
	}
	if err := prometheus.WriteToTextfile(path, reg); err != nil {
		return fmt.Errorf("writing metrics %s: %w", path, err)
	}
	return nil
}

// unixSeconds is t as Prometheus timestamps are: seconds since the epoch.
func unixSeconds(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

// writeReport updates the job's state with the run and writes its
// metrics. Only a run holding the job's lock calls it.
func (r *backupRun) writeReport() error {
	path := statePath(r.plan.Paths.State, "backup", r.job.Name)
	state, err := readState(path)
	if err != nil {
		// A damaged state file must not stop the metrics: the last
		// success is lost (reported as 0) until the next success.
		r.log.Error("state file unreadable; starting a new one", "error", err)
	}
	for _, rr := range r.report.Repositories {
		st := state.Repositories[rr.Name]
		if rr.Summary != nil && rr.Summary.SnapshotID != "" {
			st.SnapshotID = rr.Summary.SnapshotID
		}
		if rr.Outcome == OutcomeComplete {
			st.LastSuccess = r.start
		}
		recordDumps(&st, rr.Dumps, r.start)
		state.Repositories[rr.Name] = st
	}
	werr := state.write(path)
	merr := writeBackupMetrics(backupMetricsPath(r.plan.Monitoring.TextfileDir, r.job.Name), &r.report, state)
	if werr != nil {
		return fmt.Errorf("state file: %w", werr)
	}
	return merr
}
