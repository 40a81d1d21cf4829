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
