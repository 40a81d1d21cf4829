package nas

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/internal/testenv"
	"github.com/holthome/bakc/zfs"
)

// testKey is an ed25519 public key in OpenSSH form (no private half
// exists anywhere; the tests never log in with it).
const testKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHRlc3Qta2V5LWZvci1iYWtjLW5hcy10ZXN0cy0wMDAx root@forge"

// testPlan is a NAS plan for a test fleet on a zfs-fuse pool: the
// example's shape (a repository dataset exported to the node, a receive
// dataset with a replication user), with what zfs-fuse supports
// (compression=on, recordsize=128K), the NAS's parent inside the pool
// and mount_root in a temporary folder.
//
// The receive dataset has exec=off where the example has readonly=on:
// zfs-fuse makes a readonly dataset read-only but `zfs get` reports it as
// "off, temporary" (its FUSE mount is always rw), so on zfs-fuse the
// script would set readonly on every run. exec is a mount option as well
// and zfs-fuse reports it faithfully.
func testPlan(pool, mountRoot string) *plan.NASPlan {
	parent := pool + "/backup"
	owner := &plan.Owner{UID: 2049, GID: 2049}
	restic := func(node string) plan.NASDataset {
		return plan.NASDataset{
			Name:       "restic",
			ZFSName:    parent + "/" + node + "/restic",
			Mountpoint: mountRoot + "/" + node + "/restic",
			Properties: []plan.Property{
				{Name: "atime", Value: "off"},
				{Name: "compression", Value: "on"},
				{Name: "quota", Value: "64M"},
				{Name: "recordsize", Value: "128K"},
			},
			Owner: owner,
			Export: &plan.Export{
				Client:  node + ".test.example",
				Options: []string{"rw", "sync", "no_subtree_check", "root_squash"},
			},
		}
	}
	return &plan.NASPlan{
		Version: plan.Version,
		Sources: []string{"bakc.hcl", "hosts/forge.hcl", "hosts/luna.hcl"},
		NAS:     plan.NAS{Name: "nas-t", Address: "nas-t.test.example", Parent: parent, MountRoot: mountRoot},
		User:    plan.User{Name: "bakc", Group: "bakc", UID: 2049, GID: 2049},
		Nodes: []plan.NASNode{
			{
				Name:    "forge",
				Address: "forge.test.example",
				Dataset: parent + "/forge",
				Datasets: []plan.NASDataset{
					restic("forge"),
					{
						Name:       "zfs-recv",
						ZFSName:    parent + "/forge/zfs-recv",
						Mountpoint: mountRoot + "/forge/zfs-recv",
						Properties: []plan.Property{
							{Name: "exec", Value: "off"},
							{Name: "quota", Value: "32M"},
						},
						Receive: &plan.Receive{
							User:        "bakc-recv-forge",
							PublicKey:   testKey,
							From:        "forge.test.example",
							Permissions: []string{"create", "mount", "receive"},
						},
					},
				},
			},
			{
				Name:     "luna",
				Address:  "luna.test.example",
				Dataset:  parent + "/luna",
				Datasets: []plan.NASDataset{restic("luna")},
			},
		},
	}
}

// nas is a NAS for one test: a zfs-fuse pool, a folder standing in for
// the NAS's / (etc/passwd and friends for useradd --prefix, etc/exports.d,
// home), and stand-ins for what this machine cannot run.
type nas struct {
	pool, mountRoot, root, log, bin string
}

func newNAS(t *testing.T) *nas {
	t.Helper()
	// Made before the pool, so that it is removed after the pool is gone.
	mountRoot := filepath.Join(t.TempDir(), "nas")
	pool := testenv.ZFSPool(t, 256<<20)
	testenv.LookPath(t, "useradd")
	n := &nas{pool: pool, mountRoot: mountRoot, root: t.TempDir(), log: t.TempDir(), bin: t.TempDir()}
	etc := filepath.Join(n.root, "etc")
	require.NoError(t, os.MkdirAll(etc, 0o755))
	for name, content := range map[string]string{
		"passwd":  "root:x:0:0:root:/root:/bin/sh\n",
		"group":   "root:x:0:\n",
		"shadow":  "root:*:19000:0:99999:7:::\n",
		"gshadow": "root:*::\n",
	} {
		require.NoError(t, os.WriteFile(filepath.Join(etc, name), []byte(content), 0o640))
	}
	require.NoError(t, os.WriteFile(filepath.Join(n.bin, "exportfs"), []byte(exportfsStandIn), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(n.bin, "zfs-delegate"), []byte(delegateStandIn), 0o755))
	return n
}

