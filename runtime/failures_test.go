package runtime_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/runtime"
	"github.com/holthome/bakc/runtime/restic"
	"github.com/holthome/bakc/runtime/restic/restictest"
)

// failureCase is a way a run fails, and what it must leave behind.
type failureCase struct {
	name string
	// both runs the case against every restic, else the newest only.
	both bool
	// breakIt changes the fixture after the first, successful run; undo
	// (if not nil) puts the repository back so that it can be counted.
	breakIt func(t *testing.T, f *fixture)
	undo    func(t *testing.T, f *fixture)
	exit    int
	phase   runtime.Phase
	cat     restic.Category
	// repo is the failure's repository, "" for the whole job.
	repo    string
	outcome runtime.Outcome
	// resticExit maps a restic version prefix to restic's expected exit
	// code; nil: restic did not run.
	resticExit map[string]int
	// newSnapshot: the failing run still wrote a restic snapshot.
	newSnapshot bool
	// interrupt stops the run (as SIGTERM does: its context is
	// cancelled) as soon as restic reports progress.
	interrupt bool
	// lockWait, if set, is the run's Options.LockWait.
	lockWait time.Duration
}

var failureCases = []failureCase{
	{
		name: "wrong password", both: true,
		breakIt: func(t *testing.T, f *fixture) {
			require.NoError(t, os.WriteFile(f.repository("local").PasswordFile, []byte("not the password\n"), 0o600))
		},
		undo: func(t *testing.T, f *fixture) {
			require.NoError(t, os.WriteFile(f.repository("local").PasswordFile, []byte(restictest.Password+"\n"), 0o600))
		},
		exit: runtime.ExitTaskFailed, phase: runtime.PhaseBackup, cat: restic.CategoryAuth, repo: "local", outcome: runtime.OutcomeFailed,
		resticExit: map[string]int{"0.14": 1, "0.18": 12},
	},
	{
		name: "repository missing", both: true,
		breakIt: func(t *testing.T, f *fixture) { require.NoError(t, os.Rename(f.repo, f.repo+".gone")) },
		undo:    func(t *testing.T, f *fixture) { require.NoError(t, os.Rename(f.repo+".gone", f.repo)) },
		exit:    runtime.ExitPreflightFailed, phase: runtime.PhasePreflight, cat: restic.CategoryStorage, repo: "local", outcome: runtime.OutcomeFailed,
	},
	{
		name: "repository locked by another restic", both: true,
		breakIt: func(t *testing.T, f *fixture) {
			restictest.HoldExclusiveLock(t, f.restic, f.repo, f.repository("local").PasswordFile)
		},
		exit: runtime.ExitTaskFailed, phase: runtime.PhaseBackup, cat: restic.CategoryLock, repo: "local", outcome: runtime.OutcomeFailed,
		resticExit: map[string]int{"0.14": 1, "0.18": 11},
		// restic 0.18 waits that long for the lock (--retry-lock).
		lockWait: 2 * time.Second,
	},
	{
		// A sysctl file ignores capabilities: not even root reads a
		// write-only one. restic writes the snapshot without it and exits
		// 3; bakc counts that as a failure.
		name: "partial backup", both: true,
		breakIt: func(t *testing.T, f *fixture) {
			f.job().Paths = append(f.job().Paths, "/proc/sys/vm/compact_memory")
		},
		exit: runtime.ExitTaskFailed, phase: runtime.PhaseBackup, cat: restic.CategorySource, repo: "local", outcome: runtime.OutcomePartial,
		resticExit: map[string]int{"0.14": 3, "0.18": 3}, newSnapshot: true,
	},
	{
		// An NFS repository whose mountpoint is an empty folder on the
		// local disk: the share did not mount.
		name: "nfs mountpoint not mounted",
		breakIt: func(t *testing.T, f *fixture) {
			mp := filepath.Join(f.dir, "mnt", "nas-backup")
			require.NoError(t, os.MkdirAll(mp, 0o755))
			repo := f.repository("local")
			repo.Kind, repo.URL = plan.KindNFS, mp
			repo.NFS = &plan.NFSMount{NAS: "nas-1", Server: "nas-1.example", Export: "/mnt/backup/forge/restic", Mountpoint: mp}
		},
		undo: func(t *testing.T, f *fixture) {
			repo := f.repository("local")
			repo.Kind, repo.URL, repo.NFS = plan.KindLocal, f.repo, nil
		},
		exit: runtime.ExitPreflightFailed, phase: runtime.PhasePreflight, cat: restic.CategoryStorage, repo: "local", outcome: runtime.OutcomeFailed,
	},
	{
		name: "source path missing",
		breakIt: func(t *testing.T, f *fixture) {
			f.job().Paths = append(f.job().Paths, filepath.Join(f.dir, "no-such-folder"))
		},
		exit: runtime.ExitPreflightFailed, phase: runtime.PhasePreflight, cat: restic.CategorySource, outcome: runtime.OutcomeFailed,
	},
	{
		name: "password file missing",
		breakIt: func(t *testing.T, f *fixture) {
			require.NoError(t, os.Rename(f.repository("local").PasswordFile, f.repository("local").PasswordFile+".gone"))
		},
		undo: func(t *testing.T, f *fixture) {
			require.NoError(t, os.Rename(f.repository("local").PasswordFile+".gone", f.repository("local").PasswordFile))
		},
		exit: runtime.ExitPreflightFailed, phase: runtime.PhasePreflight, cat: restic.CategoryAuth, repo: "local", outcome: runtime.OutcomeFailed,
	},
	{
		name: "pre-backup hook fails",
		breakIt: func(t *testing.T, f *fixture) {
			f.job().Hooks.PreBackup = "echo dumping the database; echo 'pg_dump: connection refused' >&2; exit 7"
		},
		exit: runtime.ExitHookFailed, phase: runtime.PhasePreHook, cat: restic.CategorySource, outcome: runtime.OutcomeFailed,
	},
	{
		// SIGTERM while restic reads a file far too big to finish (sparse:
		// it takes no disk): restic is stopped and removes its lock.
		name: "interrupted mid-backup", both: true, interrupt: true,
		breakIt: func(t *testing.T, f *fixture) {
			big, err := os.Create(filepath.Join(f.src, "big"))
			require.NoError(t, err)
			require.NoError(t, big.Truncate(1<<40))
			require.NoError(t, big.Close())
		},
		// restic's own exit code depends on where SIGINT finds it (0.14:
		// 130; 0.18: 130, or 1 with "context canceled"); bakc's category
		// and exit code do not.
		exit: runtime.ExitInterrupted, phase: runtime.PhaseBackup, cat: restic.CategoryResource, repo: "local", outcome: runtime.OutcomeFailed,
	},
	{
		name: "job locked by another run",
		breakIt: func(t *testing.T, f *fixture) {
			l, err := runtime.AcquireLock(runtime.LockPath(f.plan.Paths.State, "backup", f.job().Name))
			require.NoError(t, err)
			t.Cleanup(func() { l.Release() })
		},
		exit: runtime.ExitLockHeld, phase: runtime.PhaseLock, cat: restic.CategoryLock,
		// The run holding the lock owns the metrics: this one leaves them
		// as they were.
		outcome: runtime.OutcomeComplete,
	},
}

