package restictest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/holthome/bakc/internal/testenv"
)

// HoldExclusiveLock makes another restic process hold the repository's
// exclusive lock until the test ends: `restic key passwd` takes it and
// then waits for the new password on stdin, which never comes. It
// returns once the lock is taken and restic sits in read(0): restic
// checks for competing locks for a moment after writing its own, so the
// lock file alone does not mean it holds the lock yet.
func HoldExclusiveLock(t testing.TB, r testenv.Restic, repo, passwordFile string) {
	t.Helper()
	cmd := exec.Command(r.Path, "--repo", repo, "--password-file", passwordFile, "--no-cache", "key", "passwd")
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	// At the end, an empty password (EOF) makes restic give up and remove
	// its lock, as it would after any error. Killing it instead would
	// leave the lock, which restic 0.17+ does not ignore even when its
	// process is gone (only `restic unlock` removes it).
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		stdin.Close()
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	})
	for i := 0; !(hasLock(repo) && readingStdin(cmd.Process.Pid)); i++ {
		if i == 400 {
			t.Fatal("restic key passwd did not take the lock and wait for a password")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func hasLock(repo string) bool {
	locks, _ := os.ReadDir(filepath.Join(repo, "locks"))
	return len(locks) > 0
}

// readingStdin reports whether a thread of the process is blocked in
// read(0, …), from /proc/PID/task/*/syscall.
func readingStdin(pid int) bool {
	files, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/syscall", pid))
	want := fmt.Sprintf("%d 0x0 ", unix.SYS_READ)
	for _, f := range files {
		b, _ := os.ReadFile(f)
		if strings.HasPrefix(string(b), want) {
			return true
		}
	}
	return false
}
