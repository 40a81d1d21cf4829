package runbook

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/escape"
	"github.com/holthome/bakc/internal/envfile"
	"github.com/holthome/bakc/internal/testenv"
	"github.com/stretchr/testify/require"
)

// TestRestoreCommandsRestore proves the runbook's restore commands right
// by running them. For each restic the project supports it backs a tree
// up as the runtime does (as the backup user, --host <node>, every tag of
// the job, the job's paths), adds decoy snapshots that --host, --tag and
// --path must tell apart, then takes the commands of the job's restore
// section out of the generated Markdown, runs them with sh, and compares
// what comes back with what was backed up: content byte for byte, modes,
// owners, symlinks, modification times.
//
// The repository is a local folder (no NFS server runs here); the NFS
// mount lines are checked by TestRestoreBlocksParse and the golden files.
func TestRestoreCommandsRestore(t *testing.T) {
	testenv.Root(t)
	testenv.LookPath(t, "setpriv")
	sh := testenv.LookPath(t, "sh")
	// The commands of a repository with an environment file run restic
	// through systemd-run, so that systemd reads the file. This machine's
	// PID 1 is not systemd: a systemd user manager of the test's own
	// runs them, and the systemd-run the runbook calls is a wrapper that
	// adds --user; what reads the file is systemd itself.
	manager := testenv.StartSystemdManager(t)
	for _, r := range testenv.Restics(t) {
		t.Run("restic-"+r.Version, func(t *testing.T) {
			testRestore(t, sh, r, manager, false)
		})
		// The same repository behind an sshd of the test's own, as an
		// sftp repository with its ssh block: the commands start ssh
		// as the runtime does, with the declared key and host key only.
		t.Run("restic-"+r.Version+"-sftp", func(t *testing.T) {
			testRestore(t, sh, r, manager, true)
		})
	}
}

const (
	testNode = "testnode"
	testUID  = 2049
)

