package compiler

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"
	"github.com/rogpeppe/go-internal/txtar"
	"github.com/stretchr/testify/require"
)

// markerRE finds the expectation a fixture line carries, Terraform
// style: the diagnostic's severity and summary in a comment at the end
// of the line its subject starts on.
var markerRE = regexp.MustCompile(`#\s*(ERROR|WARNING):\s*(.+?)\s*$`)

// expectRE is a line of an -- expect -- section, for files that cannot
// hold comments (JSON syntax): "file:line: ERROR Summary".
var expectRE = regexp.MustCompile(`^(\S+):(\d+): (ERROR|WARNING) (.+)$`)

// TestInvalidConfigurations loads every fleet in testdata/invalid/*.txtar
// and compares the set of (file, line, severity, summary) of the
// diagnostics with the markers in the files. A fleet whose loading
// fails is not validated further, as in the CLI.
func TestInvalidConfigurations(t *testing.T) {
	fixtures, err := filepath.Glob("testdata/invalid/*.txtar")
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(fixtures), 40, "the issue asks for at least 40 invalid configurations")
	for _, fixture := range fixtures {
		name := strings.TrimSuffix(filepath.Base(fixture), ".txtar")
		t.Run(name, func(t *testing.T) {
			ar, err := txtar.ParseFile(fixture)
			require.NoError(t, err)
			dir := t.TempDir()
			var want []string
			for _, f := range ar.Files {
				if f.Name == "expect" {
					for _, line := range strings.Split(strings.TrimSpace(string(f.Data)), "\n") {
						m := expectRE.FindStringSubmatch(line)
						require.NotNil(t, m, "bad expect line %q", line)
						want = append(want, fmt.Sprintf("%s:%s: %s %s", m[1], m[2], m[3], m[4]))
					}
					continue
				}
				p := filepath.Join(dir, f.Name)
				require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
				require.NoError(t, os.WriteFile(p, f.Data, 0o644))
				for i, line := range strings.Split(string(f.Data), "\n") {
					if m := markerRE.FindStringSubmatch(line); m != nil {
						want = append(want, fmt.Sprintf("%s:%d: %s %s", f.Name, i+1, m[1], m[2]))
					}
				}
			}
			require.NotEmpty(t, want, "a fixture must mark at least one expected diagnostic")
			got := fixtureDiagnostics(t, dir)
			sort.Strings(want)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("diagnostics (-want +got):\n%s", diff)
			}
		})
	}
}

// fixtureDiagnostics loads and validates the fleet in dir and returns
// its diagnostics as sorted "file:line: SEVERITY Summary" lines, file
// relative to dir. Every diagnostic must point at the source.
func fixtureDiagnostics(t *testing.T, dir string) []string {
	t.Helper()
	f, diags := LoadFleet(dir)
	if !diags.HasErrors() {
		diags = append(diags, f.Validate()...)
	}
	var got []string
	for _, d := range diags {
		require.NotNil(t, d.Subject, "diagnostic without a subject: %s", d.Error())
		rel, err := filepath.Rel(dir, d.Subject.Filename)
		require.NoError(t, err)
		sev := "ERROR"
		if d.Severity == hcl.DiagWarning {
			sev = "WARNING"
		}
		got = append(got, fmt.Sprintf("%s:%d: %s %s", filepath.ToSlash(rel), d.Subject.Start.Line, sev, d.Summary))
	}
	sort.Strings(got)
	return got
}
