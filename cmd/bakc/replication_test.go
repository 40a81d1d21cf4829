package main

import (
	"bytes"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/internal/testenv"
	"github.com/holthome/bakc/replication"
)

// TestReplicationWithSyncoid pulls a node's datasets with Debian's real
// syncoid, through a real sshd on 127.0.0.1 whose authorized_keys holds
// the line bakc writes for the NAS's key, so that every command syncoid
// sends goes through `bakc send-guard` (this test binary under the name
// bakc): a first full pull of sanoid's snapshots, an incremental one
// after a change, a pull with nothing new; the NAS's sanoid, from bakc's
// config for the copies, seeing them and taking or pruning nothing young;
// then the NAS's key used by
// hand for what syncoid never does (each refused, nothing run), a
// connection from another address (refused by from=), and a node whose
// root destroyed and rewrote its snapshots (the NAS's copies survive:
// syncoid stops, it never rolls back or destroys).
//
// Stood in, and why: node and NAS are this one machine, both datasets
// trees in one zfs-fuse pool; the login is root's (sshd's
// AuthorizedKeysFile points at a temporary file, as /etc must not get a
// bakc-send user here), so `zfs allow send` is not exercised — zfs-fuse
// has no delegation. zfs-fuse's zfs get has no -t, which syncoid's and
// sanoid's listings use: a stand-in zfs (zfsGetT) answers them from
// listings without -t. The first snapshot is sanoid's own (--take-snapshots
// with bakc's sanoid.conf); the second is named as sanoid names an hourly
// one, since sanoid takes the next hourly an hour later.
func TestReplicationWithSyncoid(t *testing.T) {
	testenv.Root(t)
	syncoid := testenv.LookPath(t, "syncoid")
	sanoid := testenv.LookPath(t, "sanoid")
	ssh := testenv.LookPath(t, "ssh")
	pool := testenv.ZFSPool(t, 256<<20)
	home, persist := pool+"/node/home", pool+"/node/persist"
	for _, ds := range []string{home, persist, pool + "/nas/forge/zfs-recv", pool + "/other/secret"} {
		replZFS(t, "create", "-p", ds)
	}
	// The copies are received unmounted (--recvoptions=u), but
	// zfs-fuse's receive has no -u: the NAS's stand-in zfs (zfsGetT)
	// drops it, the copies are mounted, and atime=off keeps this test's
	// reads of them from changing them (a changed copy refuses the next
	// incremental: syncoid never receives with -F).
	replZFS(t, "set", "atime=off", pool+"/nas")
	writeIn(t, home, "file", "first")
	writeIn(t, persist, "state", "kept")
	// bakc's own backup snapshots are never sent: the guard filters the
	// lists syncoid reads down to sanoid's.
	replZFS(t, "snapshot", home+"@bakc-backup-1")

	dir := t.TempDir()
	nasPub := testenv.SSHKey(t, dir, "nas", "bakc@nas-1")
	self, err := os.Executable()
	require.NoError(t, err)
	bakc := filepath.Join(t.TempDir(), "bakc")
	require.NoError(t, os.Symlink(self, bakc))

	r := &plan.Replication{
		Datasets:  []string{home, persist},
		Snapshots: plan.SnapshotPolicy{Hourly: 24, Daily: 7},
		User:      plan.SendUser,
		NAS:       "nas-1",
		PublicKey: nasPub,
		From:      []string{"127.0.0.1"},
	}
	line, err := replication.AuthorizedKey(r, bakc)
	require.NoError(t, err)
	// zfs-fuse's zfs get has no -t, which syncoid's first listing uses;
	// its fallback (`zfs get -Hpd 1 type,guid,creation`) puts the ssh
	// command into the remote command twice in syncoid 2.1.0, so the
	// guard refuses it. OpenZFS has -t; here a stand-in zfs gives the
	// guard's zfs what OpenZFS would answer (zfsGetT).
	nasZFS := zfsGetT(t)
	line = strings.Replace(line, " "+replication.GuardCommand+" ", " "+replication.GuardCommand+" --zfs "+nasZFS+" ", 1)
	srv := testenv.StartSSHD(t, line, "PermitRootLogin forced-commands-only", "UseDNS no", "LogLevel VERBOSE")
	known, err := os.ReadFile(srv.KnownHosts)
	require.NoError(t, err)
	hostKey := strings.TrimSpace(strings.SplitN(string(known), " ", 2)[1])
	knownHosts := filepath.Join(dir, "known_hosts")
	require.NoError(t, os.WriteFile(knownHosts, []byte(replication.KnownHostsLine("forge", hostKey)), 0o644))

	// sanoid takes the first snapshots on the node, from bakc's config.
	conf := filepath.Join(dir, "sanoid")
	require.NoError(t, os.MkdirAll(conf, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(conf, "sanoid.conf"),
		[]byte(replication.SanoidConfig("node forge", r.Datasets, r.Snapshots, true)), 0o644))
	sanoidCmd := func(args ...string) *exec.Cmd {
		cmd := exec.Command(sanoid, args...)
		cmd.Env = []string{"PATH=" + filepath.Dir(nasZFS) + ":/usr/sbin:/usr/bin:/sbin:/bin", "TZ=UTC"}
		return cmd
	}
	out, err := sanoidCmd("--configdir", conf, "--cache-dir", filepath.Join(dir, "cache"),
		"--run-dir", filepath.Join(dir, "run"), "--take-snapshots", "--verbose").CombinedOutput()
	require.NoError(t, err, "sanoid --take-snapshots:\n%s", out)
	first := sanoidSnaps(t, home)
	require.Len(t, first, 2, "sanoid took an hourly and a daily snapshot of %s:\n%s", home, out)

	port, err := strconv.Atoi(srv.Port)
	require.NoError(t, err)
	node := &plan.NodeReplication{Address: "127.0.0.1", Port: port, User: "root", HostKey: hostKey}
	targets := map[string]string{home: pool + "/nas/forge/zfs-recv/home", persist: pool + "/nas/forge/zfs-recv/persist"}
	// Every pull is syncoid under `bakc run replicate`, as the NAS's
	// units run it: the wrapper's flags, then syncoid's own command line.
	nasRun := &plan.NASReplication{
		State:       filepath.Join(dir, "nas-state"),
		TextfileDir: filepath.Join(dir, "nas-textfile"),
		ErrorLog:    filepath.Join(dir, "nas-log", "errors.jsonl"),
	}
	pullWith := func(n *plan.NodeReplication, known, source string) (string, error) {
		args, err := replication.SyncoidArgs(n, "forge", plan.ReplicaDataset{Source: source, Target: targets[source]},
			filepath.Join(dir, "nas"), known)
		require.NoError(t, err)
		cmd := exec.Command(bakc, append([]string{"run", "replicate", "--syncoid", syncoid, "--zfs", nasZFS,
			"--state", nasRun.State, "--textfile-dir", nasRun.TextfileDir, "--error-log", nasRun.ErrorLog, "--"}, args...)...)
		cmd.Env = []string{"PATH=" + filepath.Dir(nasZFS) + ":/usr/sbin:/usr/bin:/sbin:/bin", "HOME=" + dir}
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	pull := func(source string) (string, error) { return pullWith(node, knownHosts, source) }
	homeMetrics := func() map[string]float64 {
		t.Helper()
		return replMetrics(t, filepath.Join(nasRun.TextfileDir, "bakc-replicate-"+strings.ReplaceAll(targets[home], "/", "%2F")+".prom"))
	}
	homeLabels := `{dataset="` + home + `",node="forge",target="` + targets[home] + `"}`
	pullAll := func(what string) {
		t.Helper()
		for _, src := range r.Datasets {
			out, err := pull(src)
			require.NoError(t, err, "%s pull of %s:\n%s\nsshd:\n%s", what, src, out, srv.Log())
		}
	}

	// 1. The first, full pull.
	pullAll("full")
	require.Equal(t, first, sanoidSnaps(t, targets[home]))
	require.Equal(t, "first", readIn(t, targets[home], "file"))
	require.Equal(t, "kept", readIn(t, targets[persist], "state"))
	require.NotContains(t, replZFSOut(t, "list", "-H", "-t", "snapshot", "-o", "name", "-r", targets[home]), "bakc-backup-1")

	// 2. A change, a new snapshot, an incremental pull.
	writeIn(t, home, "file", "second")
	next := "autosnap_" + time.Now().Add(time.Hour).Format("2006-01-02_15:04:05") + "_hourly"
	replZFS(t, "snapshot", home+"@"+next)
	pullAll("incremental")
	require.Equal(t, append(append([]string{}, first...), next), sanoidSnaps(t, targets[home]))
	require.Equal(t, "second", readIn(t, targets[home], "file"))

	// 3. Nothing new: nothing changes.
	pullAll("no-op")
	require.Equal(t, append(append([]string{}, first...), next), sanoidSnaps(t, targets[home]))

	// 3a. bakc's metrics of the pull: a success, and the lag from the
	// copy's newest snapshot, whose creation is the node's (zfs receive
	// keeps it).
	m := homeMetrics()
	nodeCreation := zfsCreation(t, home+"@"+next)
	require.Equal(t, nodeCreation, zfsCreation(t, targets[home]+"@"+next), "the copy's snapshot has the node's creation time")
	require.Equal(t, 1.0, m["bakc_replication_success"+homeLabels], "%v", m)
	require.Equal(t, 0.0, m["bakc_replication_syncoid_exit_code"+homeLabels])
	require.Equal(t, float64(nodeCreation), m["bakc_replication_newest_snapshot_timestamp_seconds"+homeLabels])
	lastSuccess := m["bakc_replication_last_success_timestamp_seconds"+homeLabels]
	require.InDelta(t, float64(time.Now().Unix()), lastSuccess, 120)
	require.Equal(t, m["bakc_replication_last_run_timestamp_seconds"+homeLabels], lastSuccess)
	lag := m["bakc_replication_lag_seconds"+homeLabels]
	require.True(t, lag >= 0 && lag < 120, "lag %v", lag)
	require.NotContains(t, m, "bakc_replication_failure_info", "no failure after a success")
	require.NoFileExists(t, nasRun.ErrorLog, "no error line after successes")

	// 3c. The node unreachable (nothing listens on its port): category
	// network in the error log and the metrics, no success: the last
	// success is the one before, the copy's lag is still reported.
	closed := *node
	closed.Port = freePort(t)
	outs, err := pullWith(&closed, knownHosts, home)
	require.Error(t, err, "a pull from a closed port:\n%s", outs)
	require.Equal(t, 3, exitCodeOf(t, err), outs)
	netLine := lastErrorLine(t, nasRun.ErrorLog)
	require.Equal(t, "network", netLine["category"], "%v\n%s", netLine, outs)
	require.Equal(t, "replicate", netLine["task"])
	require.Equal(t, "forge", netLine["node"])
	require.Equal(t, home, netLine["dataset"])
	require.Equal(t, targets[home], netLine["target"])
	m = homeMetrics()
	require.Equal(t, 0.0, m["bakc_replication_success"+homeLabels])
	require.Equal(t, lastSuccess, m["bakc_replication_last_success_timestamp_seconds"+homeLabels], "a failed pull keeps the last success")
	require.Greater(t, m["bakc_replication_last_run_timestamp_seconds"+homeLabels], lastSuccess)
	require.Equal(t, 1.0, m[`bakc_replication_failure_info{category="network",dataset="`+home+`",node="forge",phase="replicate",target="`+targets[home]+`"}`], "%v", m)
	require.Equal(t, float64(nodeCreation), m["bakc_replication_newest_snapshot_timestamp_seconds"+homeLabels])
	require.NoFileExists(t, filepath.Join(nasRun.State, "runs", "replicate-"+strings.ReplaceAll(targets[home], "/", "%2F")+".json"), "the run's record is removed at its end")

	// 3d. Another host key than the node's declared one: category
	// host_key, nothing pulled.
	otherKey := testenv.SSHKey(t, dir, "impostor", "root@impostor")
	impostor := filepath.Join(dir, "known_hosts_impostor")
	require.NoError(t, os.WriteFile(impostor, []byte(replication.KnownHostsLine("forge", otherKey)), 0o644))
	outs, err = pullWith(node, impostor, home)
	require.Error(t, err, outs)
	require.Equal(t, "host_key", lastErrorLine(t, nasRun.ErrorLog)["category"], outs)

	// 3e. A dataset the node's key does not list: its guard refuses
	// syncoid's first request for it (sshd runs the real guard), the
	// pull fails with category refused, nothing is received.
	other := pool + "/other"
	targets[other] = pool + "/nas/forge/zfs-recv/other"
	outs, err = pull(other)
	require.Error(t, err, outs)
	refused := lastErrorLine(t, nasRun.ErrorLog)
	require.Equal(t, "refused", refused["category"], "%v\n%s", refused, outs)
	require.Contains(t, refused["message"], "bakc send-guard: refused", outs)
	_, err = exec.Command("zfs", "list", "-H", targets[other]).CombinedOutput()
	require.Error(t, err, "nothing was received for a dataset the guard refuses")

	// A success again clears the failure.
	outs, err = pull(home)
	require.NoError(t, err, outs)
	m = homeMetrics()
	require.Equal(t, 1.0, m["bakc_replication_success"+homeLabels])
	require.Greater(t, m["bakc_replication_last_success_timestamp_seconds"+homeLabels], lastSuccess)
	for k := range m {
		require.NotContains(t, k, "bakc_replication_failure_info")
	}

	// 3b. The NAS's sanoid, from bakc's config for the copies (the keep
	// policy, autosnap off), takes nothing and prunes nothing young: a
	// run leaves the copies' snapshots as they are. (Pruning by age is
	// sanoid's own and is not waited for here.)
	nasConf := filepath.Join(dir, "nas-sanoid")
	require.NoError(t, os.MkdirAll(nasConf, 0o755))
	copies := []string{targets[home], targets[persist]}
	require.NoError(t, os.WriteFile(filepath.Join(nasConf, "sanoid.conf"),
		[]byte(replication.SanoidConfig("nas-1", copies, plan.SnapshotPolicy{Hourly: 24, Daily: 30, Weekly: 8, Monthly: 12}, false)), 0o644))
	beforeNAS := replZFSOut(t, "list", "-H", "-t", "snapshot", "-o", "name", "-r", pool+"/nas")
	out, err = sanoidCmd("--configdir", nasConf, "--cache-dir", filepath.Join(dir, "nas-cache"),
		"--run-dir", filepath.Join(dir, "nas-run"), "--take-snapshots", "--prune-snapshots", "--verbose", "--debug").CombinedOutput()
	require.NoError(t, err, "sanoid on the NAS:\n%s", out)
	require.Equal(t, beforeNAS, replZFSOut(t, "list", "-H", "-t", "snapshot", "-o", "name", "-r", pool+"/nas"), "sanoid on the NAS:\n%s", out)
	require.Contains(t, string(out), "named "+next, "sanoid saw the copies' snapshots:\n%s", out)

	// 4. The NAS's key used for anything else: refused before anything
	// runs (the marker is never made), whatever syncoid's flags would be.
	marker := filepath.Join(dir, "pwned")
	for _, c := range []string{
		"zfs destroy -r " + home,
		"zfs rollback " + home + "@" + first[0],
		"zfs receive -F " + home,
		"zfs snapshot " + home + "@x",
		"zfs send " + pool + "/other/secret@x",
		"zfs send -R " + home + "@" + next,
		"zfs send " + home + "@bakc-backup-1",
		"zfs get -Hpd 1 -t snapshot guid,creation " + pool + "/other/secret",
		"touch " + marker,
		"zfs send " + home + "@" + next + "; touch " + marker,
		"sh -c 'touch " + marker + "'",
		"",
	} {
		stdout, stderr, code := replSSH(t, ssh, dir, srv, "", c)
		require.Equal(t, 1, code, "%q: %s", c, stderr)
		require.Empty(t, stdout, "%q", c)
		require.Contains(t, stderr, "bakc send-guard: refused", "%q", c)
		require.NoFileExists(t, marker, "%q", c)
	}

	// 5. from=: the same key from another address is not let in.
	_, stderr, code := replSSH(t, ssh, dir, srv, "127.0.0.2", "zfs get -H syncoid:sync "+home)
	require.Equal(t, 255, code, stderr)
	require.Contains(t, stderr, "Permission denied")

	// 6. The node's root turns hostile: destroys every snapshot, rewrites
	// the data and takes snapshots of the same names. The NAS holds no
	// key the node could use; the pull finds no common snapshot and
	// stops (no --force-delete, no rollback, no receive -F): every copy
	// on the NAS is still there, with the old data.
	before := replZFSOut(t, "list", "-H", "-t", "snapshot", "-o", "name,guid", "-r", targets[home])
	for _, s := range append(append([]string{}, first...), next, "bakc-backup-1") {
		replZFS(t, "destroy", home+"@"+s)
	}
	writeIn(t, home, "file", "ransomed")
	replZFS(t, "snapshot", home+"@"+first[0])
	replZFS(t, "snapshot", home+"@"+next)
	out2, err := pull(home)
	require.Error(t, err, "a pull with no common snapshot must fail:\n%s", out2)
	require.Equal(t, 3, exitCodeOf(t, err), out2)
	require.Equal(t, "diverged", lastErrorLine(t, nasRun.ErrorLog)["category"], out2)
	require.Equal(t, 0.0, homeMetrics()["bakc_replication_success"+homeLabels])
	require.Contains(t, lastErrorLine(t, nasRun.ErrorLog)["message"], "has no snapshots matching", "the message is syncoid's reason, not its closing note")
	require.Equal(t, before, replZFSOut(t, "list", "-H", "-t", "snapshot", "-o", "name,guid", "-r", targets[home]))
	require.Equal(t, "second", readIn(t, targets[home], "file"))
}

// replMetrics reads a textfile as testenv.ReadMetrics does.
func replMetrics(t *testing.T, path string) map[string]float64 {
	t.Helper()
	return testenv.ReadMetrics(t, path)
}

// lastErrorLine is the error log's last line, decoded.
func lastErrorLine(t *testing.T, path string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	var l map[string]any
	require.NoError(t, json.Unmarshal([]byte(lines[len(lines)-1]), &l))
	return l
}

// zfsCreation is a snapshot's creation property, Unix seconds.
func zfsCreation(t *testing.T, snap string) int64 {
	t.Helper()
	v, err := strconv.ParseInt(strings.TrimSpace(replZFSOut(t, "get", "-Hp", "-o", "value", "creation", snap)), 10, 64)
	require.NoError(t, err)
	return v
}

// freePort is a TCP port on 127.0.0.1 that nothing listens on.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := l.Addr().(*net.TCPAddr).Port
	require.NoError(t, l.Close())
	return port
}

