package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/internal/testenv"
	"github.com/holthome/bakc/runtime"
	"github.com/holthome/bakc/runtime/namespace"
	"github.com/holthome/bakc/runtime/restic"
	"github.com/holthome/bakc/runtime/restic/restictest"
)

// These tests run the real `bakc run backup` (this test binary, started
// as "bakc": see TestMain) on a real zfs-fuse pool, as root: it enters its
// own mount namespace, snapshots, shows the snapshot at the original
// path through a clone, runs the real restic as the backup user, and
// cleans up.

const zfsBackupUID = 2049

// zfsNode is a node with a ZFS dataset (and a child dataset below it) on
// a pool in a file, a local restic repository owned by the backup user,
// and a plan with one ZFS snapshot job.
type zfsNode struct {
	t        *testing.T
	dir      string // the test's folder (root only)
	shared   string // a folder every user may enter: restic stand-ins, pause files
	pool     string
	dataset  string
	data     string // the dataset's mountpoint: the job's path
	repo     string
	restic   testenv.Restic
	plan     *plan.Plan
	planPath string
}

func newZFSNode(t *testing.T, r testenv.Restic) *zfsNode {
	t.Helper()
	pool := testenv.ZFSPool(t, 256<<20)
	n := &zfsNode{t: t, dir: t.TempDir(), pool: pool, dataset: pool + "/data", restic: r}
	n.shared = worldDir(t)
	n.data = filepath.Join(n.dir, "data")
	n.repo = filepath.Join(n.dir, "repo")
	zfsRun(t, "create", "-o", "compression=on", "-o", "mountpoint="+n.data, n.dataset)
	zfsRun(t, "create", n.dataset+"/child")
	n.write("a.txt", "version 1")
	n.write("child/k.txt", "in the child dataset")
	restictest.InitRepo(t, r, n.repo)
	restictest.ChownTree(t, n.repo, zfsBackupUID, zfsBackupUID)
	require.NoError(t, os.Chmod(n.repo, 0o700))
	n.plan = &plan.Plan{
		Version: plan.Version,
		Source:  "hosts/forge.hcl",
		Node:    plan.Node{Name: "forge", Datasets: []plan.Dataset{{Mountpoint: n.data, Name: n.dataset}}},
		User:    plan.User{Name: "bakc", Group: "bakc", UID: zfsBackupUID, GID: zfsBackupUID},
		Paths: plan.Paths{
			Plan: filepath.Join(n.dir, "plan.json"), State: filepath.Join(n.dir, "state"),
			Cache: filepath.Join(n.dir, "cache"), Log: filepath.Join(n.dir, "log"),
		},
		Monitoring: plan.Monitoring{TextfileDir: filepath.Join(n.dir, "textfile"), ErrorLog: filepath.Join(n.dir, "log", "errors.jsonl")},
		Repositories: []plan.Repository{{
			Name: "local", Kind: plan.KindLocal, URL: n.repo, PasswordFile: restictest.PasswordFile(t),
			Prune: plan.Prune{Schedule: plan.Schedule{Calendar: "weekly"}},
		}},
		Jobs: []plan.Job{{
			Name: "data", Paths: []string{n.data}, Repositories: []string{"local"},
			Retention: plan.Retention{Daily: 7}, Tags: []string{"job:data"}, JobTag: "job:data",
			Snapshot: plan.SnapshotZFS, Datasets: []plan.Dataset{{Mountpoint: n.data, Name: n.dataset}},
			Schedule: plan.Schedule{Calendar: "daily"}, Resources: plan.Resources{Nice: 10, IOSchedulingClass: "idle"},
		}},
	}
	n.planPath = n.plan.Paths.Plan
	n.savePlan()
	return n
}

