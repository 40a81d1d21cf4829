package runtime

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/runtime/restic"
	"github.com/holthome/bakc/runtime/snapshot"
	"github.com/holthome/bakc/zfs"
)

// Outcome is how a repository's backup ended, as the metrics report it.
type Outcome string

// The outcomes. A partial backup (restic exit code 3: some source files
// could not be read) wrote a snapshot, but it is a failure all the same:
// forget does not run after it and the last success time does not move.
const (
	OutcomeComplete Outcome = "complete"
	OutcomePartial  Outcome = "partial"
	OutcomeFailed   Outcome = "failed"
)

// RepositoryResult is what a backup run did in one repository.
type RepositoryResult struct {
	Name    string
	Outcome Outcome
	// ResticExitCode is restic backup's exit code, -1 when it did not run.
	ResticExitCode int
	// Summary is restic's summary (complete and partial backups).
	Summary *restic.Summary
	// Duration covers the repository's dumps, restic backup and forget.
	Duration time.Duration
	// Forgotten is true when forget ran and succeeded.
	Forgotten bool
	// Dumps are the job's dumps into this repository, in the plan's
	// order; the outcome is complete only when every one is.
	Dumps []DumpResult
}

// Report is what a backup run did; the metrics, the state and the error
// lines are made from it.
type Report struct {
	Node, Job string
	// Start is when the run began, just before its ZFS snapshot (by
	// Options.Now).
	Start    time.Time
	Duration time.Duration
	// Snapshots are the ZFS snapshots the run took (and destroyed).
	Snapshots    []string
	Repositories []RepositoryResult
	// Failures, in the order they happened.
	Failures []Failure
	// ExitCode is the exit code of the first failure's phase, or
	// ExitInterrupted when the run was stopped.
	ExitCode int
}

// backupRun is one run of one job.
type backupRun struct {
	plan  *plan.Plan
	job   *plan.Job
	o     *Options
	log   *slog.Logger    // with the job's name
	base  *slog.Logger    // without: the snapshot package adds it
	ctx   context.Context // the run's, cancelled by SIGTERM
	start time.Time       // the run's time by Options.Now
	began time.Time       // the wall clock's, for durations
	cred  *syscall.Credential
	euid  int // bakc's effective uid (Options.Euid)
	repos []*repoRun
	set   *snapshot.Set
	prog  *progress
	// locked is true once the job's lock is held: only then may the run
	// write the job's state and metrics.
	locked bool
	// record is the run's durable record of its start (runstate.go).
	record *runRecorder

	report Report
}

// repoRun is one repository of the run.
type repoRun struct {
	repo   *plan.Repository
	restic *restic.Restic
	// guard is the repository's lock on this node (repolock.go).
	guard *repoGuard
	// ready is true when the repository passed its preflight.
	ready bool
	// dumpsOK is true when every dump of the job went into the
	// repository (dumps); forget needs it.
	dumpsOK bool
	// busy is true when the repository's lock could not be had: nothing
	// more is tried there.
	busy bool
	// openBy, when set, is the end of the open bound that the sftp
	// login check started: the first opening of the repository with
	// restic gets only what is left of it, so that reaching an sftp
	// server is held to one bound, not one for ssh and one for restic
	// (reach.go).
	openBy time.Time
	result RepositoryResult
}

// Backup runs one backup of the job named jobName, as the plan says and
// DESIGN.md's runtime section describes. It returns an error only when
// the job does not exist (a configuration error); every failure of the
// run itself is in the Report, with its exit code, and has been logged,
// written to the error log and reflected in the metrics.
//
// A ZFS snapshot job must run in a private mount namespace
// (namespace.Enter, or a unit with PrivateMounts=yes); the snapshot phase
// refuses to expose snapshots anywhere else.
func Backup(ctx context.Context, p *plan.Plan, jobName string, o Options) (*Report, error) {
	job, ok := p.Job(jobName)
	if !ok {
		return nil, fmt.Errorf("the plan has no job %q (jobs: %s)", jobName, strings.Join(jobNames(p), ", "))
	}
	if err := RefuseDisabled(job); err != nil {
		return nil, err
	}
	r, err := newBackupRun(ctx, p, job, &o)
	if err != nil {
		return nil, err
	}
	if o.DryRun {
		r.dryRun()
		return &r.report, nil
	}
	r.run()
	return &r.report, nil
}

