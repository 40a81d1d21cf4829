package runtime

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/runtime/restic"
)

// DefaultLockWait bounds how long a run waits for a repository that
// another run of this node is using (Options.LockWait, `bakc run
// --lock-wait`). What a run waits for is another run's restic backup
// (a forget waits for the backups of other jobs), forget, prune or check:
// a prune of a large repository or a verify reading a few hundred GiB
// over NFS, or a first backup, can take hours. Three hours covers them,
// so a normal night never fails for a lock; a wait longer than that means
// a run is stuck, and the waiting run then fails (exit 5, category lock)
// the same night, so that the morning's alert says so.
const DefaultLockWait = 3 * time.Hour

// lockMode is how a run holds a repository's lock. It mirrors restic's
// own locks: restic backup, ls, dump and cat take a non-exclusive lock
// and may share a repository; forget, prune, check and init need it
// alone (restic takes an exclusive lock for forget, prune and check in
// 0.14 and 0.18 alike; init has none, but two at once corrupt the
// repository).
type lockMode int

const (
	lockShared lockMode = iota
	lockExclusive
)

func (m lockMode) String() string {
	if m == lockExclusive {
		return "exclusive"
	}
	return "shared"
}

// RepositoryLockPath is the file of a repository's lock on this node,
// held (flock(2): shared or exclusive) around every restic operation on
// the repository, by every task (docs/runtime.md, "Repositories shared
// by jobs").
func RepositoryLockPath(stateDir, repo string) string {
	return filepath.Join(stateDir, "locks", "repository-"+repo+".lock")
}

// busyError is a repository whose lock could not be had within the wait.
type busyError struct{ msg string }

func (e *busyError) Error() string { return e.msg }

// repoGuard takes one repository's lock for the runs of this node. It
// serialises them the way restic's locks would, but waits instead of
// failing, and it is what restic's locks cannot be: bounded, logged,
// stopped by SIGTERM at once, and free of stale leftovers (the kernel
// drops a flock when its process dies).
type repoGuard struct {
	repo string
	path string
	// wait is the bound; 0 or less does not wait.
	wait time.Duration
	// log names the repository already.
	log *slog.Logger
	// owner, when bakc runs as root and restic as the backup user, gets
	// the lock folder and file, so that the backup user's own services
	// can open them too.
	owner *syscall.Credential
	// user is the plan's backup user, for the unlock command of a stale
	// restic lock (stalelock.go).
	user plan.User
	// locksChecked is set once restic's locks in the repository were
	// looked at for stale ones (stalelock.go): once per run.
	locksChecked bool
	// f is the open lock file (prepare).
	f *os.File
}

// newRepoGuard is the guard of repo with the run's options.
func newRepoGuard(p *plan.Plan, repo string, o *Options, owner *syscall.Credential, log *slog.Logger) *repoGuard {
	wait := o.LockWait
	if wait == 0 {
		wait = DefaultLockWait
	}
	return &repoGuard{repo: repo, path: RepositoryLockPath(p.Paths.State, repo), wait: wait, log: log, owner: owner, user: p.User}
}

// repoLock is a held repository lock.
type repoLock struct {
	f    *os.File
	mode lockMode
	// deadline ends the whole wait for the repository: what is left of
	// it when the lock is had is restic's own --retry-lock.
	deadline time.Time
	// rs is the restic whose --retry-lock the lock set, reset on release.
	rs *restic.Restic
}

// release gives the lock up; nil is fine. The file stays open for the
// run's next operation.
func (l *repoLock) release() {
	if l != nil && l.f != nil {
		unix.Flock(int(l.f.Fd()), unix.LOCK_UN)
		l.f = nil
		if l.rs != nil {
			l.rs.RetryLock = 0
		}
	}
}

// lockPoll is how often a waiting run tries the lock again: at first
// often (a forget waits seconds for another job's), then once a second.
const (
	lockPollFirst = 50 * time.Millisecond
	lockPollMax   = time.Second
	// lockLogEvery is how often a run that still waits says so.
	lockLogEvery = time.Minute
)

// acquire takes the lock in the given mode, waiting up to the guard's
// bound while another run holds it in a conflicting mode. It logs when it
// starts to wait (with who holds the lock) and every minute after, and it
// stops at once when ctx ends (SIGTERM). Polling with LOCK_NB rather
// than a blocking flock is what makes the wait both bounded and
// stoppable.
func (g *repoGuard) acquire(ctx context.Context, mode lockMode) (*repoLock, error) {
	if err := g.prepare(); err != nil {
		return nil, err
	}
	f := g.f
	how := unix.LOCK_SH
	if mode == lockExclusive {
		how = unix.LOCK_EX
	}
	began := time.Now()
	deadline := began.Add(max(g.wait, 0))
	poll := lockPollFirst
	var lastLog time.Time
	for {
		err := unix.Flock(int(f.Fd()), how|unix.LOCK_NB)
		if err == nil {
			if !lastLog.IsZero() {
				g.log.Info("repository lock taken", "mode", mode, "waited_seconds", time.Since(began).Seconds())
			}
			return &repoLock{f: f, mode: mode, deadline: deadline}, nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("locking %s: %w", g.path, err)
		}
		now := time.Now()
		if !now.Before(deadline) {
			holders := describeHolders(f)
			waited := fmt.Sprintf("this run waited %v for it (--lock-wait) without getting it", g.wait.Round(time.Second))
			if g.wait <= 0 {
				waited = "--lock-wait 0 says not to wait"
			}
			return nil, &busyError{fmt.Sprintf("repository %s is in use by %s, and %s; it gives up (%s lock wanted, file %s)",
				g.repo, holders, waited, mode, g.path)}
		}
		if lastLog.IsZero() || now.Sub(lastLog) >= lockLogEvery {
			g.log.Info("waiting for the repository, which another run uses", "mode", mode,
				"held_by", describeHolders(f), "waited_seconds", now.Sub(began).Round(time.Second).Seconds(), "wait_at_most", g.wait.String())
			lastLog = now
		}
		timer := time.NewTimer(min(poll, deadline.Sub(now)))
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil, fmt.Errorf("stopped while waiting for repository %s: %w", g.repo, context.Cause(ctx))
		case <-timer.C:
		}
		poll = min(poll*2, lockPollMax)
	}
}

