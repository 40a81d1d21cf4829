package compiler

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/schema"
)

// writeFleet writes files (name → content) below a new folder and
// returns it.
func writeFleet(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	}
	return dir
}

// mustPlan loads dir and returns the plan of node, failing on any
// diagnostic.
func mustPlan(t *testing.T, dir, node string) *plan.Plan {
	t.Helper()
	f, diags := LoadFleet(dir)
	require.Empty(t, diags, "loading")
	p, diags := f.Plan(node)
	require.Empty(t, diags, "planning")
	return p
}

// TestJSONSyntaxSameAsNative compiles testdata/json-fleet, the example
// fleet's bakc.hcl and forge.hcl written in HCL's JSON syntax, and
// requires the same plans as the native files give.
func TestJSONSyntaxSameAsNative(t *testing.T) {
	native, diags := LoadFleet("../examples/homelab")
	require.Empty(t, diags)
	want, diags := native.Plan("forge")
	require.Empty(t, diags)
	jsonFleet, diags := LoadFleet("testdata/json-fleet")
	require.Empty(t, diags)
	require.Empty(t, jsonFleet.Validate())
	got, diags := jsonFleet.Plan("forge")
	require.Empty(t, diags)
	require.Equal(t, "hosts/forge.hcl.json", got.Source)
	got.Source = want.Source
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("plan from JSON syntax (-native +json):\n%s", diff)
	}

	wantNAS, diags := native.NASPlan("nas-1")
	require.Empty(t, diags)
	gotNAS, diags := jsonFleet.NASPlan("nas-1")
	require.Empty(t, diags)
	require.Equal(t, []string{"bakc.hcl.json", "hosts/forge.hcl.json"}, gotNAS.Sources)
	require.Equal(t, "forge", wantNAS.Nodes[0].Name)
	if diff := cmp.Diff(wantNAS.Nodes[0], gotNAS.Nodes[0]); diff != "" {
		t.Errorf("NAS node from JSON syntax (-native +json):\n%s", diff)
	}
	if diff := cmp.Diff(wantNAS.NAS, gotNAS.NAS); diff != "" {
		t.Errorf("NAS from JSON syntax (-native +json):\n%s", diff)
	}
}

// TestExpressions: HCL expressions, the standard functions, node.name,
// node.address and nas[...] work wherever a value is written.
func TestExpressions(t *testing.T) {
	dir := writeFleet(t, map[string]string{
		"bakc.hcl": `
nas "nas-1" {
  address = lower("NAS-1.Example.Net")
  parent  = "backup"
  dataset "restic" {
    export = "nfs"
  }
}
defaults {
  exclude = concat(["**/.cache"], [for d in ["target", "result"] : "**/${d}"])
  retention {
    daily  = 2 * 7
    weekly = max(4, 8)
  }
}
`,
		"hosts/web.hcl": `
node "web" {
  address = "${node.name}.example.net"
  nas     = "nas-1"
  repository "nas" {
    nfs {
      dataset    = "restic"
      mountpoint = format("/mnt/%s-backup", node.name)
    }
    password_file = "/run/secrets/${node.name}/restic"
  }
  repository "remote" {
    url           = "sftp:restic@${nas["nas-1"].address}:/srv/restic/${node.name}"
    password_file = "/run/secrets/${node.name}/restic"
    ssh {
      identity_file = "/run/secrets/${node.name}/ssh-key"
      known_hosts   = ["${nas["nas-1"].address} ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOq8B0VF0d9ZVPFtGJed4g7hoAs6BjzRCeE/yjuYM3Se"]
    }
  }
  job "www" {
    description = upper("web ${node.address}")
    paths       = sort(["/var/www", "/srv/${node.name}"])
    tags        = split(",", "a,b")
    schedule    = join(" ", ["*-*-*", "03:00"])
    pre_backup  = <<-EOT
      set -e
      echo ${jsonencode(node.name)}
    EOT
    resources {
      nice = try(tonumber("x"), 5)
    }
  }
}
`,
	})
	p := mustPlan(t, dir, "web")
	require.Equal(t, "web.example.net", p.Node.Address)
	repo, ok := p.Repository("nas")
	require.True(t, ok)
	require.Equal(t, "/mnt/web-backup", repo.URL)
	require.Equal(t, "nas-1.example.net", repo.NFS.Server)
	require.Equal(t, "/run/secrets/web/restic", repo.PasswordFile)
	remote, ok := p.Repository("remote")
	require.True(t, ok)
	if diff := cmp.Diff(&plan.SSH{
		User: "restic", Host: "nas-1.example.net",
		IdentityFile:   "/run/secrets/web/ssh-key",
		KnownHostsFile: "/etc/bakc/known_hosts",
		KnownHosts:     []string{"nas-1.example.net ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOq8B0VF0d9ZVPFtGJed4g7hoAs6BjzRCeE/yjuYM3Se"},
	}, remote.SSH); diff != "" {
		t.Errorf("ssh (-want +got):\n%s", diff)
	}
	require.Equal(t, "/etc/bakc/known_hosts", p.Paths.KnownHosts)
	remote, _ = p.Repository("remote")
	require.Equal(t, "sftp:restic@nas-1.example.net:/srv/restic/web", remote.URL)
	job, ok := p.Job("www")
	require.True(t, ok)
	want := plan.Job{
		Name:         "www",
		Description:  "WEB WEB.EXAMPLE.NET",
		Paths:        []string{"/srv/web", "/var/www"},
		Exclude:      []string{"**/.cache", "**/target", "**/result"},
		Repositories: []string{"nas", "remote"},
		Schedule:     plan.Schedule{Calendar: "*-*-* 03:00", RandomizedDelay: "30m"},
		Retention:    plan.Retention{Daily: 14, Weekly: 8},
		Tags:         []string{"a", "b", "job:www"},
		JobTag:       "job:www",
		Snapshot:     "none",
		Hooks:        plan.Hooks{PreBackup: "set -e\necho \"web\"\n"},
		Resources:    plan.Resources{Nice: 5, IOSchedulingClass: "idle"},
	}
	// The job lists no repositories: the node's default ones.
	want.DefaultRepositories = true
	if diff := cmp.Diff(want, *job); diff != "" {
		t.Errorf("job (-want +got):\n%s", diff)
	}
}

// TestFunctionsDocumented keeps docs/language.md's list of functions in
// step with the functions expressions may call.
func TestFunctionsDocumented(t *testing.T) {
	doc, err := os.ReadFile("../docs/language.md")
	require.NoError(t, err)
	for _, name := range schema.FunctionNames() {
		require.True(t, strings.Contains(string(doc), "`"+name+"`"), "docs/language.md does not mention the function %s", name)
	}
}