// exportfsStandIn stands in for the NFS server's exportfs, which this
// machine does not have (no NFS server): it records the call and checks
// what `exportfs -ra` would read, failing as exportfs does on a path
// that is not a folder.
const exportfsStandIn = `#!/bin/sh
set -eu
printf '%s\n' "$*" >>"$BAKC_TEST_LOG/exportfs.calls"
for f in "$BAKC_NAS_ROOT"/etc/exports.d/*.exports; do
	[ -e "$f" ] || continue
	grep -v '^#' "$f" | while read -r path client; do
		[ -d "$path" ] || { echo "exportfs: Failed to stat $path" >&2; exit 1; }
	done
done
`

// delegateStandIn stands in for OpenZFS's zfs allow and zfs unallow,
// which zfs-fuse lacks (its zfs allow needs a Python module Debian does
// not ship). It keeps the grants in a file, refuses a dataset the real
// pool does not have or a user the NAS's passwd does not have, and
// prints grants as OpenZFS does, in the order they were granted (not
// sorted), as OpenZFS does not promise an order either.
const delegateStandIn = `#!/bin/sh
set -eu
state=$BAKC_TEST_LOG/allow.state
touch "$state"
printf '%s\n' "$*" >>"$BAKC_TEST_LOG/allow.calls"
tab=$(printf '\t')
exists() { zfs list -H -o name "$1" >/dev/null 2>&1 || { echo "cannot open '$1': dataset does not exist" >&2; exit 1; }; }
case $1 in
allow)
	if [ $# -eq 2 ]; then
		exists "$2"
		lines=$(awk -F "$tab" -v ds="$2" '$1 == ds { print "\tuser " $2 " " $3 }' "$state")
		[ -n "$lines" ] || exit 0
		printf -- '---- Permissions on %s --------------------------------------\n' "$2"
		printf 'Local+Descendent permissions:\n%s\n' "$lines"
		exit 0
	fi
	[ "$2" = -u ] || { echo "stand-in: only -u" >&2; exit 2; }
	exists "$5"
	cut -d: -f1 "$BAKC_NAS_ROOT/etc/passwd" | grep -Fqx -e "$3" || { echo "cannot allow: invalid user $3" >&2; exit 1; }
	old=$(awk -F "$tab" -v ds="$5" -v u="$3" '$1 == ds && $2 == u { print $3 }' "$state")
	awk -F "$tab" -v ds="$5" -v u="$3" '!($1 == ds && $2 == u)' "$state" >"$state.new"
	perms=$old
	for p in $(printf '%s' "$4" | tr , ' '); do
		case ",$perms," in *",$p,"*) ;; *) perms=${perms:+$perms,}$p ;; esac
	done
	printf '%s\t%s\t%s\n' "$5" "$3" "$perms" >>"$state.new"
	mv "$state.new" "$state"
	;;
unallow)
	[ "$2" = -u ] && [ $# -eq 4 ] || { echo "stand-in: only unallow -u USER DATASET" >&2; exit 2; }
	exists "$4"
	awk -F "$tab" -v ds="$4" -v u="$3" '!($1 == ds && $2 == u)' "$state" >"$state.new"
	mv "$state.new" "$state"
	;;
*)
	echo "stand-in: zfs $1 is not delegation" >&2
	exit 2
	;;
esac
`

// run runs the script with sh as the NAS would, with the stand-ins, and
// returns its output lines with the test's folders replaced by names.
func (n *nas) run(t *testing.T, script []byte) []string {
	t.Helper()
	out, err := n.runErr(t, script)
	require.NoError(t, err, "script output:\n%s", strings.Join(out, "\n"))
	return out
}

