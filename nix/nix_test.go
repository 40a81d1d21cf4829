// Package nix_test checks the Nix files of the repository on a machine
// without nixpkgs and without network (bakc's CI): every .nix file
// parses, the flake's outputs evaluate against a stand-in nixpkgs
// (nix/tests/stub-nixpkgs.nix) to what they should be, and the
// vendorHash of nix/package.nix is the hash of `go mod vendor`. What
// needs nixpkgs itself (building the package, nix flake check, the
// NixOS VM test) only a host with Nix and network can run; see
// docs/nixos.md.
package nix_test

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/holthome/bakc/internal/testenv"
	"github.com/stretchr/testify/require"
)

// repoRoot is the repository's top folder.
func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(filepath.Dir(file))
}

// TestParseEveryNixFile runs nix-instantiate --parse on every .nix file
// of the repository (outside testdata folders, which may hold broken
// ones on purpose). The parser also refuses undefined variables.
func TestParseEveryNixFile(t *testing.T) {
	nix := testenv.NixInstantiate(t)
	root := repoRoot()
	var files []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "testdata" || d.Name() == "vendor" || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(path, ".nix") {
			files = append(files, path)
		}
		return nil
	})
	require.NoError(t, err)
	for _, want := range []string{"flake.nix", "nix/package.nix", "nix/module.nix", "nix/checks.nix", "nix/tests/backup-restore.nix"} {
		require.Contains(t, files, filepath.Join(root, want))
	}
	for _, f := range files {
		if out, err := exec.Command(nix, "--parse", f).CombinedOutput(); err != nil {
			t.Errorf("%s: %v\n%s", strings.TrimPrefix(f, root+"/"), err, out)
		}
	}
	t.Logf("%d .nix files parsed", len(files))
}

// flakeEval evaluates the flake's outputs against the stand-in nixpkgs
// (stub-nixpkgs.nix) and returns what the expression picks, as JSON.
func flakeEval(t *testing.T, withGo126 bool, pick string) []byte {
	t.Helper()
	nix := testenv.NixInstantiate(t)
	root := repoRoot()
	go126 := "true"
	if !withGo126 {
		go126 = "false"
	}
	// What `import nixpkgs { … }` imports: the stub, told whether it
	// has buildGo126Module.
	entry := filepath.Join(t.TempDir(), "nixpkgs.nix")
	require.NoError(t, os.WriteFile(entry, []byte("args: import "+root+"/nix/tests/stub-nixpkgs.nix (args // { withGo126 = "+go126+"; })\n"), 0o644))
	expr := `
let
  root = ` + root + `;
  stub = import (root + "/nix/tests/stub-nixpkgs.nix");
  flake = import (root + "/flake.nix");
  nixpkgs = {
    outPath = ` + entry + `;
    lib = (stub { system = "x86_64-linux"; }).lib;
  };
  self = outputs // { outPath = toString root; shortRev = "abc1234"; };
  outputs = flake.outputs { inherit self nixpkgs; };
in
` + pick
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(nix, "--eval", "--strict", "--json", "--expr", expr)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("evaluating the flake: %v\n%s", err, stderr.String())
	}
	return stdout.Bytes()
}