// RefuseDisabled returns the error for a job the plan keeps disabled
// (enabled = false), which has no unit and is not run by hand either:
// nil for any other job.
func RefuseDisabled(job *plan.Job) error {
	if !job.Disabled {
		return nil
	}
	return fmt.Errorf("the job %q is disabled (enabled = false in its configuration): it has no unit and no timer, and bakc does not run it. To run it, remove enabled = false and deploy the new plan", job.Name)
}

func jobNames(p *plan.Plan) []string {
	var names []string
	for _, j := range p.Jobs {
		names = append(names, j.Name)
	}
	return names
}

func newBackupRun(ctx context.Context, p *plan.Plan, job *plan.Job, o *Options) (*backupRun, error) {
	euid := os.Geteuid()
	if o.Euid != nil {
		euid = o.Euid()
	}
	r := &backupRun{
		plan:  p,
		job:   job,
		o:     o,
		log:   o.log().With("job", job.Name),
		base:  o.log(),
		ctx:   ctx,
		start: o.now(),
		began: time.Now(),
		cred:  resticCredential(p, euid),
		euid:  euid,
	}
	r.prog = newProgress(o, job.Name)
	r.report = Report{Node: p.Node.Name, Job: job.Name, Start: r.start}
	for _, name := range job.Repositories {
		repo, ok := p.Repository(name)
		if !ok {
			return nil, fmt.Errorf("job %s names repository %q, which the plan does not have", job.Name, name)
		}
		r.repos = append(r.repos, &repoRun{
			repo:   repo,
			restic: r.resticFor(repo),
			guard:  newRepoGuard(p, repo.Name, o, r.cred, r.log.With("repository", repo.Name)),
			result: RepositoryResult{Name: name, Outcome: OutcomeFailed, ResticExitCode: -1},
		})
	}
	return r, nil
}

// resticFor is restic pointed at repo, as this run starts it. The
// environment file is read in the preflight.
func (r *backupRun) resticFor(repo *plan.Repository) *restic.Restic {
	return newRestic(r.plan, repo, r.o, r.cred, r.log.With("repository", repo.Name))
}

// newRestic is restic pointed at repo, as every task starts it; log
// already names the repository.
func newRestic(p *plan.Plan, repo *plan.Repository, o *Options, cred *syscall.Credential, log *slog.Logger) *restic.Restic {
	rs := &restic.Restic{
		Binary:        o.restic(),
		Repo:          repo.URL,
		PasswordFile:  repo.PasswordFile,
		CacheDir:      p.Paths.Cache,
		TempDir:       resticTempDir(p.Paths.Cache),
		Options:       resticOptions(repo, o),
		Compression:   repo.Compression,
		LimitUpload:   repo.LimitUpload,
		LimitDownload: repo.LimitDownload,
		Credential:    cred,
		ProgressFPS:   progressFPS,
		Log:           log,
	}
	rs.Advice = unlockAdvice(p.User, repo, rs) // stalelock.go
	return rs
}

// run takes the job's lock, goes through the phases, and ends in finish
// whatever happens, before the lock is given up: the hooks, the state and
// the metrics of a run are written while it still holds the lock.
func (r *backupRun) run() {
	r.log.Info("backup run starts", "repositories", r.job.Repositories, "paths", r.job.Paths, "snapshot", r.job.Snapshot)
	lock, err := AcquireLockFor(LockPath(r.plan.Paths.State, "backup", r.job.Name), r.cred)
	if err != nil {
		r.fail(failure(PhaseLock, "", restic.CategoryLock, err))
		r.finish()
		return
	}
	defer lock.Release()
	r.locked = true
	r.recordStart()
	r.notifyStart() // notify.go
	r.phases()
	r.finish()
}