func (n *nas) runErr(t *testing.T, script []byte, env ...string) ([]string, error) {
	t.Helper()
	path := filepath.Join(n.log, "nas-plan.sh")
	require.NoError(t, os.WriteFile(path, script, 0o644))
	cmd := exec.Command(testenv.LookPath(t, "sh"), path)
	cmd.Dir = n.log
	cmd.Env = append(os.Environ(),
		"PATH=/usr/sbin:/usr/bin:/sbin:/bin",
		"BAKC_NAS_ROOT="+n.root,
		"BAKC_EXPORTFS="+filepath.Join(n.bin, "exportfs"),
		"BAKC_ZFS_DELEGATE="+filepath.Join(n.bin, "zfs-delegate"),
		"BAKC_TEST_LOG="+n.log,
	)
	cmd.Env = append(cmd.Env, env...)
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	err := cmd.Run()
	s := strings.NewReplacer(n.root, "$ROOT", n.mountRoot, "$MNT", n.pool, "$POOL").Replace(buf.String())
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n"), err
}

// zfsGet reads a property's value and source with the real zfs command.
func zfsGet(t *testing.T, dataset, prop string) string {
	t.Helper()
	out, err := exec.Command(testenv.LookPath(t, "zfs"), "get", "-H", "-o", "value,source", prop, dataset).CombinedOutput()
	require.NoError(t, err, "%s", out)
	return strings.TrimSuffix(string(out), "\n")
}

// zfsCmd runs zfs for the test's own setup. zfs-fuse answers "busy" for
// a moment after a mount goes away: the command is run again for a few
// seconds. A "set mountpoint=" that was refused so has set the value but
// not remounted, and setting the same value again does not remount: then
// the dataset is mounted instead.
func zfsCmd(t *testing.T, args ...string) {
	t.Helper()
	zfsBin := testenv.LookPath(t, "zfs")
	retry := args
	if len(args) == 3 && args[0] == "set" && strings.HasPrefix(args[1], "mountpoint=") {
		retry = []string{"mount", args[2]}
	}
	out, err := exec.Command(zfsBin, args...).CombinedOutput()
	for i := 0; err != nil && strings.Contains(string(out), "is busy") && i < 50; i++ {
		time.Sleep(100 * time.Millisecond)
		out, err = exec.Command(zfsBin, retry...).CombinedOutput()
	}
	require.NoError(t, err, "zfs %v: %s", args, out)
}

func (n *nas) readLog(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(n.log, name))
	if errors.Is(err, fs.ErrNotExist) {
		return ""
	}
	require.NoError(t, err)
	return string(b)
}

// files reads the NAS's files below its root, for Check.
type files struct{ root string }

func (f files) ReadFile(path string) ([]byte, error) { return os.ReadFile(filepath.Join(f.root, path)) }

func (f files) Owner(path string) (int, int, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, 0, err
	}
	st := fi.Sys().(*syscall.Stat_t)
	return int(st.Uid), int(st.Gid), nil
}

func (n *nas) check(t *testing.T, p *plan.NASPlan) []string {
	t.Helper()
	diffs, err := Check(p, zfs.PropertyReader{}, files{n.root})
	require.NoError(t, err)
	var out []string
	r := strings.NewReplacer(n.root, "$ROOT", n.mountRoot, "$MNT", n.pool, "$POOL")
	for _, d := range diffs {
		out = append(out, r.Replace(d.String()))
	}
	return out
}

