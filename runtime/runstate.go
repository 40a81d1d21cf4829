package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/runtime/restic"
)

// A run killed with SIGKILL (the OOM killer, the unit's stop timeout) or
// cut short by a power loss cannot report itself: its metrics would still
// show the run before it, and the error log would say nothing. So every
// run records its start durably, before it changes anything, in a small
// file of its own (runRecord), keeps the record's phase up to date, and
// removes it at its very end. A run that finds a record when it starts
// holds the task's lock, so the run that wrote the record is gone without
// having ended: it reports that run (an error line with category
// interrupted, and the failed metrics of the killed run), then goes on.
// `bakc status` can read the same files: a record whose task lock is free
// is a killed run, one whose lock is held is a run in progress.

// runRecord is the file of a run in progress, <state>/runs/<task>-<name>.json
// (docs/runtime.md, "Killed runs"): written atomically and synced before
// the run changes anything, rewritten at each phase, removed at the end.
type runRecord struct {
	// Task is "backup", "prune", "verify" or "restore-test"; Name the job
	// or the repository.
	Task string `json:"task"`
	Name string `json:"name"`
	// PID is the process running the task.
	PID int `json:"pid"`
	// BootID is the kernel's boot ID when the run started: a record
	// from an earlier boot is a run cut short by a restart (power loss,
	// crash), not only a killed process.
	BootID string `json:"boot_id,omitempty"`
	// Start is the run's start, as its metrics give it.
	Start time.Time `json:"start"`
	// Phase and Repository are where the run was when the record was
	// last written.
	Phase      Phase  `json:"phase"`
	Repository string `json:"repository,omitempty"`
	// Updated is when the record was last written.
	Updated time.Time `json:"updated"`
}

// RunRecordPath is the record of a run in progress of a task on a job or
// repository.
func RunRecordPath(stateDir, task, name string) string {
	return filepath.Join(stateDir, "runs", task+"-"+name+".json")
}

// runRecorder keeps one run's record; a nil one records nothing. It
// writes through the folder's file descriptor, opened when the run
// starts: the state folder may lie below a path a ZFS snapshot is later
// shown at (/var/lib/bakc in a /var/lib job), where the path would name
// the snapshot's read-only copy, not the record.
type runRecorder struct {
	path string
	dir  *os.File // the runs folder; nil when it could not be opened
	name string   // the record's name in it
	rec  runRecord
	log  *slog.Logger
}

// startRecord is the first thing a run does once it holds its task's
// lock: it reads the record a killed run may have left (returned, nil
// when there is none), and writes this run's. A record that cannot be
// written is logged, and the run goes on: a backup is worth more than
// the record of it.
func startRecord(stateDir, task, name string, start time.Time, owner *syscall.Credential, log *slog.Logger) (*runRecorder, *runRecord) {
	path := RunRecordPath(stateDir, task, name)
	var killed *runRecord
	if data, err := os.ReadFile(path); err == nil {
		var prev runRecord
		if err := json.Unmarshal(data, &prev); err != nil {
			log.Error("the record of an earlier run is unreadable; taking it for a killed run", "file", path, "error", err)
			prev = runRecord{Task: task, Name: name, Phase: PhaseLock}
		}
		killed = &prev
	} else if !errors.Is(err, os.ErrNotExist) {
		log.Error("reading the record of an earlier run", "file", path, "error", err)
	}
	r := &runRecorder{path: path, name: filepath.Base(path), log: log, rec: runRecord{
		Task: task, Name: name, PID: os.Getpid(), BootID: bootID(), Start: start, Phase: PhasePreflight,
	}}
	if err := makeLockDir(filepath.Dir(path), owner); err != nil {
		log.Error("cannot record the run's start", "error", err)
		return r, killed
	}
	dir, err := os.Open(filepath.Dir(path))
	if err != nil {
		log.Error("cannot record the run's start", "error", err)
		return r, killed
	}
	r.dir = dir
	r.write()
	return r, killed
}

// phase records where the run is.
func (r *runRecorder) phase(p Phase, repo string) {
	if r == nil {
		return
	}
	r.rec.Phase, r.rec.Repository = p, repo
	r.write()
}

// end removes the record: the run reported itself.
func (r *runRecorder) end() {
	if r == nil || r.dir == nil {
		return
	}
	defer r.dir.Close()
	if err := unix.Unlinkat(int(r.dir.Fd()), r.name, 0); err != nil && !errors.Is(err, unix.ENOENT) {
		r.log.Error("removing the run's record; the next run will take this one for killed", "file", r.path, "error", err)
		return
	}
	r.dir.Sync()
}

// write replaces the record atomically (a temporary file, fsync, rename,
// fsync of the folder), relative to the folder's descriptor.
func (r *runRecorder) write() {
	if r.dir == nil {
		return
	}
	r.rec.Updated = time.Now().UTC()
	data, err := json.MarshalIndent(r.rec, "", "  ")
	if err == nil {
		err = writeAt(r.dir, r.name, append(data, '\n'))
	}
	if err != nil {
		r.log.Error("recording the run's progress", "file", r.path, "error", err)
	}
}

