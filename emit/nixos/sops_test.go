package nixos

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/emit/units/unitstest"
)

// sopsStandIn stands in for sops-nix's NixOS module, which cannot be
// imported here (it needs nixpkgs' lib, which cannot be fetched). It is
// written from sops-nix's modules/sops/default.nix (Mic92/sops-nix
// 56b24064, the secret submodule's options) and manifest-for.nix, with
// builtins only, and checks a module's sops.secrets as they do:
//
//   - every attribute is an option of the secret submodule: name, key,
//     path, format, mode, owner, uid, group, gid, sopsFile, restartUnits,
//     reloadUnits, neededForUsers (sopsFileHash is read-only: a
//     definition is refused, as the module system refuses one);
//   - each has its option's type: types.str for name, key, path and
//     mode; types.enum [ "yaml" "json" "binary" "dotenv" "ini" ] for
//     format; nullOr str for owner and group; nullOr int for uid and gid;
//     types.path for sopsFile (a path, or a string starting with "/");
//     listOf str for restartUnits and reloadUnits; bool for
//     neededForUsers;
//   - the module's assertions: uid and owner, gid and group not both set;
//   - mode parses as sops-install-secrets' validateMode does (octal, at
//     most 0o7777 here, as a file mode);
//   - with validate (sops.validateSopsFiles, true by default), the
//     manifest's own checks: sopsFile is a path (not a string outside
//     the store) and exists;
//   - and what bakc promises on top: the owner is a user backup.nix
//     declares (sops-install-secrets looks the name up at activation),
//     and path is sops-nix's default for the name, /run/secrets/<name>,
//     so that no symlink is made.
//
// It returns the secrets with sopsFile as a string (a path in --json
// output would be copied into the store) and the defaults filled in.
const sopsStandIn = `validate: m:
let
  secrets = m.sops.secrets;
  isStr = builtins.isString;
  nullOr = check: v: v == null || check v;
  listOfStr = v: builtins.isList v && builtins.all isStr v;
  octal = builtins.match "0?[0-7]{1,4}";
  options = {
    name = isStr;
    key = isStr;
    path = isStr;
    format = v: builtins.elem v [ "yaml" "json" "binary" "dotenv" "ini" ];
    mode = v: isStr v && octal v != null;
    owner = nullOr isStr;
    uid = nullOr builtins.isInt;
    group = nullOr isStr;
    gid = nullOr builtins.isInt;
    sopsFile = v: (builtins.isPath v || isStr v) && builtins.substring 0 1 (toString v) == "/";
    restartUnits = listOfStr;
    reloadUnits = listOfStr;
    neededForUsers = builtins.isBool;
  };
  fail = name: msg: throw ("sops.secrets.\"" + name + "\": " + msg);
  check = name: s:
    let
      given = builtins.attrNames s;
      unknown = builtins.filter (k: !(options ? ${k})) given;
      wrong = builtins.filter (k: !(options.${k} s.${k})) given;
      d = {
        name = name;
        key = name;
        format = "yaml";
        mode = "0400";
        owner = null;
        uid = 0;
        group = null;
        gid = 0;
        restartUnits = [ ];
        reloadUnits = [ ];
        neededForUsers = false;
      } // s;
      users = m.users.users or { };
    in
    if !(builtins.isAttrs s) then fail name "is not an attribute set"
    else if unknown != [ ] then fail name ("the option " + builtins.head unknown + " does not exist")
    else if wrong != [ ] then fail name ("the value of " + builtins.head wrong + " is not of the option's type")
    else if !(s ? sopsFile) then fail name "sopsFile has no value (and the stand-in has no sops.defaultSopsFile)"
    else if d.uid != null && d.uid != 0 && d.owner != null then fail name "exactly one of owner and uid must be set"
    else if d.gid != null && d.gid != 0 && d.group != null then fail name "exactly one of group and gid must be set"
    else if validate && !(builtins.isPath s.sopsFile) then fail name "sopsFile is not in the Nix store"
    else if validate && !(builtins.pathExists s.sopsFile) then fail name ("Cannot find path " + toString s.sopsFile)
    else if d.owner != null && !(users ? ${d.owner}) then fail name ("owner " + d.owner + " is not a user the module declares")
    else if (d.path or "/run/secrets/${name}") != "/run/secrets/${name}" then fail name "path is not sops-nix's default, so sops-nix would make a symlink"
    else d // { sopsFile = toString s.sopsFile; path = d.path or "/run/secrets/${name}"; };
in
builtins.mapAttrs check secrets`

// sopsDeclared is a secret as the stand-in returns it.
type sopsDeclared struct {
	Name         string   `json:"name"`
	Key          string   `json:"key"`
	Path         string   `json:"path"`
	Format       string   `json:"format"`
	Mode         string   `json:"mode"`
	Owner        string   `json:"owner"`
	Group        string   `json:"group"`
	SopsFile     string   `json:"sopsFile"`
	RestartUnits []string `json:"restartUnits"`
}

// evaluateSops evaluates backup.nix with the stand-ins, config.bakc.fleet
// set to fleet, and returns its sops.secrets as sops-nix's types read
// them.
func evaluateSops(t *testing.T, module []byte, fleet string, validate bool) (map[string]sopsDeclared, error) {
	t.Helper()
	args := strings.Replace(standIns, "bakc.fleet = /stand-in/fleet;", "bakc.fleet = "+fleet+";", 1)
	require.Contains(t, args, fleet)
	out, err := evaluateExpr(t, module, args, func(m string) string {
		v := "false"
		if validate {
			v = "true"
		}
		return "(" + sopsStandIn + ") " + v + " (" + m + ")"
	})
	if err != nil {
		return nil, err
	}
	var got map[string]sopsDeclared
	require.NoError(t, json.Unmarshal(out, &got))
	return got, nil
}

