package runtime

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/escape"
	"github.com/holthome/bakc/runtime/restic"
)

// A restic killed with SIGKILL (out of memory, the unit's stop timeout, a
// power loss) leaves its lock file in the repository, and restic 0.14 and
// 0.18 alike then refuse every exclusive operation (forget, prune,
// check), and after an exclusive one every backup too, until someone
// runs `restic unlock`.
//
// bakc removes such a lock by itself only when it knows the lock is one
// of its own runs' and stale:
//
//   - the lock was made on this host (restic's lock file names the
//     host and the PID: `restic list locks` and `restic cat lock ID`);
//   - its process is gone: no such PID, or a PID taken since by a
//     process that started after the lock was made;
//   - this run holds the repository's lock (repolock.go), so no other
//     bakc run of this node is starting a restic there.
//
// It removes them with `restic unlock`, which removes every lock restic
// takes for stale: older than 30 minutes, or made on this host by a PID
// that does not answer a signal from restic's user (0.14 and 0.18:
// internal/restic/lock.go, Stale and processExists). That set can be
// larger than bakc's: restic, run as the backup user, cannot signal an
// administrator's live root restic and would take its lock for stale, and
// it takes any lock older than 30 minutes, another host's too. So bakc
// runs `restic unlock` only when every lock restic would remove is one
// bakc knows is its own and stale; otherwise it leaves the locks, logs
// why, and the failure that follows carries restic's own words about the
// lock and the exact unlock command (unlockAdvice).

// lockIDRE is a lock file's name: a SHA-256 in hex.
var lockIDRE = regexp.MustCompile(`^[0-9a-f]{64}$`)

// removeStaleLocks removes the repository's stale restic locks that are
// bakc's own, as said above, once per run and repository. It runs with
// the repository's lock held; nothing it finds fails the run.
func (rr *repoRun) removeStaleLocks(ctx context.Context) {
	g := rr.guard
	if g.locksChecked {
		return
	}
	g.locksChecked = true
	ids, err := rr.lockIDs(ctx)
	if err != nil {
		g.log.Debug("cannot list the repository's restic locks", "error", err)
		return
	}
	if len(ids) == 0 {
		return
	}
	host, err := os.Hostname()
	if err != nil {
		g.log.Warn("cannot tell this host's name; restic locks left as they are", "error", err)
		return
	}
	resticUID := uint32(os.Geteuid())
	if rr.restic.Credential != nil {
		resticUID = rr.restic.Credential.Uid
	}
	var ours, blockers []*restic.LockInfo
	removable := 0
	for _, id := range ids {
		l, err := rr.restic.CatLock(ctx, id)
		if err != nil {
			// An unreadable lock: restic unlock's view of it is unknown.
			g.log.Warn("cannot read a restic lock; restic locks left as they are", "lock", restic.ShortID(id), "error", err)
			return
		}
		if l.Hostname == host {
			awaitReaped(ctx, l.PID)
		}
		own := ownStale(l, host)
		takes := resticTakesStale(l, host, resticUID)
		switch {
		case own && takes:
			ours = append(ours, l)
			removable++
		case own:
			g.log.Warn("a restic lock of this host's whose process is gone, but whose PID a later process has taken: restic unlock removes it only once it is 30 minutes old",
				lockAttrs(l)...)
		case takes:
			blockers = append(blockers, l)
		}
	}
	if removable == 0 {
		return
	}
	if len(blockers) > 0 {
		for _, b := range blockers {
			g.log.Warn("stale restic locks of killed runs are in the repository, but restic unlock would also remove this one, which bakc cannot tell is stale; removing none",
				append(lockAttrs(b), "unlock_command", unlockCommand(g.user, rr.repo, rr.restic))...)
		}
		return
	}
	if err := rr.restic.Unlock(ctx); err != nil {
		g.log.Warn("restic unlock failed; its stale locks stay", "error", err)
		return
	}
	for _, l := range ours {
		g.log.Warn("removed a stale restic lock: it was made on this host by a restic that is gone (killed?)", lockAttrs(l)...)
	}
}

// lockIDs lists the repository's lock files: by reading the folder of a
// local or NFS repository (nothing to pay when there are none), else with
// `restic list locks` (one more opening of the repository).
func (rr *repoRun) lockIDs(ctx context.Context) ([]string, error) {
	if rr.repo.Kind == plan.KindLocal || rr.repo.Kind == plan.KindNFS {
		entries, err := os.ReadDir(filepath.Join(rr.repo.URL, "locks"))
		switch {
		case err == nil:
			var ids []string
			for _, e := range entries {
				if lockIDRE.MatchString(e.Name()) {
					ids = append(ids, e.Name())
				}
			}
			return ids, nil
		case errors.Is(err, os.ErrNotExist):
			return nil, nil
		}
		// NFS with root_squash: only restic, as the backup user, may look.
	}
	return rr.restic.ListLocks(ctx)
}

// zombieWait bounds the wait for a killed process to be reaped.
const zombieWait = 10 * time.Second

// awaitReaped waits a moment while pid is a zombie: a restic killed
// together with its bakc is reparented, and stays a zombie until its new
// parent reaps it (systemd at once, other inits later). A zombie answers
// restic's signal, so restic unlock would take its lock for live.
func awaitReaped(ctx context.Context, pid int) {
	deadline := time.Now().Add(zombieWait)
	for isZombie(pid) && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(50 * time.Millisecond)
	}
}