// TestFlakeOutputs: the package is bakc's cmd/bakc built with
// buildGoModule (Go 1.26), its version from nix/version.txt with the
// commit, the vendorHash from nix/package.nix; the overlay, module, apps,
// dev shell and checks are there on every system, the VM test on Linux.
func TestFlakeOutputs(t *testing.T) {
	out := flakeEval(t, true, `
let
  sys = "x86_64-linux";
  bakc = outputs.packages.${sys}.bakc;
  overlayed = outputs.overlays.default { } { };
  # lib as far as the module uses it.
  module = outputs.nixosModules.default {
    lib = { mkOption = o: o; types.path = "path"; literalExpression = e: e; };
  };
in {
  inherit (bakc) pname version vendorHash subPackages ldflags stubKind doCheck postInstall;
  src = toString bakc.src;
  defaultIsBakc = outputs.packages.${sys}.default.outPath == bakc.outPath;
  systems = builtins.attrNames outputs.packages;
  app = outputs.apps.${sys}.default.program;
  moduleOverlays = builtins.length module.config.nixpkgs.overlays;
  moduleFleetType = module.options.bakc.fleet.type;
  checks = builtins.attrNames outputs.checks.${sys};
  checksDarwin = builtins.attrNames outputs.checks.aarch64-darwin;
  vmTest = outputs.checks.${sys}.nixos-backup-restore.name;
  vmNodes = builtins.attrNames outputs.checks.${sys}.nixos-backup-restore.nodes;
  goTests = outputs.checks.${sys}.go-tests.doCheck;
  goTestsAll = outputs.checks.${sys}.go-tests.subPackages;
  shell = map (p: p.name) outputs.devShells.${sys}.default.packages;
  formatter = outputs.formatter.${sys}.name;
}`)
	var got struct {
		Pname, Version, VendorHash, StubKind, Src, App, VMTest, Formatter, PostInstall  string
		ModuleFleetType                                                                 string
		SubPackages, Ldflags, Systems, Checks, ChecksDarwin, VMNodes, Shell, GoTestsAll []string
		DoCheck, DefaultIsBakc, GoTests                                                 bool
		ModuleOverlays                                                                  int
	}
	require.NoError(t, json.Unmarshal(out, &got))

	versionTxt, err := os.ReadFile(filepath.Join(repoRoot(), "nix", "version.txt"))
	require.NoError(t, err)
	version := strings.TrimSpace(string(versionTxt)) + "+abc1234"
	pkgNix, err := os.ReadFile(filepath.Join(repoRoot(), "nix", "package.nix"))
	require.NoError(t, err)

	checks := []struct {
		name      string
		want, got any
	}{
		{"pname", "bakc", got.Pname},
		{"version", version, got.Version},
		{"ldflags", []string{"-s", "-w", "-X main.version=" + version}, got.Ldflags},
		{"subPackages", []string{"cmd/bakc"}, got.SubPackages},
		{"builder", "buildGo126Module", got.StubKind},
		{"src is the repository", repoRoot(), got.Src},
		{"vendorHash is the one in package.nix", true, strings.Contains(string(pkgNix), `vendorHash = "`+got.VendorHash+`";`) && strings.HasPrefix(got.VendorHash, "sha256-")},
		{"default package", true, got.DefaultIsBakc},
		{"systems", []string{"aarch64-darwin", "aarch64-linux", "x86_64-darwin", "x86_64-linux"}, got.Systems},
		{"app", "/stub/bakc/bin/bakc", got.App},
		{"restic and sh on the runtime's PATH", true, strings.Contains(got.PostInstall, "--prefix PATH : /stub/restic/bin:/stub/bash/bin")},
		{"module adds the overlay", 1, got.ModuleOverlays},
		{"module declares bakc.fleet, a path", "path", got.ModuleFleetType},
		{"checks on Linux", []string{"examples", "go-tests", "nixos-backup-restore"}, got.Checks},
		{"checks elsewhere", []string{"examples", "go-tests"}, got.ChecksDarwin},
		{"VM test", "bakc-backup-restore", got.VMTest},
		{"VM test nodes", []string{"client", "nas"}, got.VMNodes},
		{"go tests run every package", true, got.GoTests && len(got.GoTestsAll) == 0},
		{"dev shell", []string{"go", "gopls", "restic", "nix", "nixfmt-rfc-style", "systemd", "zfs"}, got.Shell},
		{"formatter", "nixfmt-rfc-style", got.Formatter},
	}
	for _, c := range checks {
		if diff := cmp.Diff(c.want, c.got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", c.name, diff)
		}
	}
}

// TestFlakeWithoutGo126: with a nixpkgs whose newest builder is the
// default buildGoModule, the overlay falls back to it.
func TestFlakeWithoutGo126(t *testing.T) {
	out := flakeEval(t, false, `outputs.packages.x86_64-linux.bakc.stubKind`)
	if diff := cmp.Diff(`"buildGoModule"`, string(out)); diff != "" {
		t.Errorf("builder (-want +got):\n%s", diff)
	}
}

