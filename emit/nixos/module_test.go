package nixos

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/coreos/go-systemd/v22/unit"
	"github.com/google/go-cmp/cmp"
	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/emit/unitfile"
	"github.com/holthome/bakc/emit/units"
	"github.com/holthome/bakc/emit/units/unitstest"
	"github.com/holthome/bakc/internal/testenv"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite examples/homelab/out/<node>/backup.nix")

// TestGolden renders every example node's backup.nix and compares it
// with the committed file (go test ./emit/nixos -update rewrites it). A
// second render gives the same bytes.
func TestGolden(t *testing.T) {
	for _, ex := range unitstest.Examples(t) {
		t.Run(ex.Node, func(t *testing.T) {
			got, err := Render(ex.Plan)
			require.NoError(t, err)
			again, err := Render(ex.Plan)
			require.NoError(t, err)
			require.Equal(t, string(got), string(again), "a second render differs")
			golden := filepath.Join(ex.Dir, "backup.nix")
			if *update {
				require.NoError(t, os.WriteFile(golden, got, 0o644))
			}
			want, err := os.ReadFile(golden)
			require.NoError(t, err, "run go test ./emit/nixos -update")
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("%s differs (-want +got); run go test ./emit/nixos -update and review the diff:\n%s", golden, diff)
			}
		})
	}
}

// standIns are the module arguments the evaluation uses instead of a
// real NixOS (nixpkgs cannot be fetched here): the packages are paths
// that the test recognises, lib is refused. writeText keeps its
// arguments for the test to read, and asks Nix itself for the store path
// (builtins.toFile computes it in --eval without writing anything), so
// that a name the store refuses fails here as it would in nixpkgs.
const standIns = `{
  config = { boot.zfs.package = "/stand-in/zfs"; bakc.fleet = /stand-in/fleet; };
  lib = throw "backup.nix must not need lib";
  pkgs = {
    bakc = "/stand-in/bakc";
    openssh = "/stand-in/openssh";
    postgresql = "/stand-in/postgresql";
    python3Packages.psycopg = "/stand-in/psycopg";
  } // ` + writeTextStandIn + `;
}`

// standInPackage is where the stand-ins put a package of a hook's or
// dump's packages.
func standInPackage(name string) string {
	if name == "python3Packages.psycopg" {
		return "/stand-in/psycopg"
	}
	return "/stand-in/" + name
}

// writeTextStandIn is pkgs.writeText as the tests see it.
const writeTextStandIn = `{ writeText = name: text: { inherit name text; storePath = builtins.toFile name text; }; }`

// nixosEtc does to the module's environment.etc what NixOS's etc module
// (nixos/modules/system/etc/etc.nix) does: an entry with text and no
// source gets source = pkgs.writeText ("etc-" + its name with "/" as
// "-") text. The store path of every source is then computed by Nix.
const nixosEtc = `m: pkgs: m // { environment = m.environment // {
  etc = builtins.mapAttrs (name: e: e // {
    source = e.source or (pkgs.writeText ("etc-" + builtins.replaceStrings [ "/" ] [ "-" ] name) e.text);
  }) m.environment.etc;
}; }`

const standInProgram = "/stand-in/bakc/bin/bakc"

// evaluate applies the module to the stand-ins with the real
// nix-instantiate and returns the result as JSON.
func evaluate(t *testing.T, module []byte, args string) ([]byte, error) {
	t.Helper()
	// sops.secrets go through sops-nix's option types (sopsStandIn), which
	// also turn the sopsFile paths into strings: a path in --json output
	// would be copied into the store.
	return evaluateExpr(t, module, args, func(m string) string {
		return "(" + nixosEtc + ") (" + m + " // (if " + m + " ? sops then { sops.secrets = (" + sopsStandIn + ") false (" + m + "); } else { })) args.pkgs"
	})
}

