package runtime_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/runtime"
	"github.com/holthome/bakc/runtime/restic"
	"github.com/holthome/bakc/runtime/restic/restictest"
)

// dataBytes is the size of a repository's data folder.
func dataBytes(t *testing.T, repo string) int64 {
	var n int64
	require.NoError(t, filepath.WalkDir(filepath.Join(repo, "data"), func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fi, err := d.Info()
		n += fi.Size()
		return err
	}))
	return n
}

func taskMetrics(t *testing.T, f *fixture, task string) map[string]float64 {
	return readMetrics(t, filepath.Join(f.plan.Monitoring.TextfileDir, "bakc-"+task+"-local.prom"))
}

// Prune removes the data of forgotten snapshots: a big file backed up,
// deleted, backed up again with retention "last 1", then pruned, leaves
// the repository smaller by most of its size (a pack it shares with data
// still used may stay: restic repacks only above --max-unused); the
// metrics say success.
func TestPrune(t *testing.T) {
	t.Parallel()
	testenvRoot(t)
	for _, r := range restictest.Restics(t) {
		t.Run(r.Version, func(t *testing.T) {
			f := newFixture(t, r)
			f.job().Retention = plan.Retention{Last: 1}
			big := make([]byte, 32<<20)
			rand.Read(big)
			f.write("big", string(big))
			require.Equal(t, runtime.ExitOK, f.backup(f.options()).ExitCode)
			require.NoError(t, os.Remove(filepath.Join(f.src, "big")))
			require.Equal(t, runtime.ExitOK, f.backup(f.options()).ExitCode)
			require.Len(t, f.snapshots("local"), 1, "forget kept more than the last snapshot")
			before := dataBytes(t, f.repo)

			rep, err := runtime.Prune(context.Background(), f.plan, "local", f.options())
			require.NoError(t, err)
			require.Equal(t, runtime.ExitOK, rep.ExitCode, "%v", rep.Failures)
			if after := dataBytes(t, f.repo); before-after < 16<<20 {
				t.Errorf("prune freed %d bytes, want most of 32 MiB (before %d, after %d)", before-after, before, after)
			}
			got := taskMetrics(t, f, "prune")
			if got[`bakc_prune_result{repository="local",result="success"}`] != 1 || got[`bakc_prune_restic_exit_code{repository="local"}`] != 0 ||
				got[`bakc_prune_last_success_timestamp_seconds{repository="local"}`] == 0 {
				t.Errorf("prune metrics: %v", got)
			}
		})
	}
}

// Verify reads the data back: a healthy repository passes; one with a
// damaged pack fails with category corruption, an error line, failed
// metrics, and the last success of the healthy run kept.
func TestVerify(t *testing.T) {
	t.Parallel()
	testenvRoot(t)
	for _, r := range restictest.Restics(t) {
		t.Run(r.Version, func(t *testing.T) {
			f := newFixture(t, r)
			f.repository("local").Verify = &plan.Verify{ReadDataSubset: "100%"}
			big := make([]byte, 1<<20)
			rand.Read(big)
			f.write("big", string(big))
			require.Equal(t, runtime.ExitOK, f.backup(f.options()).ExitCode)

			ok, err := runtime.Verify(context.Background(), f.plan, "local", f.options())
			require.NoError(t, err)
			require.Equal(t, runtime.ExitOK, ok.ExitCode, "%v", ok.Failures)

			// Damage the largest pack in the middle, where the file data is.
			var largest string
			var size int64
			filepath.WalkDir(filepath.Join(f.repo, "data"), func(p string, d fs.DirEntry, err error) error {
				if fi, _ := d.Info(); err == nil && !d.IsDir() && fi.Size() > size {
					largest, size = p, fi.Size()
				}
				return nil
			})
			require.NotEmpty(t, largest)
			require.NoError(t, os.Chmod(largest, 0o600))
			pack, err := os.OpenFile(largest, os.O_RDWR, 0)
			require.NoError(t, err)
			_, err = pack.WriteAt([]byte("damaged by the test"), size/2)
			require.NoError(t, err)
			require.NoError(t, pack.Close())

			bad, err := runtime.Verify(context.Background(), f.plan, "local", f.options())
			require.NoError(t, err)
			if bad.ExitCode != runtime.ExitTaskFailed {
				t.Errorf("verify of a damaged repository: exit code %d, want %d", bad.ExitCode, runtime.ExitTaskFailed)
			}
			lines := f.errorLines()
			require.Len(t, lines, 1)
			if l := lines[0]; l.Task != "verify" || l.Phase != runtime.PhaseCheck || l.Category != restic.CategoryCorruption || l.Repository != "local" || l.ResticExitCode == nil {
				t.Errorf("error line %+v; want task verify, phase check, category corruption, a restic exit code", l)
			}
			got := taskMetrics(t, f, "verify")
			if got[`bakc_verify_result{repository="local",result="failed"}`] != 1 ||
				got[`bakc_verify_last_success_timestamp_seconds{repository="local"}`] != float64(ok.Start.UnixNano())/1e9 {
				t.Errorf("verify metrics: %v", got)
			}
		})
	}
}

