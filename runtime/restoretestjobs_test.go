package runtime_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/runtime"
	"github.com/holthome/bakc/runtime/restic"
	"github.com/holthome/bakc/runtime/restic/restictest"
)

// The restore test sampled only the node's latest snapshot, so with an
// hourly job the other jobs were never tested (issue 9). With three jobs
// in one repository, "hourly" backed up last and most often, each run
// tests every job: files of "home" and of "hourly" (the files divided
// between them), and the dump of "db" read whole, matching its content
// byte for byte (its logged SHA-256 is the command's output's). The
// metrics say so per job; a job without a snapshot is reported
// untested; and a damaged dump fails its job, by name, with category
// corruption, while the others still pass.
func TestRestoreTestEveryJob(t *testing.T) {
	t.Parallel()
	testenvRoot(t)
	for _, r := range restictest.Restics(t) {
		t.Run(r.Version, func(t *testing.T) {
			f := newFixture(t, r)
			home := f.job()
			hourlySrc := filepath.Join(f.dir, "hourly")
			require.NoError(t, os.MkdirAll(hourlySrc, 0o755))
			require.NoError(t, os.WriteFile(filepath.Join(hourlySrc, "h.txt"), []byte("hourly data"), 0o644))
			dumpFile := filepath.Join(f.dir, "db.sql")
			dump := randomFile(t, dumpFile, 3<<20, 9)
			f.plan.Jobs = append(f.plan.Jobs,
				plan.Job{Name: "db", Paths: []string{}, Repositories: []string{"local"}, Retention: plan.Retention{Last: 10},
					Tags: []string{"job:db"}, JobTag: "job:db", Snapshot: plan.SnapshotNone,
					Dumps: []plan.Dump{{Name: "all", Command: []string{"cat", dumpFile}, Filename: "db/all.sql", Tag: "dump:all"}}},
				plan.Job{Name: "hourly", Paths: []string{hourlySrc}, Repositories: []string{"local"}, Retention: plan.Retention{Last: 10},
					Tags: []string{"job:hourly"}, JobTag: "job:hourly", Snapshot: plan.SnapshotNone},
			)
			// home is the plan's first job; the others follow by name.
			require.Equal(t, "home", home.Name)
			f.plan.Jobs[0], f.plan.Jobs[1] = f.plan.Jobs[1], f.plan.Jobs[0]
			f.repository("local").RestoreTest = &plan.RestoreTest{Files: 3}

			test := func() (*runtime.TaskReport, string) {
				var log strings.Builder
				o := f.options()
				o.Seed = 3
				o.Log = slog.New(slog.NewJSONHandler(&log, nil))
				rep, err := runtime.RestoreTest(context.Background(), f.plan, "local", o)
				require.NoError(t, err)
				return rep, log.String()
			}
			// Before any backup: nothing to restore, which fails.
			rep, log := test()
			require.Equal(t, runtime.ExitTaskFailed, rep.ExitCode, log)
			require.Contains(t, rep.Failures[0].Err.Error(), "no job writing to the repository local has a snapshot of forge there")

			run := func(job string, at time.Time) {
				o := f.options()
				o.Now = func() time.Time { return at }
				rep, err := runtime.Backup(context.Background(), f.plan, job, o)
				require.NoError(t, err)
				require.Equal(t, runtime.ExitOK, rep.ExitCode, "%s: %v", job, rep.Failures)
			}
			start := day(2024, 5, 1)
			run("home", start)
			run("db", start.Add(time.Hour))
			for h := 2; h <= 4; h++ {
				run("hourly", start.Add(time.Duration(h)*time.Hour))
			}

			rep, log = test()
			require.Equal(t, runtime.ExitOK, rep.ExitCode, "failures: %v\n%s", rep.Failures, log)
			restored := map[string]int{} // job → files
			dumpSum := ""
			for _, line := range strings.Split(log, "\n") {
				switch {
				case strings.Contains(line, "file restored and matches its snapshot"):
					restored[logField(t, line, "job")]++
				case strings.Contains(line, "dump read whole and matches its snapshot"):
					dumpSum = logField(t, line, "sha256")
				}
			}
			require.Equal(t, map[string]int{"home": 2, "hourly": 1}, restored, "3 files divided among the two jobs with paths")
			want := sha256.Sum256(dump)
			require.Equal(t, hex.EncodeToString(want[:]), dumpSum, "the dump read back is the command's output")

			m := taskMetrics(t, f, "restore-test")
			for _, c := range []struct {
				job          string
				files, dumps float64
				at           time.Time
			}{{"home", 2, 0, start}, {"db", 0, 1, start.Add(time.Hour)}, {"hourly", 1, 0, start.Add(4 * time.Hour)}} {
				l := `{job="` + c.job + `",repository="local"`
				require.Equal(t, 1.0, m[`bakc_restore_test_job_result`+l+`,result="success"}`], "%s: %v", c.job, m)
				require.Equal(t, c.files, m[`bakc_restore_test_job_files`+l+`}`], c.job)
				require.Equal(t, c.dumps, m[`bakc_restore_test_job_dumps`+l+`}`], c.job)
				require.Equal(t, float64(c.at.Unix()), m[`bakc_restore_test_job_snapshot_timestamp_seconds`+l+`}`], c.job)
			}
			require.Equal(t, 1.0, m[`bakc_restore_test_result{repository="local",result="success"}`], "the task's series as before")

			// A new job that has not run yet: reported untested (its
			// backup's own metrics say it is missing), and the run still
			// succeeds on what the others hold.
			f.plan.Jobs = append(f.plan.Jobs, plan.Job{Name: "new", Paths: []string{hourlySrc}, Repositories: []string{"local"},
				Retention: plan.Retention{Last: 1}, Tags: []string{"job:new"}, JobTag: "job:new", Snapshot: plan.SnapshotNone})
			rep, log = test()
			require.Equal(t, runtime.ExitOK, rep.ExitCode, "%v\n%s", rep.Failures, log)
			warned := false
			for _, line := range strings.Split(log, "\n") {
				if strings.Contains(line, "job without a snapshot in the repository") {
					warned = warned || logField(t, line, "job") == "new"
				}
			}
			require.True(t, warned, "a warning naming the job new:\n%s", log)
			m = taskMetrics(t, f, "restore-test")
			require.Equal(t, 1.0, m[`bakc_restore_test_job_result{job="new",repository="local",result="untested"}`], "%v", m)
			require.Equal(t, 0.0, m[`bakc_restore_test_job_snapshot_timestamp_seconds{job="new",repository="local"}`])
			require.Equal(t, 1.0, m[`bakc_restore_test_job_result{job="home",repository="local",result="success"}`])

			// Damage the dump's packs (the only data packs over 1 MiB:
			// the dump is 3 MiB of random bytes, the files a few KiB).
			// restic dump finds it: db fails with category corruption,
			// and the jobs whose packs are intact still pass.
			damaged := 0
			require.NoError(t, filepath.WalkDir(filepath.Join(f.repo, "data"), func(p string, d fs.DirEntry, err error) error {
				if err != nil || d.IsDir() {
					return err
				}
				fi, err := d.Info()
				if err != nil || fi.Size() < 1<<20 {
					return err
				}
				require.NoError(t, os.Chmod(p, 0o600))
				require.NoError(t, os.WriteFile(p, make([]byte, fi.Size()), 0o600))
				damaged++
				return nil
			}))
			require.NotZero(t, damaged, "the dump's pack")
			rep, log = test()
			require.Equal(t, runtime.ExitTaskFailed, rep.ExitCode, log)
			require.Len(t, rep.Failures, 1)
			require.Contains(t, rep.Failures[0].Err.Error(), "job db: reading the dump all (/db/all.sql)")
			require.Equal(t, "db", rep.Failures[0].Job)
			lines := f.errorLines()
			require.NotEmpty(t, lines)
			if l := lines[len(lines)-1]; l.Task != "restore-test" || l.Job != "db" || l.Phase != runtime.PhaseRestore || l.Category != restic.CategoryCorruption {
				t.Errorf("error line %+v; want task restore-test, job db, phase restore, category corruption", l)
			}
			m = taskMetrics(t, f, "restore-test")
			require.Equal(t, 1.0, m[`bakc_restore_test_job_result{job="db",repository="local",result="failed"}`], "%v", m)
			require.Equal(t, 0.0, m[`bakc_restore_test_job_dumps{job="db",repository="local"}`])
			require.Equal(t, 1.0, m[`bakc_restore_test_job_result{job="home",repository="local",result="success"}`])
			require.Equal(t, 1.0, m[`bakc_restore_test_job_result{job="hourly",repository="local",result="success"}`])
		})
	}
}