// TestScriptOnZFS runs the generated script with sh on a real ZFS pool
// (zfs-fuse), checks the result with zfs get and the files it wrote,
// runs it again (nothing changes, and it says so), lets the NAS drift
// and runs it once more; --check (Check) is compared with the pool before
// and after each run.
func TestScriptOnZFS(t *testing.T) {
	n := newNAS(t)
	p := testPlan(n.pool, n.mountRoot)
	script, err := Script(p)
	require.NoError(t, err)

	wantCheck := []string{
		"dataset $POOL/backup: is missing, the configuration says a dataset",
		"dataset $POOL/backup/forge: is missing, the configuration says a dataset",
		"dataset $POOL/backup/forge/restic: is missing, the configuration says a dataset",
		"dataset $POOL/backup/forge/zfs-recv: is missing, the configuration says a dataset",
		"dataset $POOL/backup/luna: is missing, the configuration says a dataset",
		"dataset $POOL/backup/luna/restic: is missing, the configuration says a dataset",
		"user bakc-recv-forge: is missing, the configuration says a user with home /home/bakc-recv-forge and shell /bin/sh",
		"/etc/exports.d/bakc-forge.exports: is missing, the configuration says a file",
		"/etc/exports.d/bakc-luna.exports: is missing, the configuration says a file",
	}
	if diff := cmp.Diff(wantCheck, n.check(t, p)); diff != "" {
		t.Errorf("check before the first run (-want +got):\n%s", diff)
	}

	want := []string{
		"changed: created dataset $POOL/backup, mounted at $MNT",
		"changed: created dataset $POOL/backup/forge",
		"changed: created dataset $POOL/backup/forge/restic",
		"changed: $MNT/forge/restic: owner 2049:2049 (was 0:0)",
		"changed: $POOL/backup/forge/restic: atime=off (was on, default)",
		"changed: $POOL/backup/forge/restic: compression=on (was off, default)",
		"changed: $POOL/backup/forge/restic: quota=64M (was none, default)",
		"changed: $POOL/backup/forge/restic: recordsize=128K (was 128K, default)",
		"changed: created dataset $POOL/backup/forge/zfs-recv",
		"changed: $POOL/backup/forge/zfs-recv: exec=off (was on, default)",
		"changed: $POOL/backup/forge/zfs-recv: quota=32M (was none, default)",
		"changed: created dataset $POOL/backup/luna",
		"changed: created dataset $POOL/backup/luna/restic",
		"changed: $MNT/luna/restic: owner 2049:2049 (was 0:0)",
		"changed: $POOL/backup/luna/restic: atime=off (was on, default)",
		"changed: $POOL/backup/luna/restic: compression=on (was off, default)",
		"changed: $POOL/backup/luna/restic: quota=64M (was none, default)",
		"changed: $POOL/backup/luna/restic: recordsize=128K (was 128K, default)",
		"changed: created user bakc-recv-forge",
		"changed: created $ROOT/home/bakc-recv-forge",
		"changed: created $ROOT/home/bakc-recv-forge/.ssh",
		"changed: wrote the key of bakc-recv-forge to $ROOT/home/bakc-recv-forge/.ssh/authorized_keys",
		"changed: zfs allow: bakc-recv-forge may create,mount,receive on $POOL/backup/forge/zfs-recv (was: nothing)",
		"changed: wrote $ROOT/etc/exports.d/bakc-forge.exports",
		"changed: wrote $ROOT/etc/exports.d/bakc-luna.exports",
		"bakc nas-plan: reloaded the NFS exports (exportfs -ra)",
		"bakc nas-plan: 25 changes made",
	}
	if diff := cmp.Diff(want, n.run(t, script)); diff != "" {
		t.Errorf("first run (-want +got):\n%s", diff)
	}
	n.verify(t, p)
	if diff := cmp.Diff("-ra\n", n.readLog(t, "exportfs.calls")); diff != "" {
		t.Errorf("exportfs calls (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string(nil), n.check(t, p)); diff != "" {
		t.Errorf("check after the first run (-want +got):\n%s", diff)
	}

	nothing := []string{"bakc nas-plan: nothing changed: nas-t is as configured for forge, luna"}
	if diff := cmp.Diff(nothing, n.run(t, script)); diff != "" {
		t.Errorf("second run (-want +got):\n%s", diff)
	}
	n.verify(t, p)
	if diff := cmp.Diff("-ra\n", n.readLog(t, "exportfs.calls")); diff != "" {
		t.Errorf("the second run reloaded the exports (-want +got):\n%s", diff)
	}

	// Drift: someone changes a quota, the owner, an exports file, the
	// replication user's shell and rights by hand.
	zfsCmd(t, "set", "quota=16M", n.pool+"/backup/luna/restic")
	zfsCmd(t, "inherit", "atime", n.pool+"/backup/forge/restic")
	require.NoError(t, os.Chown(n.mountRoot+"/luna/restic", 0, 0))
	require.NoError(t, os.WriteFile(n.root+"/etc/exports.d/bakc-luna.exports", []byte("/ *(rw,no_root_squash)\n"), 0o644))
	passwd, err := os.ReadFile(n.root + "/etc/passwd")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(n.root+"/etc/passwd", bytes.Replace(passwd, []byte(":/bin/sh\n"), []byte(":/usr/sbin/nologin\n"), -1), 0o644))
	require.NoError(t, os.WriteFile(n.log+"/allow.state", []byte(n.pool+"/backup/forge/zfs-recv\tbakc-recv-forge\treceive,destroy,create\n"), 0o644))

	wantCheck = []string{
		"$POOL/backup/forge/restic atime: is on, the configuration says off",
		"owner of $MNT/luna/restic: is 0:0, the configuration says 2049:2049",
		"$POOL/backup/luna/restic quota: is 16M, the configuration says 64M",
		"shell of user bakc-recv-forge: is /usr/sbin/nologin, the configuration says /bin/sh",
		"/etc/exports.d/bakc-luna.exports: is different, the configuration says the file bakc nas-plan writes",
	}
	if diff := cmp.Diff(wantCheck, n.check(t, p)); diff != "" {
		t.Errorf("check after drift (-want +got):\n%s", diff)
	}
	want = []string{
		"changed: $POOL/backup/forge/restic: atime=off (was on, default)",
		"changed: $MNT/luna/restic: owner 2049:2049 (was 0:0)",
		"changed: $POOL/backup/luna/restic: quota=64M (was 16M, local)",
		"changed: user bakc-recv-forge: shell /bin/sh (was /usr/sbin/nologin)",
		"changed: zfs allow: bakc-recv-forge may create,mount,receive on $POOL/backup/forge/zfs-recv (was: Local+Descendent permissions: create,destroy,receive)",
		"changed: wrote $ROOT/etc/exports.d/bakc-luna.exports",
		"bakc nas-plan: reloaded the NFS exports (exportfs -ra)",
		"bakc nas-plan: 6 changes made",
	}
	if diff := cmp.Diff(want, n.run(t, script)); diff != "" {
		t.Errorf("run after drift (-want +got):\n%s", diff)
	}
	n.verify(t, p)
	if diff := cmp.Diff(nothing, n.run(t, script)); diff != "" {
		t.Errorf("run after the repair (-want +got):\n%s", diff)
	}

	// luna stops exporting: its exports file goes away, and the exports
	// are reloaded.
	p.Nodes[1].Datasets[0].Export = nil
	script, err = Script(p)
	require.NoError(t, err)
	want = []string{
		"changed: removed $ROOT/etc/exports.d/bakc-luna.exports",
		"bakc nas-plan: reloaded the NFS exports (exportfs -ra)",
		"bakc nas-plan: 1 changes made",
	}
	if diff := cmp.Diff(want, n.run(t, script)); diff != "" {
		t.Errorf("run without luna's export (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string(nil), n.check(t, p)); diff != "" {
		t.Errorf("check without luna's export (-want +got):\n%s", diff)
	}
}

// verify checks the NAS against the plan with the real tools, not with
// the code under test: zfs get for datasets, properties and quotas, stat
// for owners, and the files the script wrote.
func (n *nas) verify(t *testing.T, p *plan.NASPlan) {
	t.Helper()
	if diff := cmp.Diff(p.NAS.MountRoot+"\tlocal", zfsGet(t, p.NAS.Parent, "mountpoint")); diff != "" {
		t.Errorf("parent mountpoint (-want +got):\n%s", diff)
	}
	for _, node := range p.Nodes {
		var exports []string
		for _, d := range node.Datasets {
			if got := zfsGet(t, d.ZFSName, "mountpoint"); !strings.HasPrefix(got, d.Mountpoint+"\t") {
				t.Errorf("%s: mountpoint %q, want %s", d.ZFSName, got, d.Mountpoint)
			}
			for _, pr := range d.Properties {
				if diff := cmp.Diff(pr.Value+"\tlocal", zfsGet(t, d.ZFSName, pr.Name)); diff != "" {
					t.Errorf("%s %s (-want +got):\n%s", d.ZFSName, pr.Name, diff)
				}
			}
			if d.Owner != nil {
				uid, gid, err := files{}.Owner(d.Mountpoint)
				require.NoError(t, err)
				if uid != d.Owner.UID || gid != d.Owner.GID {
					t.Errorf("%s: owner %d:%d, want %d:%d", d.Mountpoint, uid, gid, d.Owner.UID, d.Owner.GID)
				}
			}
			if d.Export != nil {
				exports = append(exports, fmt.Sprintf("%s %s(%s)", d.Mountpoint, d.Export.Client, strings.Join(d.Export.Options, ",")))
			}
			if r := d.Receive; r != nil {
				n.verifyReceive(t, d.ZFSName, r)
			}
		}
		b, err := os.ReadFile(n.root + ExportsFile(node.Name))
		require.NoError(t, err)
		var got []string
		for _, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
			if !strings.HasPrefix(line, "#") {
				got = append(got, line)
			}
		}
		if diff := cmp.Diff(exports, got); diff != "" {
			t.Errorf("%s exports (-want +got):\n%s", node.Name, diff)
		}
	}
}