// worldDir is a fresh folder every user may enter and write: restic runs
// as the backup user, and execve finds a restic stand-in with that user's
// rights before the capability applies.
func worldDir(t *testing.T) string {
	dir, err := os.MkdirTemp("", "bakc-run-test-")
	require.NoError(t, err)
	require.NoError(t, os.Chmod(dir, 0o777))
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func zfsRun(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("zfs", args...).CombinedOutput()
	require.NoError(t, err, "zfs %v: %s", args, out)
	return string(out)
}

func (n *zfsNode) write(name, content string) {
	n.t.Helper()
	p := filepath.Join(n.data, name)
	require.NoError(n.t, os.MkdirAll(filepath.Dir(p), 0o755))
	require.NoError(n.t, os.WriteFile(p, []byte(content), 0o644))
}

func (n *zfsNode) job() *plan.Job { return &n.plan.Jobs[0] }

func (n *zfsNode) savePlan() {
	n.t.Helper()
	data, err := plan.Marshal(n.plan)
	require.NoError(n.t, err)
	require.NoError(n.t, os.WriteFile(n.planPath, data, 0o644))
}

// bakcCommand is `bakc run backup data` as its own process: this test
// binary under the name bakc, which TestMain turns into Main.
func (n *zfsNode) bakcCommand(resticBinary string, extraEnv ...string) (*exec.Cmd, *bytes.Buffer) {
	self, err := os.Executable()
	require.NoError(n.t, err)
	link := filepath.Join(n.t.TempDir(), "bakc")
	require.NoError(n.t, os.Symlink(self, link))
	cmd := exec.Command(link, "run", "backup", "data", "--plan", n.planPath, "--restic", resticBinary, "-v")
	cmd.Env = append(os.Environ(), extraEnv...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	return cmd, &out
}

// backup runs bakc to its end and returns its exit code.
func (n *zfsNode) backup(extraEnv ...string) int {
	n.t.Helper()
	cmd, out := n.bakcCommand(n.restic.Path, extraEnv...)
	err := cmd.Run()
	n.t.Logf("bakc run backup:\n%s", out)
	return exitCodeOf(n.t, err)
}

func exitCodeOf(t *testing.T, err error) int {
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.ExitCode()
	}
	t.Fatalf("bakc did not run: %v", err)
	return -1
}

// pausingRestic writes a restic stand-in that, for `backup`, writes its
// pid to pause/reached, waits for pause/go, and then becomes the real
// restic (same pid). It returns the stand-in and the pause folder.
func (n *zfsNode) pausingRestic() (string, string) {
	pause := filepath.Join(n.shared, "pause")
	require.NoError(n.t, os.Mkdir(pause, 0o777))
	require.NoError(n.t, os.Chmod(pause, 0o777)) // not the umask's 0755: restic's user writes here
	script := filepath.Join(n.shared, "restic")
	body := fmt.Sprintf(`#!/bin/sh
case " $* " in
*" backup "*)
	echo $$ > %[1]s/reached
	while [ ! -e %[1]s/go ]; do sleep 0.05; done ;;
esac
exec %[2]s "$@"
`, pause, n.restic.Path)
	require.NoError(n.t, os.WriteFile(script, []byte(body), 0o755))
	return script, pause
}

// startBakc starts cmd and makes sure it is gone when the test ends; the
// returned channel is closed when it has exited.
func startBakc(t *testing.T, cmd *exec.Cmd, out *bytes.Buffer) (exited chan struct{}, wait func() error) {
	t.Helper()
	require.NoError(t, cmd.Start())
	exited = make(chan struct{})
	var err error
	go func() { err = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		select {
		case <-exited:
		default:
			cmd.Process.Kill()
			<-exited
			t.Logf("bakc killed at the end of the test; its output:\n%s", out)
		}
	})
	return exited, func() error { <-exited; return err }
}

