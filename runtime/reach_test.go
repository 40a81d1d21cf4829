package runtime_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/internal/testenv"
	"github.com/holthome/bakc/runtime"
	"github.com/holthome/bakc/runtime/restic"
	"github.com/holthome/bakc/runtime/restic/restictest"
)

// openBound is the tests' Options.OpenTimeout.
const openBound = 5 * time.Second

// addUnreachableCloud adds a repository "cloud" to the fixture's plan: an
// S3 URL whose server (testenv.Blackhole) accepts every connection and
// never answers.
func (f *fixture) addUnreachableCloud(init bool) {
	f.t.Helper()
	f.addUnreachable("cloud", init)
}

// addUnreachable adds the repository name as addUnreachableCloud says.
func (f *fixture) addUnreachable(name string, init bool) {
	f.t.Helper()
	env := filepath.Join(f.dir, name+".env")
	require.NoError(f.t, os.WriteFile(env, []byte("AWS_ACCESS_KEY_ID=bakc-test\nAWS_SECRET_ACCESS_KEY=not-a-secret\n"), 0o600))
	f.plan.Repositories = append([]plan.Repository{{
		Name: name, Kind: plan.KindS3, URL: "s3:http://" + testenv.Blackhole(f.t) + "/bakc-test",
		PasswordFile: f.repository("local").PasswordFile, EnvironmentFile: env, Init: init,
	}}, f.plan.Repositories...)
}

// A job with two clouds that cannot be reached and a local repository:
// the repositories are opened side by side, so the run waits one bound,
// not one per cloud, before it backs up into the local one.
//
// Before, the preflight checked the repositories in turn: the run took
// at least twice the bound.
func TestUnreachableRepositoriesShareOneBound(t *testing.T) {
	testenvRoot(t)
	const bound = 8 * time.Second
	for _, r := range restictest.Restics(t) {
		t.Run(r.Version, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, r)
			f.addUnreachable("b2", false)
			f.addUnreachable("s3", false)
			f.job().Repositories = []string{"b2", "s3", "local"}
			o := f.options()
			o.OpenTimeout = bound
			start := time.Now()
			rep := f.backup(o)
			took := time.Since(start)
			require.Equal(t, runtime.ExitPreflightFailed, rep.ExitCode, "failures: %v", rep.Failures)
			if took >= 2*bound {
				t.Errorf("the run took %v, not less than twice the bound %v: the clouds were opened one after the other", took.Round(100*time.Millisecond), bound)
			}
			var failed []string
			for _, fl := range rep.Failures {
				require.Equal(t, restic.CategoryNetwork, fl.Category, "%v", fl)
				failed = append(failed, fl.Repository)
			}
			require.Equal(t, []string{"b2", "s3"}, failed, "the failures, in the job's order")
			require.Len(t, f.snapshots("local"), 1)
		})
	}
}

// The repository tasks — verify, prune, the restore test — and a backup
// whose URL repository may be created (init = true: the preflight's
// look for it) against a server that never answers, with restic 0.14 and
// 0.18.1: each fails within the open bound, in its preflight (exit 4),
// with category network and a message naming the bound, and writes its
// error line and failed metrics.
//
// Before the bound, the tasks waited on restic for ever (0.14) or for 15
// minutes and more (0.18.1): the test's own deadline (a minute) stopped
// them, and they reported exit code 8.
func TestUnreachableRepositoryFailsWithinTheBound(t *testing.T) {
	testenvRoot(t)
	tasks := []struct {
		name string
		run  func(context.Context, *fixture, runtime.Options) (exit int, failures []runtime.Failure)
	}{
		{"verify", repositoryTask(runtime.Verify)},
		{"prune", repositoryTask(runtime.Prune)},
		{"restore-test", repositoryTask(runtime.RestoreTest)},
		{"backup with init", func(ctx context.Context, f *fixture, o runtime.Options) (int, []runtime.Failure) {
			f.job().Repositories = []string{"cloud"}
			rep, err := runtime.Backup(ctx, f.plan, f.job().Name, o)
			require.NoError(t, err)
			return rep.ExitCode, rep.Failures
		}},
	}
	for _, r := range restictest.Restics(t) {
		for _, task := range tasks {
			t.Run(r.Version+"/"+task.name, func(t *testing.T) {
				t.Parallel()
				f := newFixture(t, r)
				f.addUnreachableCloud(task.name == "backup with init")
				o := f.options()
				o.OpenTimeout = openBound
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				start := time.Now()
				exit, failures := task.run(ctx, f, o)
				took := time.Since(start)
				require.Equal(t, runtime.ExitPreflightFailed, exit, "failures: %v (after %v)", failures, took)
				if took > openBound+15*time.Second {
					t.Errorf("the task took %v, bound %v", took, openBound)
				}
				require.Len(t, failures, 1)
				fl := failures[0]
				if fl.Phase != runtime.PhasePreflight || fl.Category != restic.CategoryNetwork || fl.Repository != "cloud" ||
					!strings.Contains(fl.Err.Error(), "did not open within 5s") {
					t.Errorf("failure %+v (%v); want phase preflight, category network, repository cloud, did not open within 5s", fl, fl.Err)
				}
				lines := f.errorLines()
				require.Len(t, lines, 1)
				require.Equal(t, restic.CategoryNetwork, lines[0].Category)
			})
		}
	}
}

// repositoryTask runs a repository task on "cloud".
func repositoryTask(task func(context.Context, *plan.Plan, string, runtime.Options) (*runtime.TaskReport, error)) func(context.Context, *fixture, runtime.Options) (int, []runtime.Failure) {
	return func(ctx context.Context, f *fixture, o runtime.Options) (int, []runtime.Failure) {
		rep, err := task(ctx, f.plan, "cloud", o)
		require.NoError(f.t, err)
		return rep.ExitCode, rep.Failures
	}
}
