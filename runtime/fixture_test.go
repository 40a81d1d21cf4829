package runtime_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/internal/testenv"
	"github.com/holthome/bakc/runtime"
	"github.com/holthome/bakc/runtime/restic"
	"github.com/holthome/bakc/runtime/restic/restictest"
)

func TestMain(m *testing.M) { restictest.Main(m) }

// backupUID is the plan's backup user, as in the example fleet. Run as
// root (as the tests are), the runtime starts restic as this uid.
const backupUID = 2049

// fixture is a node with one local repository and one job, all in a
// temporary folder, with a real restic repository owned by the backup
// user.
type fixture struct {
	t      *testing.T
	dir    string
	restic testenv.Restic
	plan   *plan.Plan
	src    string
	repo   string
}

func newFixture(t *testing.T, r testenv.Restic) *fixture {
	t.Helper()
	dir := t.TempDir()
	f := &fixture{t: t, dir: dir, restic: r, src: filepath.Join(dir, "src"), repo: filepath.Join(dir, "repo")}
	restictest.InitRepo(t, r, f.repo)
	restictest.ChownTree(t, f.repo, backupUID, backupUID)
	require.NoError(t, os.Chmod(f.repo, 0o700))
	f.write("a.txt", "alpha")
	f.write("sub/b.txt", "bravo")
	f.write("sub/skip.tmp", "excluded")
	f.plan = &plan.Plan{
		Version: plan.Version,
		Node:    plan.Node{Name: "forge"},
		User:    plan.User{Name: "bakc", Group: "bakc", UID: backupUID, GID: backupUID},
		Paths: plan.Paths{
			Plan:  filepath.Join(dir, "plan.json"),
			State: filepath.Join(dir, "state"),
			Cache: filepath.Join(dir, "cache"),
			Log:   filepath.Join(dir, "log"),
		},
		Monitoring: plan.Monitoring{
			TextfileDir: filepath.Join(dir, "textfile"),
			ErrorLog:    filepath.Join(dir, "log", "errors.jsonl"),
		},
		Repositories: []plan.Repository{{
			Name: "local", Kind: plan.KindLocal, URL: f.repo, PasswordFile: restictest.PasswordFile(t),
		}},
		Jobs: []plan.Job{{
			Name:         "home",
			Paths:        []string{f.src},
			Exclude:      []string{"**/*.tmp"},
			Repositories: []string{"local"},
			Retention:    plan.Retention{Daily: 14, Weekly: 8, Monthly: 6, Yearly: 2},
			Tags:         []string{"job:home", "nightly"},
			JobTag:       "job:home",
			Snapshot:     plan.SnapshotNone,
		}},
	}
	return f
}

func (f *fixture) write(name, content string) {
	f.t.Helper()
	p := filepath.Join(f.src, name)
	require.NoError(f.t, os.MkdirAll(filepath.Dir(p), 0o755))
	require.NoError(f.t, os.WriteFile(p, []byte(content), 0o644))
}

func (f *fixture) job() *plan.Job { return &f.plan.Jobs[0] }

func (f *fixture) repository(name string) *plan.Repository {
	r, ok := f.plan.Repository(name)
	require.True(f.t, ok, name)
	return r
}

// options are the runtime's options for the fixture: its restic, a log
// into the test's output.
func (f *fixture) options() runtime.Options {
	return runtime.Options{Restic: f.restic.Path, Log: testLogger(f.t)}
}

// backup runs the job and returns the report.
func (f *fixture) backup(o runtime.Options) *runtime.Report {
	f.t.Helper()
	rep, err := runtime.Backup(context.Background(), f.plan, f.job().Name, o)
	require.NoError(f.t, err)
	return rep
}

// resticFor is restic on the fixture's repository, run by the test as
// root, with its own cache.
func (f *fixture) resticFor(repo string) *restic.Restic {
	r := f.repository(repo)
	return &restic.Restic{Binary: f.restic.Path, Repo: r.URL, PasswordFile: r.PasswordFile, CacheDir: filepath.Join(f.dir, "test-cache")}
}

// snapshots lists a repository's snapshots without taking restic's lock
// (another restic may hold it exclusively in a test).
func (f *fixture) snapshots(repo string) []restic.Snapshot {
	f.t.Helper()
	var out []byte
	err := f.resticFor(repo).Run(context.Background(), []string{"snapshots", "--json", "--no-lock"}, func(line []byte) {
		out = append(out, line...)
	})
	require.NoError(f.t, err)
	var snaps []restic.Snapshot
	require.NoError(f.t, json.Unmarshal(out, &snaps))
	return snaps
}

// readMetrics reads a textfile as testenv.ReadMetrics does.
func readMetrics(t *testing.T, path string) map[string]float64 {
	t.Helper()
	return testenv.ReadMetrics(t, path)
}

func (f *fixture) metrics() map[string]float64 {
	return readMetrics(f.t, filepath.Join(f.plan.Monitoring.TextfileDir, "bakc-backup-"+f.job().Name+".prom"))
}

// errorLines reads the error log; none when it does not exist.
func (f *fixture) errorLines() []runtime.ErrorLine {
	f.t.Helper()
	file, err := os.Open(f.plan.Monitoring.ErrorLog)
	if os.IsNotExist(err) {
		return nil
	}
	require.NoError(f.t, err)
	defer file.Close()
	var lines []runtime.ErrorLine
	sc := bufio.NewScanner(file)
	for sc.Scan() {
		var l runtime.ErrorLine
		require.NoError(f.t, json.Unmarshal(sc.Bytes(), &l), "error line %q", sc.Text())
		lines = append(lines, l)
	}
	return lines
}

// m is a metric key for the fixture's job and a repository.
func m(name, job, repo string, extra ...string) string {
	ls := []string{fmt.Sprintf("job=%q", job), fmt.Sprintf("repository=%q", repo)}
	for i := 0; i+1 < len(extra); i += 2 {
		ls = append(ls, fmt.Sprintf("%s=%q", extra[i], extra[i+1]))
	}
	sort.Strings(ls)
	return name + "{" + strings.Join(ls, ",") + "}"
}

// day is noon of the given day, local time (restic --time is local).
func day(y int, mo time.Month, d int) time.Time { return time.Date(y, mo, d, 12, 0, 0, 0, time.Local) }
