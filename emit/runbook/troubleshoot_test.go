package runbook

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/escape"
	"github.com/holthome/bakc/internal/testenv"
	"github.com/stretchr/testify/require"
)

// TestTroubleshootAndBrowseCommandsRun runs the Troubleshooting and
// Browsing sections' commands for a local repository, as the runbook
// prints them, with sh against a real repository, for each restic the
// project supports: a restic killed in the middle of a backup leaves a
// lock, "list locks" shows it, "unlock" removes it, check and a tenth of
// the data read pass, the cache's size and cleanup work, and the job's
// snapshots, a folder of the latest and a name found in it are listed.
//
// The repository has an environment file, so restic runs through
// systemd-run (a systemd user manager of the test's own, as in
// TestRestoreCommandsRestore), and systemctl asks that manager. The NFS
// lines (systemctl status of the mount unit, findmnt) cannot run here (no
// NFS server): sh -n checks them (TestRestoreBlocksParse) and the golden
// files show them. The mount commands (FUSE, until Ctrl-C) are not run
// either: this test only checks they are printed.
func TestTroubleshootAndBrowseCommandsRun(t *testing.T) {
	testenv.Root(t)
	testenv.LookPath(t, "setpriv")
	sh := testenv.LookPath(t, "sh")
	manager := testenv.StartSystemdManager(t)
	for _, r := range testenv.Restics(t) {
		t.Run("restic-"+r.Version, func(t *testing.T) {
			testTroubleshoot(t, sh, r, manager)
		})
	}
}

