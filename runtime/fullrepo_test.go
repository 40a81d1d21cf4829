package runtime_test

import (
	"context"
	"crypto/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/holthome/bakc/internal/testenv"
	"github.com/holthome/bakc/runtime"
	"github.com/holthome/bakc/runtime/restic"
	"github.com/holthome/bakc/runtime/restic/restictest"
)

// What "fails fast" means here is structural, not a speed: bakc stops
// restic at the first write that failed for a full disk (it logs that
// before anything else happens), and restic then gets at most StopGrace
// to clean up before it is killed. So the run ends within StopGrace (plus
// slack for a loaded machine's bookkeeping) of restic's first report, and
// the whole run stays far below the 15 minutes of restic 0.18's own
// retries, which is the defect.
const (
	fullFailWithin = restic.StopGrace + 20*time.Second
	fullRunWithin  = 8 * time.Minute
)

// Defect 9 of issue 8: a repository on a dataset whose quota is reached
// (a real file system: a zfs-fuse dataset with quota=24M, restic writing
// 64 MiB of new data) took about 15 minutes to fail with restic 0.18.1,
// which retries a write that fails with "disk quota exceeded" (and 0.14
// ten times, about a minute). Now the backup fails within seconds, with
// category storage and restic's line about the full disk, writes no
// success metric and no snapshot, and leaves no restic lock behind.
func TestFullRepositoryFailsFast(t *testing.T) {
	t.Parallel()
	testenvRoot(t)
	for _, r := range restictest.Restics(t) {
		t.Run(r.Version, func(t *testing.T) {
			t.Parallel()
			pool := testenv.ZFSPool(t, 256<<20)
			mp := filepath.Join(t.TempDir(), "nas")
			out, err := exec.Command("zfs", "create", "-o", "quota=24M", "-o", "mountpoint="+mp, pool+"/restic").CombinedOutput()
			require.NoError(t, err, "%s", out)
			f := newFixture(t, r)
			repo := filepath.Join(mp, "repo")
			restictest.InitRepo(t, r, repo)
			restictest.ChownTree(t, repo, backupUID, backupUID)
			require.NoError(t, os.Chmod(repo, 0o700))
			f.repo = repo
			f.repository("local").URL = repo
			first := f.backup(f.options())
			require.Equal(t, runtime.ExitOK, first.ExitCode, "first run: %v", first.Failures)
			snapshots := len(f.snapshots("local"))

			noise := make([]byte, 64<<20)
			rand.Read(noise)
			f.write("noise", string(noise))
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			defer cancel()
			o, log := f.capturingOptions()
			began := time.Now()
			rep, err := runtime.Backup(ctx, f.plan, f.job().Name, o)
			require.NoError(t, err)
			took := time.Since(began)
			full, end := logTime(t, log.String(), "the repository is full"), logTime(t, log.String(), "backup run ends")
			t.Logf("the backup into the full repository failed after %v, %v after restic's first report of it", took, end.Sub(full))
			if took > fullRunWithin || end.Sub(full) > fullFailWithin {
				t.Errorf("the backup took %v to fail, %v after restic said the repository is full; want less than %v and %v", took, end.Sub(full), fullRunWithin, fullFailWithin)
			}
			if rep.ExitCode != runtime.ExitTaskFailed || len(rep.Failures) != 1 {
				t.Fatalf("exit code %d, failures %v; want 3 and one failure", rep.ExitCode, rep.Failures)
			}
			if fl := rep.Failures[0]; fl.Phase != runtime.PhaseBackup || fl.Category != restic.CategoryStorage || !strings.Contains(fl.Err.Error(), "disk quota exceeded") {
				t.Errorf("failure %v (category %s); want phase backup, category storage, restic's 'disk quota exceeded'", fl, fl.Category)
			}
			m := f.metrics()
			if k := m_("bakc_backup_result", "failed"); m[k] != 1 {
				t.Errorf("%s = %v, want 1", k, m[k])
			}
			if k := "bakc_backup_last_success_timestamp_seconds{job=\"home\",repository=\"local\"}"; m[k] != float64(first.Start.UnixNano())/1e9 {
				t.Errorf("%s = %v, want the first run's", k, m[k])
			}
			if left := lockFiles(t, repo); len(left) != 0 {
				t.Errorf("restic locks left: %v", left)
			}
			if got := len(f.snapshots("local")); got != snapshots {
				t.Errorf("%d snapshots, want %d: the failed run added one", got, snapshots)
			}
		})
	}
}

// m_ is the fixture job's result metric for one outcome.
func m_(name, result string) string {
	return m(name, "home", "local", "result", result)
}

// logTime is the time of the first log line (slog text) whose message
// starts with msg; the test fails when there is none.
func logTime(t *testing.T, log, msg string) time.Time {
	t.Helper()
	for _, line := range strings.Split(log, "\n") {
		if !strings.Contains(line, `msg="`+msg) {
			continue
		}
		stamp, _, _ := strings.Cut(strings.TrimPrefix(line, "time="), " ")
		at, err := time.Parse(time.RFC3339Nano, stamp)
		require.NoError(t, err, "log line %q", line)
		return at
	}
	t.Fatalf("no log line %q", msg)
	return time.Time{}
}