// evaluateExpr evaluates the expression pick makes of the module
// applied to args ("m", a Nix variable, in the expression), to JSON.
func evaluateExpr(t *testing.T, module []byte, args string, pick func(m string) string) ([]byte, error) {
	t.Helper()
	nix := testenv.NixInstantiate(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "backup.nix")
	require.NoError(t, os.WriteFile(file, module, 0o644))
	expr := "let args = " + args + "; m = import " + file + " args; in " + pick("m")
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(nix, "--eval", "--strict", "--json", "--expr", expr)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, &evalError{err, stderr.String()}
	}
	return stdout.Bytes(), nil
}

type evalError struct {
	err    error
	stderr string
}

func (e *evalError) Error() string { return e.err.Error() + ": " + e.stderr }

// evaluated is the part of the module's value the tests look at.
type evaluated struct {
	Environment struct {
		Etc            map[string]struct{ Source etcSource } `json:"etc"`
		SystemPackages []string                              `json:"systemPackages"`
	} `json:"environment"`
	Users struct {
		Users map[string]struct {
			IsSystemUser bool   `json:"isSystemUser"`
			UID          int    `json:"uid"`
			Group        string `json:"group"`
		} `json:"users"`
		Groups map[string]struct {
			GID int `json:"gid"`
		} `json:"groups"`
	} `json:"users"`
	FileSystems map[string]struct {
		Device  string   `json:"device"`
		FsType  string   `json:"fsType"`
		Options []string `json:"options"`
	} `json:"fileSystems"`
	Systemd struct {
		Tmpfiles struct {
			Rules []string `json:"rules"`
		} `json:"tmpfiles"`
		Services map[string]nixUnit `json:"services"`
		Timers   map[string]nixUnit `json:"timers"`
	} `json:"systemd"`
}

// etcSource is an environment.etc source made by the writeText stand-in.
type etcSource struct {
	Name      string `json:"name"`
	Text      string `json:"text"`
	StorePath string `json:"storePath"`
}

type nixUnit struct {
	RestartIfChanged *bool                      `json:"restartIfChanged"`
	Path             []string                   `json:"path"`
	WantedBy         []string                   `json:"wantedBy"`
	UnitConfig       map[string]json.RawMessage `json:"unitConfig"`
	ServiceConfig    map[string]json.RawMessage `json:"serviceConfig"`
	TimerConfig      map[string]json.RawMessage `json:"timerConfig"`
}

// sections turns a NixOS unit into section → key → values, the way
// NixOS writes it: a list is one line per element.
func (u nixUnit) sections(t *testing.T) map[string]map[string][]string {
	out := map[string]map[string][]string{}
	for name, cfg := range map[string]map[string]json.RawMessage{"Unit": u.UnitConfig, "Service": u.ServiceConfig, "Timer": u.TimerConfig} {
		if cfg == nil {
			continue
		}
		out[name] = map[string][]string{}
		for k, raw := range cfg {
			var s string
			if json.Unmarshal(raw, &s) == nil {
				out[name][k] = []string{s}
				continue
			}
			var l []string
			require.NoError(t, json.Unmarshal(raw, &l), "%s.%s is neither a string nor a list of strings: %s", name, k, raw)
			out[name][k] = l
		}
	}
	if u.WantedBy != nil {
		out["Install"] = map[string][]string{"WantedBy": u.WantedBy}
	}
	return out
}

// plainSections parses a plain unit file with go-systemd's parser.
func plainSections(t *testing.T, data []byte) map[string]map[string][]string {
	secs, err := unit.DeserializeSections(bytes.NewReader(data))
	require.NoError(t, err)
	out := map[string]map[string][]string{}
	for _, s := range secs {
		if out[s.Section] == nil {
			out[s.Section] = map[string][]string{}
		}
		for _, e := range s.Entries {
			out[s.Section][e.Name] = append(out[s.Section][e.Name], e.Value)
		}
	}
	return out
}