// phases are the run's steps from the leftovers to the last restic;
// returning releases the snapshot and removes the exclude file.
func (r *backupRun) phases() {
	if r.job.Snapshot == plan.SnapshotZFS {
		r.prog.phase("cleaning up after earlier runs")
		if err := snapshot.CleanLeftovers(r.ctx, r.zfs(), r.job, r.base); err != nil {
			r.fail(failure(PhaseSnapshot, "", restic.CategorySnapshot, fmt.Errorf("cleaning up what an earlier run left: %w", err)))
			return
		}
	}

	r.prog.phase("preflight")
	if !r.preflight() {
		return
	}

	if h := r.job.Hooks.PreBackup; h != "" {
		r.record.phase(PhasePreHook, "")
		r.prog.phase("pre_backup hook")
		if err := r.hook(r.ctx, PhasePreHook, h, nil); err != nil {
			r.fail(failure(PhasePreHook, "", restic.CategorySource, err))
			return
		}
	}

	// Written before the snapshot is shown over the paths, which may hold
	// the state folder (docs/snapshots.md, "The runtime's own files").
	excludes, err := r.writeExcludeFile()
	if err != nil {
		r.fail(failure(PhasePreflight, "", restic.CategoryUnknown, err))
		return
	}
	defer removeQuietly(excludes)

	// The dumps read the live system, before any view is shown (dump.go).
	r.dumps()
	if r.ctx.Err() != nil {
		return
	}

	if r.job.Snapshot == plan.SnapshotZFS {
		r.record.phase(PhaseSnapshot, "")
		r.prog.phase("taking ZFS snapshots")
		err := r.takeSnapshot()
		defer r.releaseSnapshot()
		if err != nil {
			r.fail(failure(PhaseSnapshot, "", restic.CategorySnapshot, err))
			return
		}
	}

	for _, rr := range r.repos {
		if !rr.ready || rr.busy {
			continue
		}
		if r.ctx.Err() != nil {
			r.fail(failure(PhaseBackup, rr.repo.Name, restic.CategoryResource, fmt.Errorf("not started: %w", context.Cause(r.ctx))))
			continue
		}
		r.backupTo(rr, excludes)
	}
}

// backupTo runs restic backup of the job's paths into one repository
// and, after a complete backup of the paths and every dump (run before,
// in dumps), forget.
func (r *backupRun) backupTo(rr *repoRun, excludes string) {
	start := time.Now()
	defer func() { rr.result.Duration += time.Since(start) }()
	r.record.phase(PhaseBackup, rr.repo.Name)
	r.prog.phase("backing up to " + rr.repo.Name)
	// The paths' restic backup shares the repository with other jobs'
	// (repolock.go); forget below takes it alone.
	lock, err := rr.lock(r.ctx, lockShared)
	if err != nil {
		r.fail(failure(PhaseLock, rr.repo.Name, restic.CategoryLock, err))
		return
	}
	pathsOK := len(r.job.Paths) == 0 || r.backupPathsTo(rr, excludes, start)
	lock.release()
	if !pathsOK {
		return
	}
	if !rr.dumpsOK {
		rr.result.Outcome = OutcomeFailed
		return
	}
	rr.result.Outcome = OutcomeComplete
	if rr.result.ResticExitCode < 0 {
		// A job of dumps only: restic ran for each of them, fine.
		rr.result.ResticExitCode = 0
	}

	if err := r.forget(rr); err != nil {
		r.fail(failure(PhaseForget, rr.repo.Name, restic.CategoryUnknown, err))
		return
	}
	rr.result.Forgotten = true
}

