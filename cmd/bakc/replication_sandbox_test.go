package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/holthome/bakc/internal/testenv"
)

// syncoidUnitFilter is the SystemCallFilter= of NixOS's syncoid units
// (nixos/modules/services/backup/syncoid.nix), in which `bakc run
// replicate` runs on a NixOS NAS (services.syncoid.package is bakc's
// wrapper): @system-service without these groups. A call outside it
// kills the process (SIGSYS).
var syncoidUnitFilter = struct {
	allow string
	deny  []string
}{"@system-service", []string{"@aio", "@chown", "@keyring", "@memlock", "@privileged", "@resources", "@setuid", "@timer"}}

// TestReplicateFitsSyncoidSandbox records with strace every system call
// `bakc run replicate` makes — its threads, and its children up to their
// execve — in a successful pull and a failed one, and requires each to
// pass the syncoid unit's filter as systemd 252 expands it
// (systemd-analyze syscall-filter). syncoid and zfs are stand-ins here:
// what is checked is bakc's own calls, which do not depend on what
// syncoid does (cmd/bakc's TestReplicationWithSyncoid recorded the same
// way gives the same set). Not a booted NixOS: the other sandbox
// settings (RootDirectory=, ProtectSystem=strict with the folders bound
// in) are the generated configuration's, read by emit/nas's tests.
func TestReplicateFitsSyncoidSandbox(t *testing.T) {
	strace := testenv.LookPath(t, "strace")
	testenv.SystemdAnalyze(t)
	allowed := expandFilter(t, syncoidUnitFilter.allow)
	for _, g := range syncoidUnitFilter.deny {
		for name := range expandFilter(t, g) {
			delete(allowed, name)
		}
	}
	require.Contains(t, allowed, "flock")
	require.NotContains(t, allowed, "setrlimit", "@resources is taken away")

	self, err := os.Executable()
	require.NoError(t, err)
	dir := t.TempDir()
	bakc := filepath.Join(dir, "bakc")
	require.NoError(t, os.Symlink(self, bakc))
	zfs := filepath.Join(dir, "zfs")
	require.NoError(t, os.WriteFile(zfs, []byte("#!/bin/sh\nprintf 'backup/x\\t1\\nbackup/x@autosnap_2026-11-30_01:00:00_hourly\\t1700000000\\n'\n"), 0o755))
	for _, tc := range []struct{ name, syncoid string }{
		{"success", "exit 0"},
		{"failure", "echo 'ssh: connect to host forge port 22: Connection refused' >&2; exit 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			syncoid := filepath.Join(dir, "syncoid-"+tc.name)
			require.NoError(t, os.WriteFile(syncoid, []byte("#!/bin/sh\n"+tc.syncoid+"\n"), 0o755))
			trace := filepath.Join(dir, tc.name+".strace")
			cmd := exec.Command(strace, "-f", "-qq", "-o", trace, bakc, "run", "replicate", "--syncoid", syncoid, "--zfs", zfs,
				"--state", filepath.Join(dir, "state"), "--textfile-dir", filepath.Join(dir, "textfile"), "--error-log", filepath.Join(dir, "errors.jsonl"),
				"--", "--no-sync-snap", "bakc-send@forge:rpool/x", "backup/x")
			out, err := cmd.CombinedOutput()
			if tc.name == "success" {
				require.NoError(t, err, "%s", out)
			} else {
				require.Equal(t, 3, exitCodeOf(t, err), "%s", out)
			}
			used := bakcSyscalls(t, trace)
			require.Contains(t, used, "execve")
			require.Contains(t, used, "flock", "the copy's lock")
			var outside []string
			for name := range used {
				if !allowed[name] {
					outside = append(outside, name)
				}
			}
			slices.Sort(outside)
			require.Empty(t, outside, "bakc run replicate made calls the syncoid unit's filter kills it for (all: %v)", used)
		})
	}
}

// expandFilter is a syscall filter group as systemd-analyze lists it,
// nested groups expanded.
func expandFilter(t *testing.T, group string) map[string]bool {
	t.Helper()
	out, err := exec.Command("systemd-analyze", "syscall-filter", group).Output()
	require.NoError(t, err, "systemd-analyze syscall-filter %s", group)
	names := map[string]bool{}
	for i, line := range strings.Split(string(out), "\n") {
		w := strings.TrimSpace(line)
		switch {
		case i == 0 || w == "" || strings.HasPrefix(w, "#"):
		case strings.HasPrefix(w, "@"):
			for n := range expandFilter(t, w) {
				names[n] = true
			}
		default:
			names[w] = true
		}
	}
	require.NotEmpty(t, names, group)
	return names
}

var (
	straceCallRE    = regexp.MustCompile(`^(\d+)\s+([a-z0-9_]+)\(`)
	straceResumedRE = regexp.MustCompile(`^(\d+)\s+<\.\.\. ([a-z0-9_]+) resumed>`)
	straceResultRE  = regexp.MustCompile(`= (\d+)$`)
)

// bakcSyscalls are the calls made, in an `strace -f` file of bakc, by
// bakc's process: the first one traced, the threads and children it
// clones, each child until its execve (the call itself counted: bakc's
// code makes it).
func bakcSyscalls(t *testing.T, path string) map[string]int {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	ours := map[int]bool{}
	first := true
	used := map[string]int{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		m := straceCallRE.FindStringSubmatch(line)
		if m == nil {
			m = straceResumedRE.FindStringSubmatch(line)
		}
		if m == nil {
			continue
		}
		pid, _ := strconv.Atoi(m[1])
		if first {
			ours[pid], first = true, false
		}
		if !ours[pid] {
			continue
		}
		name := m[2]
		used[name]++
		if name == "clone" || name == "clone3" {
			if r := straceResultRE.FindStringSubmatch(line); r != nil {
				child, _ := strconv.Atoi(r[1])
				ours[child] = true
			}
		}
		if name == "execve" && straceResultRE.FindStringSubmatch(line) != nil && used["execve"] > 1 {
			ours[pid] = false // the child is another program now
		}
	}
	require.NoError(t, sc.Err())
	require.NotEmpty(t, used, "nothing traced in %s", path)
	return used
}