func testRestore(t *testing.T, sh string, r testenv.Restic, manager *testenv.SystemdManager, sftp bool) {
	tmp := t.TempDir()
	require.NoError(t, os.Chmod(tmp, 0o711))
	src := filepath.Join(tmp, "src")
	// The paths hold what a shell and restic's patterns treat specially.
	pathA := filepath.Join(src, `it's [a] *test* $HOME`)
	pathB := filepath.Join(src, "second path")
	makeTree(t, pathA, 1)
	makeTree(t, pathB, 2)
	wantA, wantB := readTree(t, pathA), readTree(t, pathB)

	secrets := filepath.Join(tmp, "secrets")
	require.NoError(t, os.Mkdir(secrets, 0o700))
	passwordFile := filepath.Join(secrets, "password")
	require.NoError(t, os.WriteFile(passwordFile, []byte("correct horse battery staple\n"), 0o600))
	// The environment file, in a folder whose name systemd's glob would
	// misread, holds what a shell would run: systemd's EnvironmentFile=
	// syntax is not shell, and every value must reach restic as text.
	envFile := filepath.Join(secrets, "repo env [1]", "b2*env")
	require.NoError(t, os.MkdirAll(filepath.Dir(envFile), 0o700))
	pwned := filepath.Join(tmp, "pwned")
	require.NoError(t, os.WriteFile(envFile, []byte(strings.Join([]string{
		"# credentials",
		"BAKC_RUNBOOK_ENV='read by systemd'",
		"BAKC_SUBST=$(touch " + pwned + "1)",
		"BAKC_TICKS=\"`touch " + pwned + "2`\"",
		"BAKC_VAR=${HOME}x;touch " + pwned + "3",
		`BAKC_ESCAPED="a \"b\" \$c" 'd e'`,
		"",
	}, "\n")), 0o600))
	wantEnv, err := envfile.ReadFile(envFile)
	require.NoError(t, err)
	require.Len(t, wantEnv, 5)
	repo := filepath.Join(tmp, "repo")
	cache := filepath.Join(tmp, "cache")
	for _, d := range []string{repo, cache} {
		require.NoError(t, os.Mkdir(d, 0o700))
		require.NoError(t, os.Chown(d, testUID, testUID))
	}

	p := &plan.Plan{
		Version: plan.Version,
		Source:  "hosts/testnode.hcl",
		Node:    plan.Node{Name: testNode},
		User:    plan.User{Name: "bakc", Group: "bakc", UID: testUID, GID: testUID},
		Paths:   plan.Paths{Plan: "/etc/bakc/plan.json", State: "/var/lib/bakc", Cache: cache, Log: "/var/log/bakc"},
		Repositories: []plan.Repository{{
			Name: "local", Kind: plan.KindLocal, URL: repo,
			PasswordFile: passwordFile, EnvironmentFile: envFile,
			Prune: plan.Prune{Schedule: plan.Schedule{Calendar: "weekly"}},
		}},
		Jobs: []plan.Job{{
			Name: "files", Paths: []string{pathA, pathB}, Repositories: []string{"local"},
			Schedule: plan.Schedule{Calendar: "daily"}, Retention: plan.Retention{Daily: 7},
			Tags: []string{"job:files", "media data"}, JobTag: "job:files", Snapshot: plan.SnapshotNone,
			Resources: plan.Resources{IOSchedulingClass: "idle"},
			Dumps: []plan.Dump{{
				Name: "db", Command: []string{"pg_dumpall"}, Filename: "db/all it's $x.sql", Tag: "dump:db",
				// Run as the dump's user by runuser: it writes where only
				// that user may.
				RestoreCommand: []string{"sh", "-c", `cat > "$1"`, "sh", filepath.Join(tmp, "into", "db.sql")},
				Needs:          plan.Needs{User: "bakc"},
			}},
		}},
	}
	// runuser gives the restore command no capability: it must reach its
	// folder by permissions alone.
	require.NoError(t, os.Chmod(filepath.Dir(tmp), 0o711))
	into := filepath.Join(tmp, "into")
	require.NoError(t, os.Mkdir(into, 0o700))
	require.NoError(t, os.Chown(into, testUID, testUID))

	// Back up as the runtime does: as the backup user, allowed to read
	// everything, one snapshot of all the job's paths with all its tags.
	restic := func(args ...string) {
		t.Helper()
		argv := append([]string{"--reuid=2049", "--regid=2049", "--clear-groups",
			"--inh-caps=+dac_read_search", "--ambient-caps=+dac_read_search",
			r.Path, "--repo", repo, "--password-file", passwordFile, "--cache-dir", cache}, args...)
		out, err := exec.Command("setpriv", argv...).CombinedOutput()
		require.NoError(t, err, "restic %s:\n%s", strings.Join(args, " "), out)
	}
	job := p.Jobs[0]
	restic("init")
	backupArgs := []string{"backup", "--host", testNode}
	for _, tag := range job.Tags {
		backupArgs = append(backupArgs, "--tag", tag)
	}
	restic(append(backupArgs, job.Paths...)...)
	// The dump as the runtime streams it: --stdin with the job's tags and
	// the dump's.
	rng := rand.New(rand.NewPCG(7, 7))
	wantDump := make([]byte, 300<<10)
	for i := range wantDump {
		wantDump[i] = byte(rng.UintN(256))
	}
	resticStdin := func(data []byte, args ...string) {
		t.Helper()
		argv := append([]string{"--reuid=2049", "--regid=2049", "--clear-groups",
			"--inh-caps=+dac_read_search", "--ambient-caps=+dac_read_search",
			r.Path, "--repo", repo, "--password-file", passwordFile, "--cache-dir", cache}, args...)
		cmd := exec.Command("setpriv", argv...)
		cmd.Stdin = bytes.NewReader(data)
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "restic %s:\n%s", strings.Join(args, " "), out)
	}
	dump := job.Dumps[0]
	resticStdin(wantDump, append(append([]string{}, backupArgs...), "--tag", dump.Tag, "--stdin", "--stdin-filename", dump.Filename)...)

	// Decoys, all newer than the job's snapshot and all holding other
	// content at pathA: another node's snapshot with the same tag,
	// another job of this node, and this job's tag on a snapshot that
	// lacks pathA.
	require.NoError(t, os.WriteFile(filepath.Join(pathA, "top.txt"), []byte("decoy content\n"), 0o644))
	restic("backup", "--host", "othernode", "--tag", job.JobTag, pathA, pathB)
	restic("backup", "--host", testNode, "--tag", "job:decoy", pathA)
	restic("backup", "--host", testNode, "--tag", job.JobTag, pathB)
	// And for the dump: the same file name under another dump's tag, and
	// under another node.
	resticStdin([]byte("decoy dump\n"), "backup", "--host", testNode, "--tag", job.JobTag, "--tag", "dump:other", "--stdin", "--stdin-filename", dump.Filename)
	resticStdin([]byte("decoy dump\n"), "backup", "--host", "othernode", "--tag", job.JobTag, "--tag", dump.Tag, "--stdin", "--stdin-filename", dump.Filename)

	if sftp {
		keys := filepath.Join(tmp, "keys")
		require.NoError(t, os.Mkdir(keys, 0o700))
		pub := testenv.SSHKey(t, keys, "client", "client")
		srv := testenv.StartSSHD(t, pub+"\n", "PermitRootLogin prohibit-password", "Subsystem sftp internal-sftp")
		hostLine, err := os.ReadFile(srv.KnownHosts)
		require.NoError(t, err)
		r := &p.Repositories[0]
		r.Kind, r.URL = plan.KindSFTP, "sftp://root@127.0.0.1:"+srv.Port+"/"+repo
		r.SSH = &plan.SSH{User: "root", Host: "127.0.0.1", Port: srv.Port,
			IdentityFile: filepath.Join(keys, "client"), KnownHostsFile: srv.KnownHosts,
			KnownHosts: []string{strings.TrimSpace(string(hostLine))}}
	}
	md, err := Render(p, Options{RestoreRoot: filepath.Join(tmp, "restore")})
	require.NoError(t, err)
	setup, blocks := restoreSection(t, string(md), "files", "local")
	require.Len(t, blocks, 4, "one restore block per path, two for the dump")
	perPath, dumpBlocks := blocks[:2], blocks[2:]

	// The runbook says "restic"; a wrapper of that name runs this version
	// and records who runs it and with which environment.
	bin := filepath.Join(tmp, "bin")
	require.NoError(t, os.Mkdir(bin, 0o755))
	record := filepath.Join(tmp, "restic-calls")
	wrapper := fmt.Sprintf("#!/bin/sh\n{ echo \"uid=$(id -u)\"; env; } >> %s\nexec %s \"$@\"\n",
		escape.ShellQuote(record), escape.ShellQuote(r.Path))
	require.NoError(t, os.WriteFile(filepath.Join(bin, "restic"), []byte(wrapper), 0o755))
	systemdRun := testenv.LookPath(t, "systemd-run")
	require.NoError(t, os.WriteFile(filepath.Join(bin, "systemd-run"), []byte("#!/bin/sh\nexec "+escape.ShellQuote(systemdRun)+" --user \"$@\"\n"), 0o755))
	scriptEnv := append(append(os.Environ(), manager.Env...), "PATH="+bin+":"+os.Getenv("PATH"))

	target := filepath.Join(tmp, "restore", "files")
	for i, tc := range []struct {
		path string
		want map[string]entry
	}{{pathA, wantA}, {pathB, wantB}} {
		require.Contains(t, perPath[i], escape.ShellQuote(tc.path), "block %d restores another path", i)
		script := "set -e\n" + setup + "\n" + perPath[i]
		cmd := exec.Command(sh, "-c", script)
		cmd.Env = scriptEnv
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "the runbook's commands failed:\n%s\n---\n%s", script, out)

		got := readTree(t, filepath.Join(target, tc.path))
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("restored %s differs from the backup (-want +got):\n%s", tc.path, diff)
		}
		if i == 0 {
			// --include restores that path and nothing else.
			_, err := os.Lstat(filepath.Join(target, pathB))
			require.True(t, os.IsNotExist(err), "restoring %s also restored %s", pathA, pathB)
		}
	}

	// The dump, into a file below the job's folder and into its restore
	// command as its user, byte for byte.
	for i, got := range []string{filepath.Join(target, dump.Filename), filepath.Join(into, "db.sql")} {
		script := "set -e\n" + setup + "\n" + dumpBlocks[i]
		cmd := exec.Command(sh, "-c", script)
		cmd.Env = scriptEnv
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "the runbook's dump commands failed:\n%s\n---\n%s", script, out)
		data, err := os.ReadFile(got)
		require.NoError(t, err)
		require.True(t, bytes.Equal(wantDump, data), "%s: %d bytes, not the %d bytes dumped", got, len(data), len(wantDump))
	}

	calls, err := os.ReadFile(record)
	require.NoError(t, err)
	require.Contains(t, string(calls), "uid=2049\n", "restic did not run as the backup user")
	require.NotContains(t, string(calls), "uid=0\n", "restic ran as root")
	for _, kv := range wantEnv {
		require.Contains(t, string(calls), "\n"+kv+"\n", "restic did not get %q from the environment file as systemd reads it", kv)
	}
	for i := 1; i <= 3; i++ {
		_, err := os.Stat(fmt.Sprintf("%s%d", pwned, i))
		require.True(t, os.IsNotExist(err), "something in the environment file was run: %s%d exists", pwned, i)
	}
}