// waitFor polls until a file with a whole line in it exists and returns
// the line. It fails the test when bakc ends first.
func waitFor(t *testing.T, path string, exited chan struct{}, out *bytes.Buffer) string {
	t.Helper()
	for i := 0; i < 1200; i++ {
		if b, err := os.ReadFile(path); err == nil && bytes.HasSuffix(b, []byte("\n")) {
			return strings.TrimSpace(string(b))
		}
		select {
		case <-exited:
			t.Fatalf("bakc ended before %s appeared:\n%s", path, out)
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Fatalf("%s did not appear; bakc so far:\n%s", path, out)
	return ""
}

// resticAsRoot is restic on the node's repository, run by the test.
func (n *zfsNode) resticAsRoot() *restic.Restic {
	return &restic.Restic{Binary: n.restic.Path, Repo: n.repo, PasswordFile: n.plan.Repositories[0].PasswordFile, CacheDir: filepath.Join(n.dir, "test-cache")}
}

func (n *zfsNode) snapshots() []restic.Snapshot {
	n.t.Helper()
	var out []byte
	err := n.resticAsRoot().Run(context.Background(), []string{"snapshots", "--json", "--no-lock"}, func(l []byte) { out = append(out, l...) })
	require.NoError(n.t, err)
	var snaps []restic.Snapshot
	require.NoError(n.t, json.Unmarshal(out, &snaps))
	return snaps
}

// leftovers lists what a run may leave behind and must not: ZFS
// snapshots and clones named bakc-…, and mounts of them in this (the
// host's) namespace.
func (n *zfsNode) leftovers() []string {
	n.t.Helper()
	var left []string
	for _, line := range strings.Split(zfsRun(n.t, "list", "-H", "-o", "name", "-t", "all", "-r", n.pool), "\n") {
		if strings.Contains(line, "bakc-") {
			left = append(left, "zfs "+line)
		}
	}
	mounts, err := namespace.Mounts()
	require.NoError(n.t, err)
	for _, m := range mounts {
		if strings.HasPrefix(m.Source, n.pool+"/") && strings.Contains(m.Source, "bakc-") {
			left = append(left, "mount "+m.Source+" at "+m.Mountpoint)
		}
		if m.Mountpoint == n.data && m.Source != n.dataset {
			left = append(left, "mount "+m.Source+" over "+n.data)
		}
	}
	return left
}

func (n *zfsNode) metrics() map[string]string {
	n.t.Helper()
	b, err := os.ReadFile(filepath.Join(n.plan.Monitoring.TextfileDir, "bakc-backup-data.prom"))
	require.NoError(n.t, err)
	got := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, " "); ok && !strings.HasPrefix(line, "#") {
			got[k] = v
		}
	}
	return got
}

func (n *zfsNode) errorLines() []runtime.ErrorLine {
	n.t.Helper()
	f, err := os.Open(n.plan.Monitoring.ErrorLog)
	if os.IsNotExist(err) {
		return nil
	}
	require.NoError(n.t, err)
	defer f.Close()
	var lines []runtime.ErrorLine
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var l runtime.ErrorLine
		require.NoError(n.t, json.Unmarshal(sc.Bytes(), &l))
		lines = append(lines, l)
	}
	return lines
}

