package runtime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/runtime/restic"
)

// TaskReport is what a repository task (prune, verify) did.
type TaskReport struct {
	Node, Task, Repository string
	Start                  time.Time
	Duration               time.Duration
	// ResticExitCode is restic's exit code, -1 when it did not run.
	ResticExitCode int
	Failures       []Failure
	ExitCode       int
}

// Prune runs `restic prune` on a repository: the data no snapshot
// references any more (after the jobs' forget) is removed. It takes the
// repository's exclusive lock, so it has its own schedule, away from the
// backups.
func Prune(ctx context.Context, p *plan.Plan, repoName string, o Options) (*TaskReport, error) {
	return runRepositoryTask(ctx, p, repoName, &o, repositoryTask{
		name:  "prune",
		phase: PhasePrune,
		mode:  lockExclusive,
		dryRun: func(w io.Writer, rs *restic.Restic, _ *plan.Repository) {
			printCommand(w, rs.Argv(restic.PruneArgs()))
		},
		run: func(ctx context.Context, rs *restic.Restic, _ *plan.Repository, _ *slog.Logger) error {
			return rs.Prune(ctx)
		},
	})
}

// Verify runs `restic check` on a repository, reading the plan's subset
// of the data (--read-data-subset) so that over a few runs every pack is
// read back once; without a verify block it checks the structure only.
func Verify(ctx context.Context, p *plan.Plan, repoName string, o Options) (*TaskReport, error) {
	subset := func(repo *plan.Repository) string {
		if repo.Verify == nil {
			return ""
		}
		return repo.Verify.ReadDataSubset
	}
	return runRepositoryTask(ctx, p, repoName, &o, repositoryTask{
		name:  "verify",
		phase: PhaseCheck,
		mode:  lockExclusive, // restic check locks the repository exclusively
		dryRun: func(w io.Writer, rs *restic.Restic, repo *plan.Repository) {
			printCommand(w, rs.Argv(restic.CheckArgs(subset(repo))))
		},
		run: func(ctx context.Context, rs *restic.Restic, repo *plan.Repository, _ *slog.Logger) error {
			return rs.Check(ctx, subset(repo))
		},
	})
}

// repositoryTask is what differs between prune, verify and restore-test.
type repositoryTask struct {
	// name is what the lock, the state, the error lines and the units say
	// ("prune", "verify", "restore-test").
	name  string
	phase Phase
	// mode is how the task holds the repository's lock: as restic's own
	// lock for its commands (prune and check exclusive, ls and dump
	// shared).
	mode lockMode
	// dryRun prints the task's commands.
	dryRun func(io.Writer, *restic.Restic, *plan.Repository)
	run    func(context.Context, *restic.Restic, *plan.Repository, *slog.Logger) error
	// metrics, if set, adds the task's own series to its metrics file
	// (the restore test's per job).
	metrics func(*prometheus.Registry)
}

// metricPrefix is the task's name as a Prometheus name part.
func (t repositoryTask) metricPrefix() string { return strings.ReplaceAll(t.name, "-", "_") }

