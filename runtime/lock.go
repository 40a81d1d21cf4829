package runtime

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

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
func AcquireLock(path string) (*Lock, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("lock folder: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock file: %w", err)
	}
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
