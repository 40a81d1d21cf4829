package runtime

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// The dump metrics (docs/metrics.md): one series per job, repository and
// dump, beside the job's per-repository bakc_backup_* series, whose
// result is complete only when the paths and every dump were. A dump is
// a snapshot of its own with its own size and its own history, so it
// gets its own last success: an alert can tell "the database dump has
// not worked for a day" from "the files have not".

// recordDumps updates a repository's state with the run's dumps.
func recordDumps(st *repoState, dumps []DumpResult, start time.Time) {
	for _, d := range dumps {
		if st.Dumps == nil {
			st.Dumps = map[string]dumpState{}
		}
		ds := st.Dumps[d.Name]
		if d.Outcome == OutcomeComplete {
			ds.LastSuccess = start
			if d.Summary != nil && d.Summary.SnapshotID != "" {
				ds.SnapshotID = d.Summary.SnapshotID
			}
		}
		st.Dumps[d.Name] = ds
	}
}

// registerDumpMetrics adds the dump series of a backup run to reg.
func registerDumpMetrics(reg *prometheus.Registry, rep *Report, state *taskState) {
	labels := []string{"job", "repository", "dump"}
	var gauges []*prometheus.GaugeVec
	gauge := func(name, help string, labelNames ...string) *prometheus.GaugeVec {
		g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, labelNames)
		gauges = append(gauges, g)
		return g
	}
	result := gauge("bakc_dump_result", "Outcome of the dump in the last run: 1 for the outcome it had (complete or failed), 0 for the other.", "job", "repository", "dump", "result")
	lastSuccess := gauge("bakc_dump_last_success_timestamp_seconds", "Start of the last run whose dump into the repository was complete, Unix time; 0 if there was none yet.", labels...)
	exitCode := gauge("bakc_dump_exit_code", "Exit code of the dump command in the last run (128+n for signal n); -1 when it did not run.", labels...)
	resticExit := gauge("bakc_dump_restic_exit_code", "Exit code of restic backup --stdin for the dump in the last run; -1 when it did not run.", labels...)
	size := gauge("bakc_dump_bytes", "Size of the last complete dump, as restic read it from the command.", labels...)
	added := gauge("bakc_dump_added_bytes", "Bytes of new data restic added to the repository for the last complete dump (before compression).", labels...)
	duration := gauge("bakc_dump_duration_seconds", "Time the dump and its restic took in the last run.", labels...)
	seen := false
	for _, rr := range rep.Repositories {
		st := state.Repositories[rr.Name]
		for _, d := range rr.Dumps {
			seen = true
			l := []string{rep.Job, rr.Name, d.Name}
			for _, o := range []Outcome{OutcomeComplete, OutcomeFailed} {
				v := 0.0
				if d.Outcome == o {
					v = 1
				}
				result.WithLabelValues(rep.Job, rr.Name, d.Name, string(o)).Set(v)
			}
			if ls := st.Dumps[d.Name].LastSuccess; ls.IsZero() {
				lastSuccess.WithLabelValues(l...).Set(0)
			} else {
				lastSuccess.WithLabelValues(l...).Set(unixSeconds(ls))
			}
			exitCode.WithLabelValues(l...).Set(float64(d.ExitCode))
			resticExit.WithLabelValues(l...).Set(float64(d.ResticExitCode))
			duration.WithLabelValues(l...).Set(d.Duration.Seconds())
			if s := d.Summary; s != nil {
				size.WithLabelValues(l...).Set(float64(s.TotalBytesProcessed))
				added.WithLabelValues(l...).Set(float64(s.DataAdded))
			}
		}
	}
	if !seen {
		return
	}
	for _, g := range gauges {
		reg.MustRegister(g)
	}
}
