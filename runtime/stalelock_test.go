package runtime_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/holthome/bakc/internal/testenv"
	"github.com/holthome/bakc/runtime"
	"github.com/holthome/bakc/runtime/restic"
	"github.com/holthome/bakc/runtime/restic/restictest"
)

// lockFiles are the names in the repository's locks folder.
func lockFiles(t *testing.T, repo string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(repo, "locks"))
	if os.IsNotExist(err) {
		return nil
	}
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// resticLocks are the lock files restic reads: named by their SHA-256,
// not the temporary files they are written as first.
func resticLocks(t *testing.T, repo string) []string {
	t.Helper()
	var ids []string
	for _, n := range lockFiles(t, repo) {
		if len(n) == 64 && strings.Trim(n, "0123456789abcdef") == "" {
			ids = append(ids, n)
		}
	}
	return ids
}

// killedResticLock runs restic with args in the repository as the backup
// user, as bakc starts it, kills it with SIGKILL as soon as its lock file
// is in the repository (restic waits 200 ms after writing it before it
// goes on), and returns the lock file's name, left behind. wrap, if not
// nil, puts a command before restic's argv, run as root (unshare, to make
// the lock another host's). A backup reads a stdin that never ends, so
// that it holds its lock for as long as it lives.
func killedResticLock(t *testing.T, f *fixture, wrap []string, args ...string) string {
	t.Helper()
	h := startResticLock(t, f, wrap, wrap == nil, args...)
	require.NoError(t, h.cmd.Process.Kill())
	<-h.exited
	require.Contains(t, resticLocks(t, f.repo), h.id, "the killed restic's lock is gone")
	return h.id
}

// liveRestic is a restic holding its lock in the repository.
type liveRestic struct {
	id     string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	exited chan struct{}
	out    *bytes.Buffer
}

