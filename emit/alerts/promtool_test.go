package alerts_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/emit/alerts"
	"github.com/holthome/bakc/internal/testenv"
	"github.com/holthome/bakc/runtime"
)

// promtool's rule unit test file (promtool test rules).
type promTest struct {
	RuleFiles          []string    `yaml:"rule_files"`
	EvaluationInterval string      `yaml:"evaluation_interval"`
	Tests              []testGroup `yaml:"tests"`
}

type testGroup struct {
	Name          string              `yaml:"name"`
	Interval      string              `yaml:"interval"`
	InputSeries   []map[string]string `yaml:"input_series"`
	AlertRuleTest []alertTest         `yaml:"alert_rule_test"`
}

type alertTest struct {
	EvalTime  string     `yaml:"eval_time"`
	Alertname string     `yaml:"alertname"`
	ExpAlerts []expAlert `yaml:"exp_alerts"`
}

type expAlert struct {
	ExpLabels      map[string]string `yaml:"exp_labels"`
	ExpAnnotations map[string]string `yaml:"exp_annotations"`
}

// at is an eval_time: d after the runs.
func at(d time.Duration) string { return model.Duration(t0.Sub(time.Unix(0, 0)) + d).String() }

// humanizeDuration is Prometheus' template function of that name for a
// whole number of seconds (template/template.go), as the summaries use it.
func humanizeDuration(s int64) string {
	d, h, m, sec := s/86400, s/3600%24, s/60%60, s%60
	switch {
	case d != 0:
		return fmt.Sprintf("%dd %dh %dm %ds", d, h, m, sec)
	case h != 0:
		return fmt.Sprintf("%dh %dm %ds", h, m, sec)
	case m != 0:
		return fmt.Sprintf("%dm %ds", m, sec)
	}
	return fmt.Sprintf("%ds", sec)
}

