package runtime_test

import (
	"context"
	"io/fs"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/holthome/bakc/runtime"
	"github.com/holthome/bakc/runtime/restic/restictest"
)

// restic options that need a newer restic than 0.14 (issue 9): the
// runtime asks the restic it runs for its version and refuses, in the
// preflight, an option it lacks, before any snapshot or backup: a job's
// read_concurrency (restic 0.15) fails on 0.14.0 and works on 0.18.1; a
// repository's compression "better" (0.19) fails on both, for that
// repository. Nothing is written to the repository by a refused run.
func TestResticOptionsCheckedAgainstTheRestic(t *testing.T) {
	t.Parallel()
	testenvRoot(t)
	for _, r := range restictest.Restics(t) {
		t.Run(r.Version, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, r)
			f.job().ReadConcurrency = 4
			o, log := f.capturingOptions()
			rep := f.backup(o)
			if r.Version == "0.14.0" {
				require.Equal(t, runtime.ExitPreflightFailed, rep.ExitCode, "%v", rep.Failures)
				require.Len(t, rep.Failures, 1)
				require.Equal(t, runtime.PhasePreflight, rep.Failures[0].Phase)
				require.Contains(t, rep.Failures[0].Err.Error(), "job home: read_concurrency needs restic 0.15 or newer")
				require.Contains(t, rep.Failures[0].Err.Error(), "is restic 0.14.0")
				require.Empty(t, f.snapshots("local"), "a refused run writes nothing")
				require.Equal(t, 0.0, f.metrics()[`bakc_backup_last_success_timestamp_seconds{job="home",repository="local"}`])
			} else {
				require.Equal(t, runtime.ExitOK, rep.ExitCode, "%v", rep.Failures)
				require.Contains(t, log.String(), `--read-concurrency 4`)
				require.Len(t, f.snapshots("local"), 1)
			}

			f.job().ReadConcurrency = 0
			f.repository("local").Compression = "better"
			rep = f.backup(f.options())
			require.Equal(t, runtime.ExitPreflightFailed, rep.ExitCode, "%v", rep.Failures)
			require.Len(t, rep.Failures, 1)
			require.Equal(t, "local", rep.Failures[0].Repository)
			require.Contains(t, rep.Failures[0].Err.Error(), `repository local: compression = "better" needs restic 0.19 or newer`)
		})
	}
}

// A repository's compression and limits reach every restic call, and
// compression does what it says: the same compressible, not
// deduplicable data (random letters of a small alphabet) takes less
// than half the room with "max" than with "off", in a repository of
// format version 2 made by restic 0.14.0 and 0.18.1 alike.
func TestRepositoryCompressionAndLimits(t *testing.T) {
	t.Parallel()
	testenvRoot(t)
	for _, r := range restictest.Restics(t) {
		t.Run(r.Version, func(t *testing.T) {
			t.Parallel()
			sizes := map[string]int64{}
			for _, mode := range []string{"off", "max"} {
				f := newFixture(t, r)
				rng := rand.New(rand.NewPCG(1, 2))
				var b strings.Builder
				for b.Len() < 4<<20 {
					b.WriteByte("abcdefgh"[rng.IntN(8)])
				}
				f.write("letters.txt", b.String())
				repo := f.repository("local")
				repo.Compression = mode
				repo.LimitUpload, repo.LimitDownload = 1<<20, 1<<20
				o, log := f.capturingOptions()
				rep := f.backup(o)
				require.Equal(t, runtime.ExitOK, rep.ExitCode, "%s: %v", mode, rep.Failures)
				for _, arg := range []string{"--compression " + mode, "--limit-upload 1048576", "--limit-download 1048576"} {
					require.Contains(t, log.String(), arg, "every restic call of the run")
				}
				require.NoError(t, filepath.WalkDir(filepath.Join(f.repo, "data"), func(p string, d fs.DirEntry, err error) error {
					if err != nil || d.IsDir() {
						return err
					}
					fi, err := d.Info()
					sizes[mode] += fi.Size()
					return err
				}))
			}
			t.Logf("restic %s: packs of 4 MiB of letters: %v bytes", r.Version, sizes)
			require.Less(t, sizes["max"]*2, sizes["off"], "packs with max vs off: %v", sizes)
		})
	}
}

// --dry-run shows the version check and the options where restic gets
// them: the repository's as global flags of every call, the job's on
// its paths' backup.
func TestResticOptionsDryRun(t *testing.T) {
	t.Parallel()
	r := restictest.Restics(t)[0]
	f := newFixture(t, r)
	f.job().ReadConcurrency = 4
	f.job().ExcludeCaches = true
	repo := f.repository("local")
	repo.Compression, repo.LimitUpload = "fastest", 100
	var out strings.Builder
	o := f.options()
	o.DryRun, o.Out = true, &out
	_, err := runtime.Backup(context.Background(), f.plan, "home", o)
	require.NoError(t, err)
	for _, want := range []string{
		"# preflight: restic version says 0.15 or newer (read_concurrency)\n",
		"# preflight local: restic version says 0.19 or newer (compression = \"fastest\")\n",
		" --compression fastest --limit-upload 100 backup --json ",
		" --exclude-caches --read-concurrency 4 ",
	} {
		require.Contains(t, out.String(), want)
	}
}
