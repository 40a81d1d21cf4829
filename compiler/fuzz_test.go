package compiler

import (
	"bytes"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/hashicorp/hcl/v2"
	"github.com/rogpeppe/go-internal/txtar"
	"github.com/stretchr/testify/require"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/escape"
)

// FuzzCompile feeds arbitrary bakc.hcl and host file contents to the
// whole compiler. It must never panic, must give the same diagnostics
// and the same plan bytes on a second, independent compile, and every
// plan it does produce must hold only values the emitters can carry.
// The seeds are the example fleet and every invalid fixture.
//
//	go test ./compiler -run '^$' -fuzz FuzzCompile -fuzztime 5m
func FuzzCompile(f *testing.F) {
	root, err := os.ReadFile("../examples/homelab/bakc.hcl")
	require.NoError(f, err)
	for _, h := range []string{"forge", "luna", "cluster-0"} {
		host, err := os.ReadFile("../examples/homelab/hosts/" + h + ".hcl")
		require.NoError(f, err)
		f.Add(root, host)
	}
	fixtures, _ := filepath.Glob("testdata/invalid/*.txtar")
	for _, fx := range fixtures {
		ar, err := txtar.ParseFile(fx)
		require.NoError(f, err)
		var r, h []byte
		for _, file := range ar.Files {
			switch {
			case file.Name == "bakc.hcl":
				r = file.Data
			case strings.HasSuffix(file.Name, ".hcl") && h == nil:
				h = file.Data
			}
		}
		if r != nil && h != nil {
			f.Add(r, h)
		}
	}
	f.Fuzz(func(t *testing.T, root, host []byte) {
		fsys := fstest.MapFS{
			"bakc.hcl":    {Data: root},
			"hosts/n.hcl": {Data: host},
		}
		first := compileAll(t, fsys)
		second := compileAll(t, fsys)
		if first != second {
			t.Fatalf("two compiles differ:\n%s\n----\n%s", first, second)
		}
	})
}

// compileAll validates the fleet in fsys and lowers every node and NAS,
// returning everything as text for comparison. It checks the invariants
// of every plan produced.
func compileAll(t *testing.T, fsys fstest.MapFS) string {
	var out bytes.Buffer
	f, diags := loadFS(fsys, "fleet", nil)
	writeDiags(&out, diags)
	if diags.HasErrors() {
		return out.String()
	}
	writeDiags(&out, f.Validate())
	for _, n := range f.NodeNames() {
		p, diags := f.Plan(n)
		writeDiags(&out, diags)
		if p == nil {
			continue
		}
		checkPlanInvariants(t, p)
		data, err := plan.Marshal(p)
		require.NoError(t, err)
		back, err := plan.Decode(bytes.NewReader(data))
		require.NoError(t, err, "a plan must decode again")
		again, err := plan.Marshal(back)
		require.NoError(t, err)
		require.Equal(t, string(data), string(again), "a plan must survive a JSON round trip")
		out.Write(data)
	}
	for _, n := range f.NASNames() {
		p, diags := f.NASPlan(n)
		writeDiags(&out, diags)
		if p == nil {
			continue
		}
		data, err := plan.MarshalNAS(p)
		require.NoError(t, err)
		out.Write(data)
	}
	return out.String()
}

func writeDiags(out *bytes.Buffer, diags hcl.Diagnostics) {
	for _, d := range diags {
		out.WriteString(d.Error())
		out.WriteByte('\n')
	}
}

// checkPlanInvariants: what the emitters and the runtime rely on.
func checkPlanInvariants(t *testing.T, p *plan.Plan) {
	t.Helper()
	line := func(what, s string) {
		if err := escape.CheckSystemdLine(s); s != "" && err != nil {
			t.Fatalf("%s %q: %v", what, s, err)
		}
	}
	line("node name", p.Node.Name)
	line("address", p.Node.Address)
	for _, r := range p.Repositories {
		line("repository", r.Name)
		line("url", r.URL)
		require.NoError(t, escape.CheckSystemdPath(r.PasswordFile))
	}
	for _, j := range p.Jobs {
		line("description", j.Description)
		line("calendar", j.Schedule.Calendar)
		require.True(t, len(j.Paths) > 0 || len(j.Dumps) > 0, "a job backs up paths or dumps")
		require.NotNil(t, j.Paths, "paths is [] for a job that only dumps, never null")
		require.NotEmpty(t, j.Repositories)
		for _, d := range j.Dumps {
			require.NotEmpty(t, d.Command)
			require.Equal(t, "/"+d.Filename, d.SnapshotPath())
			require.Equal(t, path.Clean(d.Filename), d.Filename)
			require.False(t, strings.Contains(d.Tag, ","), "dump tag %q", d.Tag)
		}
		for _, n := range j.StepNeeds() {
			for _, w := range append(append([]string{}, n.Writes...), n.Path...) {
				require.NoError(t, escape.CheckSystemdPath(w))
			}
		}
		for _, q := range j.Paths {
			require.NoError(t, escape.CheckSystemdPath(q))
			require.Equal(t, path.Clean(q), q)
		}
		for _, tag := range j.Tags {
			require.False(t, strings.Contains(tag, ","), "tag %q", tag)
		}
		for _, h := range []string{j.Hooks.PreBackup, j.Hooks.PostBackup, j.Hooks.OnFailure} {
			require.NoError(t, escape.CheckNixString(h))
		}
		r := j.Retention
		require.True(t, r.Last+r.Hourly+r.Daily+r.Weekly+r.Monthly+r.Yearly > 0 || r.Within != "", "retention keeps something")
	}
}