// rulesOf reads the generated rules back, to take the annotations that
// are plain text (description, threshold) from them; the summaries,
// which are templates, are written out in the tests.
type rulesFile struct {
	Groups []struct {
		Rules []struct {
			Alert       string            `yaml:"alert"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

func annotations(t *testing.T, rules []byte, alert, task, name, summary string) map[string]string {
	t.Helper()
	var f rulesFile
	require.NoError(t, yaml.Unmarshal(rules, &f))
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			if r.Alert == alert && r.Labels["task"] == task && r.Labels["name"] == name {
				out := map[string]string{}
				for k, v := range r.Annotations {
					out[k] = v
				}
				out["summary"] = summary
				return out
			}
		}
	}
	t.Fatalf("no rule %s for %s %s", alert, task, name)
	return nil
}

// labels are an alert's labels on the test node: the rule's, the
// series', the join's node and the scrape's.
func labels(kv ...string) map[string]string {
	out := map[string]string{"node": "web", "instance": scrapeInstance}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

// runPromtool writes the rules and the test file and runs promtool test
// rules; it returns promtool's output and whether it passed.
func runPromtool(t *testing.T, rules []byte, test promTest) (string, bool) {
	t.Helper()
	promtool := testenv.LookPath(t, "promtool")
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "rules.yml"), rules, 0o644))
	test.RuleFiles = []string{"rules.yml"}
	test.EvaluationInterval = "1m"
	data, err := yaml.Marshal(test)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "test.yml"), data, 0o644))
	cmd := exec.Command(promtool, "test", "rules", "test.yml")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	return string(out), err == nil
}

// The generated rules under promtool test rules, fed with the series of a
// real run of the test fleet (realrun_test.go: restic backups of a daily
// job, an hourly job and a job that fails, a verify, a restore test and a
// prune, their metrics
// files read back and scraped as Prometheus scrapes node_exporter). The
// thresholds are worked out by hand from the schedules, not by the code
// under test: daily 25 h (the day summer time ends) + 30 m delay + 1 h
// grace = 26 h 30 m; hourly 2 h (systemd's repeated hour) + 5 m + 1 h =
// 3 h 5 m; the weekly verify (Saturday 03:30) 7 d 1 h + 30 m + 1 h =
// 7 d 2 h 30 m. Each alert is asserted a minute before its threshold
// (not firing) and a minute after (firing), with its labels and
// annotations; the failed job's alert carries the category of its real
// failure, as the error log has it.
func TestPromtoolRuleTests(t *testing.T) {
	p := testFleet(t)
	rules, err := alerts.Rules([]*plan.Plan{p}, alerts.Options{})
	require.NoError(t, err)
	run := runNode(t)

	var broken *runtime.ErrorLine
	for i, l := range run.errors {
		if l.Job == "broken" {
			broken = &run.errors[i]
		}
	}
	require.NotNil(t, broken, "the broken job's error line: %+v", run.errors)
	require.NotEmpty(t, broken.Category)

	backups := func(name string) bool {
		return strings.HasPrefix(name, "bakc-backup-") || strings.HasPrefix(name, "bakc-repository-") || name == "bakc-node.prom"
	}
	verify := func(name string) bool { return name == "bakc-verify-local.prom" || name == "bakc-node.prom" }

	var lastWrite int64
	for name, m := range run.mtimes {
		if backups(name) {
			lastWrite = max(lastWrite, m)
		}
	}
	daily, hourly, weekly := 26*time.Hour+30*time.Minute, 3*time.Hour+5*time.Minute, 7*24*time.Hour+2*time.Hour+30*time.Minute
	overdue := func(job, repo string, age time.Duration) expAlert {
		return expAlert{
			ExpLabels: labels("severity", "critical", "task", "backup", "name", job, "exported_job", job, "repository", repo, "job", scrapeJob),
			ExpAnnotations: annotations(t, rules, "BakcOverdue", "backup", job,
				fmt.Sprintf("web: backup %s has not succeeded into %s for %s", job, repo, humanizeDuration(int64(age.Seconds())))),
		}
	}
	// broken has never succeeded: its last success is 0.
	never := func(after time.Duration) expAlert {
		return overdue("broken", "gone", t0.Sub(time.Unix(0, 0))+after)
	}
	stale := func(after time.Duration) expAlert {
		age := t0.Unix() + int64(after.Seconds()) - lastWrite
		return expAlert{
			ExpLabels: labels("severity", "critical"),
			ExpAnnotations: map[string]string{
				"summary":     "web: bakc has written no metrics for " + humanizeDuration(age),
				"description": "No bakc task has run on web for longer than its most frequent task may be late (3h5m): are its timers running (systemctl list-timers 'bakc-*')?",
			},
		}
	}
	minute := time.Minute
	test := promTest{Tests: []testGroup{
		{
			Name:        "backups: daily, hourly, failed",
			Interval:    "5m",
			InputSeries: run.inputSeries(t, backups, 5*time.Minute, 27*time.Hour),
			AlertRuleTest: []alertTest{
				{EvalTime: at(-5 * minute), Alertname: "BakcBackupFailed"},
				{EvalTime: at(minute), Alertname: "BakcBackupFailed", ExpAlerts: []expAlert{{
					ExpLabels: labels("severity", "warning", "task", "backup", "exported_job", "broken", "repository", broken.Repository,
						"phase", string(broken.Phase), "category", string(broken.Category), "job", scrapeJob),
					ExpAnnotations: map[string]string{
						"summary":     fmt.Sprintf("web: the last run of backup broken failed (%s, phase %s)", broken.Category, broken.Phase),
						"description": "The last run of the job failed in repository gone. The error log (/var/log/bakc/errors.jsonl) has the message; the alert ends with the next successful run.",
					},
				}}},
				{EvalTime: at(minute), Alertname: "BakcOverdue", ExpAlerts: []expAlert{never(minute)}},
				{EvalTime: at(hourly - minute), Alertname: "BakcOverdue", ExpAlerts: []expAlert{never(hourly - minute)}},
				{EvalTime: at(hourly + minute), Alertname: "BakcOverdue", ExpAlerts: []expAlert{never(hourly + minute), overdue("hourly", "local", hourly+minute)}},
				{EvalTime: at(daily - minute), Alertname: "BakcOverdue", ExpAlerts: []expAlert{never(daily - minute), overdue("hourly", "local", daily-minute)}},
				{EvalTime: at(daily + minute), Alertname: "BakcOverdue", ExpAlerts: []expAlert{never(daily + minute), overdue("hourly", "local", daily+minute), overdue("daily", "local", daily+minute)}},
				{EvalTime: at(hourly - minute), Alertname: "BakcNodeMetricsStale"},
				{EvalTime: at(hourly + minute), Alertname: "BakcNodeMetricsStale", ExpAlerts: []expAlert{stale(hourly + minute)}},
				{EvalTime: at(daily), Alertname: "BakcNodeMetricsAbsent"},
			},
		},
		{
			Name:        "weekly verify; a job that never reported",
			Interval:    "5m",
			InputSeries: run.inputSeries(t, verify, 5*time.Minute, weekly+10*time.Minute),
			AlertRuleTest: []alertTest{
				{EvalTime: at(minute), Alertname: "BakcTaskFailed"},
				{EvalTime: at(weekly - minute), Alertname: "BakcOverdue"},
				{EvalTime: at(weekly + minute), Alertname: "BakcOverdue", ExpAlerts: []expAlert{{
					ExpLabels: labels("severity", "critical", "task", "verify", "name", "local", "repository", "local", "job", scrapeJob),
					ExpAnnotations: annotations(t, rules, "BakcOverdue", "verify", "local",
						"web: verify of local has not succeeded for "+humanizeDuration(int64((weekly+minute).Seconds()))),
				}}},
				// The node reports, the hourly job never did: its timer
				// never fired. bakc_node_info has no repository.
				{EvalTime: at(hourly - minute), Alertname: "BakcNeverReported"},
				{EvalTime: at(hourly + minute), Alertname: "BakcNeverReported", ExpAlerts: []expAlert{{
					ExpLabels:      labels("severity", "critical", "task", "backup", "name", "hourly", "job", scrapeJob),
					ExpAnnotations: annotations(t, rules, "BakcNeverReported", "backup", "hourly", "web: backup hourly has never reported"),
				}}},
			},
		},
	}}
	out, ok := runPromtool(t, rules, test)
	require.True(t, ok, "promtool test rules failed:\n%s", out)
	t.Logf("promtool: %s", strings.TrimSpace(out))

	// The same test with the daily job's threshold a minute early must
	// fail: the assertions can fail.
	wrong := test
	wrong.Tests = append([]testGroup(nil), test.Tests[0])
	g := wrong.Tests[0]
	g.AlertRuleTest = append([]alertTest(nil), g.AlertRuleTest...)
	g.AlertRuleTest[5].ExpAlerts = append(g.AlertRuleTest[5].ExpAlerts, overdue("daily", "local", daily-minute))
	wrong.Tests[0] = g
	out, ok = runPromtool(t, rules, wrong)
	require.False(t, ok, "promtool accepted a daily alert a minute before its threshold:\n%s", out)
	require.Contains(t, out, "BakcOverdue")
}
