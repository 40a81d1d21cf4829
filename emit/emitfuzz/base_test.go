package emitfuzz

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/holthome/bakc/compiler"
)

// TestBaseFleetCompiles: the base fleet is valid, so that a fuzzed value
// in one field reaches the emitters; and every slot is used.
func TestBaseFleetCompiles(t *testing.T) {
	dir := t.TempDir()
	host, err := baseFleet().write(dir)
	require.NoError(t, err)
	f, diags := compiler.LoadNodeFile(host)
	require.False(t, diags.HasErrors(), "%v", diags)
	_, d := f.Plan(f.NodeNames()[0])
	require.False(t, d.HasErrors(), "%v", d)
	root, err := os.ReadFile(filepath.Join(dir, "bakc.hcl"))
	require.NoError(t, err)
	hostData, err := os.ReadFile(host)
	require.NoError(t, err)
	require.NotNil(t, compile(t, baseFleet()))
	_ = root
	_ = hostData
}
