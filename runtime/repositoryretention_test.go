package runtime_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/runtime"
	"github.com/holthome/bakc/runtime/restic/restictest"
)

// addLocalRepository adds a second local repository to the fixture (a
// real restic repository owned by the backup user) and to its job.
func (f *fixture) addLocalRepository(name string) *plan.Repository {
	f.t.Helper()
	dir := filepath.Join(f.dir, name)
	restictest.InitRepo(f.t, f.restic, dir)
	restictest.ChownTree(f.t, dir, backupUID, backupUID)
	require.NoError(f.t, os.Chmod(dir, 0o700))
	f.plan.Repositories = append(f.plan.Repositories, plan.Repository{
		Name: name, Kind: plan.KindLocal, URL: dir, PasswordFile: f.repository("local").PasswordFile,
	})
	f.job().Repositories = append(f.job().Repositories, name)
	return &f.plan.Repositories[len(f.plan.Repositories)-1]
}

// A repository's own retention replaces the job's there (issue 9: the
// cloud copy keeps less): four runs on four days leave the job's three
// in the repository without one and the repository's one in the other.
// Before, forget applied the job's retention in every repository.
func TestRepositoryRetentionReplacesJobs(t *testing.T) {
	t.Parallel()
	testenvRoot(t)
	for _, r := range restictest.Restics(t) {
		t.Run(r.Version, func(t *testing.T) {
			f := newFixture(t, r)
			f.job().Retention = plan.Retention{Last: 3}
			cloud := f.addLocalRepository("offsite")
			keep := plan.Retention{Last: 1}
			cloud.Retention = &keep
			f.job().RepositoryRetention = map[string]plan.Retention{"offsite": keep}
			for d := 1; d <= 4; d++ {
				o := f.options()
				at := day(2024, 5, d)
				o.Now = func() time.Time { return at }
				rep := f.backup(o)
				require.Equal(t, runtime.ExitOK, rep.ExitCode, "%v", rep.Failures)
			}
			require.Len(t, f.snapshots("local"), 3, "the job's retention (last 3) in the repository without one")
			require.Len(t, f.snapshots("offsite"), 1, "the repository's retention (last 1) replaces the job's")
		})
	}
}
