package runtime_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/internal/testenv"
	"github.com/holthome/bakc/runtime"
	"github.com/holthome/bakc/runtime/restic"
	"github.com/holthome/bakc/runtime/restic/restictest"
)

// addJobs gives the fixture n more jobs into its one repository, each
// with a source folder of its own holding size bytes of random data
// (enough for the backups to overlap), and retention "last 1", so that
// every run ends with a forget.
func (f *fixture) addJobs(n, size int) []string {
	f.t.Helper()
	var names []string
	for i := 1; i <= n; i++ {
		name := fmt.Sprintf("job%d", i)
		src := filepath.Join(f.dir, "src-"+name)
		require.NoError(f.t, os.MkdirAll(src, 0o755))
		data := make([]byte, size)
		rand.Read(data)
		require.NoError(f.t, os.WriteFile(filepath.Join(src, "data"), data, 0o644))
		f.plan.Jobs = append(f.plan.Jobs, plan.Job{
			Name: name, Paths: []string{src}, Repositories: []string{"local"},
			Retention: plan.Retention{Last: 1}, Tags: []string{"job:" + name}, JobTag: "job:" + name,
			Snapshot: plan.SnapshotNone,
		})
		names = append(names, name)
	}
	return names
}

// Defect 5 of issue 8: four jobs into one repository, started at the same
// moment, all succeed, forget included, and a prune started while they
// back up waits for them instead of failing or making them fail. Before
// bakc serialised what touches a repository, the first forget met the
// other backups' restic locks (category lock), and so did the prune.
func TestJobsSharingARepository(t *testing.T) {
	t.Parallel()
	testenvRoot(t)
	for _, r := range restictest.Restics(t) {
		t.Run(r.Version, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, r)
			jobs := f.addJobs(4, 24<<20)
			f.plan.Repositories[0].Prune = plan.Prune{Schedule: plan.Schedule{Calendar: "weekly"}}

			var wg sync.WaitGroup
			reports := make([]*runtime.Report, len(jobs))
			start := make(chan struct{})
			for i, job := range jobs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					rep, err := runtime.Backup(context.Background(), f.plan, job, f.options())
					if err == nil {
						reports[i] = rep
					}
				}()
			}
			close(start)
			// The prune starts once a backup's restic holds its lock in
			// the repository: it must wait, not fail, and not fail them.
			waitForResticLock(t, f.repo)
			prune, err := runtime.Prune(context.Background(), f.plan, "local", f.options())
			require.NoError(t, err)
			wg.Wait()

			for i, rep := range reports {
				require.NotNil(t, rep, "job %s: no report", jobs[i])
				if rep.ExitCode != runtime.ExitOK || len(rep.Failures) > 0 {
					t.Errorf("job %s: exit code %d, failures %v", jobs[i], rep.ExitCode, rep.Failures)
					continue
				}
				if rr := rep.Repositories[0]; rr.Outcome != runtime.OutcomeComplete || !rr.Forgotten {
					t.Errorf("job %s: outcome %s, forgotten %v; want complete and forgotten", jobs[i], rr.Outcome, rr.Forgotten)
				}
			}
			if prune.ExitCode != runtime.ExitOK {
				t.Errorf("prune: exit code %d, failures %v", prune.ExitCode, prune.Failures)
			}
			if lines := f.errorLines(); len(lines) != 0 {
				t.Errorf("error lines: %+v", lines)
			}
			require.NoError(t, f.resticFor("local").Check(context.Background(), ""), "restic check")
			if got := len(f.snapshots("local")); got != len(jobs) {
				t.Errorf("%d snapshots, want one per job (%d)", got, len(jobs))
			}
		})
	}
}