func testTroubleshoot(t *testing.T, sh string, r testenv.Restic, manager *testenv.SystemdManager) {
	tmp := t.TempDir()
	require.NoError(t, os.Chmod(tmp, 0o711))
	src := filepath.Join(tmp, "src", "it's [data]")
	require.NoError(t, os.MkdirAll(filepath.Join(src, "sub"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(src, "sub", "needle $x.conf"), []byte("found\n"), 0o644))
	secrets := filepath.Join(tmp, "secrets")
	require.NoError(t, os.Mkdir(secrets, 0o700))
	passwordFile := filepath.Join(secrets, "password")
	require.NoError(t, os.WriteFile(passwordFile, []byte("pw\n"), 0o600))
	envFile := filepath.Join(secrets, "env")
	require.NoError(t, os.WriteFile(envFile, []byte("BAKC_X=$(touch "+filepath.Join(tmp, "pwned")+")\n"), 0o600))
	repo, cache := filepath.Join(tmp, "repo"), filepath.Join(tmp, "cache")
	for _, d := range []string{repo, cache} {
		require.NoError(t, os.Mkdir(d, 0o700))
		require.NoError(t, os.Chown(d, testUID, testUID))
	}
	p := &plan.Plan{
		Version: plan.Version, Source: "hosts/testnode.hcl", Node: plan.Node{Name: testNode},
		User:  plan.User{Name: "bakc", Group: "bakc", UID: testUID, GID: testUID},
		Paths: plan.Paths{Plan: "/etc/bakc/plan.json", State: "/var/lib/bakc", Cache: cache, Log: "/var/log/bakc"},
		Repositories: []plan.Repository{{Name: "local", Kind: plan.KindLocal, URL: repo,
			PasswordFile: passwordFile, EnvironmentFile: envFile,
			Prune: plan.Prune{Schedule: plan.Schedule{Calendar: "weekly"}}}},
		Jobs: []plan.Job{{Name: "files", Paths: []string{src}, Repositories: []string{"local"},
			Schedule: plan.Schedule{Calendar: "daily"}, Retention: plan.Retention{Daily: 7},
			Tags: []string{"job:files"}, JobTag: "job:files", Snapshot: plan.SnapshotNone,
			Resources: plan.Resources{IOSchedulingClass: "idle"}}},
	}
	resticCmd := func(args ...string) *exec.Cmd {
		argv := append([]string{"--reuid=2049", "--regid=2049", "--clear-groups",
			"--inh-caps=+dac_read_search", "--ambient-caps=+dac_read_search",
			r.Path, "--repo", repo, "--password-file", passwordFile, "--cache-dir", cache}, args...)
		return exec.Command("setpriv", argv...)
	}
	for _, args := range [][]string{{"init"}, {"backup", "--host", testNode, "--tag", "job:files", src}} {
		out, err := resticCmd(args...).CombinedOutput()
		require.NoError(t, err, "restic %v:\n%s", args, out)
	}
	// A restic killed while it holds its lock: a backup waiting on stdin.
	hung := resticCmd("backup", "--host", testNode, "--tag", "job:files", "--stdin", "--stdin-filename", "x")
	stdin, err := hung.StdinPipe()
	require.NoError(t, err)
	require.NoError(t, hung.Start())
	var lockID string
	require.Eventually(t, func() bool {
		entries, _ := os.ReadDir(filepath.Join(repo, "locks"))
		if len(entries) == 1 {
			lockID = entries[0].Name()
		}
		return lockID != ""
	}, 30*time.Second, 50*time.Millisecond, "the hung restic took no lock")
	require.NoError(t, hung.Process.Kill())
	_ = hung.Wait()
	stdin.Close()

	md, err := Render(p, Options{})
	require.NoError(t, err)
	trouble := sectionBlocks(t, string(md), "### Troubleshoot "+mdCode("local")+"\n")
	browse := sectionBlocks(t, string(md), fmt.Sprintf("### Browse job %s in %s\n", mdCode("files"), mdCode("local")))
	require.Len(t, trouble, 8, "function, list locks, active units, unlock, check, read-data, du, cache cleanup")
	require.Len(t, browse, 5, "snapshots, ls, find, bakc mount, restic mount")

	bin := filepath.Join(tmp, "bin")
	require.NoError(t, os.Mkdir(bin, 0o755))
	for name, target := range map[string]string{
		"restic":      "exec " + escape.ShellQuote(r.Path) + " \"$@\"",
		"systemd-run": "exec " + escape.ShellQuote(testenv.LookPath(t, "systemd-run")) + " --user \"$@\"",
		"systemctl":   "exec " + escape.ShellQuote(testenv.LookPath(t, "systemctl")) + " --user \"$@\"",
	} {
		require.NoError(t, os.WriteFile(filepath.Join(bin, name), []byte("#!/bin/sh\n"+target+"\n"), 0o755))
	}
	env := append(append(os.Environ(), manager.Env...), "PATH="+bin+":"+os.Getenv("PATH"))
	run := func(block string) string {
		t.Helper()
		script := "set -e\n" + trouble[0] + "\n" + block
		cmd := exec.Command(sh, "-c", script)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "the runbook's commands failed:\n%s\n---\n%s", script, out)
		return string(out)
	}
	for _, tc := range []struct {
		block, cmd string
		want       string
	}{
		{trouble[1], "bakc_restic list locks", lockID},
		{trouble[2], "systemctl list-units 'bakc-*' --state=active", "0 loaded units listed"},
		{trouble[3], "bakc_restic unlock", ""},
		{trouble[1], "bakc_restic list locks", ""},
		{trouble[4], "bakc_restic check", "no errors were found"},
		{trouble[5], "bakc_restic check --read-data-subset=1/10", "no errors were found"},
		{trouble[6], "du -sh " + escape.ShellQuote(cache), cache},
		{trouble[7], "bakc_restic cache --cleanup", ""},
		{browse[0], "bakc_restic snapshots --host testnode --tag job:files", src},
		{browse[1], "bakc_restic ls latest --host testnode --tag job:files " + escape.ShellQuote(src), filepath.Join(src, "sub")},
		{browse[2], "bakc_restic find --host testnode --tag job:files " + escape.ShellQuote(includePattern(filepath.Base(src))), src},
	} {
		require.Equal(t, tc.cmd, tc.block)
		out := run(tc.block)
		require.Contains(t, out, tc.want, "%s", tc.block)
	}
	entries, err := os.ReadDir(filepath.Join(repo, "locks"))
	require.NoError(t, err)
	require.Empty(t, entries, "unlock left the killed restic's lock")
	// The cleanup keeps the cache of a repository in use.
	caches, err := os.ReadDir(cache)
	require.NoError(t, err)
	require.NotEmpty(t, caches)
	_, err = os.Stat(filepath.Join(tmp, "pwned"))
	require.True(t, os.IsNotExist(err), "the environment file was run by a shell")

	// Printed, not run (FUSE, until Ctrl-C).
	require.Equal(t, "bakc mount local /mnt/restic", browse[3])
	require.Contains(t, browse[4], "bakc_restic mount --allow-other --host testnode --tag job:files /mnt/restic")
}

// sectionBlocks returns the sh code blocks of the section below heading,
// up to the next heading of its level or above.
func sectionBlocks(t *testing.T, md, heading string) []string {
	t.Helper()
	i := strings.Index(md, heading)
	require.GreaterOrEqual(t, i, 0, "no section %q", heading)
	section := md[i+len(heading):]
	if end := strings.Index(section, "\n#"); end >= 0 {
		section = section[:end]
	}
	return shellBlocks(t, section)
}