// startResticLock starts restic with args (as the backup user when
// asBackupUser, else as root) and returns once its lock file is in the
// repository. It is killed at the end of the test if it still runs.
func startResticLock(t *testing.T, f *fixture, wrap []string, asBackupUser bool, args ...string) *liveRestic {
	t.Helper()
	before := resticLocks(t, f.repo)
	argv := append([]string{f.restic.Path, "--repo", f.repo, "--password-file", f.repository("local").PasswordFile, "--no-cache"}, args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	if wrap != nil {
		cmd = exec.Command(wrap[0], append(wrap[1:], argv...)...)
	}
	if asBackupUser {
		// As the runtime starts it: the password file is root's.
		cmd.SysProcAttr = &syscall.SysProcAttr{
			Credential:  &syscall.Credential{Uid: backupUID, Gid: backupUID},
			AmbientCaps: []uintptr{unix.CAP_DAC_READ_SEARCH},
		}
	}
	stdin, err := cmd.StdinPipe() // a backup --stdin reads it until it is closed
	require.NoError(t, err)
	h := &liveRestic{cmd: cmd, stdin: stdin, exited: make(chan struct{}), out: &bytes.Buffer{}}
	cmd.Stdout, cmd.Stderr = h.out, h.out
	require.NoError(t, cmd.Start())
	go func() { cmd.Wait(); close(h.exited) }()
	t.Cleanup(func() {
		stdin.Close()
		select {
		case <-h.exited:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
		}
	})
	for i := 0; ; i++ {
		for _, n := range resticLocks(t, f.repo) {
			if !contains(before, n) {
				h.id = n
				return h
			}
		}
		select {
		case <-h.exited:
			t.Fatalf("restic %v ended before it made a lock:\n%s", args, h.out.String())
		case <-time.After(2 * time.Millisecond):
		}
		if i == 20000 {
			t.Fatalf("restic %v made no lock", args)
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// logBuffer collects a run's log besides the test's output.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// capturingOptions are the fixture's options with the log also kept in
// the returned buffer.
func (f *fixture) capturingOptions() (runtime.Options, *logBuffer) {
	o := f.options()
	buf := &logBuffer{}
	o.Log = slog.New(slog.NewTextHandler(multiWriter{testWriter{f.t}, buf}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return o, buf
}

type multiWriter []interface{ Write([]byte) (int, error) }

func (m multiWriter) Write(p []byte) (int, error) {
	for _, w := range m {
		w.Write(p)
	}
	return len(p), nil
}

// Defect 7 of issue 8: a restic killed with SIGKILL (out of memory, the
// unit's stop timeout, a power loss) leaves its lock, and every later
// forget, prune and verify failed (after an exclusive operation, every
// backup too), with restic 0.14 and 0.18 alike. bakc now removes exactly
// such locks, its own and stale (this host, the process gone, the
// repository's lock held), logs what it removed, and the task succeeds.
func TestStaleLocksOfKilledResticsAreRemoved(t *testing.T) {
	t.Parallel()
	testenvRoot(t)
	cases := []struct {
		name   string
		killed []string
		then   string
	}{
		{"killed backup, then a backup with its forget", []string{"backup", "--stdin", "--stdin-filename", "dump.sql", "--host", "forge"}, "backup"},
		{"killed backup, then verify", []string{"backup", "--stdin", "--stdin-filename", "dump.sql", "--host", "forge"}, "verify"},
		{"killed prune, then a backup", []string{"prune"}, "backup"},
		{"killed forget, then prune", []string{"forget", "--keep-last", "1"}, "prune"},
	}
	for _, r := range restictest.Restics(t) {
		for _, tt := range cases {
			t.Run(r.Version+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				f := newFixture(t, r)
				require.Equal(t, runtime.ExitOK, f.backup(f.options()).ExitCode, "first run")
				stale := killedResticLock(t, f, nil, tt.killed...)
				o, log := f.capturingOptions()
				o.LockWait = 5 * time.Second
				var code int
				var failures any
				switch tt.then {
				case "backup":
					rep := f.backup(o)
					code, failures = rep.ExitCode, rep.Failures
					if code == runtime.ExitOK && !rep.Repositories[0].Forgotten {
						t.Error("forget did not run")
					}
				case "verify", "prune":
					task := runtime.Verify
					if tt.then == "prune" {
						task = runtime.Prune
					}
					rep, err := task(context.Background(), f.plan, "local", o)
					require.NoError(t, err)
					code, failures = rep.ExitCode, rep.Failures
				}
				if code != runtime.ExitOK {
					t.Errorf("%s after a killed restic %s: exit code %d, failures %v", tt.then, tt.killed[0], code, failures)
				}
				if left := lockFiles(t, f.repo); len(left) != 0 {
					t.Errorf("restic locks left: %v", left)
				}
				if !strings.Contains(log.String(), "removed a stale restic lock") || !strings.Contains(log.String(), "lock="+stale[:8]) {
					t.Errorf("the log does not say that lock %s was removed", stale[:8])
				}
			})
		}
	}
}

// bakc removes no lock it cannot prove its own and stale, and never runs
// restic unlock when that would remove such a lock too. Here the
// repository holds a stale lock of a killed restic of this host and the
// live lock of root's restic backup: restic unlock, run as the backup
// user, cannot signal root's restic and would take its lock for stale
// (restic's processExists). bakc leaves both; the backup shares the
// repository with them, its forget fails with restic's own words about
// the lock (its age, the unlock advice) and the exact unlock command, and
// that command, run once root's restic is done, removes the stale lock.
func TestLocksNotProvablyBakcsAreKept(t *testing.T) {
	t.Parallel()
	testenvRoot(t)
	for _, r := range restictest.Restics(t) {
		t.Run(r.Version, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, r)
			require.Equal(t, runtime.ExitOK, f.backup(f.options()).ExitCode, "first run")
			stale := killedResticLock(t, f, nil, "backup", "--stdin", "--stdin-filename", "x", "--host", "forge")
			live := startResticLock(t, f, nil, false, "backup", "--stdin", "--stdin-filename", "y", "--host", "forge")
			time.Sleep(500 * time.Millisecond) // past restic's own check after writing its lock
			o, log := f.capturingOptions()
			o.LockWait = time.Second
			rep := f.backup(o)
			if rep.ExitCode != runtime.ExitTaskFailed || len(rep.Failures) != 1 || rep.Failures[0].Phase != runtime.PhaseForget || rep.Failures[0].Category != restic.CategoryLock {
				t.Fatalf("exit code %d, failures %v; want 3 and forget failing for the lock", rep.ExitCode, rep.Failures)
			}
			if left := resticLocks(t, f.repo); len(left) != 2 || !contains(left, stale) || !contains(left, live.id) {
				t.Errorf("locks %v; want both left: the stale %s and the live %s", left, stale[:8], live.id[:8])
			}
			if !strings.Contains(log.String(), "restic unlock would also remove this one") {
				t.Error("the log does not say why no lock was removed")
			}
			lines := f.errorLines()
			require.Len(t, lines, 1)
			msg := lines[0].Message
			for _, want := range []string{"lock was created at", "`unlock` command", "remove its stale lock as root with: setpriv '--reuid=2049' "} {
				if !strings.Contains(msg, want) {
					t.Errorf("error line %q lacks %q", msg, want)
				}
			}

			live.stdin.Close() // root's backup ends and removes its lock
			<-live.exited
			require.Equal(t, []string{stale}, resticLocks(t, f.repo))
			_, command, ok := strings.Cut(msg, "remove its stale lock as root with: ")
			require.True(t, ok)
			out, err := exec.Command("sh", "-c", command).CombinedOutput()
			require.NoError(t, err, "%s\n%s", command, out)
			if left := lockFiles(t, f.repo); len(left) != 0 {
				t.Errorf("the advised command %q left locks %v", command, left)
			}
		})
	}
}

// A stale lock of another host is never bakc's: it stays, and the run's
// forget fails with the advice.
func TestAnotherHostsLockIsKept(t *testing.T) {
	t.Parallel()
	testenvRoot(t)
	testenv.LookPath(t, "unshare")
	testenv.LookPath(t, "hostname")
	for _, r := range restictest.Restics(t) {
		t.Run(r.Version, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, r)
			wrap := []string{"unshare", "--uts", "sh", "-c", `hostname elsewhere && exec "$@"`, "sh"}
			stale := killedResticLock(t, f, wrap, "backup", "--stdin", "--stdin-filename", "x", "--host", "forge")
			o := f.options()
			o.LockWait = time.Second
			rep := f.backup(o)
			if rep.ExitCode != runtime.ExitTaskFailed || len(rep.Failures) != 1 || rep.Failures[0].Phase != runtime.PhaseForget || rep.Failures[0].Category != restic.CategoryLock {
				t.Fatalf("exit code %d, failures %v; want 3 and a forget failing for the lock", rep.ExitCode, rep.Failures)
			}
			if left := lockFiles(t, f.repo); len(left) != 1 || left[0] != stale {
				t.Errorf("locks %v; want another host's %s left", left, stale[:8])
			}
			if msg := f.errorLines()[0].Message; !strings.Contains(msg, "on elsewhere") || !strings.Contains(msg, " unlock") {
				t.Errorf("error line %q: want restic's words naming host elsewhere and the unlock command", msg)
			}
		})
	}
}

// waitForLocks waits until the repository holds n lock files.
func waitForLocks(t *testing.T, repo string, n int) {
	t.Helper()
	for i := 0; len(lockFiles(t, repo)) != n; i++ {
		if i == 3000 {
			t.Fatalf("locks %v, want %d", lockFiles(t, repo), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
