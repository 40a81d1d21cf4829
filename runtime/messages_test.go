package runtime_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/holthome/bakc/runtime"
	"github.com/holthome/bakc/runtime/restic/restictest"
)

// failureText is the text of the only failure of a run.
func failureText(t *testing.T, failures []runtime.Failure) string {
	t.Helper()
	require.Len(t, failures, 1, "failures: %v", failures)
	return failures[0].String()
}

// A restic init that fails is reported once as "restic init", not
// "restic init: restic init: exit code 1".
func TestInitFailureNamedOnce(t *testing.T) {
	t.Parallel()
	testenvRoot(t)
	r := restictest.Restics(t)[0]
	f := newFixture(t, r)
	// A folder only root may write: restic, as the backup user, cannot
	// create the repository there.
	require.NoError(t, os.RemoveAll(f.repo))
	require.NoError(t, os.Mkdir(f.repo, 0o755))
	f.repository("local").Init = true
	// On the root file system on purpose (the test's temporary folder may
	// be): else bakc refuses to create it there before restic runs.
	f.repository("local").Mountpoint = "/"

	rep := f.backup(f.options())
	require.NotEqual(t, runtime.ExitOK, rep.ExitCode)
	msg := failureText(t, rep.Failures)
	if n := strings.Count(msg, "restic init"); n != 1 {
		t.Errorf("failure %q names restic init %d times, want once", msg, n)
	}
}

// verify, prune and the restore test never create a repository, also
// when the plan has init = true (only a backup does); the message says
// so, not "(init = false)".
func TestMaintenanceOnMissingRepositorySaysWhatIsTrue(t *testing.T) {
	t.Parallel()
	testenvRoot(t)
	r := restictest.Restics(t)[0]
	for _, tt := range []struct {
		task string
		run  func(context.Context, *fixture) (*runtime.TaskReport, error)
	}{
		{"verify", func(ctx context.Context, f *fixture) (*runtime.TaskReport, error) {
			return runtime.Verify(ctx, f.plan, "local", f.options())
		}},
		{"prune", func(ctx context.Context, f *fixture) (*runtime.TaskReport, error) {
			return runtime.Prune(ctx, f.plan, "local", f.options())
		}},
	} {
		for _, init := range []bool{false, true} {
			t.Run(tt.task+map[bool]string{false: " init=false", true: " init=true"}[init], func(t *testing.T) {
				t.Parallel()
				f := newFixture(t, r)
				require.NoError(t, os.RemoveAll(f.repo))
				require.NoError(t, os.Mkdir(f.repo, 0o700))
				f.repository("local").Init = init
				rep, err := tt.run(context.Background(), f)
				require.NoError(t, err)
				msg := failureText(t, rep.Failures)
				if strings.Contains(msg, "init = false") == init || init && !strings.Contains(msg, "init = true") {
					t.Errorf("%s of a missing repository with init = %v says %q", tt.task, init, msg)
				}
				if _, err := os.Stat(f.repo + "/config"); err == nil {
					t.Errorf("%s created the repository", tt.task)
				}
			})
		}
	}
}

// A disabled job (enabled = false) is refused before anything runs: no
// lock, no restic, no snapshot, no metrics.
func TestDisabledJobRefused(t *testing.T) {
	t.Parallel()
	testenvRoot(t)
	f := newFixture(t, restictest.Restics(t)[0])
	f.job().Disabled = true
	for _, dry := range []bool{false, true} {
		o := f.options()
		o.DryRun = dry
		rep, err := runtime.Backup(context.Background(), f.plan, f.job().Name, o)
		require.Nil(t, rep)
		require.ErrorContains(t, err, `the job "home" is disabled (enabled = false`)
	}
	require.Empty(t, f.snapshots("local"))
	_, err := os.Stat(f.plan.Monitoring.TextfileDir)
	require.True(t, os.IsNotExist(err), "metrics written for a disabled job")
}
