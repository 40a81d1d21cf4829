package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/holthome/bakc/internal/testenv"
	"github.com/holthome/bakc/runtime/namespace"
	"github.com/holthome/bakc/runtime/restic/restictest"
)

// luna's layout, and worse: a ZFS snapshot job backs up a dataset (like
// luna's /var/lib) that holds every folder the runtime and restic write
// while the snapshot is shown read-only over it: the state folder with
// its locks and exclude file, restic's cache, the log folder, the
// metrics folder (in a child dataset, shown by a view of its own),
// bakc's TMPDIR and a local repository (excluded
// by the job, as the compiler's warning says). The run succeeds with
// restic 0.14 and 0.18.1, records the original path, writes the cache,
// the state and the metrics to the live folders, leaves bakc's state and
// restic's cache out of the backup, and leaves nothing mounted.
//
// Before the runtime showed its own folders live inside the views, every
// such run failed with exit code 4: "writing the exclude file: …
// read-only file system" (issue 8, item 1).
func TestRunBackupZFSRuntimeFoldersInsideTheJob(t *testing.T) {
	testenv.Root(t)
	for _, r := range restictest.Restics(t) {
		t.Run(r.Version, func(t *testing.T) {
			n := newZFSNode(t, r)
			in := func(rel string) string { return filepath.Join(n.data, rel) }
			p := n.plan
			p.Paths.State = in("bakc")
			p.Paths.Cache = in("cache/bakc")
			p.Paths.Log = in("log/bakc")
			p.Monitoring.ErrorLog = in("log/bakc/errors.jsonl")
			p.Monitoring.TextfileDir = in("child/textfile_collector")
			repo := in("restic-repo")
			restictest.InitRepo(t, r, repo)
			restictest.ChownTree(t, repo, zfsBackupUID, zfsBackupUID)
			require.NoError(t, os.Chmod(repo, 0o700))
			n.repo = repo
			p.Repositories[0].URL = repo
			n.job().Exclude = []string{repo}
			n.job().Retention.Last = 10
			n.savePlan()
			// restic would write its temporary pack files to TMPDIR (as
			// the backup user), here inside the job's dataset; bakc gives
			// it a folder in its cache instead.
			tmp := in("tmp")
			require.NoError(t, os.Mkdir(tmp, 0o1777))
			require.NoError(t, os.Chmod(tmp, 0o1777))
			// The error log's folder, with the error lines of a week ago.
			require.NoError(t, os.MkdirAll(p.Paths.Log, 0o755))
			require.NoError(t, os.WriteFile(p.Monitoring.ErrorLog, []byte("{}\n"), 0o640))

			for run := 1; run <= 2; run++ {
				cmd, out := n.bakcCommand(n.restic.Path, "TMPDIR="+tmp)
				err := cmd.Run()
				t.Logf("bakc run backup, run %d:\n%s", run, out)
				require.Equal(t, 0, exitCodeOf(t, err), "run %d", run)
				if left := n.leftovers(); len(left) > 0 {
					t.Errorf("run %d left behind: %v", run, left)
				}
				if below := mountsBelow(t, n.data, n.dataset); len(below) > 0 {
					t.Errorf("run %d left mounts below the job's path on the host: %v", run, below)
				}
			}

			snaps := n.snapshots()
			require.Len(t, snaps, 2)
			for _, s := range snaps {
				if len(s.Paths) != 1 || s.Paths[0] != n.data {
					t.Errorf("restic recorded paths %v, want the dataset's mountpoint %s", s.Paths, n.data)
				}
			}
			m := n.metrics()
			if v := m[`bakc_backup_result{job="data",repository="local",result="complete"}`]; v != "1" {
				t.Errorf("metrics say complete = %q, want 1", v)
			}
			if _, err := os.Stat(filepath.Join(p.Paths.State, "backup-data.json")); err != nil {
				t.Errorf("state not written to the live state folder: %v", err)
			}
			if entries, _ := filepath.Glob(filepath.Join(p.Paths.Cache, "*", "snapshots", "*")); len(entries) == 0 {
				t.Errorf("restic wrote nothing to its cache %s (it was read-only during the backup?)", p.Paths.Cache)
			}

			// What the second snapshot holds: the data and the metrics of
			// the first run (its folder shown live), not bakc's state,
			// restic's cache or the repository.
			var listed []string
			err := n.resticAsRoot().Run(context.Background(), []string{"ls", "--no-lock", snaps[1].ID}, func(l []byte) {
				listed = append(listed, string(l))
			})
			require.NoError(t, err)
			has := map[string]bool{}
			for _, l := range listed {
				has[l] = true
			}
			for _, want := range []string{in("a.txt"), in("child/k.txt"), in("log/bakc/errors.jsonl"), in("child/textfile_collector/bakc-backup-data.prom")} {
				if !has[want] {
					t.Errorf("the backup lacks %s; it has:\n%s", want, strings.Join(listed, "\n"))
				}
			}
			for _, l := range listed {
				for _, not := range []string{p.Paths.State, p.Paths.Cache, repo} {
					if l == not || strings.HasPrefix(l, not+"/") {
						t.Errorf("the backup holds %s, which is left out", l)
					}
				}
			}
		})
	}
}

// mountsBelow lists the host's mounts at or below dir other than the
// dataset's own (and its children's).
func mountsBelow(t *testing.T, dir, dataset string) []string {
	t.Helper()
	mounts, err := namespace.Mounts()
	require.NoError(t, err)
	var out []string
	for _, m := range mounts {
		if (m.Mountpoint == dir || strings.HasPrefix(m.Mountpoint, dir+"/")) &&
			m.Source != dataset && !strings.HasPrefix(m.Source, dataset+"/") {
			out = append(out, m.Source+" at "+m.Mountpoint)
		}
	}
	return out
}
