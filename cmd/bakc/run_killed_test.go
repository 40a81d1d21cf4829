package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/internal/testenv"
	"github.com/holthome/bakc/runtime"
	"github.com/holthome/bakc/runtime/restic"
	"github.com/holthome/bakc/runtime/restic/restictest"
)

// plainNode is a node with one job without snapshots and one local
// repository, for runs of the real binary that ZFS has nothing to do with.
type plainNode struct {
	*zfsNode // its helpers (metrics, error lines, snapshots, bakcCommand); no pool
}

func newPlainNode(t *testing.T, r testenv.Restic) *plainNode {
	t.Helper()
	n := &zfsNode{t: t, dir: t.TempDir(), restic: r}
	n.shared = worldDir(t)
	n.data = filepath.Join(n.dir, "data")
	n.repo = filepath.Join(n.dir, "repo")
	require.NoError(t, os.MkdirAll(n.data, 0o755))
	n.write("a.txt", "version 1")
	restictest.InitRepo(t, r, n.repo)
	restictest.ChownTree(t, n.repo, zfsBackupUID, zfsBackupUID)
	require.NoError(t, os.Chmod(n.repo, 0o700))
	n.plan = &plan.Plan{
		Version: plan.Version,
		Source:  "hosts/forge.hcl",
		Node:    plan.Node{Name: "forge"},
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
			Snapshot: plan.SnapshotNone,
			Schedule: plan.Schedule{Calendar: "daily"}, Resources: plan.Resources{Nice: 10, IOSchedulingClass: "idle"},
		}},
	}
	n.planPath = n.plan.Paths.Plan
	n.savePlan()
	return &plainNode{n}
}

