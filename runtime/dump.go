package runtime

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"syscall"
	"time"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/runtime/restic"
)

// A dump (plan.Dump) streams a command's standard output into `restic
// backup --stdin`, per repository, without a file in between:
//
//	dump command ──pipe──▶ restic backup --stdin --stdin-filename NAME
//	(its user)              (the backup user)
//
// restic writes its snapshot when its stdin ends. bakc holds a copy of
// the pipe's write end for as long as the command runs, so the end of
// the command's output is not the end of restic's stdin: only once the
// command has exited 0 does bakc close its copy and let restic finish.
// When the command fails, bakc stops restic with SIGINT while stdin is
// still open, so restic never sees a complete stream and writes no
// snapshot (0.14 exits at once; 0.18 fails with "context canceled" when
// stdin is then closed). Should restic still have written one — the
// only way is the command's output ending after all, a race bakc does
// not leave open but checks for — that snapshot is forgotten at once.

// stdinCloseDelay is how long bakc waits after stopping restic before it
// closes restic's stdin (0.18 notices SIGINT, then needs stdin to end to
// exit; 0.14 is gone by then).
const stdinCloseDelay = 2 * time.Second

// holdDumpStdin is false only in the test of the second line of defence
// (a snapshot of a failed dump forgotten at once): there restic gets its
// EOF when the command's output ends, as it would without the first.
var holdDumpStdin = true

// dumps streams the job's dumps into each repository that passed its
// preflight, before the snapshot is taken (docs/snapshots.md, "Dumps and
// the views"). A dump talks to the live system: its program, the files it
// reads, a database's unix socket. Under a ZFS snapshot job's view each
// of those would be the snapshot's read-only copy (MariaDB's
// /var/lib/mysql/mysql.sock in a /var/lib job: a socket nothing listens
// on). Before the snapshot rather than after the views are released:
// the dumps then end just before the moment the paths are frozen, not a
// whole backup of the paths later, and a lock wait for them never holds
// the ZFS snapshot.
//
// Each repository's dumps share its lock (shared, as restic backup
// does); the paths take it again after the snapshot. Nothing needs the
// two in one lock period: a prune or another job's forget between them
// cannot touch the dumps' snapshots, which are written, and this job's
// forget comes after both.
func (r *backupRun) dumps() {
	for _, rr := range r.repos {
		if !rr.ready {
			continue
		}
		if len(r.job.Dumps) == 0 {
			rr.dumpsOK = true
			continue
		}
		if r.ctx.Err() != nil {
			r.fail(failure(PhaseBackup, rr.repo.Name, restic.CategoryResource, fmt.Errorf("dumps not started: %w", context.Cause(r.ctx))))
			continue
		}
		start := time.Now()
		r.record.phase(PhaseBackup, rr.repo.Name)
		lock, err := rr.lock(r.ctx, lockShared)
		if err != nil {
			r.fail(failure(PhaseLock, rr.repo.Name, restic.CategoryLock, err))
			rr.busy = true
			continue
		}
		rr.dumpsOK = r.dumpsTo(rr)
		lock.release()
		rr.result.Duration += time.Since(start)
	}
}

// DumpResult is what one dump did in one repository.
type DumpResult struct {
	Name    string
	Outcome Outcome
	// ExitCode is the dump command's exit code (128+n for signal n), -1
	// when it did not run or did not end.
	ExitCode int
	// ResticExitCode is restic's, -1 when it did not run.
	ResticExitCode int
	// Summary is restic's summary of a complete dump.
	Summary  *restic.Summary
	Duration time.Duration
}

// dumpsTo runs every dump of the job into one repository, in order, and
// records each in rr.result.Dumps. It returns false when one failed.
func (r *backupRun) dumpsTo(rr *repoRun) bool {
	ok := true
	for _, d := range r.job.Dumps {
		if r.ctx.Err() != nil {
			r.fail(failure(PhaseBackup, rr.repo.Name, restic.CategoryResource, fmt.Errorf("dump %s not started: %w", d.Name, context.Cause(r.ctx))))
			rr.result.Dumps = append(rr.result.Dumps, DumpResult{Name: d.Name, Outcome: OutcomeFailed, ExitCode: -1, ResticExitCode: -1})
			ok = false
			continue
		}
		res, f := r.dumpTo(rr, d)
		rr.result.Dumps = append(rr.result.Dumps, res)
		if f != nil {
			r.fail(*f)
			ok = false
			if rr.result.ResticExitCode < 0 {
				rr.result.ResticExitCode = res.ResticExitCode
			}
		}
	}
	return ok
}

