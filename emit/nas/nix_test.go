package nas

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/internal/testenv"
)

// evaluated is the part of the NixOS module's value the tests look at,
// as `nix-instantiate --eval --strict --json` prints it.
type evaluated struct {
	Services struct {
		NFS struct {
			Server struct {
				Enable  bool   `json:"enable"`
				Exports string `json:"exports"`
			} `json:"server"`
		} `json:"nfs"`
	} `json:"services"`
	Users struct {
		Users map[string]struct {
			IsSystemUser bool   `json:"isSystemUser"`
			Group        string `json:"group"`
			Description  string `json:"description"`
			Shell        string `json:"shell"`
			OpenSSH      struct {
				AuthorizedKeys struct {
					Keys []string `json:"keys"`
				} `json:"authorizedKeys"`
			} `json:"openssh"`
		} `json:"users"`
		Groups map[string]struct{} `json:"groups"`
	} `json:"users"`
	Systemd struct {
		Services map[string]struct {
			Description   string         `json:"description"`
			WantedBy      []string       `json:"wantedBy"`
			Wants         []string       `json:"wants"`
			After         []string       `json:"after"`
			Before        []string       `json:"before"`
			Path          []string       `json:"path"`
			ServiceConfig map[string]any `json:"serviceConfig"`
			Script        string         `json:"script"`
		} `json:"services"`
	} `json:"systemd"`
}

// nixEval parses the module with nix-instantiate and evaluates it
// strictly with stand-in arguments (no nixpkgs here): config and pkgs
// carry the only attributes the module reads, as strings.
func nixEval(t *testing.T, module []byte) evaluated {
	t.Helper()
	var v evaluated
	require.NoError(t, json.Unmarshal(nixEvalJSON(t, module), &v))
	return v
}

// nixEvalJSON is nixEval's JSON. pkgs.writeText is builtins.toFile (a
// store path computed in --eval, nothing written); lib.mkForce is
// nixpkgs' own definition.
// The stand-ins: pkgs.bakc and pkgs.sanoid are paths that do not exist
// (the replication test runs the wrapper's text with a bakc of its
// own); writeShellScriptBin keeps its name and text, which NixOS would
// put into NAME/bin/NAME; lib.escapeShellArgs quotes every word, as
// nixpkgs' does for any word that needs it.
func nixEvalJSON(t *testing.T, module []byte) []byte {
	t.Helper()
	nix := testenv.NixInstantiate(t)
	file := filepath.Join(t.TempDir(), "nas.nix")
	require.NoError(t, os.WriteFile(file, module, 0o644))
	if out, err := exec.Command(nix, "--parse", file).CombinedOutput(); err != nil {
		t.Fatalf("nix-instantiate --parse: %v\n%s", err, out)
	}
	expr := fmt.Sprintf(`import %s { config = { boot.zfs.package = "/stand-in/zfs"; }; pkgs = { gawk = "/stand-in/gawk"; bakc = "/stand-in/bakc"; sanoid = "/stand-in/sanoid"; writeText = name: text: builtins.toFile name text; writeShellScriptBin = name: text: { inherit name text; }; }; lib = { mkForce = content: { _type = "override"; priority = 50; inherit content; }; mkAfter = content: { _type = "order"; priority = 1500; inherit content; }; escapeShellArgs = args: builtins.concatStringsSep " " (map (a: "'" + builtins.replaceStrings [ "'" ] [ "'\\''" ] a + "'") args); }; }`, file)
	cmd := exec.Command(nix, "--eval", "--strict", "--json", "-E", expr)
	cmd.Env = append(os.Environ(), "NIX_STATE_DIR="+t.TempDir(), "HOME="+t.TempDir())
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("nix-instantiate --eval: %v\n%s", err, stderr)
	}
	return out
}

// wantKey is the authorized_keys line the tests expect, written out
// here rather than taken from the code under test.
func wantKey(r *plan.Receive) string {
	return `restrict,from="` + r.From + `",command="` + receiveCommand + `" ` + r.PublicKey
}

// TestNixEvaluates evaluates the Nix form of the example and of the test
// fleet and compares the values NixOS would see with the plan.
func TestNixEvaluates(t *testing.T) {
	for name, p := range map[string]*plan.NASPlan{
		"example": readNASPlan(t, exampleNAS),
		"test":    testPlan("tank", "/srv/nas"),
	} {
		t.Run(name, func(t *testing.T) {
			module, err := Nix(p)
			require.NoError(t, err)
			v := nixEval(t, module)

			var exports []string
			wantUsers := map[string][]string{}
			wantServices := []string{}
			for _, n := range p.Nodes {
				exports = append(exports, "# node "+n.Name)
				wantServices = append(wantServices, "bakc-nas-"+n.Name)
				for _, d := range n.Datasets {
					if e := d.Export; e != nil {
						exports = append(exports, d.Mountpoint+" "+e.Client+"("+strings.Join(e.Options, ",")+")")
					}
					if r := d.Receive; r != nil {
						wantUsers[r.User] = []string{"true", r.User, "bakc replication from " + n.Name, "/bin/sh", wantKey(r)}
					}
				}
			}
			require.True(t, v.Services.NFS.Server.Enable)
			if diff := cmp.Diff(strings.Join(exports, "\n")+"\n", v.Services.NFS.Server.Exports); diff != "" {
				t.Errorf("services.nfs.server.exports (-want +got):\n%s", diff)
			}
			gotUsers := map[string][]string{}
			for name, u := range v.Users.Users {
				gotUsers[name] = append([]string{fmt.Sprint(u.IsSystemUser), u.Group, u.Description, u.Shell}, u.OpenSSH.AuthorizedKeys.Keys...)
				if _, ok := v.Users.Groups[u.Group]; !ok {
					t.Errorf("users.groups.%s is not declared", u.Group)
				}
			}
			if diff := cmp.Diff(wantUsers, gotUsers); diff != "" {
				t.Errorf("users.users (-want +got):\n%s", diff)
			}
			var gotServices []string
			for name, s := range v.Systemd.Services {
				gotServices = append(gotServices, name)
				if diff := cmp.Diff([]string{"zfs-import.target", "zfs-mount.service"}, s.After); diff != "" {
					t.Errorf("%s after (-want +got):\n%s", name, diff)
				}
				if diff := cmp.Diff(map[string]any{"Type": "oneshot", "RemainAfterExit": true}, s.ServiceConfig); diff != "" {
					t.Errorf("%s serviceConfig (-want +got):\n%s", name, diff)
				}
				if !strings.HasPrefix(s.Script, "set -eu\n") || !strings.Contains(s.Script, "\nensure_parent "+p.NAS.Parent+" "+p.NAS.MountRoot+"\n") {
					t.Errorf("%s script does not start with set -eu and ensure the parent:\n%s", name, s.Script)
				}
			}
			if diff := cmp.Diff(wantServices, gotServices, sortStrings); diff != "" {
				t.Errorf("systemd.services (-want +got):\n%s", diff)
			}
		})
	}
}