// checkAgreement evaluates backup.nix and checks that it says what the
// plan and the plain unit files say: the plan under /etc byte for byte,
// the user, the NFS mounts, the tmpfiles rules, and every service and
// timer with the same keys and values in each section.
func checkAgreement(t *testing.T, p *plan.Plan) {
	module, err := Render(p)
	require.NoError(t, err)
	out, err := evaluate(t, module, standIns)
	require.NoError(t, err)
	var got evaluated
	require.NoError(t, json.Unmarshal(out, &got))

	wantPlan, err := plan.Marshal(p)
	require.NoError(t, err)
	etc := got.Environment.Etc[strings.TrimPrefix(p.Paths.Plan, "/etc/")]
	if diff := cmp.Diff(string(wantPlan), etc.Source.Text); diff != "" {
		t.Errorf("environment.etc plan (-plan +nix):\n%s", diff)
	}
	if etc.Source.Name != planStoreName || !strings.HasSuffix(etc.Source.StorePath, "-"+planStoreName) {
		t.Errorf("environment.etc plan source: %+v, want pkgs.writeText %q", etc.Source, planStoreName)
	}
	if diff := cmp.Diff([]string{"/stand-in/bakc"}, got.Environment.SystemPackages); diff != "" {
		t.Errorf("systemPackages (-want +got):\n%s", diff)
	}
	// The inline host keys of sftp repositories, as the plain units
	// write them (without their # comments), at paths.known_hosts.
	if p.Paths.KnownHosts != "" {
		files, err := unitfile.Render(p, standInProgram)
		require.NoError(t, err)
		var want string
		for _, f := range files {
			if f.Name == unitfile.KnownHostsFile {
				for _, l := range strings.SplitAfter(string(f.Data), "\n") {
					if !strings.HasPrefix(l, "#") {
						want += l
					}
				}
			}
		}
		require.NotEmpty(t, want, "the plain units have no known_hosts file")
		if diff := cmp.Diff(want, got.Environment.Etc[strings.TrimPrefix(p.Paths.KnownHosts, "/etc/")].Source.Text); diff != "" {
			t.Errorf("environment.etc known_hosts (-plain +nix):\n%s", diff)
		}
	}
	user := got.Users.Users[p.User.Name]
	if !user.IsSystemUser || user.UID != p.User.UID || user.Group != p.User.Group || got.Users.Groups[p.User.Group].GID != p.User.GID {
		t.Errorf("users: got %+v, groups %+v; want %+v", got.Users.Users, got.Users.Groups, p.User)
	}

	files, err := unitfile.Render(p, standInProgram)
	require.NoError(t, err)
	plain := map[string][]byte{}
	for _, f := range files {
		plain[f.Name] = f.Data
	}

	// fileSystems: one per NFS repository, the same mount as the plain
	// mount unit.
	wantFS := map[string]bool{}
	for _, r := range p.Repositories {
		if r.Kind != plan.KindNFS {
			continue
		}
		wantFS[r.NFS.Mountpoint] = true
		fs, ok := got.FileSystems[r.NFS.Mountpoint]
		if !ok {
			t.Errorf("no fileSystems entry for %q", r.NFS.Mountpoint)
			continue
		}
		if fs.Device != r.NFS.Source() || fs.FsType != "nfs" || !cmp.Equal(fs.Options, r.NFS.Options) {
			t.Errorf("fileSystems %q = %+v, want %s nfs %q", r.NFS.Mountpoint, fs, r.NFS.Source(), r.NFS.Options)
		}
		set, err := units.Build(p)
		require.NoError(t, err)
		for _, u := range set.Units {
			if u.Repository != r.Name || u.Type() != "mount" {
				continue
			}
			m := plainSections(t, plain[u.Name])["Mount"]
			fromNix := map[string][]string{"What": {fs.Device}, "Where": {r.NFS.Mountpoint}, "Type": {fs.FsType}, "Options": {strings.Join(fs.Options, ",")}}
			for k, v := range fromNix {
				// The plain values are escaped for systemd; these
				// examples have no %, so they compare as they are.
				if !strings.Contains(v[0], "%") && !cmp.Equal(v, m[k]) {
					t.Errorf("%s %s=%q, fileSystems says %q", u.Name, k, m[k], v)
				}
			}
		}
	}
	for mp := range got.FileSystems {
		if !wantFS[mp] {
			t.Errorf("fileSystems %q is not an NFS repository", mp)
		}
	}

	var wantRules []string
	for _, line := range strings.Split(strings.TrimSpace(string(plain[unitfile.TmpfilesFile])), "\n") {
		if !strings.HasPrefix(line, "#") {
			wantRules = append(wantRules, line)
		}
	}
	if diff := cmp.Diff(wantRules, got.Systemd.Tmpfiles.Rules); diff != "" {
		t.Errorf("tmpfiles rules (-plain +nix):\n%s", diff)
	}

	// Every service and timer, key for key.
	set, err := units.Build(p)
	require.NoError(t, err)
	seen := map[string]bool{}
	for _, kind := range []struct {
		suffix string
		units  map[string]nixUnit
	}{{".service", got.Systemd.Services}, {".timer", got.Systemd.Timers}} {
		for name, nu := range kind.units {
			file := name + kind.suffix
			seen[file] = true
			if file == allowUnit+".service" {
				// The same zfs allow lines, with NixOS's zfs and a
				// plain host's (/usr/sbin/zfs): each checked on its
				// own (TestReplicationEvaluates, and emit/unitfile
				// TestReplicationFiles).
				continue
			}
			data, ok := plain[file]
			if !ok {
				t.Errorf("backup.nix has %s, the plain units do not", file)
				continue
			}
			// The plain-only Environment=PATH= is NixOS's path option.
			plainSecs := plainSections(t, data)
			if u := set.Unit(file); u != nil {
				for _, sec := range u.Sections {
					for _, e := range sec.Entries {
						if e.PlainOnly {
							plainSecs[sec.Name][e.Key] = slices.DeleteFunc(plainSecs[sec.Name][e.Key], func(v string) bool { return v == e.Value })
							if len(plainSecs[sec.Name][e.Key]) == 0 {
								delete(plainSecs[sec.Name], e.Key)
							}
						}
					}
				}
			}
			if diff := cmp.Diff(plainSecs, nu.sections(t)); diff != "" {
				t.Errorf("%s: plain unit and NixOS differ (-plain +nix):\n%s", file, diff)
			}
			if kind.suffix == ".service" {
				if nu.RestartIfChanged == nil || *nu.RestartIfChanged {
					t.Errorf("%s: restartIfChanged is not false", file)
				}
			}
		}
	}
	for name := range plain {
		if strings.HasPrefix(name, "bakc-sanoid.") {
			// NixOS runs sanoid from services.sanoid (its own
			// sanoid.service), on the same settings
			// (TestReplicationEvaluates).
			continue
		}
		if (strings.HasSuffix(name, ".service") || strings.HasSuffix(name, ".timer")) && !seen[name] {
			t.Errorf("the plain units have %s, backup.nix does not", name)
		}
	}
	for _, u := range set.Units {
		if u.Type() != "service" {
			continue
		}
		nu := got.Systemd.Services[strings.TrimSuffix(u.Name, ".service")]
		wantPath := []string(nil)
		if u.RunsZFS {
			wantPath = append(wantPath, "/stand-in/zfs")
		}
		for _, pkg := range u.Packages {
			wantPath = append(wantPath, standInPackage(pkg))
		}
		if u.RunsSSH {
			wantPath = append(wantPath, "/stand-in/openssh")
		}
		if diff := cmp.Diff(wantPath, nu.Path); diff != "" {
			t.Errorf("%s path (-want +got):\n%s", u.Name, diff)
		}
	}
}

