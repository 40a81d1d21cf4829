package runtime_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/runtime"
	"github.com/holthome/bakc/runtime/restic"
)

// replicateFixture is a NAS's folders and stand-ins for syncoid and zfs
// (scripts): what is tested here is bakc's part of a pull — the lock,
// the run record, the report — which cmd/bakc's
// TestReplicationWithSyncoid runs with the real syncoid and zfs.
type replicateFixture struct {
	t       *testing.T
	cfg     *plan.NASReplication
	dir     string
	syncoid string
	zfs     string
}

const (
	fxSource = "bakc-send@forge:rpool/safe/home"
	fxTarget = "backup/forge/zfs-recv/home"
	// fxName is the copy in file names.
	fxName = "backup%2Fforge%2Fzfs-recv%2Fhome"
)

func newReplicateFixture(t *testing.T, syncoidBody string) *replicateFixture {
	dir := t.TempDir()
	f := &replicateFixture{t: t, dir: dir, cfg: &plan.NASReplication{
		State: filepath.Join(dir, "state"), TextfileDir: filepath.Join(dir, "textfile"), ErrorLog: filepath.Join(dir, "log", "errors.jsonl"),
	}}
	f.syncoid = filepath.Join(dir, "syncoid")
	require.NoError(t, os.WriteFile(f.syncoid, []byte("#!/bin/sh\n"+syncoidBody+"\n"), 0o755))
	f.zfs = filepath.Join(dir, "zfs")
	require.NoError(t, os.WriteFile(f.zfs, []byte("#!/bin/sh\nprintf '"+fxTarget+"\\t1700000000\\n"+fxTarget+"@autosnap_x_hourly\\t1700000100\\n'\n"), 0o755))
	return f
}

func (f *replicateFixture) run(ctx context.Context) *runtime.ReplicateReport {
	f.t.Helper()
	rep, err := runtime.Replicate(ctx, runtime.ReplicateRun{Config: f.cfg, Syncoid: f.syncoid, ZFS: f.zfs,
		Args: []string{"--no-sync-snap", fxSource, fxTarget}}, runtime.Options{})
	require.NoError(f.t, err)
	return rep
}

func (f *replicateFixture) errorLines() []runtime.ErrorLine {
	f.t.Helper()
	data, err := os.ReadFile(f.cfg.ErrorLog)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	require.NoError(f.t, err)
	var out []runtime.ErrorLine
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var e runtime.ErrorLine
		require.NoError(f.t, json.Unmarshal([]byte(l), &e))
		out = append(out, e)
	}
	return out
}

func (f *replicateFixture) metricsPath() string {
	return filepath.Join(f.cfg.TextfileDir, "bakc-replicate-"+fxName+".prom")
}

// TestReplicateLockHeld: a second pull of the same copy stops at once
// with exit code 5 and a lock error line, and writes no metrics (the
// running pull writes its own).
func TestReplicateLockHeld(t *testing.T) {
	f := newReplicateFixture(t, "exit 0")
	l, err := runtime.AcquireLock(runtime.LockPath(f.cfg.State, runtime.TaskReplicate, fxName))
	require.NoError(t, err)
	defer l.Release()
	rep := f.run(context.Background())
	require.Equal(t, runtime.ExitLockHeld, rep.ExitCode)
	require.Equal(t, -1, rep.SyncoidExitCode, "syncoid did not run")
	lines := f.errorLines()
	require.Len(t, lines, 1)
	require.Equal(t, restic.CategoryLock, lines[0].Category)
	require.Equal(t, runtime.PhaseLock, lines[0].Phase)
	require.NoFileExists(t, f.metricsPath())
}

// TestReplicateReportsKilledRun: a run record left by a pull that was
// killed is reported (category interrupted) by the next pull, which then
// runs; its record is gone at its end.
func TestReplicateReportsKilledRun(t *testing.T) {
	f := newReplicateFixture(t, "exit 0")
	record := runtime.RunRecordPath(f.cfg.State, runtime.TaskReplicate, fxName)
	require.NoError(t, os.MkdirAll(filepath.Dir(record), 0o755))
	require.NoError(t, os.WriteFile(record, []byte(`{"task":"replicate","name":"x","pid":99999,"phase":"replicate","start":"2026-11-30T01:00:00Z"}`), 0o644))
	rep := f.run(context.Background())
	require.Equal(t, runtime.ExitOK, rep.ExitCode)
	lines := f.errorLines()
	require.Len(t, lines, 1)
	require.Equal(t, restic.CategoryInterrupted, lines[0].Category)
	require.Equal(t, "forge", lines[0].Node)
	require.Equal(t, "rpool/safe/home", lines[0].Dataset)
	require.Nil(t, lines[0].SyncoidExitCode, "the killed run's syncoid exit code is not known")
	require.NoFileExists(t, record)
	m := readMetrics(t, f.metricsPath())
	labels := `{dataset="rpool/safe/home",node="forge",target="` + fxTarget + `"}`
	require.Equal(t, 1.0, m["bakc_replication_success"+labels])
	require.Equal(t, 1700000100.0, m["bakc_replication_newest_snapshot_timestamp_seconds"+labels], "the newest snapshot's line, not the dataset's own")
}

// TestReplicateInterrupted: SIGTERM to bakc (the unit stopped) is passed
// on to syncoid; the run ends with exit code 8, category resource, and
// no success.
func TestReplicateInterrupted(t *testing.T) {
	f := newReplicateFixture(t, `trap 'echo term > "$0.term"; exit 143' TERM
echo started > "$0.started"
sleep 30 >/dev/null 2>&1 & wait`)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for range 100 {
			if _, err := os.Stat(f.syncoid + ".started"); err == nil {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		cancel()
	}()
	rep := f.run(ctx)
	require.Equal(t, runtime.ExitInterrupted, rep.ExitCode)
	require.FileExists(t, f.syncoid+".term", "syncoid got SIGTERM")
	lines := f.errorLines()
	require.Len(t, lines, 1)
	require.Equal(t, restic.CategoryResource, lines[0].Category)
	m := readMetrics(t, f.metricsPath())
	require.Equal(t, 0.0, m[`bakc_replication_success{dataset="rpool/safe/home",node="forge",target="`+fxTarget+`"}`])
	require.Equal(t, 0.0, m[`bakc_replication_last_success_timestamp_seconds{dataset="rpool/safe/home",node="forge",target="`+fxTarget+`"}`])
}