// wantSops is what backup.nix must declare for the plan's secrets.
func wantSops(p *plan.Plan, fleet string) map[string]sopsDeclared {
	want := map[string]sopsDeclared{}
	for _, s := range p.Secrets {
		key := s.Sops.Key
		if key == "" {
			key = s.Name // sops-nix's default; ignored for whole-file formats
		}
		want[s.Name] = sopsDeclared{Name: s.Name, Key: key, Path: s.Path, Format: s.Sops.Format, Mode: "0400",
			Owner: p.User.Name, Group: p.User.Group, SopsFile: filepath.Join(fleet, s.Sops.File), RestartUnits: []string{}}
	}
	return want
}

// TestSopsDeclarations: the example node with sops secrets (forge)
// declares each of its plan's secrets to sops-nix, with sops-nix's
// option names and types, the backup user as owner, mode 0400, no
// restart units, sops-nix's default path (the plan's), and its sops file
// below bakc.fleet; the file exists there (validateSopsFiles).
func TestSopsDeclarations(t *testing.T) {
	var p *plan.Plan
	var fleet string
	for _, ex := range unitstest.Examples(t) {
		if len(ex.Plan.Secrets) > 0 {
			p, fleet = ex.Plan, filepath.Dir(filepath.Dir(ex.Dir))
		}
	}
	require.NotNil(t, p, "no example node has sops secrets")
	fleet, err := filepath.Abs(fleet)
	require.NoError(t, err)
	module, err := Render(p)
	require.NoError(t, err)
	got, err := evaluateSops(t, module, fleet, true)
	require.NoError(t, err)
	if diff := cmp.Diff(wantSops(p, fleet), got); diff != "" {
		t.Errorf("sops.secrets (-want +got):\n%s", diff)
	}
	for _, r := range p.Repositories {
		declared := false
		for _, s := range got {
			declared = declared || s.Path == r.PasswordFile
		}
		if strings.HasPrefix(r.PasswordFile, plan.SecretsDir+"/bakc/") && !declared {
			t.Errorf("%s reads %s, which no sops secret is decrypted to", r.Name, r.PasswordFile)
		}
	}
}

// TestSopsStandInRefuses: the stand-in refuses what sops-nix refuses, so
// that TestSopsDeclarations can fail.
func TestSopsStandInRefuses(t *testing.T) {
	fleet := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(fleet, "secrets"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(fleet, "secrets", "a.yaml"), []byte("x: 1\n"), 0o644))
	base := `  users.users.bakc = { };
  sops.secrets."bakc/nas/password" = {
    sopsFile = config.bakc.fleet + "/secrets/a.yaml";
    key = "x";
    %s
  };`
	for _, tt := range []struct{ name, attrs, message string }{
		{"mode as a number", `mode = 400;`, "mode is not of the option's type"},
		{"unknown option", `sopsFileHash = "x";`, "sopsFileHash does not exist"},
		{"format", `format = "yml";`, "format is not of the option's type"},
		{"owner and uid", `owner = "bakc"; uid = 5;`, "exactly one of owner and uid"},
		{"restartUnits", `restartUnits = "x.service";`, "restartUnits is not of the option's type"},
		{"owner not declared", `owner = "nobody";`, "not a user the module declares"},
		{"other path", `path = "/etc/x";`, "would make a symlink"},
		{"missing file", `sopsFile = config.bakc.fleet + "/secrets/b.yaml";`, "Cannot find path"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			attrs := tt.attrs
			module := "{ config, pkgs, ... }:\n{\n" + strings.Replace(base, "%s", attrs, 1) + "\n}\n"
			if strings.HasPrefix(attrs, "sopsFile") {
				module = "{ config, pkgs, ... }:\n{\n" + strings.Replace(strings.Replace(base, "sopsFile = config.bakc.fleet + \"/secrets/a.yaml\";", "", 1), "%s", attrs, 1) + "\n}\n"
			}
			_, err := evaluateSops(t, []byte(module), fleet, true)
			require.Error(t, err)
			require.Contains(t, err.Error(), tt.message)
		})
	}
	// And accepts the same secret written right.
	module := "{ config, pkgs, ... }:\n{\n" + strings.Replace(base, "%s", `owner = "bakc"; mode = "0400";`, 1) + "\n}\n"
	_, err := evaluateSops(t, []byte(module), fleet, true)
	require.NoError(t, err)
}

// TestMissingFleet: without bakc's NixOS module (no config.bakc), a
// backup.nix with sops secrets says what to do.
func TestMissingFleet(t *testing.T) {
	for _, ex := range unitstest.Examples(t) {
		if len(ex.Plan.Secrets) == 0 {
			continue
		}
		module, err := Render(ex.Plan)
		require.NoError(t, err)
		_, err = evaluate(t, module, strings.Replace(standIns, "bakc.fleet = /stand-in/fleet;", "", 1))
		if err == nil || !strings.Contains(err.Error(), MissingFleet) {
			t.Errorf("%s without config.bakc: %v, want the message %q", ex.Node, err, MissingFleet)
		}
	}
}