// TestVMTestFleetFiles: the VM test imports files that exist.
func TestVMTestFleetFiles(t *testing.T) {
	for _, f := range []string{"fleet/out/client/backup.nix", "fleet/out/nas/nas.nix", "fleet/bakc.hcl", "fleet/hosts/client.hcl"} {
		if _, err := os.Stat(filepath.Join(repoRoot(), "nix", "tests", f)); err != nil {
			t.Error(err)
		}
	}
}

// TestVendorHash recomputes vendorHash from go.mod and go.sum with
// scripts/vendor-hash.sh (go mod vendor, then nix's NAR hash) and fails
// when nix/package.nix does not have it.
func TestVendorHash(t *testing.T) {
	testenv.NixInstantiate(t) // the script needs nix's hashing too
	if testing.Short() {
		t.Skip("go mod vendor copies every dependency")
	}
	cmd := exec.Command("sh", filepath.Join(repoRoot(), "scripts", "vendor-hash.sh"))
	cmd.Dir = repoRoot()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("scripts/vendor-hash.sh: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}

// TestDocsFlakeExample: the complete flake docs/nixos.md gives users
// parses, and its outputs evaluate against the stand-in nixpkgs with this
// repository as the bakc input.
func TestDocsFlakeExample(t *testing.T) {
	nix := testenv.NixInstantiate(t)
	doc, err := os.ReadFile(filepath.Join(repoRoot(), "docs", "nixos.md"))
	require.NoError(t, err)
	var blocks []string
	for _, part := range strings.Split(string(doc), "```nix\n")[1:] {
		code, _, _ := strings.Cut(part, "```")
		if strings.HasPrefix(code, "{\n  inputs") {
			blocks = append(blocks, code)
		}
	}
	require.Len(t, blocks, 1, "docs/nixos.md should have one complete flake")
	dir := t.TempDir()
	flake := filepath.Join(dir, "flake.nix")
	require.NoError(t, os.WriteFile(flake, []byte(blocks[0]), 0o644))
	if out, err := exec.Command(nix, "--parse", flake).CombinedOutput(); err != nil {
		t.Fatalf("the documented flake does not parse: %v\n%s", err, out)
	}
	root := repoRoot()
	entry := filepath.Join(dir, "nixpkgs.nix")
	require.NoError(t, os.WriteFile(entry, []byte("import "+root+"/nix/tests/stub-nixpkgs.nix\n"), 0o644))
	// nixpkgs.lib.nixosSystem and legacyPackages are not in the stub:
	// give them here, returning what they are given.
	expr := `
let
  root = ` + root + `;
  stub = import (root + "/nix/tests/stub-nixpkgs.nix");
  nixpkgs = {
    outPath = ` + entry + `;
    lib = (stub { system = "x86_64-linux"; }).lib // { nixosSystem = args: args; };
    legacyPackages.x86_64-linux = stub { system = "x86_64-linux"; };
  };
  bakcSelf = bakcOutputs // { outPath = toString root; shortRev = "abc1234"; };
  bakcOutputs = (import (root + "/flake.nix")).outputs { self = bakcSelf; inherit nixpkgs; };
  # sops-nix's module stands in as an empty module.
  sops-nix = { nixosModules.sops = { }; };
  user = (import ` + flake + `).outputs { self = userOutputs // { outPath = "/user"; }; inherit nixpkgs sops-nix; bakc = bakcOutputs; };
  userOutputs = user;
in {
  modules = builtins.length user.nixosConfigurations.forge.modules;
  check = user.checks.x86_64-linux.backup-nix-current.name;
  bakc = user.packages.x86_64-linux.bakc.pname;
}`
	out, err := exec.Command(nix, "--eval", "--strict", "--json", "--expr", expr).CombinedOutput()
	if err != nil {
		t.Fatalf("evaluating the documented flake: %v\n%s", err, out)
	}
	if diff := cmp.Diff(`{"bakc":"bakc","check":"backup-nix-current","modules":5}`, string(out)); diff != "" {
		t.Errorf("documented flake (-want +got):\n%s", diff)
	}
}