// restoreSection returns the code blocks of the section restoring job
// from repo: the first sets up (mount, credentials, the restic function,
// the snapshot list), each further one restores a path.
func restoreSection(t *testing.T, md, job, repo string) (setup string, perPath []string) {
	t.Helper()
	heading := fmt.Sprintf("### Restore job %s from %s\n", mdCode(job), mdCode(repo))
	i := strings.Index(md, heading)
	require.GreaterOrEqual(t, i, 0, "no section %q in:\n%s", heading, md)
	section := md[i+len(heading):]
	if end := strings.Index(section, "\n### "); end >= 0 {
		section = section[:end]
	}
	blocks := shellBlocks(t, section)
	require.NotEmpty(t, blocks)
	return blocks[0], blocks[1:]
}

// shellBlocks returns the content of every fenced code block tagged sh,
// closed by a fence at least as long as the one that opened it
// (CommonMark's rule).
func shellBlocks(t *testing.T, md string) []string {
	t.Helper()
	var out []string
	lines := strings.Split(md, "\n")
	for i := 0; i < len(lines); i++ {
		n := len(lines[i]) - len(strings.TrimLeft(lines[i], "`"))
		if n < 3 || strings.TrimSpace(lines[i][n:]) != "sh" {
			continue
		}
		var body []string
		closed := false
		for i++; i < len(lines); i++ {
			m := len(lines[i]) - len(strings.TrimLeft(lines[i], "`"))
			if m >= n && strings.TrimSpace(lines[i][m:]) == "" {
				closed = true
				break
			}
			body = append(body, lines[i])
		}
		require.True(t, closed, "unclosed code block")
		out = append(out, strings.Join(body, "\n"))
	}
	return out
}