// The file is changed after the snapshot is taken and before restic reads
// it (restic's stand-in waits while the test writes): the backup has the
// content of snapshot time. restic records the dataset's mountpoint, not a
// clone's path, and `restic restore --path <original>` brings back both
// datasets' files. While restic runs, the host still sees the live
// dataset at its mountpoint. A second, unchanged run finds its parent:
// no file is new.
func TestRunBackupZFSPointInTimeOriginalPaths(t *testing.T) {
	testenv.Root(t)
	for _, r := range restictest.Restics(t) {
		t.Run(r.Version, func(t *testing.T) {
			n := newZFSNode(t, r)
			n.job().Retention = plan.Retention{Last: 10} // keep every run's snapshot to look at
			n.savePlan()
			stand, pause := n.pausingRestic()
			cmd, out := n.bakcCommand(stand)
			exited, wait := startBakc(t, cmd, out)
			waitFor(t, filepath.Join(pause, "reached"), exited, out)

			// The run has snapshotted and shown the clone at the original
			// path in its own namespace; here the live dataset is there.
			n.write("a.txt", "version 2, written after the snapshot")
			mounts, err := namespace.Mounts()
			require.NoError(t, err)
			for _, m := range mounts {
				if m.Mountpoint == n.data && m.Source != n.dataset {
					t.Errorf("the host sees %s at %s while the run goes on", m.Source, n.data)
				}
			}
			require.NoError(t, os.WriteFile(filepath.Join(pause, "go"), nil, 0o644))
			err = wait()
			t.Logf("bakc run backup:\n%s", out)
			require.Equal(t, 0, exitCodeOf(t, err))

			snaps := n.snapshots()
			require.Len(t, snaps, 1)
			if len(snaps[0].Paths) != 1 || snaps[0].Paths[0] != n.data {
				t.Errorf("restic recorded paths %v, want the dataset's mountpoint %s", snaps[0].Paths, n.data)
			}
			target := t.TempDir()
			require.NoError(t, n.resticAsRoot().Run(context.Background(), []string{"restore", "latest", "--path", n.data, "--target", target}, nil))
			for name, want := range map[string]string{"a.txt": "version 1", "child/k.txt": "in the child dataset"} {
				got, err := os.ReadFile(filepath.Join(target, n.data, name))
				require.NoError(t, err)
				if string(got) != want {
					t.Errorf("restored %s = %q, want %q (its content at snapshot time)", name, got, want)
				}
			}
			if left := n.leftovers(); len(left) > 0 {
				t.Errorf("left behind: %v", left)
			}

			// Unchanged since the first run? No: a.txt changed after the
			// first snapshot. Back up once to catch up, then once unchanged.
			require.Equal(t, 0, n.backup())
			require.Equal(t, 0, n.backup())
			m := n.metrics()
			if m[`bakc_backup_files_new{job="data",repository="local"}`] != "0" || m[`bakc_backup_files_changed{job="data",repository="local"}`] != "0" ||
				m[`bakc_backup_files_unmodified{job="data",repository="local"}`] != "2" {
				t.Errorf("unchanged run: files new %s, changed %s, unmodified %s; want 0, 0, 2 (the parent was found)",
					m[`bakc_backup_files_new{job="data",repository="local"}`], m[`bakc_backup_files_changed{job="data",repository="local"}`], m[`bakc_backup_files_unmodified{job="data",repository="local"}`])
			}
			snaps = n.snapshots()
			require.Len(t, snaps, 3)
			if snaps[2].Parent == "" || !strings.HasPrefix(snaps[2].Parent, snaps[1].ID[:8]) {
				t.Errorf("third snapshot's parent %q, want the second %s", snaps[2].Parent, snaps[1].ID)
			}
		})
	}
}

// zfsFailure is a way a ZFS job's run fails, after a successful run.
type zfsFailure struct {
	name string
	// breakIt prepares the failure; it may return the restic stand-in to
	// use and something to do while bakc runs (interrupt). undo repairs.
	breakIt   func(t *testing.T, n *zfsNode)
	undo      func(t *testing.T, n *zfsNode)
	interrupt bool
	exit      int
	phase     runtime.Phase
	cat       restic.Category
}

