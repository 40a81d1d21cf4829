package runtime

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
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