// writeAt replaces the file name in the folder dir whole and durably.
// Only the run holding the task's lock writes its record, so the
// temporary name is fixed (a killed run's leftover is truncated).
func writeAt(dir *os.File, name string, data []byte) error {
	dfd := int(dir.Fd())
	tmp := "." + name + ".tmp"
	fd, err := unix.Openat(dfd, tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_TRUNC|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return err
	}
	f := os.NewFile(uintptr(fd), tmp)
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = unix.Renameat(dfd, tmp, dfd, name)
	}
	if err != nil {
		unix.Unlinkat(dfd, tmp, 0)
		return err
	}
	return dir.Sync()
}

// bootID is the kernel's random boot ID, "" if unknown.
func bootID() string {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// killedFailure is the failure a run reports for the killed run rec.
func killedFailure(rec *runRecord) Failure {
	how := "it was killed (SIGKILL: the OOM killer, or the unit's stop timeout?)"
	if now := bootID(); rec.BootID != "" && now != "" && rec.BootID != now {
		how = "the node restarted since it started (a power loss or a crash?)"
	}
	where := "in phase " + string(rec.Phase)
	if rec.Repository != "" {
		where += " (repository " + rec.Repository + ")"
	}
	started := "at an unknown time"
	if !rec.Start.IsZero() {
		started = "at " + rec.Start.UTC().Format(time.RFC3339)
	}
	phase := rec.Phase
	if phase == "" {
		phase = PhaseLock
	}
	return Failure{
		Phase: phase, Repository: rec.Repository, ResticExitCode: -1, Category: restic.CategoryInterrupted,
		Err: fmt.Errorf("the run that started %s (pid %d) did not finish: %s, %s; it left no metrics and no error line of its own, so this run reports it",
			started, rec.PID, how, where),
	}
}

// recordStart records a backup run's start and reports a run of the job
// that was killed: its error line, and its metrics (failed in every
// repository, exit code ExitKilled), which stay until this run writes
// its own.
func (r *backupRun) recordStart() {
	rec, killed := startRecord(r.plan.Paths.State, "backup", r.job.Name, r.start, r.cred, r.log)
	r.record = rec
	if killed == nil {
		return
	}
	f := killedFailure(killed)
	r.log.Error("an earlier run of the job did not finish", "phase", f.Phase, "category", f.Category, "error", f.Err)
	line := newErrorLine(r.o.now(), r.plan.Node.Name, "backup", r.job.Name, f)
	if err := appendErrorLines(r.plan.Monitoring.ErrorLog, []ErrorLine{line}, r.cred); err != nil {
		r.log.Error("writing the error log", "file", r.plan.Monitoring.ErrorLog, "error", err)
	}
	rep := Report{Node: r.plan.Node.Name, Job: r.job.Name, Start: killed.Start, ExitCode: ExitKilled, Failures: []Failure{f}}
	for _, rr := range r.repos {
		rep.Repositories = append(rep.Repositories, RepositoryResult{Name: rr.repo.Name, Outcome: OutcomeFailed, ResticExitCode: -1})
	}
	state, err := readState(statePath(r.plan.Paths.State, "backup", r.job.Name))
	if err != nil {
		r.log.Error("state file unreadable", "error", err)
	}
	if err := writeBackupMetrics(backupMetricsPath(r.plan.Monitoring.TextfileDir, r.job.Name), &rep, state); err != nil {
		r.log.Error("writing the killed run's metrics", "error", err)
	}
}

// recordTaskStart is recordStart for a repository task (prune, verify,
// restore test).
func recordTaskStart(p *plan.Plan, t repositoryTask, repo string, start time.Time, owner *syscall.Credential, o *Options, log *slog.Logger) *runRecorder {
	rec, killed := startRecord(p.Paths.State, t.name, repo, start, owner, log)
	if killed == nil {
		return rec
	}
	f := killedFailure(killed)
	f.Repository = repo
	log.Error("an earlier run of the task did not finish", "phase", f.Phase, "category", f.Category, "error", f.Err)
	line := newErrorLine(o.now(), p.Node.Name, t.name, "", f)
	if err := appendErrorLines(p.Monitoring.ErrorLog, []ErrorLine{line}, owner); err != nil {
		log.Error("writing the error log", "file", p.Monitoring.ErrorLog, "error", err)
	}
	rep := &TaskReport{Node: p.Node.Name, Task: t.name, Repository: repo, Start: killed.Start, ResticExitCode: -1, ExitCode: ExitKilled, Failures: []Failure{f}}
	if err := writeTaskReport(p, rep, t.metricPrefix()); err != nil {
		log.Error("writing the killed run's metrics", "error", err)
	}
	return rec
}
