package nixos

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/holthome/bakc/emit/units/unitstest"
	"github.com/holthome/bakc/replication"
)

// TestReplicationEvaluates evaluates forge's backup.nix with the real
// nix-instantiate and checks the node's side of replication against
// what the tested pieces say: services.sanoid's datasets carry exactly
// the settings of the sanoid.conf that TestReplicationWithSyncoid feeds
// Debian's sanoid (NixOS's module writes them with toINI as that file
// is written); the send user's one key is the authorized_keys line
// proven with sshd, with the package's bakc; the allow unit delegates
// only `zfs send` of the replicated datasets.
func TestReplicationEvaluates(t *testing.T) {
	var found bool
	for _, ex := range unitstest.Examples(t) {
		r := ex.Plan.Replication
		if r == nil {
			continue
		}
		found = true
		t.Run(ex.Node, func(t *testing.T) {
			module, err := Render(ex.Plan)
			require.NoError(t, err)
			out, err := evaluate(t, module, standIns)
			require.NoError(t, err)
			var got struct {
				Services struct {
					Sanoid struct {
						Enable   bool                                  `json:"enable"`
						Datasets map[string]map[string]json.RawMessage `json:"datasets"`
					} `json:"sanoid"`
				} `json:"services"`
				Users struct {
					Users map[string]struct {
						Description     string `json:"description"`
						IsSystemUser    bool   `json:"isSystemUser"`
						UseDefaultShell bool   `json:"useDefaultShell"`
						Openssh         struct {
							AuthorizedKeys struct {
								Keys []string `json:"keys"`
							} `json:"authorizedKeys"`
						} `json:"openssh"`
					} `json:"users"`
				} `json:"users"`
				Systemd struct {
					Services map[string]struct {
						ServiceConfig map[string]json.RawMessage `json:"serviceConfig"`
					} `json:"services"`
				} `json:"systemd"`
			}
			require.NoError(t, json.Unmarshal(out, &got))

			require.True(t, got.Services.Sanoid.Enable)
			want := map[string]map[string]string{}
			gotSettings := map[string]map[string]string{}
			for _, ds := range r.Datasets {
				want[ds] = replication.SanoidSettings(r.Snapshots, true)
			}
			for ds, kv := range got.Services.Sanoid.Datasets {
				gotSettings[ds] = map[string]string{}
				for k, v := range kv {
					gotSettings[ds][k] = string(v) // JSON of a number or bool is its INI text
				}
			}
			if diff := cmp.Diff(want, gotSettings); diff != "" {
				t.Errorf("services.sanoid.datasets (-sanoid.conf +nix):\n%s", diff)
			}

			line, err := replication.AuthorizedKey(r, "/stand-in/bakc/bin/bakc")
			require.NoError(t, err)
			u := got.Users.Users[r.User]
			require.True(t, u.IsSystemUser)
			require.True(t, u.UseDefaultShell, "sshd runs the forced command with the user's shell")
			// NixOS's description is types.passwdEntry types.str: a ':'
			// or a newline fails the evaluation ("not a valid passwd
			// entry"), which the stand-ins here do not type-check.
			for name, uu := range got.Users.Users {
				require.False(t, strings.ContainsAny(uu.Description, ":\n"), "users.users.%s.description %q is not a passwd entry", name, uu.Description)
			}
			if diff := cmp.Diff([]string{line[:len(line)-1]}, u.Openssh.AuthorizedKeys.Keys); diff != "" {
				t.Errorf("authorized keys (-want +got):\n%s", diff)
			}

			var wantExec []string
			for _, ds := range r.Datasets {
				wantExec = append(wantExec, "/run/booted-system/sw/bin/zfs allow -u "+r.User+" send "+ds)
			}
			var gotExec []string
			require.NoError(t, json.Unmarshal(got.Systemd.Services[allowUnit].ServiceConfig["ExecStart"], &gotExec))
			if diff := cmp.Diff(wantExec, gotExec); diff != "" {
				t.Errorf("%s ExecStart (-want +got):\n%s", allowUnit, diff)
			}
		})
	}
	require.True(t, found, "no example node replicates")
}
