package runbook

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/escape"
	"github.com/holthome/bakc/internal/testenv"
	"github.com/stretchr/testify/require"
)

// TestDisasterRecoveryRuns plays a whole node's loss and return with the
// runbook's own commands, for each restic the project supports. A node
// backs up two ZFS snapshot job paths (the second leaving out a folder
// that a second job backs up) and a database dump, as the runtime does;
// another node's newer snapshot of the same paths is a decoy. Then the
// node is "reinstalled": its paths are wiped and made anew empty (the
// fresh datasets), its secrets, restic's cache and the restic calls'
// record are gone. The test then runs, with sh, the code blocks of
// "Secrets bootstrap on a fresh host" (the real sops re-encrypts the
// fleet's sops file for the new node's age key, which alone then
// decrypts the password to its place; the environment file is pasted on
// stdin; each repository opens) and of "Disaster recovery of the whole
// node", in order, and compares what came back with what was backed up:
// content, modes, owners, symlinks and times, and the dump byte for byte
// in its restore command.
//
// Stand-ins, for what cannot run here: nixos-rebuild (no NixOS),
// systemctl (the units a rebuild would install do not exist, and this
// machine's PID 1 is not systemd) and bakc status (it reads the
// installed node's state); each records its arguments and the test
// checks them. The repository is a local folder (no NFS server runs
// here); the NFS lines are checked by sh -n (TestRestoreBlocksParse)
// and the golden files. The backups are restic's own, with the runtime's
// arguments: the runtime's ZFS snapshot backups record the original
// paths too (cmd/bakc's TestRunZFS* tests), so the repository holds the
// same as here.
func TestDisasterRecoveryRuns(t *testing.T) {
	testenv.Root(t)
	testenv.LookPath(t, "setpriv")
	testenv.LookPath(t, "runuser")
	sh := testenv.LookPath(t, "sh")
	sops := testenv.Sops(t)
	manager := testenv.StartSystemdManager(t)
	for _, r := range testenv.Restics(t) {
		t.Run("restic-"+r.Version, func(t *testing.T) {
			testRecovery(t, sh, sops, r, manager)
		})
	}
}