// entry is what a restore must give back of one file.
type entry struct {
	Mode     fs.FileMode
	UID, GID uint32
	Size     int64
	SHA256   string
	Link     string
	ModTime  time.Time
}

// makeTree writes a tree with what a restore must get right: nested
// folders, odd names, owners other than root, modes, an empty folder,
// an empty file, a symlink, and a file larger than one restic chunk
// boundary guess (random bytes, so content errors show).
func makeTree(t *testing.T, root string, seed uint64) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 42))
	big := make([]byte, 1<<20+12345)
	for i := range big {
		big[i] = byte(rng.UintN(256))
	}
	files := map[string][]byte{
		"top.txt":                          []byte("top level\n"),
		"empty":                            nil,
		"dir/nested/deep.bin":              big,
		"dir/space in name & 'quote'.txt":  []byte("odd name\n"),
		"dir/ünïcödé-名前.txt":               []byte("unicode\n"),
		"private/secret":                   []byte("only alice\n"),
		"dir/line\nbreak":                  []byte("a newline in a name\n"),
		"dir/*star?[glob]":                 []byte("glob characters in a name\n"),
		"dir/nested/.hidden":               []byte("hidden\n"),
		"dir/nested/exec.sh":               []byte("#!/bin/sh\necho hi\n"),
		"dir/nested/ownedby-1234-5678.txt": []byte("other owner\n"),
	}
	for name, data := range files {
		p := filepath.Join(root, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, data, 0o644))
	}
	require.NoError(t, os.MkdirAll(filepath.Join(root, "empty dir"), 0o755))
	require.NoError(t, os.Symlink("../top.txt", filepath.Join(root, "dir", "link")))
	require.NoError(t, os.Chmod(filepath.Join(root, "dir/nested/exec.sh"), 0o750))
	require.NoError(t, os.Chmod(filepath.Join(root, "private"), 0o700))
	require.NoError(t, os.Chmod(filepath.Join(root, "private/secret"), 0o600))
	require.NoError(t, os.Chown(filepath.Join(root, "private"), 1000, 1000))
	require.NoError(t, os.Chown(filepath.Join(root, "private/secret"), 1000, 1000))
	require.NoError(t, os.Chown(filepath.Join(root, "dir/nested/ownedby-1234-5678.txt"), 1234, 5678))
	// Fixed times, so that a restore that loses them shows.
	when := time.Date(2021, 3, 4, 5, 6, 7, 0, time.UTC)
	require.NoError(t, filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.Type()&fs.ModeSymlink != 0 {
			return err
		}
		return os.Chtimes(p, when, when)
	}))
}

