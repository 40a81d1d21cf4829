package unitstest

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/hashicorp/hcl/v2"

	"github.com/holthome/bakc/compiler"
	"github.com/holthome/bakc/compiler/plan"
)

// SystemUserCase is a backup user and group, as a fleet's user block
// gives them, for the tests that put them through NixOS's users and
// groups (emit/nixos) and systemd-sysusers (emit/unitfile).
type SystemUserCase struct {
	Name string
	// User is what the compiler is given; zero fields are the defaults'.
	User plan.User
}

// SystemUserCases are the backup users of those tests: the default, one
// of its own with other ids, and users and groups that NixOS defines
// itself (nixos/modules/config/users-groups.nix, misc/ids.nix,
// services/system/nix-daemon.nix), by name or by id.
var SystemUserCases = []SystemUserCase{
	{"default", plan.User{}},
	{"own user and group", plan.User{Name: "backup-svc", Group: "backup-svc", UID: 2300, GID: 2300}},
	{"group users", plan.User{Group: "users", GID: 2049}},
	{"group wheel", plan.User{Group: "wheel"}},
	{"group nixbld", plan.User{Group: "nixbld"}},
	{"group nogroup", plan.User{Group: "nogroup"}},
	{"user root", plan.User{Name: "root"}},
	{"user nobody", plan.User{Name: "nobody"}},
	{"user nixbld1", plan.User{Name: "nixbld1"}},
	{"gid of users", plan.User{GID: 100}},
	{"gid of wheel", plan.User{GID: 1}},
	{"uid of nixbld1", plan.User{UID: 30001}},
}

// CompileUser compiles a one-node fleet whose defaults carry c's user
// block, and returns the node's plan or the diagnostics.
func CompileUser(t testing.TB, c SystemUserCase) (*plan.Plan, hcl.Diagnostics) {
	t.Helper()
	var block string
	for _, a := range []struct {
		key string
		val any
		set bool
	}{
		{"name", fmt.Sprintf("%q", c.User.Name), c.User.Name != ""},
		{"group", fmt.Sprintf("%q", c.User.Group), c.User.Group != ""},
		{"uid", c.User.UID, c.User.UID != 0},
		{"gid", c.User.GID, c.User.GID != 0},
	} {
		if a.set {
			block += fmt.Sprintf("    %s = %v\n", a.key, a.val)
		}
	}
	dir := t.TempDir()
	files := map[string]string{
		"bakc.hcl": "defaults {\n  user {\n" + block + "  }\n  retention {\n    daily = 7\n  }\n}\n",
		"hosts/forge.hcl": `node "forge" {
  repository "local" {
    path          = "/srv/restic"
    password_file = "/run/secrets/restic"
  }
  job "home" {
    paths = ["/home"]
  }
}
`,
	}
	for name, data := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	f, diags := compiler.LoadFleet(dir)
	if diags.HasErrors() {
		return nil, diags
	}
	return f.Plan("forge")
}

// WithUser returns a copy of the default case's plan with c's user laid
// over it, as a compiler without the check would have written it.
func WithUser(t testing.TB, c SystemUserCase) *plan.Plan {
	t.Helper()
	p, diags := CompileUser(t, SystemUserCases[0])
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if c.User.Name != "" {
		p.User.Name = c.User.Name
	}
	if c.User.Group != "" {
		p.User.Group = c.User.Group
	}
	if c.User.UID != 0 {
		p.User.UID = c.User.UID
	}
	if c.User.GID != 0 {
		p.User.GID = c.User.GID
	}
	return p
}