// backupPathsTo runs restic backup of the job's paths into one
// repository; it returns false when that failed.
func (r *backupRun) backupPathsTo(rr *repoRun, excludes string, start time.Time) bool {
	r.prog.phase("backing up to " + rr.repo.Name)
	summary, err := rr.restic.Backup(r.ctx, pathsBackupOptions(r.plan, r.job, excludes, r.snapshotTime()), r.prog.status(rr.repo.Name))
	r.prog.clear()
	rr.result.Summary = summary
	if err != nil {
		f := failure(PhaseBackup, rr.repo.Name, restic.CategoryUnknown, err)
		rr.result.ResticExitCode = f.ResticExitCode
		if f.ResticExitCode == restic.ExitPartial {
			rr.result.Outcome = OutcomePartial
			err = fmt.Errorf("partial backup, snapshot %s is incomplete (some source files could not be read): %w", shortID(summary), err)
			f.Err = err
		}
		r.fail(f)
		return false
	}
	rr.result.ResticExitCode = 0
	r.log.Info("backup complete", "repository", rr.repo.Name, "snapshot_id", shortID(summary),
		"files_new", summaryField(summary, func(s *restic.Summary) uint64 { return s.FilesNew }),
		"files_changed", summaryField(summary, func(s *restic.Summary) uint64 { return s.FilesChanged }),
		"bytes_added", summaryField(summary, func(s *restic.Summary) uint64 { return s.DataAdded }),
		"seconds", time.Since(start).Seconds())
	return true
}

// snapshotTime is restic's --time: zero (restic's own clock, to the
// nanosecond) unless the runtime's clock is injected (Options.Now: tests
// stamping runs on simulated days). --time has whole seconds only, and two
// runs in the same second with the same time leave restic no order to
// pick a parent or a "last" snapshot by.
func (r *backupRun) snapshotTime() time.Time {
	if r.o.Now == nil {
		return time.Time{}
	}
	return r.start
}

// pathsBackupOptions is how restic backs up the job's paths; a dump's
// backup (stdin) takes none of the job's file options.
func pathsBackupOptions(p *plan.Plan, job *plan.Job, excludes string, at time.Time) restic.BackupOptions {
	return restic.BackupOptions{
		Paths:             job.Paths,
		ExcludeFile:       excludes,
		Tags:              backupTags(job),
		Host:              p.Node.Name,
		Time:              at,
		ExcludeCaches:     job.ExcludeCaches,
		OneFileSystem:     job.OneFileSystem,
		ExcludeLargerThan: job.ExcludeLargerThan,
		ReadConcurrency:   job.ReadConcurrency,
	}
}

// backupTags are the job's tags with its JobTag, which the compiler puts
// among them already; it is added here too so that forget's scope can
// never miss a snapshot of the job.
func backupTags(job *plan.Job) []string {
	for _, t := range job.Tags {
		if t == job.JobTag {
			return job.Tags
		}
	}
	return append(append([]string(nil), job.Tags...), job.JobTag)
}

func shortID(s *restic.Summary) string {
	if s == nil {
		return ""
	}
	return restic.ShortID(s.SnapshotID)
}

func summaryField(s *restic.Summary, f func(*restic.Summary) uint64) uint64 {
	if s == nil {
		return 0
	}
	return f(s)
}

// writeExcludeFile writes the job's exclude patterns and the runtime's
// own folders it leaves out (excludeLines), one per line, for restic's
// --exclude-file, each as restic's reading of that file needs it. It
// returns "" when there are none.
func (r *backupRun) writeExcludeFile() (string, error) {
	lines := excludeLines(r.plan, r.job)
	if len(lines) == 0 {
		return "", nil
	}
	path := excludeFilePath(r.plan, r.job)
	data := strings.Join(lines, "\n") + "\n"
	if err := writeFileAtomic(path, []byte(data), 0o644); err != nil {
		return "", fmt.Errorf("writing the exclude file: %w", err)
	}
	return path, nil
}

// excludeFilePath is where a job's exclude file is written, under its
// lock: the same path every run, so that --dry-run can show it.
func excludeFilePath(p *plan.Plan, job *plan.Job) string {
	return filepath.Join(p.Paths.State, "excludes-"+job.Name+".txt")
}

func removeQuietly(path string) {
	if path != "" {
		os.Remove(path)
	}
}