// prepare opens the lock file once per run, in the preflight: before
// any ZFS snapshot is shown at the original paths. The state folder may
// lie below such a path (/var/lib/bakc in a /var/lib job), and after
// that the path would name the snapshot's copy, read-only and not the
// file the other runs lock. The file stays open for the run; each
// acquire flocks it and each release unlocks it (the file is closed when
// it is garbage, at the latest when the process ends).
func (g *repoGuard) prepare() error {
	if g.f != nil {
		return nil
	}
	f, err := g.open()
	if err != nil {
		return err
	}
	g.f = f
	return nil
}

// open opens (and makes) the lock file. A run as the backup user may
// find the file made by root (a ZFS job's run): flock needs no write
// access, so it is opened read-only then.
func (g *repoGuard) open() (*os.File, error) {
	if err := makeLockDir(filepath.Dir(g.path), g.owner); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(g.path, os.O_RDWR|os.O_CREATE, 0o664)
	if errors.Is(err, os.ErrPermission) {
		f, err = os.Open(g.path)
	}
	if err != nil {
		return nil, fmt.Errorf("repository lock file: %w", err)
	}
	giveTo(f.Name(), g.owner)
	return f, nil
}

// makeLockDir makes the lock folder. Made by root for a run whose restic
// is the backup user, it is given to that user: the backup user's own
// services (verify, prune, the other jobs) make their lock files there.
func makeLockDir(dir string, owner *syscall.Credential) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("lock folder: %w", err)
	}
	giveTo(dir, owner) // also one an earlier root run (or job lock) made
	return nil
}

// giveTo gives a file bakc made as root to the backup user; nothing when
// bakc is not root or the file is the user's already.
func giveTo(path string, owner *syscall.Credential) {
	if owner == nil {
		return
	}
	var st unix.Stat_t
	if unix.Stat(path, &st) == nil && st.Uid == 0 {
		os.Chown(path, int(owner.Uid), int(owner.Gid))
	}
}

// describeHolders names the processes that hold a flock on f's file,
// from /proc/locks: "pid 1234 (bakc run prune nas-primary …)". It says
// "another process" when it cannot tell.
func describeHolders(f *os.File) string {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return "another process"
	}
	pids := flockHolders(uint32(unix.Major(st.Dev)), uint32(unix.Minor(st.Dev)), st.Ino)
	if len(pids) == 0 {
		return "another process"
	}
	var names []string
	for _, h := range pids {
		name := fmt.Sprintf("pid %d (%s, %s)", h.pid, commandLine(h.pid), h.mode)
		if !slices.Contains(names, name) { // one process may hold it several times (tests: goroutines)
			names = append(names, name)
		}
	}
	return strings.Join(names, ", ")
}

type flockHolder struct {
	pid  int
	mode string // "shared" or "exclusive"
}

// flockHolders reads /proc/locks for the granted flocks on one file
// (device major:minor in hex, then the inode):
//
//	1: FLOCK  ADVISORY  WRITE 1234 fd:01:3932 0 EOF
//	2: -> FLOCK  ADVISORY  READ  1240 fd:01:3932 0 EOF   (waiting: skipped)
func flockHolders(major, minor uint32, ino uint64) []flockHolder {
	f, err := os.Open("/proc/locks")
	if err != nil {
		return nil
	}
	defer f.Close()
	want := fmt.Sprintf("%02x:%02x:%d", major, minor, ino)
	var out []flockHolder
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 || fields[1] == "->" || fields[1] != "FLOCK" || fields[5] != want {
			continue
		}
		pid, err := strconv.Atoi(fields[4])
		if err != nil {
			continue
		}
		mode := "shared"
		if fields[3] == "WRITE" {
			mode = "exclusive"
		}
		out = append(out, flockHolder{pid: pid, mode: mode})
	}
	return out
}

// commandLine is a process's command line, shortened, or "?".
func commandLine(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || len(b) == 0 {
		return "?"
	}
	args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
	args[0] = filepath.Base(args[0])
	if len(args) > 5 {
		args = append(args[:5], "…")
	}
	return strings.Join(args, " ")
}

// retryLockFor is restic's --retry-lock under a held lock: what is left
// of the run's wait, so that a lock held outside bakc (another host, an
// administrator's restic) is waited for within the same bound.
func (l *repoLock) retryLockFor() time.Duration {
	if l == nil {
		return 0
	}
	return max(time.Until(l.deadline), 0)
}

// lock takes the repository's lock for one restic operation (or a few
// that belong together) and gives restic what is left of the wait as
// --retry-lock, when the restic knows the flag (≥ 0.16; its version is
// asked once per process). Release the lock with release.
func (rr *repoRun) lock(ctx context.Context, mode lockMode) (*repoLock, error) {
	l, err := rr.guard.acquire(ctx, mode)
	if err != nil {
		return nil, err
	}
	l.rs = rr.restic
	rr.removeStaleLocks(ctx)
	if v, err := restic.DetectVersion(ctx, rr.restic.Binary); err != nil {
		rr.guard.log.Warn("cannot tell restic's version; it gets no --retry-lock", "error", err)
	} else if v.HasRetryLock() {
		rr.restic.RetryLock = l.retryLockFor()
	}
	return l, nil
}