func testRecovery(t *testing.T, sh, sops string, r testenv.Restic, manager *testenv.SystemdManager) {
	tmp := t.TempDir()
	require.NoError(t, os.Chmod(tmp, 0o711))
	require.NoError(t, os.Chmod(filepath.Dir(tmp), 0o711))
	node := filepath.Join(tmp, "node")
	home, persist := filepath.Join(node, "home"), filepath.Join(node, "persist")
	app := filepath.Join(persist, "var", "lib", "app [x]")
	makeTree(t, home, 11)
	makeTree(t, persist, 12)
	makeTree(t, app, 13)
	wantHome, wantPersist := readTree(t, home), readTree(t, persist)

	// The fleet: its sops file encrypted for the operator's key only, as
	// before the new node's key is known.
	keys := filepath.Join(tmp, "keys")
	require.NoError(t, os.Mkdir(keys, 0o700))
	adminKey, adminRecipient := testenv.AgeKey(t, keys, "admin.txt")
	nodeKey, nodeRecipient := testenv.AgeKey(t, keys, "node.txt")
	fleet := filepath.Join(tmp, "fleet")
	require.NoError(t, os.MkdirAll(filepath.Join(fleet, "secrets"), 0o755))
	rules := func(recipients string) {
		require.NoError(t, os.WriteFile(filepath.Join(fleet, ".sops.yaml"),
			[]byte("creation_rules:\n  - path_regex: secrets/[^/]+\\.yaml$\n    age: "+recipients+"\n"), 0o644))
	}
	rules(adminRecipient)
	const password = "correct horse battery staple"
	sopsFile := filepath.Join(fleet, "secrets", "testnode.yaml")
	testenv.SopsEncrypt(t, sopsFile, adminRecipient, "restic:\n  password: "+password+"\n")

	// The node's secret files: a sops secret and one of the node's own,
	// both in folders that do not exist yet.
	passwordFile := filepath.Join(tmp, "run", "secrets", "bakc", "local", "password")
	envFile := filepath.Join(tmp, "etc", "restic", "local.env")
	const envText = "BAKC_DR='pasted in'\n"
	repo, cache := filepath.Join(tmp, "repo"), filepath.Join(tmp, "cache")
	require.NoError(t, os.Mkdir(repo, 0o700))
	require.NoError(t, os.Chown(repo, testUID, testUID))
	into := filepath.Join(tmp, "into")
	require.NoError(t, os.Mkdir(into, 0o700))
	require.NoError(t, os.Chown(into, testUID, testUID))

	datasets := []plan.Dataset{{Mountpoint: home, Name: "rpool/safe/home"}, {Mountpoint: persist, Name: "rpool/safe/persist"}}
	res := plan.Resources{IOSchedulingClass: "idle"}
	daily := plan.Schedule{Calendar: "daily"}
	p := &plan.Plan{
		Version: plan.Version, Source: "hosts/testnode.hcl",
		Node:  plan.Node{Name: testNode, Datasets: datasets},
		User:  plan.User{Name: "bakc", Group: "bakc", UID: testUID, GID: testUID},
		Paths: plan.Paths{Plan: "/etc/bakc/plan.json", State: "/var/lib/bakc", Cache: cache, Log: "/var/log/bakc"},
		Repositories: []plan.Repository{{Name: "local", Kind: plan.KindLocal, URL: repo,
			PasswordFile: passwordFile, EnvironmentFile: envFile,
			Prune: plan.Prune{Schedule: plan.Schedule{Calendar: "weekly"}}}},
		Jobs: []plan.Job{
			{Name: "app", Paths: []string{app}, Repositories: []string{"local"}, Schedule: daily,
				Retention: plan.Retention{Daily: 7}, Tags: []string{"job:app"}, JobTag: "job:app",
				Snapshot: plan.SnapshotNone, Resources: res},
			{Name: "db", Repositories: []string{"local"}, Schedule: daily,
				Retention: plan.Retention{Daily: 7}, Tags: []string{"job:db"}, JobTag: "job:db",
				Snapshot: plan.SnapshotNone, Resources: res,
				Dumps: []plan.Dump{{Name: "pg", Command: []string{"pg_dumpall"}, Filename: "postgresql/all.sql", Tag: "dump:pg",
					RestoreCommand: []string{"sh", "-c", `cat > "$1"`, "sh", filepath.Join(into, "all.sql")},
					Needs:          plan.Needs{User: "bakc"}}}},
			{Name: "system", Paths: []string{home, persist}, Exclude: []string{includePattern(app) + "/**"}, Repositories: []string{"local"},
				Schedule: daily, Retention: plan.Retention{Daily: 7}, Tags: []string{"job:system"}, JobTag: "job:system",
				Snapshot: plan.SnapshotZFS, Datasets: datasets, Resources: res},
		},
		Secrets: []plan.Secret{{Name: "bakc/local/password", Path: passwordFile,
			Sops: &plan.Sops{File: "secrets/testnode.yaml", Key: "restic/password", Format: plan.SopsYAML}}},
	}

	// The backups, as the runtime makes them: restic as the backup user
	// with the job's host, tags, excludes and paths.
	adminPassword := filepath.Join(keys, "password")
	require.NoError(t, os.WriteFile(adminPassword, []byte(password+"\n"), 0o644))
	restic := func(stdin []byte, args ...string) {
		t.Helper()
		argv := append([]string{"--reuid=2049", "--regid=2049", "--clear-groups",
			"--inh-caps=+dac_read_search", "--ambient-caps=+dac_read_search",
			r.Path, "--repo", repo, "--password-file", adminPassword, "--no-cache"}, args...)
		cmd := exec.Command("setpriv", argv...)
		cmd.Stdin = bytes.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "restic %s:\n%s", strings.Join(args, " "), out)
	}
	restic(nil, "init")
	restic(nil, "backup", "--host", testNode, "--tag", "job:system", "--exclude", includePattern(app)+"/**", home, persist)
	restic(nil, "backup", "--host", testNode, "--tag", "job:app", app)
	wantDump := bytes.Repeat([]byte("CREATE TABLE t (x int); -- dump\n"), 5000)
	restic(wantDump, "backup", "--host", testNode, "--tag", "job:db", "--tag", "dump:pg", "--stdin", "--stdin-filename", "postgresql/all.sql")
	// Decoys, newer: another node's snapshot of the same paths, tags and
	// dump, with other content.
	require.NoError(t, os.WriteFile(filepath.Join(home, "top.txt"), []byte("decoy\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(app, "top.txt"), []byte("decoy\n"), 0o644))
	restic(nil, "backup", "--host", "othernode", "--tag", "job:system", home, persist)
	restic(nil, "backup", "--host", "othernode", "--tag", "job:app", app)
	restic([]byte("decoy\n"), "backup", "--host", "othernode", "--tag", "job:db", "--tag", "dump:pg", "--stdin", "--stdin-filename", "postgresql/all.sql")

	// The loss: the data, the secrets and the cache are gone; the
	// reinstalled node has its datasets, empty.
	require.NoError(t, os.RemoveAll(node))
	for _, d := range []string{home, persist} {
		require.NoError(t, os.MkdirAll(d, 0o755))
	}
	_, err := os.Stat(cache)
	require.True(t, os.IsNotExist(err))

	md, err := Render(p, Options{})
	require.NoError(t, err)
	secrets := sectionBetween(t, string(md), "## Secrets bootstrap on a fresh host\n", "\n## ")
	recovery := sectionBetween(t, string(md), "## Disaster recovery of the whole node\n", "\n## ")

	bin := filepath.Join(tmp, "bin")
	require.NoError(t, os.Mkdir(bin, 0o755))
	// Written by the restic wrapper as the backup user.
	require.NoError(t, os.WriteFile(filepath.Join(tmp, "restic-uids"), nil, 0o666))
	require.NoError(t, os.Chmod(filepath.Join(tmp, "restic-uids"), 0o666))
	calls := filepath.Join(tmp, "calls")
	record := func(name string) string {
		return "printf '%s' " + escape.ShellQuote(name) + " >> " + escape.ShellQuote(calls) +
			"; printf ' %s' \"$@\" >> " + escape.ShellQuote(calls) + "; echo >> " + escape.ShellQuote(calls)
	}
	for name, body := range map[string]string{
		"restic":      "echo \"uid=$(id -u)\" >> " + escape.ShellQuote(filepath.Join(tmp, "restic-uids")) + "\nexec " + escape.ShellQuote(r.Path) + " \"$@\"",
		"systemd-run": "exec " + escape.ShellQuote(testenv.LookPath(t, "systemd-run")) + " --user \"$@\"",
		"sops":        "exec " + escape.ShellQuote(sops) + " \"$@\"",
		// Stand-ins (see the test's comment).
		"systemctl":     record("systemctl"),
		"nixos-rebuild": record("nixos-rebuild"),
		"bakc":          record("bakc"),
	} {
		require.NoError(t, os.WriteFile(filepath.Join(bin, name), []byte("#!/bin/sh\n"+body+"\n"), 0o755))
	}
	env := append(append(os.Environ(), manager.Env...), "PATH="+bin+":"+os.Getenv("PATH"))
	run := func(script, dir, stdin string, extraEnv ...string) string {
		t.Helper()
		cmd := exec.Command(sh, "-c", "set -e\n"+script)
		cmd.Dir, cmd.Env, cmd.Stdin = dir, append(append([]string{}, env...), extraEnv...), strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "the runbook's commands failed:\n%s\n---\n%s", script, out)
		return string(out)
	}

	// Secrets bootstrap: updatekeys, the sops secret, the pasted file,
	// the check.
	blocks := shellBlocks(t, secrets)
	require.Len(t, blocks, 4, "updatekeys, the password from sops, the environment file pasted, the check")
	require.Equal(t, "sops updatekeys -y secrets/testnode.yaml", blocks[0])
	decrypt := exec.Command(sops, "decrypt", sopsFile)
	decrypt.Env = append(os.Environ(), "SOPS_AGE_KEY_FILE="+nodeKey)
	require.Error(t, decrypt.Run(), "the new node's key decrypts before updatekeys: the step proves nothing")
	// The operator adds the node's recipient to .sops.yaml (the page
	// says so in words), then runs the block with their own key.
	rules(adminRecipient + "," + nodeRecipient)
	run(blocks[0], fleet, "", "SOPS_AGE_KEY_FILE="+adminKey)
	// On the node, with the node's key only.
	run(blocks[1], fleet, "", "SOPS_AGE_KEY_FILE="+nodeKey)
	run(blocks[2], tmp, envText)
	for file, want := range map[string]string{passwordFile: password, envFile: envText} {
		data, err := os.ReadFile(file)
		require.NoError(t, err)
		require.Equal(t, want, string(data), file)
		fi, err := os.Stat(file)
		require.NoError(t, err)
		st := fi.Sys().(*syscall.Stat_t)
		require.Equal(t, [3]uint32{0o400, testUID, testUID}, [3]uint32{uint32(fi.Mode().Perm()), st.Uid, st.Gid}, "%s: mode and owner", file)
	}
	out := run(blocks[3], tmp, "")
	require.Contains(t, out, `"chunker_polynomial"`, "restic cat config printed no configuration")

	// Disaster recovery, every block in order, as one session.
	blocks = shellBlocks(t, recovery)
	require.Equal(t, "systemctl stop 'bakc-*.timer'", blocks[0])
	run(strings.Join(blocks, "\n"), tmp, "")

	if diff := cmp.Diff(wantHome, readTree(t, home)); diff != "" {
		t.Errorf("restored %s differs from the backup (-want +got):\n%s", home, diff)
	}
	if diff := cmp.Diff(wantPersist, readTree(t, persist)); diff != "" {
		t.Errorf("restored %s differs from the backup (-want +got):\n%s", persist, diff)
	}
	got, err := os.ReadFile(filepath.Join(into, "all.sql"))
	require.NoError(t, err)
	require.True(t, bytes.Equal(wantDump, got), "the dump reloaded %d bytes, not the %d backed up", len(got), len(wantDump))
	fi, err := os.Stat(cache)
	require.NoError(t, err)
	require.Equal(t, uint32(testUID), fi.Sys().(*syscall.Stat_t).Uid, "the cache folder is not the backup user's")

	uids, err := os.ReadFile(filepath.Join(tmp, "restic-uids"))
	require.NoError(t, err)
	require.NotContains(t, string(uids), "uid=0\n", "restic ran as root")
	recorded, err := os.ReadFile(calls)
	require.NoError(t, err)
	want := strings.Join([]string{
		"systemctl stop bakc-*.timer",
		"nixos-rebuild switch",
		"systemctl start bakc-backup-app.timer bakc-backup-db.timer bakc-backup-system.timer bakc-prune-local.timer",
		"systemctl start bakc-backup-app.service",
		"systemctl start bakc-backup-db.service",
		"systemctl start bakc-backup-system.service",
		"bakc status",
	}, "\n") + "\n"
	if diff := cmp.Diff(want, string(recorded)); diff != "" {
		t.Errorf("the stand-ins were called otherwise (-want +got):\n%s", diff)
	}
}

// sectionBetween returns md from after start to the next end.
func sectionBetween(t *testing.T, md, start, end string) string {
	t.Helper()
	i := strings.Index(md, start)
	require.GreaterOrEqual(t, i, 0, "no %q", start)
	s := md[i+len(start):]
	if j := strings.Index(s, end); j >= 0 {
		s = s[:j]
	}
	return s
}

// TestRecoveryOrder: in the forge example, the whole node comes back
// from the NAS (plex's nearest repository, though cloud-secondary sorts
// first), parents first, every timer is started by name and the dump is
// reloaded into psql; with plex only in the cloud, its path comes back
// from there, in a group of its own after /persist. A disabled job is
// left out by name.
func TestRecoveryOrder(t *testing.T) {
	p, err := plan.ReadFile(filepath.Join(exampleOut, "forge", "plan.json"))
	require.NoError(t, err)
	restores := func(p *plan.Plan) []string {
		t.Helper()
		md, err := Render(p, Options{})
		require.NoError(t, err)
		var out []string
		for _, b := range shellBlocks(t, sectionBetween(t, string(md), "## Disaster recovery of the whole node\n", "\n## ")) {
			for _, l := range strings.Split(b, "\n") {
				if strings.HasPrefix(l, "bakc_restic restore") || strings.HasPrefix(l, "bakc_restic dump") ||
					strings.Contains(l, "--repo") || strings.HasPrefix(l, "systemctl start") {
					out = append(out, strings.TrimSpace(l))
				}
			}
		}
		return out
	}
	nas := `restic --repo /mnt/nas --password-file /run/secrets/bakc/nas-primary/password --cache-dir /var/cache/bakc "$@"`
	cloud := `"$(command -v restic)" --repo b2:bucket-name:/forge --password-file /run/secrets/bakc/cloud-secondary/password --cache-dir /var/cache/bakc "$@"`
	timers := "systemctl start bakc-backup-databases.timer bakc-backup-plex.timer bakc-backup-system.timer bakc-prune-cloud-secondary.timer bakc-prune-nas-primary.timer bakc-restore-test-cloud-secondary.timer bakc-restore-test-nas-primary.timer bakc-verify-cloud-secondary.timer bakc-verify-nas-primary.timer"
	want := []string{
		nas,
		"bakc_restic restore latest --host forge --tag job:system --path /home --include /home --target /",
		"bakc_restic restore latest --host forge --tag job:system --path /persist --include /persist --target /",
		"bakc_restic restore latest --host forge --tag job:plex --path /persist/var/lib/plex --include /persist/var/lib/plex --target /",
		timers,
		nas,
		"bakc_restic dump --host forge --tag job:databases,dump:postgres latest /postgresql/all.sql | runuser -u postgres -- psql -X -d postgres",
		"systemctl start bakc-backup-databases.service",
		"systemctl start bakc-backup-plex.service",
		"systemctl start bakc-backup-system.service",
	}
	if diff := cmp.Diff(want, restores(p)); diff != "" {
		t.Errorf("forge (-want +got):\n%s", diff)
	}

	j, _ := p.Job("plex")
	j.Repositories = []string{"cloud-secondary"}
	want = append(append(append([]string{}, want[:3]...), cloud), want[3:]...)
	if diff := cmp.Diff(want, restores(p)); diff != "" {
		t.Errorf("plex in the cloud only (-want +got):\n%s", diff)
	}

	j.Disabled = true
	md, err := Render(p, Options{})
	require.NoError(t, err)
	require.Contains(t, string(md), "Disabled jobs are left out: `plex`")
	require.NotContains(t, sectionBetween(t, string(md), "## Disaster recovery of the whole node\n", "\n## "), "--tag job:plex")
}