func (n *nas) verifyReceive(t *testing.T, dataset string, r *plan.Receive) {
	t.Helper()
	passwd, err := os.ReadFile(n.root + "/etc/passwd")
	require.NoError(t, err)
	var entry []string
	for _, line := range strings.Split(string(passwd), "\n") {
		if f := strings.Split(line, ":"); f[0] == r.User {
			entry = f
		}
	}
	require.Len(t, entry, 7, "user %s in passwd:\n%s", r.User, passwd)
	if diff := cmp.Diff([]string{"/home/" + r.User, "/bin/sh"}, entry[5:]); diff != "" {
		t.Errorf("user %s home and shell (-want +got):\n%s", r.User, diff)
	}
	shadow, err := os.ReadFile(n.root + "/etc/shadow")
	require.NoError(t, err)
	if !strings.Contains(string(shadow), "\n"+r.User+":!") {
		t.Errorf("user %s has no locked password:\n%s", r.User, shadow)
	}
	key, err := os.ReadFile(n.root + "/home/" + r.User + "/.ssh/authorized_keys")
	require.NoError(t, err)
	want := `restrict,from="` + r.From + `",command="` + strings.ReplaceAll(receiveCommand, `"`, `\"`) + `" ` + r.PublicKey + "\n"
	if diff := cmp.Diff(want, string(key)); diff != "" {
		t.Errorf("authorized_keys (-want +got):\n%s", diff)
	}
	for _, p := range []string{"/home/" + r.User, "/home/" + r.User + "/.ssh", "/home/" + r.User + "/.ssh/authorized_keys"} {
		fi, err := os.Lstat(n.root + p)
		require.NoError(t, err)
		st := fi.Sys().(*syscall.Stat_t)
		if st.Uid != 0 || fi.Mode().Perm()&0o022 != 0 {
			t.Errorf("%s: owner %d, mode %v; want root's, not writable by others", p, st.Uid, fi.Mode())
		}
	}
	state := n.readLog(t, "allow.state")
	var grants []string
	for _, line := range strings.Split(strings.TrimSuffix(state, "\n"), "\n") {
		if f := strings.Split(line, "\t"); len(f) == 3 && f[0] == dataset && f[1] == r.User {
			perms := strings.Split(f[2], ",")
			sort.Strings(perms)
			grants = append(grants, strings.Join(perms, ","))
		}
	}
	if diff := cmp.Diff([]string{strings.Join(r.Permissions, ",")}, grants); diff != "" {
		t.Errorf("zfs allow grants of %s on %s (-want +got):\n%s", r.User, dataset, diff)
	}
}

