package runtime_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/holthome/bakc/runtime"
	"github.com/holthome/bakc/runtime/restic"
	"github.com/holthome/bakc/runtime/restic/restictest"
)

// onRootFS returns a new folder on the root file system (the same device
// as "/"), removed at the end of the test.
func onRootFS(t *testing.T) string {
	t.Helper()
	var root unix.Stat_t
	require.NoError(t, unix.Stat("/", &root))
	for _, parent := range []string{os.TempDir(), "/var/tmp", "/root", "/"} {
		var st unix.Stat_t
		if unix.Stat(parent, &st) != nil || st.Dev != root.Dev {
			continue
		}
		dir, err := os.MkdirTemp(parent, "bakc-rootfs-test-")
		if err != nil {
			continue
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		return dir
	}
	t.Fatal("no writable folder on the root file system")
	return ""
}

// Defect 10 of issue 8: a local repository with init = true on a disk
// that is not mounted was initialised inside the empty mountpoint, on the
// root file system. Now: with the disk's mountpoint in the plan, every
// run checks it is mounted (a tmpfs standing for the disk); without one,
// bakc does not create a repository on the root file system unless the
// plan says mountpoint = "/".
func TestLocalRepositoryOnAnUnmountedDisk(t *testing.T) {
	t.Parallel()
	testenvRoot(t)
	r := restictest.Restics(t)[len(restictest.Restics(t))-1]
	type setup struct {
		repo, mountpoint string
	}
	tests := []struct {
		name string
		// prepare makes the disk (or not) and says where the repository
		// and its mountpoint are.
		prepare func(t *testing.T, f *fixture) setup
		// ok: the run initialises the repository and backs up.
		ok      bool
		message string
	}{
		{
			name: "mountpoint given, disk mounted",
			prepare: func(t *testing.T, f *fixture) setup {
				disk := filepath.Join(f.dir, "usb")
				mountDisk(t, disk)
				ownedByBackupUser(t, disk)
				return setup{filepath.Join(disk, "restic"), disk}
			},
			ok: true,
		},
		{
			name: "mountpoint given, disk not mounted",
			prepare: func(t *testing.T, f *fixture) setup {
				disk := filepath.Join(f.dir, "usb")
				require.NoError(t, os.Mkdir(disk, 0o755))
				ownedByBackupUser(t, disk)
				return setup{filepath.Join(disk, "restic"), disk}
			},
			message: "is not mounted: the repository's disk is not there",
		},
		{
			name: "mountpoint given, the disk unmounted after it was used",
			prepare: func(t *testing.T, f *fixture) setup {
				disk := filepath.Join(f.dir, "usb")
				mountDisk(t, disk)
				repo := filepath.Join(disk, "restic")
				restictest.InitRepo(t, f.restic, repo)
				require.NoError(t, unix.Unmount(disk, 0))
				// As tmpfiles makes it at boot: the folder, on the root disk.
				require.NoError(t, os.Mkdir(repo, 0o700))
				ownedByBackupUser(t, repo)
				return setup{repo, disk}
			},
			message: "is not mounted",
		},
		{
			name: "mountpoint given as the repository folder itself",
			prepare: func(t *testing.T, f *fixture) setup {
				disk := filepath.Join(f.dir, "disk")
				mountDisk(t, disk)
				ownedByBackupUser(t, disk)
				return setup{disk, disk}
			},
			ok: true,
		},
		{
			name: "no mountpoint, the folder on the root file system",
			prepare: func(t *testing.T, f *fixture) setup {
				dir := onRootFS(t)
				ownedByBackupUser(t, dir)
				return setup{filepath.Join(dir, "mnt", "usb", "restic"), ""}
			},
			message: "refusing to create a repository at",
		},
		{
			name: "no mountpoint, the folder made by tmpfiles on the root file system",
			prepare: func(t *testing.T, f *fixture) setup {
				repo := filepath.Join(onRootFS(t), "restic")
				require.NoError(t, os.Mkdir(repo, 0o700))
				ownedByBackupUser(t, repo)
				return setup{repo, ""}
			},
			message: "refusing to create a repository at",
		},
		{
			name: "no mountpoint, the folder on another file system",
			prepare: func(t *testing.T, f *fixture) setup {
				disk := filepath.Join(f.dir, "data")
				mountDisk(t, disk)
				ownedByBackupUser(t, disk)
				return setup{filepath.Join(disk, "backup", "restic"), ""}
			},
			ok: true,
		},
		{
			name: "mountpoint / says the root file system is meant",
			prepare: func(t *testing.T, f *fixture) setup {
				dir := onRootFS(t)
				ownedByBackupUser(t, dir)
				return setup{filepath.Join(dir, "restic"), "/"}
			},
			ok: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, r)
			s := tt.prepare(t, f)
			repo := f.repository("local")
			repo.URL, repo.Mountpoint, repo.Init = s.repo, s.mountpoint, true
			entries := func() []string {
				var names []string
				es, _ := os.ReadDir(s.repo)
				for _, e := range es {
					names = append(names, e.Name())
				}
				return names
			}
			before := entries()
			rep := f.backup(f.options())
			if tt.ok {
				require.Equal(t, runtime.ExitOK, rep.ExitCode, "%v", rep.Failures)
				_, err := os.Stat(filepath.Join(s.repo, "config"))
				require.NoError(t, err, "no repository was made")
				return
			}
			if rep.ExitCode != runtime.ExitPreflightFailed || len(rep.Failures) != 1 {
				t.Fatalf("exit code %d, failures %v; want 4 and one failure", rep.ExitCode, rep.Failures)
			}
			fl := rep.Failures[0]
			if fl.Phase != runtime.PhasePreflight || fl.Category != restic.CategoryStorage || fl.Repository != "local" || !strings.Contains(fl.Err.Error(), tt.message) {
				t.Errorf("failure %v (category %s); want preflight, storage, repository local, a message with %q", fl, fl.Category, tt.message)
			}
			if after := entries(); len(after) != len(before) {
				t.Errorf("%s holds %v after the run, %v before: it wrote into it", s.repo, after, before)
			}
		})
	}
}

// ownedByBackupUser gives a folder to the backup user, as the units'
// tmpfiles rules give it a local repository's folder: restic, run as
// that user, creates the repository in it.
func ownedByBackupUser(t *testing.T, dir string) {
	t.Helper()
	require.NoError(t, os.Chown(dir, backupUID, backupUID))
}