// Every failure of a ZFS snapshot job, one after the other on one node
// after a successful run, through the real binary: each ends with its
// exit code, one categorised error line, the metrics saying failed, the
// last success time still the first run's, and no snapshot, clone or
// mount left behind.
func TestRunBackupZFSFailures(t *testing.T) {
	testenv.Root(t)
	// A repository locked by another restic: restic ≥ 0.16 waits for it
	// (--retry-lock) as long as bakc's --lock-wait says.
	t.Setenv("BAKC_LOCK_WAIT", "2s")
	cases := []zfsFailure{
		{
			name: "wrong password",
			breakIt: func(t *testing.T, n *zfsNode) {
				require.NoError(t, os.WriteFile(n.plan.Repositories[0].PasswordFile, []byte("wrong\n"), 0o600))
			},
			undo: func(t *testing.T, n *zfsNode) {
				require.NoError(t, os.WriteFile(n.plan.Repositories[0].PasswordFile, []byte(restictest.Password+"\n"), 0o600))
			},
			exit: runtime.ExitTaskFailed, phase: runtime.PhaseBackup, cat: restic.CategoryAuth,
		},
		{
			name:    "repository missing",
			breakIt: func(t *testing.T, n *zfsNode) { require.NoError(t, os.Rename(n.repo, n.repo+".gone")) },
			undo:    func(t *testing.T, n *zfsNode) { require.NoError(t, os.Rename(n.repo+".gone", n.repo)) },
			exit:    runtime.ExitPreflightFailed, phase: runtime.PhasePreflight, cat: restic.CategoryStorage,
		},
		{
			name: "repository locked by another restic",
			breakIt: func(t *testing.T, n *zfsNode) {
				restictest.HoldExclusiveLock(t, n.restic, n.repo, n.plan.Repositories[0].PasswordFile)
			},
			exit: runtime.ExitTaskFailed, phase: runtime.PhaseBackup, cat: restic.CategoryLock,
		},
		{
			name: "nfs mountpoint not mounted",
			breakIt: func(t *testing.T, n *zfsNode) {
				mp := filepath.Join(n.dir, "mnt", "nas")
				require.NoError(t, os.MkdirAll(mp, 0o755))
				r := &n.plan.Repositories[0]
				r.Kind, r.URL = plan.KindNFS, mp
				r.NFS = &plan.NFSMount{NAS: "nas-1", Server: "nas-1.example", Dataset: "backup/forge/restic", Export: "/mnt/backup/forge/restic", Mountpoint: mp}
				n.savePlan()
			},
			undo: func(t *testing.T, n *zfsNode) {
				r := &n.plan.Repositories[0]
				r.Kind, r.URL, r.NFS = plan.KindLocal, n.repo, nil
				n.savePlan()
			},
			exit: runtime.ExitPreflightFailed, phase: runtime.PhasePreflight, cat: restic.CategoryStorage,
		},
		{
			name: "source path missing",
			breakIt: func(t *testing.T, n *zfsNode) {
				n.job().Paths = []string{filepath.Join(n.data, "no-such-folder")}
				n.savePlan()
			},
			undo: func(t *testing.T, n *zfsNode) {
				n.job().Paths = []string{n.data}
				n.savePlan()
			},
			exit: runtime.ExitPreflightFailed, phase: runtime.PhasePreflight, cat: restic.CategorySource,
		},
		{
			name: "pre-backup hook fails",
			breakIt: func(t *testing.T, n *zfsNode) {
				n.job().Hooks.PreBackup = "echo 'pg_dump: connection refused' >&2; exit 1"
				n.savePlan()
			},
			undo: func(t *testing.T, n *zfsNode) {
				n.job().Hooks.PreBackup = ""
				n.savePlan()
			},
			exit: runtime.ExitHookFailed, phase: runtime.PhasePreHook, cat: restic.CategorySource,
		},
		{
			// SIGTERM to bakc while restic reads a file far too large to
			// finish (sparse: it takes no room in the pool).
			name: "SIGTERM mid-backup", interrupt: true,
			breakIt: func(t *testing.T, n *zfsNode) {
				big, err := os.Create(filepath.Join(n.data, "big"))
				require.NoError(t, err)
				require.NoError(t, big.Truncate(1<<40))
				require.NoError(t, big.Close())
			},
			undo: func(t *testing.T, n *zfsNode) { require.NoError(t, os.Remove(filepath.Join(n.data, "big"))) },
			exit: runtime.ExitInterrupted, phase: runtime.PhaseBackup, cat: restic.CategoryResource,
		},
		{
			// The repository on a small pool of its own, and more new data
			// than fits: restic fails with "no space left on device".
			name: "repository pool full",
			breakIt: func(t *testing.T, n *zfsNode) {
				small := testenv.ZFSPool(t, 64<<20)
				mp := filepath.Join(n.dir, "small")
				zfsRun(t, "create", "-o", "mountpoint="+mp, small+"/repo")
				repo := filepath.Join(mp, "restic")
				restictest.InitRepo(t, n.restic, repo)
				restictest.ChownTree(t, repo, zfsBackupUID, zfsBackupUID)
				n.plan.Repositories[0].URL = repo
				n.savePlan()
				noise := make([]byte, 96<<20)
				rand.Read(noise)
				n.write("noise", string(noise))
			},
			undo: func(t *testing.T, n *zfsNode) {
				require.NoError(t, os.Remove(filepath.Join(n.data, "noise")))
				n.plan.Repositories[0].URL = n.repo
				n.savePlan()
			},
			exit: runtime.ExitTaskFailed, phase: runtime.PhaseBackup, cat: restic.CategoryStorage,
		},
	}
	for _, r := range restictest.Restics(t) {
		t.Run(r.Version, func(t *testing.T) {
			n := newZFSNode(t, r)
			require.Equal(t, 0, n.backup(), "first run")
			lastSuccess := n.metrics()[`bakc_backup_last_success_timestamp_seconds{job="data",repository="local"}`]
			require.NotEmpty(t, lastSuccess)
			before := len(n.snapshots())

			for _, tt := range cases {
				t.Run(tt.name, func(t *testing.T) {
					lines := len(n.errorLines())
					tt.breakIt(t, n)
					var code int
					if tt.interrupt {
						code = n.interruptedBackup(t, filepath.Join(n.data, "big"))
					} else {
						code = n.backup()
					}
					if tt.undo != nil {
						tt.undo(t, n)
					}
					if code != tt.exit {
						t.Errorf("exit code %d, want %d", code, tt.exit)
					}
					got := n.errorLines()
					require.Len(t, got, lines+1, "want one new error line")
					if l := got[lines]; l.Phase != tt.phase || l.Category != tt.cat || l.Job != "data" {
						t.Errorf("error line %+v; want phase %s, category %s", l, tt.phase, tt.cat)
					}
					m := n.metrics()
					if v := m[`bakc_backup_result{job="data",repository="local",result="failed"}`]; v != "1" {
						t.Errorf("result failed = %s, want 1", v)
					}
					if v := m[`bakc_backup_last_success_timestamp_seconds{job="data",repository="local"}`]; v != lastSuccess {
						t.Errorf("last success %s, want the first run's %s", v, lastSuccess)
					}
					if left := n.leftovers(); len(left) > 0 {
						t.Errorf("left behind: %v", left)
					}
					if got := len(n.snapshots()); got != before {
						t.Errorf("%d restic snapshots, want %d: a failed run added one", got, before)
					}
				})
			}
		})
	}
}