// waitForResticLock waits until restic has a lock file in the repository.
func waitForResticLock(t *testing.T, repo string) {
	t.Helper()
	for i := 0; ; i++ {
		if locks, _ := os.ReadDir(filepath.Join(repo, "locks")); len(locks) > 0 {
			return
		}
		if i == 6000 {
			t.Fatal("no restic lock appeared in the repository")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// holdRepositoryLock takes the repository's lock on this node as another
// run would, exclusively, until the test ends.
func holdRepositoryLock(t *testing.T, f *fixture) {
	t.Helper()
	path := runtime.RepositoryLockPath(f.plan.Paths.State, "local")
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	lf, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	require.NoError(t, err)
	t.Cleanup(func() { lf.Close() })
	require.NoError(t, unix.Flock(int(lf.Fd()), unix.LOCK_EX))
}

// A run that cannot have its repository waits at most Options.LockWait
// (`--lock-wait`), then fails with exit code 5 and category lock, naming
// who holds it; a prune likewise. A run still waiting stops at once on
// SIGTERM (its context ends), exit code 8.
func TestRepositoryLockWait(t *testing.T) {
	t.Parallel()
	testenvRoot(t)
	r := restictest.Restics(t)[0]

	t.Run("bounded", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, r)
		holdRepositoryLock(t, f)
		o := f.options()
		o.LockWait = time.Second
		began := time.Now()
		rep := f.backup(o)
		took := time.Since(began)
		if rep.ExitCode != runtime.ExitLockHeld || took > 20*time.Second {
			t.Errorf("exit code %d after %v, want %d soon after the 1s wait (failures %v)", rep.ExitCode, took, runtime.ExitLockHeld, rep.Failures)
		}
		prune, err := runtime.Prune(context.Background(), f.plan, "local", o)
		require.NoError(t, err)
		if prune.ExitCode != runtime.ExitLockHeld {
			t.Errorf("prune: exit code %d, want %d (failures %v)", prune.ExitCode, runtime.ExitLockHeld, prune.Failures)
		}
		lines := f.errorLines()
		require.Len(t, lines, 2, "one error line per run: %+v", lines)
		pid := fmt.Sprintf("pid %d", os.Getpid())
		for _, l := range lines {
			if l.Phase != runtime.PhaseLock || l.Category != restic.CategoryLock || l.Repository != "local" ||
				!strings.Contains(l.Message, pid) || !strings.Contains(l.Message, "--lock-wait") {
				t.Errorf("error line %+v; want phase lock, category lock, repository local, a message naming %s and --lock-wait", l, pid)
			}
		}
		got := f.metrics()
		if k := m("bakc_backup_result", "home", "local", "result", "failed"); got[k] != 1 {
			t.Errorf("%s = %v, want 1", k, got[k])
		}
	})

	t.Run("SIGTERM while waiting", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, r)
		holdRepositoryLock(t, f)
		o := f.options()
		o.LockWait = time.Hour
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		waiting := make(chan struct{})
		var once sync.Once
		o.Notify = func(state string) error {
			if strings.Contains(state, "backing up to local") {
				once.Do(func() { close(waiting) })
			}
			return nil
		}
		done := make(chan *runtime.Report, 1)
		go func() {
			rep, _ := runtime.Backup(ctx, f.plan, f.job().Name, o)
			done <- rep
		}()
		select {
		case <-waiting:
		case <-time.After(time.Minute):
			t.Fatal("the run did not get to its backup")
		}
		time.Sleep(300 * time.Millisecond) // well into the wait
		cancel()
		select {
		case rep := <-done:
			if rep.ExitCode != runtime.ExitInterrupted {
				t.Errorf("exit code %d, want %d (failures %v)", rep.ExitCode, runtime.ExitInterrupted, rep.Failures)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("the run did not stop within 5s of SIGTERM while waiting for the repository")
		}
	})
}

// What bakc waits for is its own runs; a lock that restic finds in the
// repository is another host's or an administrator's restic. restic ≥
// 0.16 waits for it (--retry-lock, what is left of Options.LockWait), so
// a backup started while another restic holds the repository for a few
// seconds succeeds; restic 0.14 has no such flag and fails at once.
func TestResticWaitsForAForeignLock(t *testing.T) {
	t.Parallel()
	testenvRoot(t)
	for _, r := range restictest.Restics(t) {
		t.Run(r.Version, func(t *testing.T) {
			t.Parallel()
			v, err := restic.ParseVersion("restic " + r.Version)
			require.NoError(t, err)
			f := newFixture(t, r)
			release := holdForeignLock(t, r, f.repo, f.repository("local").PasswordFile)
			time.AfterFunc(3*time.Second, release)
			o := f.options()
			o.LockWait = time.Minute
			rep := f.backup(o)
			switch {
			case v.HasRetryLock() && rep.ExitCode != runtime.ExitOK:
				t.Errorf("restic %s: exit code %d, want 0: restic should have waited for the lock (failures %v)", r.Version, rep.ExitCode, rep.Failures)
			case !v.HasRetryLock() && (rep.ExitCode != runtime.ExitTaskFailed || rep.Failures[0].Category != restic.CategoryLock):
				t.Errorf("restic %s: exit code %d, failures %v; want exit 3, category lock", r.Version, rep.ExitCode, rep.Failures)
			}
		})
	}
}

// holdForeignLock makes another restic hold the repository exclusively
// (`restic key passwd` waiting for a new password) until release is
// called, which gives it an empty password: it gives up and removes its
// lock.
func holdForeignLock(t *testing.T, r testenv.Restic, repo, passwordFile string) (release func()) {
	t.Helper()
	cmd := exec.Command(r.Path, "--repo", repo, "--password-file", passwordFile, "--no-cache", "key", "passwd")
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	var once sync.Once
	release = func() { once.Do(func() { stdin.Close() }) }
	t.Cleanup(func() {
		release()
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
		}
	})
	waitForResticLock(t, repo)
	time.Sleep(500 * time.Millisecond) // restic checks for others after writing its lock
	return release
}
