package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/internal/testenv"
)

// initFleet copies the example fleet to a temporary folder, with an
// operator's age key (SOPS_AGE_KEY_FILE) and a .sops.yaml for it.
func initFleet(t *testing.T) (fleet, sops string) {
	t.Helper()
	sops = testenv.Sops(t)
	fleet = filepath.Join(t.TempDir(), "fleet")
	out, err := exec.Command("cp", "-r", filepath.Join("..", "..", "examples", "homelab"), fleet).CombinedOutput()
	require.NoError(t, err, "%s", out)
	key, recipient := testenv.AgeKey(t, t.TempDir(), "operator.txt")
	t.Setenv("SOPS_AGE_KEY_FILE", key)
	rules := "creation_rules:\n  - path_regex: secrets/[^/]+\\.yaml$\n    age: " + recipient + "\n"
	require.NoError(t, os.WriteFile(filepath.Join(fleet, ".sops.yaml"), []byte(rules), 0o644))
	return fleet, sops
}

func runBakc(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var o, e bytes.Buffer
	code = Main(args, nil, &o, &e)
	return o.String(), e.String(), code
}

func decrypt(t *testing.T, sops, file, key string) string {
	t.Helper()
	out, err := exec.Command(sops, "decrypt", "--extract", plan.SopsIndex(key), file).Output()
	require.NoError(t, err)
	return string(out)
}

// TestInitSecrets: what init puts into sops is what the node's files
// will hold, and is usable: the password opens a restic repository it
// initialises. No value is printed, and the node gets no replication
// key (its NAS pulls with its own: docs/replication.md).
func TestInitSecrets(t *testing.T) {
	fleet, sops := initFleet(t)
	stdout, stderr, code := runBakc(t, "init", "mars", "--fleet", fleet, "--dataset", "/srv=tank/srv", "--sops", sops)
	require.Equal(t, 0, code, "%s%s", stdout, stderr)
	secrets := filepath.Join(fleet, "secrets", "mars.yaml")
	password := decrypt(t, sops, secrets, "bakc/restic_password")
	require.Regexp(t, `^[A-Za-z0-9_-]{43}$`, password)
	for _, out := range []string{stdout, stderr} {
		require.NotContains(t, out, password)
		require.NotContains(t, out, "PRIVATE KEY")
	}

	// sops-nix writes the value as it is: the password file restic reads.
	pwFile := filepath.Join(t.TempDir(), "password")
	require.NoError(t, os.WriteFile(pwFile, []byte(password), 0o400))
	for _, r := range testenv.Restics(t) {
		repo := filepath.Join(t.TempDir(), "repo")
		out, err := exec.Command(r.Path, "init", "--repo", repo, "--password-file", pwFile).CombinedOutput()
		require.NoError(t, err, "restic %s init: %s", r.Version, out)
		out, err = exec.Command(r.Path, "cat", "config", "--repo", repo, "--password-file", pwFile).CombinedOutput()
		require.NoError(t, err, "restic %s with the password: %s", r.Version, out)
	}

	host, err := os.ReadFile(filepath.Join(fleet, "hosts", "mars.hcl"))
	require.NoError(t, err)
	require.NotContains(t, string(host), "replication")
	keys, err := exec.Command(sops, "decrypt", "--extract", `["bakc"]`, secrets).Output()
	require.NoError(t, err)
	require.NotContains(t, string(keys), "replication")

	// The plan reads the password where backup.nix has sops-nix put it.
	p := mustNodePlan(t, filepath.Join(fleet, "hosts", "mars.hcl"))
	require.Len(t, p.Secrets, 1)
	require.Equal(t, plan.Secret{Name: "bakc/nas/password", Path: "/run/secrets/bakc/nas/password",
		Sops: &plan.Sops{File: "secrets/mars.yaml", Key: "bakc/restic_password", Format: "yaml"}}, p.Secrets[0])
	require.Equal(t, p.Secrets[0].Path, p.Repositories[0].PasswordFile)
	require.True(t, p.Repositories[0].Init, "a new node's repository is created by its first backup")
}

func mustNodePlan(t *testing.T, file string) *plan.Plan {
	t.Helper()
	stdout, stderr, code := runBakc(t, "plan", file)
	require.Equal(t, 0, code, stderr)
	p, err := plan.Decode(strings.NewReader(stdout))
	require.NoError(t, err)
	return p
}

