package runtime_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/internal/testenv"
	"github.com/holthome/bakc/runtime"
	"github.com/holthome/bakc/runtime/restic"
	"github.com/holthome/bakc/runtime/restic/restictest"
)

// mountDisk mounts a small tmpfs at dir, standing for a disk, until the
// test ends. Its source name has no "bakc-" in it: the snapshot
// package's tests take such mounts in this namespace for leaked views.
func mountDisk(t *testing.T, dir string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(dir, 0o755))
	require.NoError(t, unix.Mount("test-disk", dir, "tmpfs", 0, "size=256m,mode=0755"))
	t.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) })
}

// Defect 6 of issue 8: the first runs of eight jobs into a repository that
// does not exist yet (init = true), started at the same moment, as the
// timers of a new node fire. Before initialisation was serialised, each
// run's preflight saw no repository and ran restic init: several keys with
// different master keys and one config, so that later runs failed with
// "ciphertext verification failed" and a run could report a snapshot no
// key can read. Now: every run succeeds, `restic check` passes, the
// repository has exactly one key, and every snapshot can be listed
// (`restic ls`). Both a folder repository (checked by its config file) and
// a URL repository (sftp to a local sshd, checked with restic cat config),
// on both restic versions.
func TestFirstRunsInitialiseOnce(t *testing.T) {
	t.Parallel()
	testenvRoot(t)
	const runs = 8
	for _, r := range restictest.Restics(t) {
		for _, kind := range []string{plan.KindLocal, plan.KindSFTP} {
			t.Run(r.Version+"/"+kind, func(t *testing.T) {
				t.Parallel()
				f := newFixture(t, r)
				disk := filepath.Join(f.dir, "disk")
				mountDisk(t, disk)
				// The repository folder belongs to the backup user, as
				// the units' tmpfiles rules make it; it is empty.
				repoDir := filepath.Join(disk, "restic")
				require.NoError(t, os.Mkdir(repoDir, 0o700))
				require.NoError(t, os.Chown(repoDir, backupUID, backupUID))
				repo := f.repository("local")
				repo.URL, repo.Init = repoDir, true
				o := f.options()
				if kind == plan.KindSFTP {
					needBackupUserEntry(t)
					srv := startSSHD(t)
					sftpRepository(t, repo, srv, repoDir, srv.hostLine)
				}
				f.plan.Jobs = nil
				jobs := f.addJobs(runs, 64<<10)

				var wg sync.WaitGroup
				reports := make([]*runtime.Report, runs)
				start := make(chan struct{})
				for i, job := range jobs {
					wg.Add(1)
					go func() {
						defer wg.Done()
						<-start
						rep, err := runtime.Backup(context.Background(), f.plan, job, o)
						if err == nil {
							reports[i] = rep
						}
					}()
				}
				close(start)
				wg.Wait()
				for i, rep := range reports {
					require.NotNil(t, rep, "job %s", jobs[i])
					if rep.ExitCode != runtime.ExitOK {
						t.Errorf("job %s: exit code %d, failures %v", jobs[i], rep.ExitCode, rep.Failures)
					}
				}

				direct := &restic.Restic{Binary: r.Path, Repo: repoDir, PasswordFile: repo.PasswordFile, CacheDir: filepath.Join(f.dir, "test-cache")}
				ctx := context.Background()
				keys, err := os.ReadDir(filepath.Join(repoDir, "keys"))
				require.NoError(t, err)
				if len(keys) != 1 {
					t.Errorf("%d keys in the repository, want 1 (each init makes a master key of its own)", len(keys))
				}
				require.NoError(t, direct.Check(ctx, ""), "restic check")
				snaps, err := direct.Snapshots(ctx, "", "")
				require.NoError(t, err, "listing the snapshots")
				if len(snaps) != runs {
					t.Errorf("%d snapshots, want %d", len(snaps), runs)
				}
				for _, s := range snaps {
					n := 0
					_, err := direct.Ls(ctx, s.ID, "", func(restic.Node) { n++ })
					if err != nil || n == 0 {
						t.Errorf("restic ls %s: %d entries, %v", s.ShortID, n, err)
					}
				}
				if lines := f.errorLines(); len(lines) > 0 {
					b, _ := json.MarshalIndent(lines, "", "  ")
					t.Errorf("error lines:\n%s", b)
				}
			})
		}
	}
}

// needBackupUserEntry: ssh, run by restic as the backup user, needs the
// user in /etc/passwd.
func needBackupUserEntry(t *testing.T) {
	t.Helper()
	if _, err := user.LookupId(strconv.Itoa(backupUID)); err != nil {
		msg := fmt.Sprintf("ssh needs a passwd entry for the backup user %d (run ./scripts/test-setup.sh)", backupUID)
		if testenv.RequireAll() {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
}
