package alerts_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/holthome/bakc/internal/testenv"
)

// metricRE finds the metric names in a query: bakc's and node_exporter's
// (labels such as node are not followed by an underscore).
var metricRE = regexp.MustCompile(`\b(?:bakc|node)_[a-z0-9_]+\b`)

// sourceMetricRE finds metric names the runtime's code spells out.
var sourceMetricRE = regexp.MustCompile(`"(bakc_[a-z0-9_]+)"`)

// The dashboard as Grafana reads it: it parses as the dashboard model
// (title, uid, schemaVersion, templating with the data source and the
// fleet's nodes, panels with unique ids inside the 24-column grid, each
// on the data source variable), every query is PromQL that promtool
// parses, and every metric a query names is one the runtime writes:
// read from the files of a real run (realrun_test.go), or, for the
// quota, which only an NFS repository with one has, from the runtime's
// code, besides node_exporter's textfile timestamp.
func TestDashboard(t *testing.T) {
	outs := exampleOutputs(t)
	var d struct {
		Title         string `json:"title"`
		UID           string `json:"uid"`
		SchemaVersion int    `json:"schemaVersion"`
		Templating    struct {
			List []struct {
				Name, Type, Query string
				Options           []struct{ Value any }
			}
		}
		Panels []struct {
			ID         int
			Type       string
			Title      string
			GridPos    struct{ H, W, X, Y int }
			Datasource struct{ Type, UID string }
			Targets    []struct {
				RefID      string `json:"refId"`
				Expr       string
				Datasource struct{ Type, UID string }
			}
		}
	}
	require.NoError(t, json.Unmarshal(outs["dashboard.json"], &d))
	require.NotEmpty(t, d.Title)
	require.Equal(t, "bakc-backups", d.UID)
	require.GreaterOrEqual(t, d.SchemaVersion, 36, "datasource references by uid")
	require.Len(t, d.Templating.List, 2)
	require.Equal(t, "datasource", d.Templating.List[0].Type)
	require.Equal(t, "prometheus", d.Templating.List[0].Query)
	require.Equal(t, "node", d.Templating.List[1].Name)
	require.Equal(t, "cluster-0,forge,luna", d.Templating.List[1].Query)

	run := runNode(t)
	written := run.metricNames(t)
	written["node_textfile_mtime_seconds"] = true
	sources, err := filepath.Glob("../../runtime/*.go")
	require.NoError(t, err)
	inCode := map[string]bool{}
	for _, file := range sources {
		if strings.HasSuffix(file, "_test.go") {
			continue
		}
		data, err := os.ReadFile(file)
		require.NoError(t, err)
		for _, m := range sourceMetricRE.FindAllStringSubmatch(string(data), -1) {
			inCode[m[1]] = true
		}
	}
	require.True(t, inCode["bakc_repository_quota_bytes"])
	written["bakc_repository_quota_bytes"] = true
	// The replication metrics are written on the NAS, by `bakc run
	// replicate` (cmd/bakc's TestReplicationWithSyncoid reads them from
	// a real pull), not by the node's run here.
	for _, m := range []string{"bakc_replication_newest_snapshot_timestamp_seconds", "bakc_replication_failure_info", "bakc_replication_success"} {
		require.True(t, inCode[m], m)
		written[m] = true
	}

	ids := map[int]bool{}
	var rules []map[string]string
	used := map[string]bool{}
	for _, p := range d.Panels {
		require.False(t, ids[p.ID], "panel id %d twice", p.ID)
		ids[p.ID] = true
		require.NotEmpty(t, p.Title)
		require.Contains(t, []string{"stat", "timeseries", "table", "bargauge"}, p.Type)
		require.True(t, p.GridPos.W > 0 && p.GridPos.H > 0 && p.GridPos.X+p.GridPos.W <= 24, "panel %q outside the grid: %+v", p.Title, p.GridPos)
		require.Equal(t, "${datasource}", p.Datasource.UID)
		refs := map[string]bool{}
		require.NotEmpty(t, p.Targets, p.Title)
		for _, tg := range p.Targets {
			require.False(t, refs[tg.RefID], "refId %s twice in %q", tg.RefID, p.Title)
			refs[tg.RefID] = true
			require.Equal(t, "${datasource}", tg.Datasource.UID)
			names := metricRE.FindAllString(tg.Expr, -1)
			require.NotEmpty(t, names, "query %q names no metric", tg.Expr)
			for _, n := range names {
				used[n] = true
				require.True(t, written[n], "panel %q queries %s, which the runtime does not write (a real run wrote %v)", p.Title, n, sortedKeys(written))
			}
			// Grafana replaces $node by a regex of the chosen nodes.
			expr := strings.ReplaceAll(tg.Expr, "$node", "cluster-0|forge|luna")
			rules = append(rules, map[string]string{"record": fmt.Sprintf("bakc:panel%d_%s", p.ID, strings.ToLower(tg.RefID)), "expr": expr})
		}
	}
	t.Logf("the dashboard's queries name %v", sortedKeys(used))

	// The alert rules name only written metrics too.
	var rf struct {
		Groups []struct {
			Rules []struct{ Alert, Expr string }
		}
	}
	require.NoError(t, yaml.Unmarshal(outs["alerts.yml"], &rf))
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			for _, n := range metricRE.FindAllString(r.Expr, -1) {
				require.True(t, written[n], "alert %s queries %s, which the runtime does not write", r.Alert, n)
			}
		}
	}

	promtool := testenv.LookPath(t, "promtool")
	data, err := yaml.Marshal(map[string]any{"groups": []any{map[string]any{"name": "dashboard", "rules": rules}}})
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "queries.yml")
	require.NoError(t, os.WriteFile(path, data, 0o644))
	out, err := exec.Command(promtool, "check", "rules", path).CombinedOutput()
	require.NoError(t, err, "a dashboard query is not PromQL:\n%s", out)
}

func sortedKeys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
