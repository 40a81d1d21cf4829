package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
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

// An unchanged tree on the snapshot path: every file is found unmodified
// (restic compares size, times and inode, which a ZFS clone keeps), and
// with restic ≥ 0.17 nothing is added even when the view's device number
// differs from the last run's (another mount took it, as happens on a
// busy host: here a tmpfs mounted before each run), because bakc sets
// RESTIC_FEATURES=device-id-for-hardlinks. Without it, restic 0.18.1
// stored every directory's tree again (about 17 KB per 50 files here).
// restic 0.14 has no such flag: its files are unmodified all the same.
func TestRunBackupZFSUnchangedTreeAcrossDeviceNumbers(t *testing.T) {
	testenv.Root(t)
	for _, r := range restictest.Restics(t) {
		t.Run(r.Version, func(t *testing.T) {
			n := newZFSNode(t, r)
			files := 2
			for d := 0; d < 20; d++ {
				for f := 0; f < 50; f++ {
					n.write(fmt.Sprintf("d%02d/file-with-a-longer-name-%03d", d, f), fmt.Sprintf("content %d %d", d, f))
					files++
				}
			}
			// A stand-in that records restic backup's RESTIC_FEATURES.
			seen := filepath.Join(n.shared, "features")
			stand := filepath.Join(n.shared, "restic")
			require.NoError(t, os.WriteFile(stand, []byte(fmt.Sprintf(`#!/bin/sh
case " $* " in *" backup "*) echo "features=$RESTIC_FEATURES" >> %s ;; esac
exec %s "$@"
`, seen, n.restic.Path)), 0o755))
			backup := func() {
				t.Helper()
				cmd, out := n.bakcCommand(stand)
				err := cmd.Run()
				t.Logf("bakc run backup:\n%s", out)
				require.Equal(t, 0, exitCodeOf(t, err))
			}
			backup()
			for run := 2; run <= 3; run++ {
				// Take the device number the last run's views had.
				dir := filepath.Join(n.dir, fmt.Sprintf("shift-%d", run))
				require.NoError(t, os.Mkdir(dir, 0o755))
				require.NoError(t, syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=1m"))
				t.Cleanup(func() { syscall.Unmount(dir, syscall.MNT_DETACH) })
				backup()
				m := n.metrics()
				l := `{job="data",repository="local"}`
				if m["bakc_backup_files_new"+l] != "0" || m["bakc_backup_files_changed"+l] != "0" || m["bakc_backup_files_unmodified"+l] != strconv.Itoa(files) {
					t.Errorf("run %d: files new %s, changed %s, unmodified %s; want 0, 0, %d", run,
						m["bakc_backup_files_new"+l], m["bakc_backup_files_changed"+l], m["bakc_backup_files_unmodified"+l], files)
				}
				added, err := strconv.ParseFloat(m["bakc_backup_added_bytes"+l], 64)
				require.NoError(t, err)
				if strings.HasPrefix(r.Version, "0.14") {
					t.Logf("run %d: restic 0.14 added %.0f bytes", run, added)
				} else if added > 16<<10 {
					t.Errorf("run %d: restic added %.0f bytes for an unchanged tree, want only the few trees above the dataset (< 16 KiB)", run, added)
				}
			}
			want := "features=device-id-for-hardlinks"
			if strings.HasPrefix(r.Version, "0.14") {
				want = "features="
			}
			got, err := os.ReadFile(seen)
			require.NoError(t, err)
			for _, line := range strings.Split(strings.TrimSpace(string(got)), "\n") {
				if line != want {
					t.Errorf("restic backup ran with %q, want %q", line, want)
				}
			}
		})
	}
}
