package compiler

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/holthome/bakc/compiler/plan"
)

var update = flag.Bool("update", false, "rewrite the golden plans under examples/*/out")

// exampleFleets are the fleets whose plans are golden files.
var exampleFleets = []string{"../examples/homelab"}

// TestGoldenPlans compiles every node and NAS of every example fleet and
// compares the bytes with examples/<fleet>/out/<name>/plan.json and
// nas-plan.json. -update rewrites them; review the diff.
func TestGoldenPlans(t *testing.T) {
	for _, dir := range exampleFleets {
		f, diags := LoadFleet(dir)
		require.False(t, diags.HasErrors(), "loading %s: %s", dir, diags)
		require.Empty(t, f.Validate(), "the example fleet must validate without a diagnostic")
		for _, node := range f.NodeNames() {
			t.Run(node, func(t *testing.T) {
				p, diags := f.Plan(node)
				require.Empty(t, diags)
				got, err := plan.Marshal(p)
				require.NoError(t, err)
				checkGolden(t, filepath.Join(dir, "out", node, "plan.json"), got)
			})
		}
		for _, nas := range f.NASNames() {
			t.Run(nas, func(t *testing.T) {
				p, diags := f.NASPlan(nas)
				require.Empty(t, diags)
				got, err := plan.MarshalNAS(p)
				require.NoError(t, err)
				checkGolden(t, filepath.Join(dir, "out", nas, "nas-plan.json"), got)
			})
		}
	}
}

func checkGolden(t *testing.T, file string, got []byte) {
	t.Helper()
	if *update {
		require.NoError(t, os.MkdirAll(filepath.Dir(file), 0o755))
		require.NoError(t, os.WriteFile(file, got, 0o644))
		return
	}
	want, err := os.ReadFile(file)
	require.NoError(t, err, "run go test ./compiler -update to create it")
	if !bytes.Equal(want, got) {
		t.Errorf("%s differs (-want +got):\n%s", file, cmp.Diff(string(want), string(got)))
	}
}

// TestSecondCompileIdentical compiles every example node and NAS from
// two independent loads and requires identical bytes (map iteration,
// diagnostics order and caches must not leak into the output).
func TestSecondCompileIdentical(t *testing.T) {
	compile := func(dir string) map[string][]byte {
		out := map[string][]byte{}
		f, diags := LoadFleet(dir)
		require.False(t, diags.HasErrors())
		// Validate first on one load and not on the other would expose
		// a cache that changes results; do it on both, in between.
		for _, node := range f.NodeNames() {
			p, _ := f.Plan(node)
			out[node], _ = plan.Marshal(p)
		}
		f.Validate()
		for _, nas := range f.NASNames() {
			p, _ := f.NASPlan(nas)
			out[nas], _ = plan.MarshalNAS(p)
		}
		return out
	}
	for _, dir := range exampleFleets {
		first, second := compile(dir), compile(dir)
		require.NotEmpty(t, first)
		if diff := cmp.Diff(first, second); diff != "" {
			t.Errorf("%s: second compile differs (-first +second):\n%s", dir, diff)
		}
	}
}