// TestInitKeepsWhatIsThere: a sops file with other secrets gets the
// node's added and keeps its own, under bakc's key too.
func TestInitKeepsWhatIsThere(t *testing.T) {
	fleet, sops := initFleet(t)
	secrets := filepath.Join(fleet, "secrets", "mars.yaml")
	out, err := exec.Command("age-keygen", "-y", os.Getenv("SOPS_AGE_KEY_FILE")).Output()
	require.NoError(t, err)
	recipient := strings.TrimSpace(string(out))
	testenv.SopsEncrypt(t, secrets, recipient, "wifi: psk-of-mars\nbakc:\n  other: kept-value\n")

	stdout, stderr, code := runBakc(t, "init", "mars", "--fleet", fleet, "--dataset", "/srv=tank/srv", "--sops", sops)
	require.Equal(t, 0, code, "%s%s", stdout, stderr)
	require.Contains(t, stdout, "bakc/restic_password (new)")
	require.Equal(t, "psk-of-mars", decrypt(t, sops, secrets, "wifi"))
	require.Equal(t, "kept-value", decrypt(t, sops, secrets, "bakc/other"))
}

// TestInitWritesNothingOnFailure: sops that cannot encrypt the file (no
// creation rule for it) fails init with sops's words, and neither a
// host file nor a sops file is left.
func TestInitWritesNothingOnFailure(t *testing.T) {
	fleet, sops := initFleet(t)
	stdout, stderr, code := runBakc(t, "init", "mars", "--fleet", fleet, "--dataset", "/srv=tank/srv", "--sops", sops, "--sops-file", "keys/mars.yaml")
	require.Equal(t, 1, code, stdout)
	require.Contains(t, stderr, "no matching creation rules found")
	require.NoFileExists(t, filepath.Join(fleet, "hosts", "mars.hcl"))
	require.NoDirExists(t, filepath.Join(fleet, "keys"))

	// A host file that would not compile: nothing is written, sops is
	// not run.
	stdout, stderr, code = runBakc(t, "init", "mars", "--fleet", fleet, "--dataset", "/=rpool/root", "--sops", "/nonexistent/sops")
	require.Equal(t, 1, code, stdout)
	require.Contains(t, stderr, "Snapshot of the root dataset")
	require.NoFileExists(t, filepath.Join(fleet, "hosts", "mars.hcl"))
	require.NoFileExists(t, filepath.Join(fleet, "secrets", "mars.yaml"))
}

// TestParseZFSList: zfs list -H -o name,mountpoint, as zfs-fuse and
// OpenZFS print it: file systems with a mountpoint, but the root file
// system, the Nix store, /boot and unmounted ones.
func TestParseZFSList(t *testing.T) {
	out := "rpool\tnone\nrpool/root\t/\nrpool/nix\t/nix\nrpool/nix/store\t/nix/store\nbpool/boot\t/boot\n" +
		"rpool/safe\tnone\nrpool/safe/home\t/home\nrpool/safe/home/ana\t/home/ana\nrpool/legacy\tlegacy\ntank/state\t/var/lib\ntank/x\t-\n"
	got := parseZFSList([]byte(out))
	require.Equal(t, map[string]string{"/home": "rpool/safe/home", "/home/ana": "rpool/safe/home/ana", "/var/lib": "tank/state"}, got)
	require.Equal(t, []string{"/home", "/var/lib"}, topMountpoints(got))
}

// TestInitDiscoversZFS: on the node itself, init --zfs takes the
// datasets from zfs list, here of a zfs-fuse pool.
//
// The test pool is mounted in a temporary folder under /tmp, and init
// rightly leaves datasets under /tmp out; so data is mounted under /mnt,
// in a folder removed after the pool is gone (cleanups run in reverse).
func TestInitDiscoversZFS(t *testing.T) {
	base, err := os.MkdirTemp("/mnt", "bakc-init-test-")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(base) })
	pool := testenv.ZFSPool(t, 64<<20)
	out, err := exec.Command("zfs", "create", "-o", "mountpoint="+filepath.Join(base, "data"), pool+"/data").CombinedOutput()
	require.NoError(t, err, "%s", out)
	out, err = exec.Command("zfs", "create", pool+"/data/child").CombinedOutput()
	require.NoError(t, err, "%s", out)
	mp, err := exec.Command("zfs", "get", "-H", "-o", "value", "mountpoint", pool+"/data").Output()
	require.NoError(t, err)
	data := strings.TrimSpace(string(mp))

	fleet, sops := initFleet(t)
	stdout, stderr, code := runBakc(t, "init", "mars", "--fleet", fleet, "--zfs", "--pool", pool, "--sops", sops)
	require.Equal(t, 0, code, "%s%s", stdout, stderr)
	p := mustNodePlan(t, filepath.Join(fleet, "hosts", "mars.hcl"))
	require.Equal(t, []string{data}, p.Jobs[0].Paths, "the pool's root dataset is mounted above data: %v", p.Node.Datasets)
	var names []string
	for _, d := range p.Node.Datasets {
		names = append(names, d.Name)
	}
	require.Contains(t, names, pool+"/data/child")
}
