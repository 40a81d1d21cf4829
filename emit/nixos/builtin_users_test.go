package nixos

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/emit/units/unitstest"
	"github.com/holthome/bakc/internal/testenv"
)

// TestBackupUserBesideNixOSUsers puts every backup user the compiler
// accepts through what NixOS does with backup.nix's users.users and
// users.groups: merge them with the users and groups NixOS defines
// itself, then check that ids are unique. nixpkgs cannot be fetched
// here, so that part is a stand-in (testdata/nixos-users.nix, which says
// what it models and where from); the evaluation is the real
// nix-instantiate over the real backup.nix.
//
// Every user the compiler refuses must be refused with a location, and
// its backup.nix (rendered from a plan the compiler did not check) must
// be one that NixOS refuses, so that the stand-in is shown to tell.
func TestBackupUserBesideNixOSUsers(t *testing.T) {
	nix := testenv.NixInstantiate(t)
	standIn, err := filepath.Abs("testdata/nixos-users.nix")
	require.NoError(t, err)
	evalUsers := func(t *testing.T, p *plan.Plan) (string, error) {
		module, err := Render(p)
		require.NoError(t, err)
		file := filepath.Join(t.TempDir(), "backup.nix")
		require.NoError(t, os.WriteFile(file, module, 0o644))
		var stdout, stderr bytes.Buffer
		cmd := exec.Command(nix, "--eval", "--strict", "--json", "--expr", "import "+standIn+" (import "+file+" "+standIns+")")
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			return stderr.String(), err
		}
		return stdout.String(), nil
	}
	for _, c := range unitstest.SystemUserCases {
		t.Run(c.Name, func(t *testing.T) {
			p, diags := unitstest.CompileUser(t, c)
			if !diags.HasErrors() {
				out, err := evalUsers(t, p)
				require.NoError(t, err, "NixOS would refuse the backup.nix of a user the compiler accepts:\n%s", out)
				var got struct {
					Users  map[string]struct{ UID int } `json:"users"`
					Groups map[string]struct{ GID int } `json:"groups"`
				}
				require.NoError(t, json.Unmarshal([]byte(out), &got))
				require.Equal(t, p.User.UID, got.Users[p.User.Name].UID)
				require.Equal(t, p.User.GID, got.Groups[p.User.Group].GID)
				return
			}
			for _, d := range diags {
				require.NotNil(t, d.Subject, "unlocated: %s: %s", d.Summary, d.Detail)
				require.True(t, strings.HasPrefix(d.Summary, "Reserved "), "%s: %s", d.Summary, d.Detail)
			}
			out, err := evalUsers(t, unitstest.WithUser(t, c))
			require.Error(t, err, "the compiler refuses %+v, which NixOS (the stand-in) would take", c.User)
			if !strings.Contains(out, "has conflicting definition values") && !strings.Contains(out, "UIDs and GIDs must be unique") {
				t.Errorf("NixOS (the stand-in) refuses %+v for another reason:\n%s", c.User, out)
			}
		})
	}
}