// zfsGetT is a zfs for zfs-fuse that answers `zfs get … -t snapshot`
// (syncoid's `-Hpd 1 -t snapshot guid,creation DS`, sanoid's `-Hrpt
// snapshot creation`) and `-t bookmark`, which zfs-fuse's get lacks, as
// OpenZFS does: the snapshots' lines of `zfs get` without -t, and no
// bookmarks (zfs-fuse has none); and runs `zfs receive -u …` without -u (zfs-fuse has no
// unmounted receive). Every other command is zfs-fuse's zfs, unchanged.
func zfsGetT(t *testing.T) string {
	zfs := testenv.LookPath(t, "zfs")
	p := filepath.Join(t.TempDir(), "zfs")
	script := `#!/bin/sh
if [ "$1 $2 $3 $4 $5" = "get -Hpd 1 -t snapshot" ]; then
	"` + zfs + `" get -Hpd 1 "$6" "$7" | awk -F '\t' 'index($1, "@") > 0'
	exit $?
fi
if [ "$#" = 4 ] && [ "$1 $2 $3 $4" = "get -Hrpt snapshot creation" ]; then
	"` + zfs + `" get -Hrp creation | awk -F '\t' 'index($1, "@") > 0'
	exit $?
fi
if [ "$1 $2 $3 $4 $5" = "get -Hpd 1 -t bookmark" ]; then
	exit 0
fi
if [ "$1" = receive ]; then
	shift
	args=
	for a in "$@"; do
		[ "$a" = -u ] || args="$args '$a'"
	done
	eval exec "` + zfs + `" receive $args
fi
exec "` + zfs + `" "$@"
`
	require.NoError(t, os.WriteFile(p, []byte(script), 0o755))
	return p
}

