package compiler

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

const okRoot = "defaults {\n  retention {\n    daily = 7\n  }\n}\n"

func okHost(name string) string {
	return `node "` + name + `" {
  repository "r" {
    path          = "/srv/restic"
    password_file = "/run/secrets/restic"
  }
  job "j" {
    paths = ["/srv/data"]
  }
}
`
}

// TestLoadFleetFindsHostFiles: every *.hcl and *.hcl.json below the root,
// but not in hidden folders, not hidden files, not in a nested fleet.
func TestLoadFleetFindsHostFiles(t *testing.T) {
	dir := writeFleet(t, map[string]string{
		"bakc.hcl":                okRoot,
		"hosts/a.hcl":             okHost("a"),
		"hosts/deep/b.hcl.json":   `{"node": {"b": {"repository": {"r": {"path": "/srv/restic", "password_file": "/run/secrets/restic"}}, "job": {"j": {"paths": ["/data"]}}}}}`,
		"c.hcl":                   okHost("c"),
		".git/x.hcl":              "not hcl {",
		"hosts/.#a.hcl":           "not hcl {",
		"hosts/notes.txt":         "not hcl {",
		"other-fleet/bakc.hcl":    okRoot,
		"other-fleet/hosts/z.hcl": okHost("z"),
		"hosts/out/plan.json":     "{}",
	})
	f, diags := LoadFleet(filepath.Join(dir, "hosts", "deep"))
	require.Empty(t, diags)
	require.Equal(t, []string{"a", "b", "c"}, f.NodeNames())
	require.Equal(t, dir, f.Root(), "an absolute path gives an absolute root")
	require.Empty(t, f.Validate())
	p := mustPlan(t, dir, "b")
	require.Equal(t, "hosts/deep/b.hcl.json", p.Source)
}

// TestLoadNodeFile loads a host file and the root file above it, and no
// other host file, even a broken one; names stay relative when the path
// given was relative.
func TestLoadNodeFile(t *testing.T) {
	dir := writeFleet(t, map[string]string{
		"bakc.hcl":        okRoot,
		"hosts/a.hcl":     okHost("a"),
		"hosts/b.hcl":     "node \"b\" {\n  nonsense = 1\n}\n",
		"hosts/empty.hcl": "# nothing yet\n",
	})
	t.Chdir(filepath.Join(dir, "hosts"))
	f, diags := LoadNodeFile("a.hcl")
	require.Empty(t, diags)
	require.Equal(t, []string{"a"}, f.NodeNames())
	require.Equal(t, "..", f.Root())
	name, ok := f.NodeFile("a")
	require.True(t, ok)
	require.Equal(t, filepath.Join("..", "hosts", "a.hcl"), name)
	p, diags := f.Plan("a")
	require.Empty(t, diags)
	require.Equal(t, "hosts/a.hcl", p.Source)

	_, diags = LoadNodeFile("empty.hcl")
	require.Len(t, diags, 1)
	require.Equal(t, "No node in host file", diags[0].Summary)
	_, diags = LoadNodeFile("../bakc.hcl")
	require.Equal(t, "Not a host file", diags[0].Summary)
	_, diags = LoadNodeFile("missing.hcl")
	require.Equal(t, "Cannot read host file", diags[0].Summary)

	// The broken file's diagnostics point at it, with its source.
	f, diags = LoadNodeFile("b.hcl")
	require.True(t, diags.HasErrors())
	require.Equal(t, "Unsupported argument", diags[0].Summary)
	files := f.FilesFor(diags)
	require.Contains(t, files, filepath.Join("..", "hosts", "b.hcl"))
	require.NotEmpty(t, files[filepath.Join("..", "hosts", "b.hcl")].Bytes)
}

// TestNoFleet: a folder with no bakc.hcl at or above it.
func TestNoFleet(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "a.hcl"), []byte(okHost("a")), 0o644))
	if _, err := os.Stat("/bakc.hcl"); err == nil {
		t.Skip("this machine has a /bakc.hcl")
	}
	_, diags := LoadFleet(dir)
	require.Len(t, diags, 1)
	require.Equal(t, "No fleet found", diags[0].Summary)
	// Where it looked, and how to name a fleet (issue 9: --fleet was not
	// mentioned).
	require.Contains(t, diags[0].Detail, "no bakc.hcl in "+dir+" or any folder above it")
	require.Contains(t, diags[0].Detail, "--fleet DIR")
	_, diags = LoadNodeFile(filepath.Join(dir, "a.hcl"))
	require.Equal(t, "No fleet found", diags[0].Summary)
}
