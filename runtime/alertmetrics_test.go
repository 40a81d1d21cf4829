package runtime_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/holthome/bakc/runtime"
	"github.com/holthome/bakc/runtime/restic/restictest"
)

// The metrics the alerts read besides a run's own: the node's name, the
// last run's failures with their category (gone after a success), and a
// folder repository's space as statfs gives it, read back with statfs.
func TestAlertMetrics(t *testing.T) {
	t.Parallel()
	testenvRoot(t)
	r := restictest.Restics(t)[len(restictest.Restics(t))-1]
	f := newFixture(t, r)
	dir := f.plan.Monitoring.TextfileDir
	pw := f.repository("local").PasswordFile

	require.NoError(t, os.WriteFile(pw, []byte("not the password\n"), 0o600))
	rep := f.backup(f.options())
	require.Equal(t, runtime.ExitTaskFailed, rep.ExitCode)
	require.Equal(t, map[string]float64{`bakc_node_info{node="forge"}`: 1}, readMetrics(t, filepath.Join(dir, "bakc-node.prom")))
	got := f.metrics()
	require.Equal(t, 1.0, got[m("bakc_backup_failure_info", "home", "local", "phase", "backup", "category", "auth")], "metrics: %v", got)
	// The repository was reached (the preflight passed): its space is there.
	space := readMetrics(t, filepath.Join(dir, "bakc-repository-local.prom"))
	var st unix.Statfs_t
	require.NoError(t, unix.Statfs(f.repo, &st))
	require.Equal(t, float64(st.Blocks)*float64(st.Bsize), space[`bakc_repository_size_bytes{repository="local"}`])
	require.InDelta(t, float64(st.Bavail)*float64(st.Bsize), space[`bakc_repository_available_bytes{repository="local"}`], 64<<20)
	require.Greater(t, space[`bakc_repository_used_bytes{repository="local"}`], 0.0)
	require.NotZero(t, space[`bakc_repository_space_timestamp_seconds{repository="local"}`])
	_, hasQuota := space[`bakc_repository_quota_bytes{repository="local"}`]
	require.False(t, hasQuota, "a local repository has no quota")

	require.NoError(t, os.WriteFile(pw, []byte(restictest.Password+"\n"), 0o600))
	rep = f.backup(f.options())
	require.Equal(t, runtime.ExitOK, rep.ExitCode)
	for k := range f.metrics() {
		require.NotContains(t, k, "bakc_backup_failure_info", "a failure of a run before")
	}

	// A verify that fails says why too.
	require.NoError(t, os.WriteFile(pw, []byte("not the password\n"), 0o600))
	vrep, err := runtime.Verify(context.Background(), f.plan, "local", f.options())
	require.NoError(t, err)
	require.NotEqual(t, runtime.ExitOK, vrep.ExitCode)
	vm := readMetrics(t, filepath.Join(dir, "bakc-verify-local.prom"))
	var infos []string
	for k := range vm {
		if len(k) > len("bakc_verify_failure_info") && k[:len("bakc_verify_failure_info")] == "bakc_verify_failure_info" {
			infos = append(infos, k)
		}
	}
	require.Len(t, infos, 1, "metrics: %v", vm)
	require.Contains(t, infos[0], `category="auth"`)
}
