package alerts_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/holthome/bakc/compiler"
	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/internal/testenv"
	"github.com/holthome/bakc/runtime"
	"github.com/holthome/bakc/runtime/restic/restictest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if runDir != "" {
		os.RemoveAll(runDir)
	}
	restictest.Cleanup()
	os.Exit(code)
}

// t0 is the simulated start of the real runs (Options.Now): promtool's
// clock starts at 0, so the runs happen on its clock, a week in, and a
// last success of 0 ("never") is a week older than any real one.
var t0 = time.Unix(7*24*3600, 0).UTC()

// testFleet is the fleet of the promtool tests, compiled.
func testFleet(t *testing.T) *plan.Plan {
	t.Helper()
	f, diags := compiler.LoadFleet("testdata/fleet")
	require.False(t, diags.HasErrors(), "%s", diags)
	require.Empty(t, f.Validate())
	p, diags := f.Plan("web")
	require.Empty(t, diags)
	return p
}

// realRun is what the runtime wrote when it ran the test fleet's node
// for real: every metrics file, the error log, and when it ran.
type realRun struct {
	// files are the textfiles by name.
	files map[string][]byte
	// mtimes are their modification times, in whole seconds (as
	// node_exporter reports them) on the simulated clock.
	mtimes map[string]int64
	errors []runtime.ErrorLine
}

var (
	runOnce sync.Once
	theRun  *realRun
	runErr  error
	// runDir holds the run's files for the test binary's life.
	runDir string
)

// runNode runs the test fleet's node once per test binary, for real,
// with restic and the runtime's clock at t0: the jobs daily and hourly
// back up into a real repository, broken fails (its repository's
// folder does not exist), then verify checks the repository. The plan
// is the compiled one with its folders moved into a temporary folder;
// the names, which are the metrics' labels, are the plan's.
func runNode(t *testing.T) *realRun {
	t.Helper()
	testenv.Root(t)
	rs := restictest.Restics(t)
	r := rs[len(rs)-1]
	runOnce.Do(func() { theRun, runErr = doRun(t, r) })
	require.NoError(t, runErr)
	require.NotNil(t, theRun, "the real run failed in an earlier test")
	return theRun
}

func doRun(t *testing.T, r testenv.Restic) (*realRun, error) {
	dir, err := os.MkdirTemp("", "bakc-alerts-run-")
	if err != nil {
		return nil, err
	}
	runDir = dir
	f, diags := compiler.LoadFleet("testdata/fleet")
	if diags.HasErrors() {
		return nil, diags
	}
	p, diags := f.Plan("web")
	if diags.HasErrors() {
		return nil, diags
	}
	p.Paths = plan.Paths{Plan: filepath.Join(dir, "plan.json"), State: filepath.Join(dir, "state"), Cache: filepath.Join(dir, "cache"), Log: filepath.Join(dir, "log")}
	p.Monitoring.TextfileDir = filepath.Join(dir, "textfile")
	p.Monitoring.ErrorLog = filepath.Join(dir, "log", "errors.jsonl")
	src := filepath.Join(dir, "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(src, "a.txt"), []byte("alpha"), 0o644); err != nil {
		return nil, err
	}
	pw := filepath.Join(dir, "password")
	if err := os.WriteFile(pw, []byte(restictest.Password+"\n"), 0o600); err != nil {
		return nil, err
	}
	repo := filepath.Join(dir, "repo")
	restictest.InitRepo(t, r, repo)
	restictest.ChownTree(t, repo, p.User.UID, p.User.GID)
	for i := range p.Repositories {
		p.Repositories[i].PasswordFile = pw
		switch p.Repositories[i].Name {
		case "local":
			p.Repositories[i].URL = repo
		case "gone":
			p.Repositories[i].URL = filepath.Join(dir, "no-such-folder")
		}
	}
	for i := range p.Jobs {
		p.Jobs[i].Paths = []string{src}
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	o := runtime.Options{Restic: r.Path, Now: func() time.Time { return t0 }}
	began := time.Now()
	for _, job := range []string{"daily", "hourly", "broken"} {
		if _, err := runtime.Backup(context.Background(), p, job, o); err != nil {
			return nil, err
		}
	}
	for _, task := range []func(context.Context, *plan.Plan, string, runtime.Options) (*runtime.TaskReport, error){runtime.Verify, runtime.RestoreTest, runtime.Prune} {
		rep, err := task(context.Background(), p, "local", o)
		if err != nil {
			return nil, err
		}
		if rep.ExitCode != runtime.ExitOK {
			return nil, fmt.Errorf("%s of local failed: %v", rep.Task, rep.Failures)
		}
		// And on the repository that is not there: the failure's metrics.
		if rep, err = task(context.Background(), p, "gone", o); err != nil {
			return nil, err
		}
		if rep.ExitCode == runtime.ExitOK {
			return nil, fmt.Errorf("%s of gone did not fail", rep.Task)
		}
	}
	run := &realRun{files: map[string][]byte{}, mtimes: map[string]int64{}}
	entries, err := os.ReadDir(p.Monitoring.TextfileDir)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".prom") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(p.Monitoring.TextfileDir, e.Name()))
		if err != nil {
			return nil, err
		}
		info, err := e.Info()
		if err != nil {
			return nil, err
		}
		run.files[e.Name()] = data
		// The real mtime, moved onto the simulated clock with the runs.
		run.mtimes[e.Name()] = t0.Unix() + int64(info.ModTime().Sub(began)/time.Second)
	}
	lines, err := readErrorLog(p.Monitoring.ErrorLog)
	if err != nil {
		return nil, err
	}
	run.errors = lines
	return run, nil
}