// TestAgreement: for every example node and the hostile plan, the
// evaluated backup.nix and the plain unit files carry the same units.
func TestAgreement(t *testing.T) {
	for _, ex := range unitstest.Examples(t) {
		t.Run(ex.Node, func(t *testing.T) { checkAgreement(t, ex.Plan) })
	}
	t.Run("hostile", func(t *testing.T) { checkAgreement(t, unitstest.Hostile()) })
	t.Run("hooks-fleet", func(t *testing.T) { checkAgreement(t, unitstest.HooksFleetPlan(t)) })
}

// TestHostileValues: hostile strings come back from Nix exactly as the
// systemd-escaped values they must be, and the plan as it was.
func TestHostileValues(t *testing.T) {
	p := unitstest.Hostile()
	p.Paths.Plan = "/etc/bakc/plan ${x} $1 \"q\" 100%.json"
	module, err := Render(p)
	require.NoError(t, err)
	out, err := evaluate(t, module, standIns)
	require.NoError(t, err)
	var got evaluated
	require.NoError(t, json.Unmarshal(out, &got))
	media := got.Systemd.Services["bakc-backup-media"].sections(t)
	if diff := cmp.Diff([]string{`bakc backup media: Nightly "full" 100%% of $HOME, ${x} and C:\backup; it's 'quoted' #1`}, media["Unit"]["Description"]); diff != "" {
		t.Errorf("Description (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{`/stand-in/bakc/bin/bakc run backup media --plan "/etc/bakc/plan $${x} $$1 \"q\" 100%%.json"`}, media["Service"]["ExecStart"]); diff != "" {
		t.Errorf("ExecStart (-want +got):\n%s", diff)
	}
	if _, ok := got.Environment.Etc["bakc/plan ${x} $1 \"q\" 100%.json"]; !ok {
		t.Errorf("environment.etc has no entry for the hostile plan path: %v", got.Environment.Etc)
	}
	if _, ok := got.FileSystems[unitstest.HostileMountpoint]; !ok {
		t.Errorf("fileSystems has no entry for %q", unitstest.HostileMountpoint)
	}
}

// TestParse: every generated module passes nix-instantiate --parse.
func TestParse(t *testing.T) {
	nix := testenv.NixInstantiate(t)
	plans := map[string]*plan.Plan{"hostile": unitstest.Hostile()}
	for _, ex := range unitstest.Examples(t) {
		plans[ex.Node] = ex.Plan
	}
	for name, p := range plans {
		module, err := Render(p)
		require.NoError(t, err)
		file := filepath.Join(t.TempDir(), "backup.nix")
		require.NoError(t, os.WriteFile(file, module, 0o644))
		if out, err := exec.Command(nix, "--parse", file).CombinedOutput(); err != nil {
			t.Errorf("%s: nix-instantiate --parse: %v\n%s", name, err, out)
		}
	}
}

// TestMissingPackage: a package a hook or dump declares that pkgs does
// not have stops the evaluation with a message naming it, at any depth
// of its attribute path.
func TestMissingPackage(t *testing.T) {
	module, err := Render(unitstest.Hostile())
	require.NoError(t, err)
	for _, tt := range []struct{ pkgs, missing string }{
		{`{ bakc = "/b"; python3Packages.psycopg = "/p"; }`, "postgresql"},
		{`{ bakc = "/b"; postgresql = "/p"; python3Packages = { }; }`, "python3Packages.psycopg"},
		{`{ bakc = "/b"; postgresql = "/p"; }`, "python3Packages.psycopg"},
	} {
		_, err = evaluate(t, module, `{ config = { boot.zfs.package = "/z"; }; pkgs = `+tt.pkgs+` // `+writeTextStandIn+`; }`)
		if err == nil || !strings.Contains(err.Error(), MissingPackage(tt.missing)) {
			t.Errorf("pkgs = %s: evaluation gave %v; want the message %q", tt.pkgs, err, MissingPackage(tt.missing))
		}
	}
}

// TestMissingBakc: without the overlay the module says what to do.
func TestMissingBakc(t *testing.T) {
	module, err := Render(unitstest.Hostile())
	require.NoError(t, err)
	_, err = evaluate(t, module, `{ config = { boot.zfs.package = "/stand-in/zfs"; }; pkgs = `+writeTextStandIn+`; }`)
	if err == nil || !strings.Contains(err.Error(), MissingBakc) {
		t.Errorf("evaluation without pkgs.bakc: %v, want the message %q", err, MissingBakc)
	}
}

func TestRejects(t *testing.T) {
	p := unitstest.Hostile()
	p.Paths.Plan = "/var/lib/bakc/plan.json"
	if _, err := Render(p); err == nil || !strings.Contains(err.Error(), "paths.plan") {
		t.Errorf("Render with the plan outside /etc: %v", err)
	}
	p = unitstest.Hostile()
	p.Jobs[0].Description = "a\nb"
	if _, err := Render(p); err == nil || !strings.Contains(err.Error(), "description") {
		t.Errorf("Render with a newline in a description: %v", err)
	}
}