// replSSH runs one command over ssh with the NAS's key, from bind (""
// for the default address).
func replSSH(t *testing.T, ssh, dir string, srv *testenv.SSHD, bind, command string) (string, string, int) {
	t.Helper()
	args := []string{"-T", "-i", filepath.Join(dir, "nas"), "-p", srv.Port,
		"-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
		"-o", "IdentitiesOnly=yes", "-o", "LogLevel=ERROR"}
	if bind != "" {
		args = append(args, "-b", bind)
	}
	args = append(args, "root@127.0.0.1", command)
	cmd := exec.Command(ssh, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("ssh: %v", err)
	}
	return stdout.String(), stderr.String(), code
}

// sanoidSnaps are the names of sanoid's snapshots of ds, oldest first.
func sanoidSnaps(t *testing.T, ds string) []string {
	t.Helper()
	var names []string
	for _, l := range strings.Split(replZFSOut(t, "list", "-H", "-t", "snapshot", "-o", "name", "-s", "creation", "-r", ds), "\n") {
		_, snap, ok := strings.Cut(l, "@")
		if ok && replication.IsSanoidSnapshot(snap) {
			names = append(names, snap)
		}
	}
	return names
}

func replZFS(t *testing.T, args ...string) {
	t.Helper()
	replZFSOut(t, args...)
}

func replZFSOut(t *testing.T, args ...string) string {
	t.Helper()
	zfs := testenv.LookPath(t, "zfs")
	out, err := exec.Command(zfs, args...).CombinedOutput()
	for i := 0; err != nil && strings.Contains(string(out), "is busy") && i < 50; i++ {
		time.Sleep(100 * time.Millisecond)
		out, err = exec.Command(zfs, args...).CombinedOutput()
	}
	require.NoError(t, err, "zfs %v: %s", args, out)
	return string(out)
}

func mountpointOf(t *testing.T, ds string) string {
	t.Helper()
	return strings.TrimSpace(replZFSOut(t, "get", "-H", "-o", "value", "mountpoint", ds))
}

func writeIn(t *testing.T, ds, name, content string) {
	t.Helper()
	require.NoError(t, os.WriteFile(filepath.Join(mountpointOf(t, ds), name), []byte(content), 0o644))
}

func readIn(t *testing.T, ds, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(mountpointOf(t, ds), name))
	require.NoError(t, err)
	return string(data)
}
