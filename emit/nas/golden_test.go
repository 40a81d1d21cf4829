package nas

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/stretchr/testify/require"

	"github.com/holthome/bakc/compiler/plan"
)

var update = flag.Bool("update", false, "rewrite the golden files in examples/*/out")

// exampleNAS is the hand-written NAS plan of the example fleet, the
// contract the compiler produces.
const exampleNAS = "../../examples/homelab/out/nas-1"

func readNASPlan(t *testing.T, dir string) *plan.NASPlan {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "nas-plan.json"))
	require.NoError(t, err)
	defer f.Close()
	dec := json.NewDecoder(f)
	dec.DisallowUnknownFields()
	var p plan.NASPlan
	require.NoError(t, dec.Decode(&p))
	require.Equal(t, plan.Version, p.Version)
	return &p
}

// TestGolden renders the example NAS plan as a script and as Nix and
// compares them with the golden files beside it (go test -update
// rewrites them). Rendering twice must give the same bytes.
func TestGolden(t *testing.T) {
	p := readNASPlan(t, exampleNAS)
	for _, tt := range []struct {
		file   string
		render func(*plan.NASPlan) ([]byte, error)
	}{
		{"nas-plan.sh", Script},
		{"nas-plan.nix", Nix},
	} {
		t.Run(tt.file, func(t *testing.T) {
			got, err := tt.render(p)
			require.NoError(t, err)
			again, err := tt.render(p)
			require.NoError(t, err)
			if !bytes.Equal(got, again) {
				t.Fatalf("%s: two renderings of the same plan differ", tt.file)
			}
			path := filepath.Join(exampleNAS, tt.file)
			if *update {
				require.NoError(t, os.WriteFile(path, got, 0o644))
			}
			want, err := os.ReadFile(path)
			require.NoError(t, err, "run go test ./emit/nas -update to write it")
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("%s (-want +got):\n%s", path, diff)
			}
		})
	}
}

// sortStrings compares string slices as sets.
var sortStrings = cmpopts.SortSlices(func(a, b string) bool { return a < b })