// readTree describes every file below root by its path relative to root.
func readTree(t *testing.T, root string) map[string]entry {
	t.Helper()
	out := map[string]entry{}
	require.NoError(t, filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		e := entry{Mode: fi.Mode(), UID: st.Uid, GID: st.Gid}
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			e.Link, err = os.Readlink(p)
			if err != nil {
				return err
			}
		case fi.Mode().IsRegular():
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			e.Size = int64(len(data))
			e.SHA256 = fmt.Sprintf("%x", sha256.Sum256(data))
			e.ModTime = fi.ModTime().UTC()
		case fi.IsDir():
			e.ModTime = fi.ModTime().UTC()
		}
		out[rel] = e
		return nil
	}))
	require.NotEmpty(t, out)
	return out
}

// TestRestoreBlocksParse checks every code block of the example runbooks
// with sh -n (the NFS mount lines cannot run here: no NFS server).
func TestRestoreBlocksParse(t *testing.T) {
	sh := testenv.LookPath(t, "sh")
	for _, node := range exampleNodes(t) {
		t.Run(node, func(t *testing.T) {
			md := renderExample(t, node)
			blocks := shellBlocks(t, string(md))
			require.NotEmpty(t, blocks)
			var all bytes.Buffer
			for _, b := range blocks {
				all.WriteString(b + "\n")
			}
			out, err := exec.Command(sh, "-n", "-c", all.String()).CombinedOutput()
			require.NoError(t, err, "sh -n:\n%s", out)
		})
	}
}