// dumpTo streams one dump into one repository.
func (r *backupRun) dumpTo(rr *repoRun, d plan.Dump) (DumpResult, *Failure) {
	start := time.Now()
	res := DumpResult{Name: d.Name, Outcome: OutcomeFailed, ExitCode: -1, ResticExitCode: -1}
	defer func() { res.Duration = time.Since(start) }()
	fail := func(cat restic.Category, err error) (DumpResult, *Failure) {
		f := failure(PhaseBackup, rr.repo.Name, cat, fmt.Errorf("dump %s: %w", d.Name, err))
		if re := restic.AsError(err); re != nil {
			res.ResticExitCode = re.ExitCode
		}
		res.Duration = time.Since(start)
		return res, &f
	}
	r.prog.phase(fmt.Sprintf("dumping %s to %s", d.Name, rr.repo.Name))
	log := r.log.With("dump", d.Name, "repository", rr.repo.Name)

	ra, err := r.resolveStep(d.Needs)
	if err != nil {
		return fail(restic.CategorySource, err)
	}
	program, err := lookPath(d.Command[0], ra.path)
	if err != nil {
		return fail(restic.CategorySource, err)
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return fail(restic.CategoryResource, fmt.Errorf("pipe: %w", err))
	}
	// bakc's copy of the write end: restic's stdin ends only when bakc
	// closes it, after the command's exit status is known.
	var pwOnce bool
	closeStdin := func() {
		if !pwOnce {
			pwOnce = true
			pw.Close()
		}
	}
	defer closeStdin()

	resticCtx, stopRestic := context.WithCancel(r.ctx)
	defer stopRestic()
	type resticResult struct {
		summary *restic.Summary
		err     error
	}
	resticDone := make(chan resticResult, 1)
	go func() {
		s, err := rr.restic.BackupStdin(resticCtx, restic.BackupOptions{
			Tags: append(slices.Clone(backupTags(r.job)), d.Tag),
			Host: r.plan.Node.Name,
			Time: r.snapshotTime(),
		}, d.Filename, pr, r.prog.status(rr.repo.Name))
		resticDone <- resticResult{s, err}
	}()

	cmd := exec.CommandContext(r.ctx, program, d.Command[1:]...)
	cmd.Args[0] = d.Command[0]
	cmd.Dir = "/"
	cmd.Env = stepEnv(ra, "BAKC_NODE="+r.plan.Node.Name, "BAKC_JOB="+r.job.Name, "BAKC_DUMP="+d.Name, "BAKC_REPOSITORY="+rr.repo.Name)
	cmd.Stdout = pw
	out := &hookOutput{log: log}
	cmd.Stderr = out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: ra.cred}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) }
	cmd.WaitDelay = hookStopGrace
	log.Info("dump starts", "command", d.Command, "user", ra.who, "filename", d.SnapshotPath())
	cmdErr := cmd.Start()
	if !holdDumpStdin {
		closeStdin()
	}
	if cmdErr == nil {
		cmdErr = cmd.Wait()
	}
	out.flush()
	res.ExitCode = exitStatus(cmd.ProcessState)

	var rres resticResult
	resticFirst := false
	switch {
	case cmdErr == nil:
		// Complete: the end of the stream is the end of the dump.
		closeStdin()
		rres = <-resticDone
	case res.ExitCode == 128+int(syscall.SIGPIPE):
		// restic went away first and the command lost its pipe.
		closeStdin()
		rres, resticFirst = <-resticDone, true
	default:
		select {
		case rres = <-resticDone:
			resticFirst = true
		default:
			// Failed: stop restic while its stdin is still open, then
			// let it go.
			stopRestic()
			select {
			case rres = <-resticDone:
			case <-time.After(stdinCloseDelay):
				closeStdin()
				rres = <-resticDone
			}
		}
	}
	if re := restic.AsError(rres.err); re != nil {
		res.ResticExitCode = re.ExitCode
	} else if rres.err == nil {
		res.ResticExitCode = 0
	}

	if cmdErr != nil {
		msg := fmt.Errorf("the command %q failed: %v", d.Command, cmdErr)
		if last := out.lastLine(); last != "" {
			msg = fmt.Errorf("%w (last output: %s)", msg, last)
		}
		if rres.summary != nil && rres.summary.SnapshotID != "" {
			// restic wrote a snapshot of a stream that did not end
			// well: it must not count.
			if ferr := r.forgetSnapshot(rr, rres.summary.SnapshotID); ferr != nil {
				msg = fmt.Errorf("%w; restic saved snapshot %s of the incomplete dump and forgetting it failed, so forget it by hand (restic forget %s): %v", msg, rres.summary.SnapshotID, rres.summary.SnapshotID, ferr)
			} else {
				log.Warn("forgot the snapshot of an incomplete dump", "snapshot_id", rres.summary.SnapshotID)
			}
		}
		if resticFirst && rres.err != nil && r.ctx.Err() == nil {
			// restic failed first (the command then lost its pipe):
			// restic's error says why.
			return fail(restic.CategoryUnknown, fmt.Errorf("%w (the command then exited with %d)", rres.err, res.ExitCode))
		}
		return fail(restic.CategorySource, msg)
	}
	if rres.err != nil {
		return fail(restic.CategoryUnknown, rres.err)
	}
	res.Outcome = OutcomeComplete
	res.Summary = rres.summary
	log.Info("dump complete", "snapshot_id", shortID(rres.summary),
		"bytes", summaryField(rres.summary, func(s *restic.Summary) uint64 { return s.TotalBytesProcessed }),
		"bytes_added", summaryField(rres.summary, func(s *restic.Summary) uint64 { return s.DataAdded }),
		"seconds", time.Since(start).Seconds())
	return res, nil
}

// forgetSnapshot forgets one snapshot by id, at once (its data goes with
// the repository's next prune).
func (r *backupRun) forgetSnapshot(rr *repoRun, id string) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.ctx), finishTimeout)
	defer cancel()
	return rr.restic.Run(ctx, []string{"forget", id}, nil)
}

// exitStatus is a process's exit code, 128+n for death by signal n, -1
// if it did not end.
func exitStatus(ps *os.ProcessState) int {
	if ps == nil {
		return -1
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ps.ExitCode()
}
