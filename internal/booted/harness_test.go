package booted

import (
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/holthome/bakc/internal/testenv"
)

// The harness's own parts that need no boot.

func TestRunPatternMatchesExactlyTheTest(t *testing.T) {
	tests := []struct {
		name  string
		match []string
		miss  []string
	}{
		{
			name:  "TestBooted/forge",
			match: []string{"TestBooted/forge", "TestBooted/forge/timers"},
			miss:  []string{"TestBooted/forge-nas-down", "TestBootedX/forge", "TestBooted/xforge"},
		},
		{
			name:  "TestBooted/forge-restic-0.14",
			match: []string{"TestBooted/forge-restic-0.14"},
			miss:  []string{"TestBooted/forge-restic-0x14"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// -test.run splits the pattern at slashes and matches each
			// element against the name's element at the same depth.
			elems := regexp.MustCompile(`/`).Split(runPattern(tc.name), -1)
			matches := func(name string) bool {
				parts := regexp.MustCompile(`/`).Split(name, -1)
				for i, e := range elems {
					if i >= len(parts) || !regexp.MustCompile(e).MatchString(parts[i]) {
						return false
					}
				}
				return true
			}
			for _, n := range tc.match {
				require.True(t, matches(n), "%s must match %s", runPattern(tc.name), n)
			}
			for _, n := range tc.miss {
				require.False(t, matches(n), "%s must not match %s", runPattern(tc.name), n)
			}
		})
	}
}

func TestParseTestOutput(t *testing.T) {
	out := `=== RUN   TestBooted
=== RUN   TestBooted/luna
=== RUN   TestBooted/luna/timers
=== RUN   TestBooted/luna/timers/bakc-backup-state
=== RUN   TestBooted/luna/defect-1-backup-state
    luna_test.go:46: bakc-backup-state.service: Result=exit-code
        journal:
        [ 1.0] --- FAIL: looks like a result but is output
=== NAME  TestBooted/luna
    luna_test.go:70: after the subtests
--- FAIL: TestBooted (5.44s)
    --- FAIL: TestBooted/luna (5.44s)
        --- PASS: TestBooted/luna/timers (0.22s)
            --- PASS: TestBooted/luna/timers/bakc-backup-state (0.07s)
        --- FAIL: TestBooted/luna/defect-1-backup-state (2.57s)
FAIL
`
	got := parseTestOutput(out)
	type summary struct {
		Status   string
		Output   string
		Children []string
	}
	sum := map[string]summary{}
	for name, r := range got {
		s := summary{Status: r.status, Output: r.output.String()}
		for _, c := range r.children {
			s.Children = append(s.Children, c.name)
		}
		sum[name] = s
	}
	want := map[string]summary{
		"TestBooted": {Status: "FAIL", Children: []string{"TestBooted/luna"}},
		"TestBooted/luna": {Status: "FAIL", Output: "    luna_test.go:70: after the subtests\n",
			Children: []string{"TestBooted/luna/timers", "TestBooted/luna/defect-1-backup-state"}},
		"TestBooted/luna/timers":                   {Status: "PASS", Children: []string{"TestBooted/luna/timers/bakc-backup-state"}},
		"TestBooted/luna/timers/bakc-backup-state": {Status: "PASS"},
		"TestBooted/luna/defect-1-backup-state": {Status: "FAIL",
			Output: "    luna_test.go:46: bakc-backup-state.service: Result=exit-code\n        journal:\n        [ 1.0] --- FAIL: looks like a result but is output\n"},
	}
	if diff := cmp.Diff(want, sum); diff != "" {
		t.Fatalf("parsed (-want +got):\n%s", diff)
	}
}

func TestPoolScriptIsShell(t *testing.T) {
	script := poolScript([]Pool{{Name: "rpool", Datasets: []Dataset{
		{Name: "rpool/safe/persist", Mountpoint: "/persist"},
		{Name: "rpool/safe/home", Mountpoint: "/home"},
		{Name: "rpool/it's", Mountpoint: "/srv/with space"},
	}}})
	out, err := exec.Command("sh", "-n", "-c", script).CombinedOutput()
	require.NoError(t, err, "sh -n: %s\n%s", out, script)
	require.Regexp(t, `(?s)dataset rpool/safe/home /home\ndataset rpool/safe/persist /persist\n`, script, "parents first, in name order")
	require.Contains(t, script, `dataset 'rpool/it'\''s' '/srv/with space'`)
}

// Each boot's systemd-nspawn runs in a cgroup of its own (cgroup.go):
// the command inCgroup starts is in the new cgroup of every hierarchy
// systemd uses, from its first instruction, and the cgroups go away
// with the test.
func TestInCgroupRunsTheCommandInItsOwnCgroup(t *testing.T) {
	testenv.Root(t)
	var dirs []string
	t.Run("boot", func(t *testing.T) {
		dirs = ownCgroup(t, "bakc-booted-harness-"+randomHex(4))
		require.NotEmpty(t, dirs)
		argv := inCgroup(dirs, []string{"cat", "/proc/self/cgroup"})
		out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
		require.NoError(t, err, "%s", out)
		hs, err := cgroupHierarchies()
		require.NoError(t, err)
		for _, h := range hs {
			require.Regexp(t, `(?m)^`+regexp.QuoteMeta(h.Line)+`:.*/`+regexp.QuoteMeta(filepath.Base(dirs[0]))+`$`, string(out),
				"the command runs in the new cgroup of %s", h.Line)
		}
	})
	for _, d := range dirs {
		require.NoDirExists(t, d, "removed when the test ends")
	}
}