// scrape is a metrics file as Prometheus stores it after scraping
// node_exporter's textfile collector with the default honor_labels:
// false: the target's labels job ("node", the scrape job) and instance
// are added, and a label of the file that has the same name as one of
// them (the backup metrics' job) is renamed exported_<name>.
type scraped struct {
	metric string
	labels map[string]string
	value  float64
}

const (
	scrapeJob      = "node"
	scrapeInstance = "web.example.net:9100"
)

func scrape(t *testing.T, name string, data []byte) []scraped {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(string(data)))
	require.NoError(t, err, "%s does not parse as node_exporter reads it", name)
	var out []scraped
	for metric, fam := range fams {
		for _, m := range fam.GetMetric() {
			ls := map[string]string{}
			for _, l := range m.GetLabel() {
				n := l.GetName()
				if n == "job" || n == "instance" {
					n = "exported_" + n
				}
				if l.GetValue() != "" {
					ls[n] = l.GetValue()
				}
			}
			ls["job"], ls["instance"] = scrapeJob, scrapeInstance
			out = append(out, scraped{metric: metric, labels: ls, value: m.GetGauge().GetValue()})
		}
	}
	return out
}

// seriesText is a series as promtool's input_series names it.
func seriesText(s scraped) string {
	keys := make([]string, 0, len(s.labels))
	for k := range s.labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%q", k, s.labels[k]))
	}
	return s.metric + "{" + strings.Join(parts, ",") + "}"
}

// inputSeries are the run's files (those for which keep is true) as
// promtool input series sampled every interval, absent before t0 and
// constant from then on for n samples — the textfile does not change
// until the next run — with node_exporter's node_textfile_mtime_seconds
// of each file.
func (run *realRun) inputSeries(t *testing.T, keep func(file string) bool, interval time.Duration, until time.Duration) []map[string]string {
	t.Helper()
	before := int(t0.Unix() / int64(interval.Seconds()))
	n := int(until / interval)
	values := func(v float64) string {
		return strings.Repeat("_ ", before) + strconv.FormatFloat(v, 'g', -1, 64) + "+0x" + strconv.Itoa(n)
	}
	var names []string
	for name := range run.files {
		if keep(name) {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	var out []map[string]string
	for _, name := range names {
		for _, s := range scrape(t, name, run.files[name]) {
			out = append(out, map[string]string{"series": seriesText(s), "values": values(s.value)})
		}
		mtime := scraped{metric: "node_textfile_mtime_seconds", labels: map[string]string{"file": name, "job": scrapeJob, "instance": scrapeInstance}}
		out = append(out, map[string]string{"series": seriesText(mtime), "values": values(float64(run.mtimes[name]))})
	}
	return out
}

// readErrorLog reads the run's error lines.
func readErrorLog(path string) ([]runtime.ErrorLine, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var lines []runtime.ErrorLine
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var e runtime.ErrorLine
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			return nil, fmt.Errorf("error line %q: %w", l, err)
		}
		lines = append(lines, e)
	}
	return lines, nil
}

// metricNames are the names of every metric the run wrote.
func (run *realRun) metricNames(t *testing.T) map[string]bool {
	names := map[string]bool{}
	for name, data := range run.files {
		for _, s := range scrape(t, name, data) {
			names[s.metric] = true
		}
	}
	return names
}