// fail records a failure and logs it. A failure while the run is being
// stopped is an interruption, whatever it looked like.
func (r *backupRun) fail(f Failure) {
	if r.ctx.Err() != nil {
		f.Category = restic.CategoryResource
	}
	r.report.Failures = append(r.report.Failures, f)
	attrs := []any{"phase", f.Phase, "category", f.Category, "error", f.Err}
	if f.Repository != "" {
		attrs = append(attrs, "repository", f.Repository)
	}
	if f.ResticExitCode >= 0 {
		attrs = append(attrs, "restic_exit_code", f.ResticExitCode)
	}
	r.log.Error("backup run failure", attrs...)
}

// finish ends every run: the post or failure hook, the exit code, the
// state, the metrics and the error lines.
func (r *backupRun) finish() {
	// Cleanup and reports happen even after SIGTERM, but bounded.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.ctx), finishTimeout)
	defer cancel()

	if len(r.report.Failures) == 0 && r.ctx.Err() == nil {
		if h := r.job.Hooks.PostBackup; h != "" {
			r.prog.phase("post_backup hook")
			if err := r.hook(ctx, PhasePostHook, h, nil); err != nil {
				r.fail(failure(PhasePostHook, "", restic.CategoryUnknown, err))
			}
		}
	} else if h := r.job.Hooks.OnFailure; h != "" {
		r.prog.phase("on_failure hook")
		first := r.report.Failures
		msg := "interrupted"
		if len(first) > 0 {
			msg = first[0].String()
		}
		if err := r.hook(ctx, PhaseFailureHook, h, []string{"BAKC_ERROR=" + oneLine(msg)}); err != nil {
			r.fail(failure(PhaseFailureHook, "", restic.CategoryUnknown, err))
		}
	}

	r.report.Duration = time.Since(r.began)
	for _, rr := range r.repos {
		if len(rr.result.Dumps) == 0 {
			// Not reached (preflight, an earlier failure): each dump
			// failed there too, for its metrics.
			for _, d := range r.job.Dumps {
				rr.result.Dumps = append(rr.result.Dumps, DumpResult{Name: d.Name, Outcome: OutcomeFailed, ExitCode: -1, ResticExitCode: -1})
			}
		}
		r.report.Repositories = append(r.report.Repositories, rr.result)
	}
	r.report.Snapshots = r.set.Snapshots()
	switch {
	case r.ctx.Err() != nil:
		r.report.ExitCode = ExitInterrupted
	case len(r.report.Failures) > 0:
		r.report.ExitCode = exitCodeOf(r.report.Failures[0].Phase)
	default:
		r.report.ExitCode = ExitOK
	}

	if r.locked {
		if err := r.writeReport(); err != nil {
			r.log.Error("writing state and metrics", "error", err)
		}
		r.reportBackupExtras() // alertmetrics.go
	}
	if err := appendErrorLines(r.plan.Monitoring.ErrorLog, r.errorLines(), r.cred); err != nil {
		r.log.Error("writing the error log", "file", r.plan.Monitoring.ErrorLog, "error", err)
	}
	level := slog.LevelInfo
	if r.report.ExitCode != ExitOK {
		level = slog.LevelError
	}
	r.log.Log(ctx, level, "backup run ends", "exit_code", r.report.ExitCode, "failures", len(r.report.Failures),
		"seconds", r.report.Duration.Seconds(), "peak_rss_kib", peakRSSKiB())
	r.prog.phase(fmt.Sprintf("done, exit code %d", r.report.ExitCode))
	r.record.end()
	r.notifyEnd() // notify.go: after the record, never changing the run
}

// finishTimeout bounds the hooks and reports of a run being stopped.
const finishTimeout = 60 * time.Second

// zfs is the zfs(8) runner of snapshot jobs.
func (r *backupRun) zfs() snapshot.ZFS {
	if r.o.ZFS == nil {
		r.o.ZFS = zfs.New(r.base)
	}
	return r.o.ZFS
}

// oneLine joins lines with "; " for an environment variable or a log.
func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", " ; ")), " ")
}