// Every failure a run can meet without ZFS, after a successful run: the
// exit code says which phase failed, the metrics say failed (or partial),
// the error log has one line with the right category, the on_failure hook
// ran with the error, the last success time is still the first run's, and
// no snapshot and no restic lock is left behind. Failures whose look
// depends on restic's version (its exit codes) run against both.
func TestBackupFailures(t *testing.T) {
	t.Parallel()
	testenvRoot(t)
	restics := restictest.Restics(t)
	for i, r := range restics {
		t.Run(r.Version, func(t *testing.T) {
			for _, tt := range failureCases {
				if !tt.both && i != len(restics)-1 {
					continue
				}
				t.Run(tt.name, func(t *testing.T) {
					t.Parallel()
					checkFailure(t, r.Version, newFixture(t, r), tt)
				})
			}
		})
	}
}

func checkFailure(t *testing.T, version string, f *fixture, tt failureCase) {
	marker := filepath.Join(f.dir, "on-failure")
	f.job().Hooks.OnFailure = "printf '%s' \"$BAKC_ERROR\" > " + marker
	first := f.backup(f.options())
	require.Equal(t, runtime.ExitOK, first.ExitCode, "first run: %v", first.Failures)
	_, statErr := os.Stat(marker)
	require.True(t, os.IsNotExist(statErr), "on_failure hook ran after a successful run")
	before := len(f.snapshots("local"))

	tt.breakIt(t, f)
	o := f.options()
	if tt.lockWait != 0 {
		o.LockWait = tt.lockWait
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if tt.interrupt {
		// Status lines reach systemd only while restic backs up.
		o.Notify = func(state string) error {
			if strings.Contains(state, "% ·") {
				cancel()
			}
			return nil
		}
	}
	rep, err := runtime.Backup(ctx, f.plan, f.job().Name, o)
	require.NoError(t, err)

	if rep.ExitCode != tt.exit {
		t.Errorf("exit code %d, want %d (failures: %v)", rep.ExitCode, tt.exit, rep.Failures)
	}
	lines := f.errorLines()
	require.Len(t, lines, 1, "error lines: %+v", lines)
	l := lines[0]
	if l.Phase != tt.phase || l.Category != tt.cat || l.Repository != tt.repo || l.Job != "home" || l.Node != "forge" || l.Task != "backup" || l.Message == "" {
		t.Errorf("error line %+v; want phase %s, category %s, repository %q, job home, node forge, a message", l, tt.phase, tt.cat, tt.repo)
	}
	want, ran := resticExitFor(tt.resticExit, version)
	switch {
	case tt.interrupt:
		if l.ResticExitCode == nil {
			t.Error("error line has no restic exit code, but restic ran")
		}
	case ran && (l.ResticExitCode == nil || *l.ResticExitCode != want):
		t.Errorf("error line restic exit code %s, want %d", ptrString(l.ResticExitCode), want)
	case !ran && l.ResticExitCode != nil:
		t.Errorf("error line restic exit code %d, want none (restic did not run)", *l.ResticExitCode)
	}
	if tt.exit != runtime.ExitLockHeld {
		marked, err := os.ReadFile(marker)
		require.NoError(t, err, "on_failure hook did not run")
		if !strings.Contains(string(marked), string(tt.phase)) {
			t.Errorf("on_failure hook got BAKC_ERROR=%q, want it to name phase %s", marked, tt.phase)
		}
	}

	got := f.metrics()
	for _, o := range []runtime.Outcome{runtime.OutcomeComplete, runtime.OutcomePartial, runtime.OutcomeFailed} {
		v := 0.0
		if o == tt.outcome {
			v = 1
		}
		if k := m("bakc_backup_result", "home", "local", "result", string(o)); got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	firstStart := float64(first.Start.UnixNano()) / 1e9
	if k := m("bakc_backup_last_success_timestamp_seconds", "home", "local"); got[k] != firstStart {
		t.Errorf("%s = %v, want the first run's %v", k, got[k], firstStart)
	}
	if k := `bakc_backup_exit_code{job="home"}`; tt.exit != runtime.ExitLockHeld && got[k] != float64(tt.exit) {
		t.Errorf("%s = %v, want %d", k, got[k], tt.exit)
	}
	if tt.exit != runtime.ExitLockHeld && !tt.interrupt {
		wantRestic := -1.0
		if ran {
			wantRestic = float64(want)
		}
		if k := m("bakc_backup_restic_exit_code", "home", "local"); got[k] != wantRestic {
			t.Errorf("%s = %v, want %v", k, got[k], wantRestic)
		}
	}

	if tt.undo != nil {
		tt.undo(t, f)
	}
	wantSnaps := before
	if tt.newSnapshot {
		wantSnaps++
	}
	if got := len(f.snapshots("local")); got != wantSnaps {
		t.Errorf("%d snapshots after the failed run, want %d", got, wantSnaps)
	}
	if tt.cat != restic.CategoryLock {
		if locks, _ := os.ReadDir(filepath.Join(f.repo, "locks")); len(locks) != 0 {
			t.Errorf("%d restic locks left in the repository", len(locks))
		}
	}
}

func resticExitFor(codes map[string]int, version string) (int, bool) {
	for prefix, c := range codes {
		if strings.HasPrefix(version, prefix) {
			return c, true
		}
	}
	return 0, false
}

func ptrString(p *int) string {
	if p == nil {
		return "none"
	}
	return strconv.Itoa(*p)
}