// interruptedBackup starts bakc with a restic stand-in that records its
// pid and becomes restic, waits until restic has the big file open, sends
// bakc SIGTERM (as systemd does on stop or timeout) and returns bakc's
// exit code.
func (n *zfsNode) interruptedBackup(t *testing.T, big string) int {
	marks := filepath.Join(n.shared, "interrupt")
	require.NoError(t, os.Mkdir(marks, 0o777))
	require.NoError(t, os.Chmod(marks, 0o777))
	defer os.RemoveAll(marks)
	stand := filepath.Join(marks, "restic")
	require.NoError(t, os.WriteFile(stand, []byte(fmt.Sprintf(`#!/bin/sh
case " $* " in *" backup "*) echo $$ > %s/pid ;; esac
exec %s "$@"
`, marks, n.restic.Path)), 0o755))
	cmd, out := n.bakcCommand(stand)
	exited, wait := startBakc(t, cmd, out)
	pid := waitFor(t, filepath.Join(marks, "pid"), exited, out)
	// The clone shows the file at its original path inside the run's
	// namespace; restic opens it there.
	for i := 0; !hasOpen(pid, filepath.Base(big)); i++ {
		select {
		case <-exited:
			t.Fatalf("bakc ended before restic opened %s:\n%s", big, out)
		case <-time.After(20 * time.Millisecond):
		}
		if i > 3000 {
			t.Fatalf("restic did not open %s", big)
		}
	}
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	err := wait()
	t.Logf("bakc run backup (interrupted):\n%s", out)
	return exitCodeOf(t, err)
}

// hasOpen reports whether process pid has a file of that name open.
func hasOpen(pid, name string) bool {
	fds, _ := filepath.Glob("/proc/" + pid + "/fd/*")
	for _, fd := range fds {
		if target, err := os.Readlink(fd); err == nil && filepath.Base(target) == name {
			return true
		}
	}
	return false
}