// isZombie reports whether pid is a process that has ended but was not
// reaped yet (state Z in /proc/PID/stat).
func isZombie(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	return len(fields) > 0 && fields[0] == "Z"
}

// ownStale reports whether a lock was made on this host by a process
// that is gone: no such PID, or a PID taken since by a later process.
func ownStale(l *restic.LockInfo, host string) bool {
	if l.Hostname != host || l.PID <= 0 {
		return false
	}
	if err := unix.Kill(l.PID, 0); errors.Is(err, unix.ESRCH) || isZombie(l.PID) {
		return true
	}
	start, ok := processStart(l.PID)
	// Start times have whole seconds (btime); a second of slack.
	return ok && start.After(l.Time.Add(time.Second))
}

// resticTakesStale reports whether `restic unlock`, run as resticUID,
// takes the lock for stale (restic's Lock.Stale): older than 30 minutes,
// or made on this host by a PID its signal does not reach (no such
// process, or one it may not signal).
func resticTakesStale(l *restic.LockInfo, host string, resticUID uint32) bool {
	if time.Since(l.Time) > restic.StaleLockAge {
		return true
	}
	if l.Hostname != host {
		return false
	}
	if err := unix.Kill(l.PID, 0); errors.Is(err, unix.ESRCH) {
		return true
	}
	return !maySignal(resticUID, l.PID)
}

// maySignal reports whether a process of uid may signal pid: the kernel
// allows it when uid is root or is the target's real or saved uid.
func maySignal(uid uint32, pid int) bool {
	if uid == 0 {
		return true
	}
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// Uid:	real	effective	saved	filesystem
		fields := strings.Fields(sc.Text())
		if len(fields) == 5 && fields[0] == "Uid:" {
			u := strconv.FormatUint(uint64(uid), 10)
			return fields[1] == u || fields[3] == u
		}
	}
	return false
}

// processStart is when a process started, from /proc/PID/stat (field 22,
// in clock ticks since boot) and the boot time in /proc/stat.
func processStart(pid int) (time.Time, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return time.Time{}, false
	}
	// The command name (field 2) is in parentheses and may hold spaces.
	s := string(b)
	rest := s[strings.LastIndexByte(s, ')')+1:]
	fields := strings.Fields(rest) // fields[0] is field 3
	if len(fields) < 20 {
		return time.Time{}, false
	}
	ticks, err := strconv.ParseUint(fields[19], 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	boot, ok := bootTime()
	if !ok {
		return time.Time{}, false
	}
	// USER_HZ, which /proc reports in, is 100 on every Linux.
	return boot.Add(time.Duration(ticks) * 10 * time.Millisecond), true
}

// bootTime is the "btime" line of /proc/stat.
func bootTime() (time.Time, bool) {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return time.Time{}, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "btime "); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return time.Unix(n, 0), err == nil
		}
	}
	return time.Time{}, false
}

func lockAttrs(l *restic.LockInfo) []any {
	return []any{"lock", restic.ShortID(l.ID), "pid", l.PID, "host", l.Hostname, "user", l.Username,
		"exclusive", l.Exclusive, "created", l.Time.Format(time.RFC3339)}
}

// unlockAdvice is the Advice of a repository's restic: a failure for a
// lock (restic's own message already says who holds it, since when, and
// that `unlock` exists) gets the exact command that removes a stale one
// with this repository's settings.
func unlockAdvice(user plan.User, repo *plan.Repository, rs *restic.Restic) func(*restic.Error) string {
	return func(e *restic.Error) string {
		if e.Category() != restic.CategoryLock {
			return ""
		}
		return "if the restic holding that lock no longer runs, remove its stale lock as root with: " + unlockCommand(user, repo, rs)
	}
}

// unlockCommand is `restic unlock` for the repository as a shell line for
// root: restic as the backup user (who owns the repository, an NFS export
// with root_squash too), with the repository's extended options and
// password file, without the cache. A repository's environment file is
// read by systemd, as the unit reads it (EnvironmentFile=, through
// systemd-run), never by the shell, as the runbook does too.
func unlockCommand(u plan.User, repo *plan.Repository, rs *restic.Restic) string {
	var argv []string
	if f := repo.EnvironmentFile; f != "" {
		argv = append(argv, "systemd-run", "--quiet", "--collect", "--wait", "--pipe", "--property=EnvironmentFile="+escape.Glob(f))
	}
	if u.UID != 0 {
		argv = append(argv, "setpriv", "--reuid="+strconv.Itoa(u.UID), "--regid="+strconv.Itoa(u.GID), "--clear-groups",
			"--inh-caps=+dac_read_search", "--ambient-caps=+dac_read_search")
	}
	before := shellLine(argv)
	// systemd-run wants the program's path: a bare name is looked up by
	// the shell.
	binary := escape.ShellQuote(rs.Binary)
	if repo.EnvironmentFile != "" && !strings.Contains(rs.Binary, "/") {
		binary = `"$(command -v ` + escape.ShellQuote(rs.Binary) + `)"`
	}
	after := []string{"--repo", repo.URL, "--password-file", repo.PasswordFile, "--no-cache"}
	for _, o := range rs.Options {
		after = append(after, "-o", o)
	}
	line := binary + " " + shellLine(append(after, "unlock"))
	if before != "" {
		line = before + " " + line
	}
	return line
}