// A restore test restores files of the node's latest snapshot and finds
// them matching; the same seed picks the same files; after a pack is
// damaged, the test fails with category corruption.
func TestRestoreTest(t *testing.T) {
	t.Parallel()
	testenvRoot(t)
	for _, r := range restictest.Restics(t) {
		t.Run(r.Version, func(t *testing.T) {
			f := newFixture(t, r)
			for i := 0; i < 20; i++ {
				f.write(fmt.Sprintf("many/f%02d", i), strings.Repeat(fmt.Sprint(i), 100+i))
			}
			big := make([]byte, 1<<20)
			rand.Read(big)
			f.write("big", string(big))
			f.repository("local").RestoreTest = &plan.RestoreTest{Files: 4}
			require.Equal(t, runtime.ExitOK, f.backup(f.options()).ExitCode)

			picks := func(seed uint64) (string, *runtime.TaskReport) {
				var log strings.Builder
				o := f.options()
				o.Seed = seed
				o.Log = slog.New(slog.NewTextHandler(&log, nil))
				rep, err := runtime.RestoreTest(context.Background(), f.plan, "local", o)
				require.NoError(t, err)
				var files []string
				for _, line := range strings.Split(log.String(), "\n") {
					if strings.Contains(line, "file restored and matches its snapshot") {
						files = append(files, line[strings.Index(line, "path="):strings.Index(line, " sha256=")])
					}
				}
				return strings.Join(files, "\n"), rep
			}
			first, rep := picks(7)
			require.Equal(t, runtime.ExitOK, rep.ExitCode, "%v", rep.Failures)
			if n := strings.Count(first, "path="); n != 4 {
				t.Fatalf("restored %d files, want 4:\n%s", n, first)
			}
			again, rep := picks(7)
			require.Equal(t, runtime.ExitOK, rep.ExitCode, "second restore test: %v", rep.Failures)
			if again != first {
				t.Errorf("seed 7 picked\n%s\nthen\n%s", first, again)
			}
			got := taskMetrics(t, f, "restore-test")
			if got[`bakc_restore_test_result{repository="local",result="success"}`] != 1 {
				t.Errorf("restore test metrics: %v", got)
			}

			// Damage every pack whole: whatever is picked, restic finds
			// it. (Half a pack was not enough: a picked file's blobs could
			// all lie in the intact half, depending on how backup packed
			// them.)
			filepath.WalkDir(filepath.Join(f.repo, "data"), func(p string, d fs.DirEntry, err error) error {
				if err != nil || d.IsDir() {
					return err
				}
				fi, _ := d.Info()
				require.NoError(t, os.Chmod(p, 0o600))
				pack, err := os.OpenFile(p, os.O_RDWR, 0)
				require.NoError(t, err)
				_, err = pack.WriteAt(make([]byte, fi.Size()), 0)
				require.NoError(t, err)
				return pack.Close()
			})
			_, bad := picks(7)
			if bad.ExitCode != runtime.ExitTaskFailed {
				t.Errorf("restore test of a damaged repository: exit code %d, want %d", bad.ExitCode, runtime.ExitTaskFailed)
			}
			lines := f.errorLines()
			require.NotEmpty(t, lines)
			if l := lines[len(lines)-1]; l.Task != "restore-test" || l.Phase != runtime.PhaseRestore || l.Category != restic.CategoryCorruption {
				t.Errorf("error line %+v; want task restore-test, phase restore, category corruption", l)
			}
		})
	}
}
