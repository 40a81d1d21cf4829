package runtime

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/holthome/bakc/internal/testenv"
	"github.com/holthome/bakc/runtime/restic"
)

// Run as root for a ZFS job, bakc gives the lock folder and the
// repository lock file it makes to the backup user, whose own services
// (the other jobs, prune, verify) open them too: a folder an earlier root
// run made is given over as well.
func TestLockFilesBelongToTheBackupUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	owner := &syscall.Credential{Uid: 2049, Gid: 2049}
	state := t.TempDir()
	require.NoError(t, os.Mkdir(filepath.Join(state, "locks"), 0o755)) // root's, as an older run left it
	g := &repoGuard{repo: "r", path: RepositoryLockPath(state, "r"), owner: owner}
	f, err := g.open()
	require.NoError(t, err)
	f.Close()
	for _, p := range []string{filepath.Dir(g.path), g.path} {
		var st unix.Stat_t
		require.NoError(t, unix.Stat(p, &st))
		if st.Uid != 2049 || st.Gid != 2049 {
			t.Errorf("%s belongs to %d:%d, want the backup user 2049:2049", p, st.Uid, st.Gid)
		}
	}
}

// new-1 (internal/booted): a ZFS job's run is root's; on a fresh node it
// was the first to make the job lock folder and the error log, both
// root's, and every later run of the backup user's own services then
// failed to take its lock (exit 5) and to append its error line. Here a
// root run makes both, then the backup user (setpriv, as its units run)
// makes a lock file in that folder and appends to the log.
func TestRootRunsLeaveLocksAndErrorLogToTheBackupUser(t *testing.T) {
	testenv.Root(t)
	setpriv := testenv.LookPath(t, "setpriv")
	owner := &syscall.Credential{Uid: 2049, Gid: 2049}
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} {
		require.NoError(t, os.Chmod(d, 0o755)) // the backup user walks to it
	}
	state, logFile := filepath.Join(dir, "state"), filepath.Join(dir, "log", "errors.jsonl")
	for _, d := range []string{state, filepath.Dir(logFile)} {
		require.NoError(t, os.Mkdir(d, 0o750))
		require.NoError(t, os.Chown(d, 2049, 2049)) // as tmpfiles makes them
	}

	l, err := AcquireLockFor(LockPath(state, "backup", "system"), owner)
	require.NoError(t, err)
	require.NoError(t, l.Release())
	line := newErrorLine(time.Now(), "forge", "backup", "system", failure(PhaseRelease, "", restic.CategorySnapshot, errors.New("boom")))
	require.NoError(t, appendErrorLines(logFile, []ErrorLine{line}, owner))

	asBackupUser := func(args ...string) {
		t.Helper()
		cmd := exec.Command(setpriv, append([]string{"--reuid=2049", "--regid=2049", "--clear-groups", "--"}, args...)...)
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "as the backup user: %v\n%s", args, out)
	}
	asBackupUser("flock", "-n", LockPath(state, "prune", "nas-primary"), "true")
	asBackupUser("sh", "-c", `echo '{}' >> "$1"`, "sh", logFile)
	data, err := os.ReadFile(logFile)
	require.NoError(t, err)
	require.Equal(t, 2, strings.Count(string(data), "\n"), "the root run's line and the backup user's:\n%s", data)
}
