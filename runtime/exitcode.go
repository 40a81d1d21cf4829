package runtime

import (
	"errors"
	"fmt"

	"github.com/holthome/bakc/runtime/restic"
)

// Exit codes of `bakc run`, shared by every task (backup, prune, verify).
// 1 and 2 keep bakc's meaning everywhere (configuration or usage error:
// the plan cannot be read, the job does not exist); the others say which
// phase failed first, so that a unit's failure can be told apart in
// `systemctl status` without reading the journal.
const (
	ExitOK              = 0
	ExitTaskFailed      = 3 // restic backup (also partial), forget, prune, check or a restore test failed
	ExitPreflightFailed = 4 // a preflight check failed; nothing was backed up there
	ExitLockHeld        = 5 // another run of the same job or repository task holds its lock, or a repository stayed in use beyond the lock wait
	ExitSnapshotFailed  = 6 // a ZFS snapshot could not be taken, shown or released
	ExitHookFailed      = 7 // a hook failed (pre_backup: nothing was backed up)
	ExitInterrupted     = 8 // stopped by SIGTERM or SIGINT; cleaned up
)

// ExitKilled is not an exit code of bakc's own: it is the exit code the
// metrics give a run that was killed before it could report (SIGKILL, a
// power loss), as the next run reports it; 137 is how a shell reports a
// process killed by SIGKILL.
const ExitKilled = 128 + 9

// ExitCodeHelp documents the codes for `bakc run --help` and the docs.
const ExitCodeHelp = `Exit codes:
  0  success
  1  the plan cannot be read, names no such job or repository, or the
     job is disabled (enabled = false)
  2  usage error
  3  the task failed: restic backup (a partial backup too), forget, prune,
     check, or a restored file did not match its snapshot
  4  a preflight check failed (password file, source path, repository not
     mounted from where the plan says, not initialised, or not opened
     within --open-timeout)
  5  another run of the same job (or repository task) holds the lock, or
     a repository stayed in use by other runs longer than --lock-wait
  6  a ZFS snapshot could not be taken, shown or released
  7  a hook failed (pre_backup: nothing was backed up)
  8  interrupted by SIGTERM or SIGINT; everything was cleaned up`

// Phase names a step of a run, in error lines and logs.
type Phase string

// The phases, in the order a backup goes through them.
const (
	PhaseLock        Phase = "lock"
	PhasePreflight   Phase = "preflight"
	PhasePreHook     Phase = "pre_backup_hook"
	PhaseSnapshot    Phase = "snapshot"
	PhaseBackup      Phase = "backup"
	PhaseForget      Phase = "forget"
	PhaseRelease     Phase = "release"
	PhasePostHook    Phase = "post_backup_hook"
	PhaseFailureHook Phase = "on_failure_hook"
	PhasePrune       Phase = "prune"
	PhaseCheck       Phase = "check"
	PhaseRestore     Phase = "restore"
)

// exitCodeOf is the exit code of a run whose first failure is in phase.
func exitCodeOf(p Phase) int {
	switch p {
	case PhaseLock:
		return ExitLockHeld
	case PhasePreflight:
		return ExitPreflightFailed
	case PhaseSnapshot, PhaseRelease:
		return ExitSnapshotFailed
	case PhasePreHook, PhasePostHook, PhaseFailureHook:
		return ExitHookFailed
	default:
		return ExitTaskFailed
	}
}

// Failure is one thing that went wrong in a run; each becomes one line in
// the error log.
type Failure struct {
	Phase Phase
	// Repository is empty for a failure of the whole job (lock, pre hook,
	// snapshot).
	Repository string
	// ResticExitCode is restic's exit code, -1 when restic did not run
	// or did not start.
	ResticExitCode int
	Category       restic.Category
	Err            error
	// Job is, for a repository task, the job a failure concerns (the
	// restore test of one job); empty for the whole task.
	Job string
}

func (f Failure) String() string {
	where := string(f.Phase)
	if f.Repository != "" {
		where += " (repository " + f.Repository + ")"
	}
	return fmt.Sprintf("%s: %v", where, f.Err)
}

// failure makes a Failure from err: restic's exit code and category when
// err is a restic error, else the given category.
func failure(phase Phase, repo string, cat restic.Category, err error) Failure {
	f := Failure{Phase: phase, Repository: repo, ResticExitCode: -1, Category: cat, Err: err}
	if re := restic.AsError(err); re != nil {
		f.ResticExitCode = re.ExitCode
		f.Category = re.Category()
	}
	// A step that could not have its repository within the wait failed
	// for a lock, whichever step it was.
	var busy *busyError
	if errors.As(err, &busy) {
		f.Phase, f.Category = PhaseLock, restic.CategoryLock
	}
	return f
}

// errLockHeld is returned by the lock when another run holds it.
var errLockHeld = errors.New("lock held")
