package runtime

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Lock is a held flock(2) on a file under the plan's state folder. The
// kernel drops it when the process dies, so a killed run never leaves a
// stale lock behind; the file only records the holder's pid for the
// message a second run prints.
type Lock struct {
	f *os.File
}

// LockPath is the lock file of a task ("backup", "prune", "verify") on a
// job or repository name.
func LockPath(stateDir, task, name string) string {
	return filepath.Join(stateDir, "locks", task+"-"+name+".lock")
}

// AcquireLock takes the lock at path without waiting. When another
// process holds it, the error wraps errLockHeld and names that process.
func AcquireLock(path string) (*Lock, error) { return AcquireLockFor(path, nil) }

// AcquireLockFor is AcquireLock by a run whose restic runs as owner (a
// root run of a ZFS job: owner is the backup user; nil otherwise). The
// lock folder and file such a run makes are given to owner: the backup
// user's own services (the other jobs, prune, verify) make their lock
// files in the same folder. A lock file root made before is opened
// read-only (flock needs no write access).
func AcquireLockFor(path string, owner *syscall.Credential) (*Lock, error) {
	if err := makeLockDir(filepath.Dir(path), owner); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if errors.Is(err, os.ErrPermission) {
		f, err = os.Open(path)
	}
	if err != nil {
		return nil, fmt.Errorf("lock file: %w", err)
	}
	giveTo(path, owner)
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		holder := readHolder(f)
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s is held by %s; another run is going on, this one stops", errLockHeld, path, holder)
		}
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	// Record ourselves for the next one's message.
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &Lock{f: f}, nil
}

// readHolder returns "pid N" from a lock file, or "another process".
func readHolder(f *os.File) string {
	b := make([]byte, 32)
	n, _ := f.ReadAt(b, 0)
	if pid, err := strconv.Atoi(strings.TrimSpace(string(b[:n]))); err == nil && pid > 0 {
		return "pid " + strconv.Itoa(pid)
	}
	return "another process"
}

// Release gives the lock up. The file stays: removing it would let a run
// that opened it before the removal and one that creates it anew both
// hold "the" lock.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}