// runRepositoryTask is a repository task's run: lock, preflight (never
// creating the repository), restic, then state, metrics and error lines.
func runRepositoryTask(ctx context.Context, p *plan.Plan, repoName string, o *Options, t repositoryTask) (*TaskReport, error) {
	repo, ok := p.Repository(repoName)
	if !ok {
		var names []string
		for _, r := range p.Repositories {
			names = append(names, r.Name)
		}
		return nil, fmt.Errorf("the plan has no repository %q (repositories: %s)", repoName, strings.Join(names, ", "))
	}
	euid := os.Geteuid()
	if o.Euid != nil {
		euid = o.Euid()
	}
	log := o.log().With("task", t.name, "repository", repo.Name)
	cred := resticCredential(p, euid)
	rr := &repoRun{repo: repo, restic: newRestic(p, repo, o, cred, log), guard: newRepoGuard(p, repo.Name, o, cred, log)}
	rep := &TaskReport{Node: p.Node.Name, Task: t.name, Repository: repo.Name, Start: o.now(), ResticExitCode: -1}

	if o.DryRun {
		w := o.out()
		comment(w, "bakc run %s %s --dry-run: what a run does; nothing is run or written", t.name, repo.Name)
		comment(w, "lock %s", LockPath(p.Paths.State, t.name, repo.Name))
		comment(w, "repository lock %s (%s), waiting up to %v", RepositoryLockPath(p.Paths.State, repo.Name), t.mode, rr.guard.wait)
		comment(w, "preflight: password file %s readable; the repository exists", repo.PasswordFile)
		if repo.NFS != nil {
			comment(w, "preflight: %s mounted from %s (NFS)", repo.NFS.Mountpoint, repo.NFS.Source())
		}
		if isURLRepository(repo) {
			comment(w, "preflight: the repository opens within %v (restic cat config --no-lock), or the task fails with category network", o.openTimeout())
		}
		if cred != nil {
			comment(w, "restic runs as uid %d, gid %d, with the ambient capability CAP_DAC_READ_SEARCH", cred.Uid, cred.Gid)
		}
		t.dryRun(w, rr.restic, repo)
		comment(w, "metrics to %s", taskMetricsPath(p.Monitoring.TextfileDir, t.name, repo.Name))
		return rep, nil
	}

	began := time.Now()
	fail := func(f Failure) {
		if ctx.Err() != nil {
			f.Category = restic.CategoryResource
		}
		rep.Failures = append(rep.Failures, f)
		log.Error(t.name+" failure", "phase", f.Phase, "category", f.Category, "error", f.Err)
	}
	// The lock is held until the report is written.
	var lock *Lock
	defer func() { lock.Release() }()
	var record *runRecorder
	func() {
		log.Info(t.name + " starts")
		var err error
		lock, err = AcquireLockFor(LockPath(p.Paths.State, t.name, repo.Name), cred)
		if err != nil {
			fail(failure(PhaseLock, repo.Name, restic.CategoryLock, err))
			return
		}
		record = recordTaskStart(p, t, repo.Name, rep.Start, cred, o, log)
		if err := prepareCacheDir(p.Paths.Cache, cred); err != nil {
			fail(failure(PhasePreflight, repo.Name, restic.CategoryPermission, err))
			return
		}
		if f := checkRepository(ctx, o, log, rr, false); f != nil {
			fail(*f)
			return
		}
		var rlock *repoLock
		rlock, err = rr.lock(ctx, t.mode)
		if err != nil {
			fail(failure(PhaseLock, repo.Name, restic.CategoryLock, err))
			return
		}
		defer rlock.release()
		record.phase(t.phase, repo.Name)
		err = t.run(ctx, rr.restic, repo, log)
		if re := restic.AsError(err); re != nil {
			rep.ResticExitCode = re.ExitCode
		} else if err == nil {
			rep.ResticExitCode = 0
		}
		// One failure per job when the task says which job failed (the
		// restore test), each with its own category.
		for _, je := range jobErrorsOf(err) {
			cat := restic.CategoryUnknown
			var mismatch *mismatchError
			if errors.As(je.err, &mismatch) {
				cat = restic.CategoryCorruption
			}
			f := failure(t.phase, repo.Name, cat, je)
			f.Job = je.job
			fail(f)
		}
	}()
	rep.Duration = time.Since(began)
	switch {
	case ctx.Err() != nil:
		rep.ExitCode = ExitInterrupted
	case len(rep.Failures) > 0:
		rep.ExitCode = exitCodeOf(rep.Failures[0].Phase)
	}
	if lock != nil {
		var extra []func(*prometheus.Registry)
		if t.metrics != nil {
			extra = append(extra, t.metrics)
		}
		if err := writeTaskReport(p, rep, t.metricPrefix(), extra...); err != nil {
			log.Error("writing state and metrics", "error", err)
		}
		reportTaskExtras(p, repo, rep, o.now(), log) // alertmetrics.go
	}
	var lines []ErrorLine
	for _, f := range rep.Failures {
		lines = append(lines, newErrorLine(o.now(), p.Node.Name, t.name, f.Job, f))
	}
	if err := appendErrorLines(p.Monitoring.ErrorLog, lines, cred); err != nil {
		log.Error("writing the error log", "file", p.Monitoring.ErrorLog, "error", err)
	}
	level := slog.LevelInfo
	if rep.ExitCode != ExitOK {
		level = slog.LevelError
	}
	log.Log(context.WithoutCancel(ctx), level, t.name+" ends", "exit_code", rep.ExitCode, "seconds", rep.Duration.Seconds(), "peak_rss_kib", peakRSSKiB())
	record.end()
	return rep, nil
}

// taskMetricsPath is the textfile of a repository task's metrics.
func taskMetricsPath(dir, task, repo string) string {
	return filepath.Join(dir, "bakc-"+task+"-"+repo+".prom")
}

// writeTaskReport keeps the last success in the state and writes the
// task's metrics (docs/metrics.md).
func writeTaskReport(p *plan.Plan, rep *TaskReport, prefix string, extra ...func(*prometheus.Registry)) error {
	path := statePath(p.Paths.State, rep.Task, rep.Repository)
	state, _ := readState(path)
	st := state.Repositories[rep.Repository]
	if rep.ExitCode == ExitOK {
		st.LastSuccess = rep.Start
	}
	state.Repositories[rep.Repository] = st
	werr := state.write(path)

	reg := prometheus.NewPedanticRegistry()
	gauge := func(name, help string, labels ...string) *prometheus.GaugeVec {
		g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "bakc_" + prefix + "_" + name, Help: help}, labels)
		reg.MustRegister(g)
		return g
	}
	r := rep.Repository
	gauge("last_run_timestamp_seconds", "Start of the last run, Unix time.", "repository").WithLabelValues(r).Set(unixSeconds(rep.Start))
	success := 0.0
	if !st.LastSuccess.IsZero() {
		success = unixSeconds(st.LastSuccess)
	}
	gauge("last_success_timestamp_seconds", "Start of the last successful run, Unix time; 0 if there was none yet.", "repository").WithLabelValues(r).Set(success)
	gauge("duration_seconds", "Time the last run took.", "repository").WithLabelValues(r).Set(rep.Duration.Seconds())
	result := gauge("result", "Outcome of the last run: 1 for the outcome it had (success or failed), 0 for the other.", "repository", "result")
	ok := 0.0
	if rep.ExitCode == ExitOK {
		ok = 1
	}
	result.WithLabelValues(r, "success").Set(ok)
	result.WithLabelValues(r, "failed").Set(1 - ok)
	gauge("restic_exit_code", "Exit code of restic in the last run; -1 when it did not run.", "repository").WithLabelValues(r).Set(float64(rep.ResticExitCode))
	gauge("exit_code", "Exit code of the last `bakc run` of the task (see docs/runtime.md).", "repository").WithLabelValues(r).Set(float64(rep.ExitCode))
	for _, add := range extra {
		add(reg)
	}
	registerTaskFailures(reg, rep, prefix) // alertmetrics.go
	merr := writeTextfile(taskMetricsPath(p.Monitoring.TextfileDir, rep.Task, r), reg)
	if werr != nil {
		return fmt.Errorf("state file: %w", werr)
	}
	return merr
}