// TestNixBootScriptOnZFS evaluates the Nix form with nix-instantiate and
// runs each node's boot service script, as NixOS would hand it to the
// shell, on a real pool: it creates the datasets as declared, and a
// second run changes nothing. The replication user is written into the
// stand-in passwd first, as NixOS creates users before services start.
func TestNixBootScriptOnZFS(t *testing.T) {
	n := newNAS(t)
	p := testPlan(n.pool, n.mountRoot)
	module, err := Nix(p)
	require.NoError(t, err)
	v := nixEval(t, module)

	f, err := os.OpenFile(n.root+"/etc/passwd", os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString("bakc-recv-forge:x:990:990:bakc replication from forge:/var/empty:/bin/sh\n")
	require.NoError(t, err)
	require.NoError(t, f.Close())

	for _, node := range p.Nodes {
		s, ok := v.Systemd.Services[ServiceName(node.Name)]
		require.True(t, ok, "no service for %s", node.Name)
		out := n.run(t, []byte(s.Script))
		if !strings.HasSuffix(out[len(out)-1], " changes made") {
			t.Errorf("%s: first boot changed nothing:\n%s", node.Name, strings.Join(out, "\n"))
		}
		for _, line := range out {
			if strings.Contains(line, "exports") || strings.Contains(line, "user") && !strings.Contains(line, "zfs allow") {
				t.Errorf("%s: the boot script touched exports or users, which NixOS declares: %s", node.Name, line)
			}
		}
		want := []string{"bakc nas-plan: nothing changed: nas-t is as configured for " + node.Name}
		if diff := cmp.Diff(want, n.run(t, []byte(s.Script))); diff != "" {
			t.Errorf("%s: second boot (-want +got):\n%s", node.Name, diff)
		}
	}
	for _, node := range p.Nodes {
		for _, d := range node.Datasets {
			for _, pr := range d.Properties {
				if diff := cmp.Diff(pr.Value+"\tlocal", zfsGet(t, d.ZFSName, pr.Name)); diff != "" {
					t.Errorf("%s %s (-want +got):\n%s", d.ZFSName, pr.Name, diff)
				}
			}
		}
	}
	if got := n.readLog(t, "allow.state"); !strings.Contains(got, "\tbakc-recv-forge\tcreate,mount,receive\n") {
		t.Errorf("zfs allow state after boot: %q", got)
	}
}

// TestScriptStops checks the two places where the script refuses to go
// on: a parent dataset mounted elsewhere than mount_root says (before it
// changes anything), and an exportfs that fails (after writing the
// files, saying so).
func TestScriptStops(t *testing.T) {
	n := newNAS(t)
	p := testPlan(n.pool, n.mountRoot)
	script, err := Script(p)
	require.NoError(t, err)
	zfsCmd(t, "create", n.pool+"/backup")
	elsewhere, _, _ := strings.Cut(zfsGet(t, n.pool+"/backup", "mountpoint"), "\t")

	out, err := n.runErr(t, script)
	require.Error(t, err)
	want := []string{"bakc nas-plan: error: dataset $POOL/backup is mounted at " + strings.NewReplacer(n.pool, "$POOL").Replace(elsewhere) +
		", but the configuration expects $MNT: make mount_root and the dataset's mountpoint agree, then run this again"}
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("wrong parent mountpoint (-want +got):\n%s", diff)
	}
	if _, ok, err := (zfs.PropertyReader{}).Property(n.pool+"/backup/forge", "mountpoint"); err != nil || ok {
		t.Errorf("the script created datasets before it stopped (err %v)", err)
	}
	if _, err := os.Stat(n.root + "/etc/exports.d"); err == nil {
		t.Errorf("the script wrote exports before it stopped")
	}

	zfsCmd(t, "set", "mountpoint="+n.mountRoot, n.pool+"/backup")
	out, err = n.runErr(t, script, "BAKC_EXPORTFS=false")
	require.Error(t, err)
	if diff := cmp.Diff("bakc nas-plan: error: the exports files are written, but exportfs -ra failed: fix the cause, then run exportfs -ra", out[len(out)-1]); diff != "" {
		t.Errorf("failing exportfs (-want +got):\n%s", diff)
	}
}
