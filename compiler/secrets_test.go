package compiler

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/holthome/bakc/compiler/plan"
)

// exampleSopsFile is a sops file sops 3.13.3 encrypted (the example
// fleet's), with the keys restic/password and restic/b2-credentials.
func exampleSopsFile(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "examples", "homelab", "secrets", "forge.yaml"))
	require.NoError(t, err)
	return string(data)
}

// TestSopsSecrets: sops secrets in both syntaxes, for a password, an
// environment file and an ssh key, in the fleet and beside it; the plan
// names the paths bakc chose and lists where each comes from, never a
// value.
func TestSopsSecrets(t *testing.T) {
	sops := exampleSopsFile(t)
	root := t.TempDir()
	dir := filepath.Join(root, "fleet")
	for name, data := range map[string]string{
		"fleet/bakc.hcl": okRoot,
		"fleet/hosts/a.hcl": `node "a" {
  repository "b2" {
    url              = "b2:bucket:/a"
    password_file    = { sops = "secrets/a.yaml", key = "restic/password" }
    environment_file = { sops = "../shared/b2.env" }
  }
  repository "nas" {
    url           = "sftp:restic@nas.example.net:/srv/restic/a"
    password_file = { sops = "secrets/a.yaml", key = "restic/password" }
    ssh {
      identity_file = { sops = "secrets/a.yaml", key = "restic/b2-credentials" }
      known_hosts   = ["nas.example.net ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOq8B0VF0d9ZVPFtGJed4g7hoAs6BjzRCeE/yjuYM3Se"]
    }
  }
  job "j" {
    paths = ["/srv/data"]
  }
}
`,
		"fleet/hosts/b.hcl.json": `{"node": {"b": {"repository": {"r": {"path": "/srv/restic", "password_file": {"sops": "secrets/a.yaml", "key": "restic/password"}}}, "job": {"j": {"paths": ["/data"]}}}}}`,
		"fleet/secrets/a.yaml":   sops,
		"shared/b2.env":          "B2_ACCOUNT_ID=ENC[AES256_GCM,data:x,iv:y,tag:z,type:str]\nsops_mac=ENC[AES256_GCM,data:m,iv:n,tag:o,type:str]\n",
	} {
		p := filepath.Join(root, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(data), 0o644))
	}
	f, diags := LoadFleet(dir)
	require.Empty(t, diags)
	require.Empty(t, f.Validate())

	p, diags := f.Plan("a")
	require.Empty(t, diags)
	want := []plan.Secret{
		{Name: "bakc/b2/environment", Path: "/run/secrets/bakc/b2/environment", Sops: &plan.Sops{File: "../shared/b2.env", Format: "dotenv"}},
		{Name: "bakc/b2/password", Path: "/run/secrets/bakc/b2/password", Sops: &plan.Sops{File: "secrets/a.yaml", Key: "restic/password", Format: "yaml"}},
		{Name: "bakc/nas/password", Path: "/run/secrets/bakc/nas/password", Sops: &plan.Sops{File: "secrets/a.yaml", Key: "restic/password", Format: "yaml"}},
		{Name: "bakc/nas/ssh-identity", Path: "/run/secrets/bakc/nas/ssh-identity", Sops: &plan.Sops{File: "secrets/a.yaml", Key: "restic/b2-credentials", Format: "yaml"}},
	}
	if diff := cmp.Diff(want, p.Secrets); diff != "" {
		t.Errorf("secrets (-want +got):\n%s", diff)
	}
	require.Equal(t, "/run/secrets/bakc/b2/password", p.Repositories[0].PasswordFile)
	require.Equal(t, "/run/secrets/bakc/b2/environment", p.Repositories[0].EnvironmentFile)
	require.Equal(t, "/run/secrets/bakc/nas/ssh-identity", p.Repositories[1].SSH.IdentityFile)
	require.NoError(t, p.Validate())

	pb, diags := f.Plan("b")
	require.Empty(t, diags)
	require.Len(t, pb.Secrets, 1)

	// SkipSecretFiles: the same node with its sops file gone still
	// compiles (bakc init checks a host file before it writes secrets).
	require.NoError(t, os.Remove(filepath.Join(dir, "secrets", "a.yaml")))
	f, _ = LoadFleet(dir)
	_, diags = f.Plan("a")
	require.True(t, diags.HasErrors())
	f, _ = LoadFleet(dir)
	f.SkipSecretFiles()
	_, diags = f.Plan("a")
	require.Empty(t, diags)
}

// TestPlanSecretsValidate: Validate refuses secrets that do not match
// the repositories that read them.
func TestPlanSecretsValidate(t *testing.T) {
	good := func() *plan.Plan {
		p := mustPlan(t, writeFleet(t, map[string]string{
			"bakc.hcl":       okRoot,
			"secrets/a.yaml": exampleSopsFile(t),
			"hosts/a.hcl": `node "a" {
  repository "r" {
    path          = "/srv/restic"
    password_file = { sops = "secrets/a.yaml", key = "restic/password" }
  }
  job "j" {
    paths = ["/srv/data"]
  }
}
`,
		}), "a")
		require.NoError(t, p.Validate())
		return p
	}
	for _, tt := range []struct {
		name   string
		change func(p *plan.Plan)
		want   string
	}{
		{"path elsewhere", func(p *plan.Plan) { p.Secrets[0].Path = "/run/secrets/other" }, "secrets[0].path"},
		{"read elsewhere", func(p *plan.Plan) { p.Repositories[0].PasswordFile = "/run/secrets/pw" }, "secrets[0].path"},
		{"unknown repository", func(p *plan.Plan) { p.Secrets[0].Name = "bakc/zz/password" }, "secrets[0].name"},
		{"bad name", func(p *plan.Plan) { p.Secrets[0].Name = "restic" }, "secrets[0].name"},
		{"no source", func(p *plan.Plan) { p.Secrets[0].Sops = nil }, "secrets[0].sops"},
		{"absolute file", func(p *plan.Plan) { p.Secrets[0].Sops.File = "/etc/a.yaml" }, "secrets[0].sops.file"},
		{"no key", func(p *plan.Plan) { p.Secrets[0].Sops.Key = "" }, "secrets[0].sops.key"},
		{"format", func(p *plan.Plan) { p.Secrets[0].Sops.Format = "toml" }, "secrets[0].sops.format"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := good()
			tt.change(p)
			err := p.Validate()
			require.Error(t, err)
			require.Contains(t, err.Error(), tt.want)
		})
	}
}
