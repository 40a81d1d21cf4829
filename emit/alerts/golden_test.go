package alerts_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/holthome/bakc/compiler"
	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/emit/alerts"
	"github.com/holthome/bakc/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite examples/homelab/out/monitoring/*")

const exampleFleet = "../../examples/homelab"

// examplePlans are the example fleet's plans and sources, as `bakc
// alerts examples/homelab` makes them.
func examplePlans(t *testing.T) ([]*plan.Plan, []string) {
	t.Helper()
	f, diags := compiler.LoadFleet(exampleFleet)
	require.False(t, diags.HasErrors(), "%s", diags)
	require.Empty(t, f.Validate())
	var plans []*plan.Plan
	sources := []string{"bakc.hcl"}
	for _, n := range f.NodeNames() {
		p, diags := f.Plan(n)
		require.Empty(t, diags)
		plans = append(plans, p)
		sources = append(sources, p.Source)
	}
	return plans, sources
}

// exampleOutputs are the four monitoring outputs of the example fleet.
func exampleOutputs(t *testing.T) map[string][]byte {
	t.Helper()
	plans, sources := examplePlans(t)
	o := alerts.Options{Sources: sources}
	rules, err := alerts.Rules(plans, o)
	require.NoError(t, err)
	rulesNix, err := alerts.RulesNix(rules, sources)
	require.NoError(t, err)
	dash, err := alerts.Dashboard(plans, o)
	require.NoError(t, err)
	dashNix, err := alerts.DashboardNix(dash, sources)
	require.NoError(t, err)
	return map[string][]byte{"alerts.yml": rules, "alerts.nix": rulesNix, "dashboard.json": dash, "dashboard.nix": dashNix}
}

// The example fleet's rules and dashboard are golden files under
// examples/homelab/out/monitoring; -update rewrites them (review the
// diff). A second generation gives the same bytes.
func TestGoldenMonitoring(t *testing.T) {
	got := exampleOutputs(t)
	again := exampleOutputs(t)
	for name, data := range got {
		require.Equal(t, string(data), string(again[name]), "%s differs between two generations", name)
		file := filepath.Join(exampleFleet, "out", "monitoring", name)
		if *update {
			require.NoError(t, os.MkdirAll(filepath.Dir(file), 0o755))
			require.NoError(t, os.WriteFile(file, data, 0o644))
			continue
		}
		want, err := os.ReadFile(file)
		require.NoError(t, err, "run go test ./emit/alerts -update to create it")
		if !bytes.Equal(want, data) {
			t.Errorf("%s differs (-want +got):\n%s", file, cmp.Diff(string(want), string(data)))
		}
	}
}

// promtool check rules accepts every generated rules file: the example
// fleet's, one node's alone, the test fleet's, and with --job-label job.
func TestPromtoolCheckRules(t *testing.T) {
	promtool := testenv.LookPath(t, "promtool")
	plans, sources := examplePlans(t)
	files := map[string][]byte{}
	var err error
	files["homelab"], err = alerts.Rules(plans, alerts.Options{Sources: sources})
	require.NoError(t, err)
	for _, p := range plans {
		files["node-"+p.Node.Name], err = alerts.Rules([]*plan.Plan{p}, alerts.Options{})
		require.NoError(t, err)
	}
	files["honor-labels"], err = alerts.Rules(plans, alerts.Options{JobLabel: "job"})
	require.NoError(t, err)
	files["test-fleet"], err = alerts.Rules([]*plan.Plan{testFleet(t)}, alerts.Options{})
	require.NoError(t, err)
	committed, err := os.ReadFile(filepath.Join(exampleFleet, "out", "monitoring", "alerts.yml"))
	require.NoError(t, err)
	files["committed"] = committed
	dir := t.TempDir()
	for name, data := range files {
		path := filepath.Join(dir, name+".yml")
		require.NoError(t, os.WriteFile(path, data, 0o644))
		out, err := exec.Command(promtool, "check", "rules", path).CombinedOutput()
		require.NoError(t, err, "promtool check rules %s:\n%s", name, out)
		require.Contains(t, string(out), "SUCCESS", name)
	}
	// promtool is not a rubber stamp here: a rule with a broken
	// expression is refused.
	bad := bytes.Replace(files["homelab"], []byte("group_left (node)"), []byte("group_left (node"), 1)
	path := filepath.Join(dir, "bad.yml")
	require.NoError(t, os.WriteFile(path, bad, 0o644))
	out, err := exec.Command(promtool, "check", "rules", path).CombinedOutput()
	require.Error(t, err, "promtool accepted a broken expression:\n%s", out)
}

// The NixOS forms parse, and evaluate (with stand-ins for pkgs'
// writers, which return the text they are given) to exactly the rules
// file and the dashboard.
func TestNixForms(t *testing.T) {
	nix := testenv.NixInstantiate(t)
	outs := exampleOutputs(t)
	dir := t.TempDir()
	eval := func(file, attr string) string {
		path := filepath.Join(dir, file)
		require.NoError(t, os.WriteFile(path, outs[file], 0o644))
		out, err := exec.Command(nix, "--parse", path).CombinedOutput()
		require.NoError(t, err, "nix-instantiate --parse %s:\n%s", file, out)
		pkgs := `{ writeText = name: text: { inherit name text; }; writeTextDir = name: text: { inherit name text; }; }`
		expr := fmt.Sprintf(`(import %s { pkgs = %s; }).%s`, path, pkgs, attr)
		cmd := exec.Command(nix, "--eval", "--strict", "--json", "-E", expr)
		cmd.Env = append(os.Environ(), "NIX_STATE_DIR="+t.TempDir(), "HOME="+t.TempDir())
		out, err = cmd.Output()
		require.NoError(t, err, "nix-instantiate --eval %s: %s", file, out)
		return string(out)
	}
	var rules []struct{ Name, Text string }
	require.NoError(t, json.Unmarshal([]byte(eval("alerts.nix", "services.prometheus.ruleFiles")), &rules))
	require.Len(t, rules, 1)
	require.Equal(t, "bakc-alerts.yml", rules[0].Name)
	if diff := cmp.Diff(string(outs["alerts.yml"]), rules[0].Text); diff != "" {
		t.Errorf("the Nix form's rules (-yml +nix):\n%s", diff)
	}
	var providers []struct {
		Name    string
		Options struct{ Path struct{ Name, Text string } }
	}
	require.NoError(t, json.Unmarshal([]byte(eval("dashboard.nix", "services.grafana.provision.dashboards.settings.providers")), &providers))
	require.Len(t, providers, 1)
	require.Equal(t, "bakc", providers[0].Name)
	require.Equal(t, "bakc.json", providers[0].Options.Path.Name)
	if diff := cmp.Diff(string(outs["dashboard.json"]), providers[0].Options.Path.Text); diff != "" {
		t.Errorf("the Nix form's dashboard (-json +nix):\n%s", diff)
	}
}