// Defect 8 of issue 8: a run killed with SIGKILL (the OOM killer, the
// unit's stop timeout, a power loss) left no trace: the metrics still
// showed the run before as complete, and the error log had nothing. Now
// every run records its start durably (<state>/runs/backup-<job>.json),
// and the next run of the job reports the killed one before it goes on:
// an error line with category interrupted, and the failed metrics of the
// killed run, which stay until the new run ends.
//
// The real binary is killed mid-backup with its restic (the whole
// process group, as systemd kills a unit's cgroup); the next run's
// restic is held at its start, so that the metrics it wrote for the
// killed run can be read, and then let go: it removes the killed
// restic's stale lock, backs up, and ends complete.
func TestRunKilledIsReportedByTheNext(t *testing.T) {
	testenv.Root(t)
	t.Setenv("BAKC_LOCK_WAIT", "30s") // a lock left would fail the run, not hold it for hours
	r := restictest.Restics(t)[len(restictest.Restics(t))-1]
	n := newPlainNode(t, r)
	require.Equal(t, 0, n.backup(), "first run")
	before := len(n.snapshots())

	// A file far too big to read before the kill (sparse: no disk).
	big := filepath.Join(n.data, "big")
	f, err := os.Create(big)
	require.NoError(t, err)
	require.NoError(t, f.Truncate(1<<40))
	require.NoError(t, f.Close())
	marks := filepath.Join(n.shared, "killed")
	require.NoError(t, os.Mkdir(marks, 0o777))
	require.NoError(t, os.Chmod(marks, 0o777))
	stand := filepath.Join(marks, "restic")
	require.NoError(t, os.WriteFile(stand, []byte(fmt.Sprintf(`#!/bin/sh
case " $* " in *" backup "*) echo $$ > %s/pid ;; esac
exec %s "$@"
`, marks, n.restic.Path)), 0o755))
	cmd, out := n.bakcCommand(stand)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	killedStart := time.Now()
	exited, wait := startBakc(t, cmd, out)
	pid := waitFor(t, filepath.Join(marks, "pid"), exited, out)
	for i := 0; !hasOpen(pid, "big"); i++ {
		select {
		case <-exited:
			t.Fatalf("bakc ended before restic opened the big file:\n%s", out)
		case <-time.After(20 * time.Millisecond):
		}
		require.Less(t, i, 3000, "restic did not open the big file")
	}
	require.NoError(t, syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL))
	wait()
	t.Logf("bakc run backup (killed):\n%s", out)
	require.NoError(t, os.Remove(big))
	linesBefore := len(n.errorLines())

	// The next run, its restic held at its start.
	pause := filepath.Join(n.shared, "pause")
	require.NoError(t, os.Mkdir(pause, 0o777))
	require.NoError(t, os.Chmod(pause, 0o777))
	held := filepath.Join(pause, "restic")
	require.NoError(t, os.WriteFile(held, []byte(fmt.Sprintf(`#!/bin/sh
case " $* " in *" backup "*)
	echo $$ > %[1]s/reached
	while [ ! -e %[1]s/go ]; do sleep 0.05; done ;;
esac
exec %[2]s "$@"
`, pause, n.restic.Path)), 0o755))
	cmd2, out2 := n.bakcCommand(held)
	exited2, wait2 := startBakc(t, cmd2, out2)
	waitFor(t, filepath.Join(pause, "reached"), exited2, out2)

	lines := n.errorLines()
	require.Len(t, lines, linesBefore+1, "want one error line for the killed run")
	l := lines[len(lines)-1]
	if l.Category != restic.CategoryInterrupted || l.Job != "data" || l.Task != "backup" || l.Phase != runtime.PhaseBackup || l.Repository != "local" ||
		!strings.Contains(l.Message, "did not finish") {
		t.Errorf("error line %+v; want category interrupted, job data, phase backup, repository local, a message saying the run did not finish", l)
	}
	m := n.metrics()
	if v := m[`bakc_backup_result{job="data",repository="local",result="failed"}`]; v != "1" {
		t.Errorf("while the next run goes on, result failed = %s, want 1 (the killed run's)", v)
	}
	if v := m[`bakc_backup_exit_code{job="data"}`]; v != fmt.Sprint(runtime.ExitKilled) {
		t.Errorf("exit code %s, want %d (killed)", v, runtime.ExitKilled)
	}
	if v := m[`bakc_backup_last_run_timestamp_seconds{job="data",repository="local"}`]; !closeTo(v, killedStart, 5*time.Second) {
		t.Errorf("last run %s, want the killed run's start, about %v", v, killedStart.Unix())
	}

	require.NoError(t, os.WriteFile(filepath.Join(pause, "go"), nil, 0o644))
	select {
	case <-exited2:
	case <-time.After(2 * time.Minute):
		t.Fatalf("the next run did not end:\n%s", out2)
	}
	require.NoError(t, wait2(), "next run:\n%s", out2)
	t.Logf("bakc run backup (next):\n%s", out2)
	m = n.metrics()
	if v := m[`bakc_backup_result{job="data",repository="local",result="complete"}`]; v != "1" {
		t.Errorf("after the next run, result complete = %s, want 1", v)
	}
	if got := len(n.snapshots()); got != before+1 {
		t.Errorf("%d snapshots, want %d", got, before+1)
	}
	if _, err := os.Stat(filepath.Join(n.plan.Paths.State, "runs", "backup-data.json")); !os.IsNotExist(err) {
		t.Errorf("the run record is still there after a run that ended: %v", err)
	}
	if got := len(n.errorLines()); got != linesBefore+1 {
		t.Errorf("%d error lines, want %d: the killed run is reported once", got, linesBefore+1)
	}
	// A third run has nothing more to say about it.
	require.Equal(t, 0, n.backup())
	if got := len(n.errorLines()); got != linesBefore+1 {
		t.Errorf("%d error lines after a third run, want %d", got, linesBefore+1)
	}
}

// closeTo reports whether a metric value (Unix seconds) is within d of t.
func closeTo(v string, t time.Time, d time.Duration) bool {
	var f float64
	if _, err := fmt.Sscan(v, &f); err != nil {
		return false
	}
	diff := time.Duration((f - float64(t.UnixNano())/1e9) * 1e9)
	return diff > -d && diff < d
}
