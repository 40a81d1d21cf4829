package zfs

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/holthome/bakc/internal/testenv"
)

// childEnv makes the test binary act as a process in another mount
// namespace (see TestMain): its value is the clone to destroy.
const childEnv = "BAKC_ZFS_TEST_DESTROY_FROM_CHILD_NS"

// noPtraceEnv makes the test binary act as a run in a unit without
// CAP_SYS_PTRACE (see TestMain): it prints what New's Runner resolves.
const noPtraceEnv = "BAKC_ZFS_TEST_WITHOUT_PTRACE"

func TestMain(m *testing.M) {
	if clone := os.Getenv(childEnv); clone != "" {
		os.Exit(destroyFromChild(clone))
	}
	if os.Getenv(noPtraceEnv) != "" {
		os.Exit(resolveWithoutPtrace())
	}
	os.Exit(m.Run())
}

// resolveWithoutPtrace runs without CAP_SYS_PTRACE: it prints the
// Runner's command or its error, and exits 0 only for an error.
func resolveWithoutPtrace() int {
	argv, err := New(nil).Command()
	if err == nil {
		fmt.Println("command:", strings.Join(argv, " "))
		return 3
	}
	fmt.Println("error:", err)
	if _, err := New(nil).List(context.Background(), "", TypeFilesystem); err == nil {
		fmt.Println("List ran all the same")
		return 4
	}
	return 0
}

// destroyFromChild runs in a new mount namespace: first a plain zfs
// (which must fail: its unmount misses the daemon's mount), then a
// Runner from New (which must go through the daemon's namespace).
func destroyFromChild(clone string) int {
	ctx := context.Background()
	plain := NewWithCommand(nil, "zfs")
	plain.BusyTimeout = 0
	if err := plain.Destroy(ctx, clone, false); err == nil {
		fmt.Println("plain zfs destroyed the clone from another namespace")
		return 3
	} else {
		fmt.Println("plain:", err)
	}
	r := New(nil)
	argv, err := r.Command()
	if err != nil {
		fmt.Println("command:", err)
		return 4
	}
	fmt.Println("command:", strings.Join(argv, " "))
	if err := r.Destroy(ctx, clone, false); err != nil {
		fmt.Println("runner:", err)
		return 5
	}
	return 0
}

// zfs-fuse's daemon mounts a clone in its namespace; destroying it from
// another namespace only works through the daemon's (the Runner's
// nsenter), which is what the snapshot code does from the run's private
// namespace.
func TestDestroyMountedCloneFromAnotherNamespace(t *testing.T) {
	pool, _ := newPool(t)
	skipUnlessFuse(t)
	zfsCmd(t, "snapshot", pool+"/data@s")
	hidden := filepath.Join(t.TempDir(), "clone")
	zfsCmd(t, "clone", "-o", "mountpoint="+hidden, pool+"/data@s", pool+"/c")
	t.Cleanup(func() { exec.Command("zfs", "destroy", pool+"/c").Run() })

	cmd := exec.Command("/proc/self/exe", "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+pool+"/c")
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNS}
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "child: %s", out)
	t.Logf("child:\n%s", out)
	if !strings.Contains(string(out), "--mount=/proc/") || !strings.Contains(string(out), "plain:") {
		t.Errorf("child output should show the plain failure and the nsenter command:\n%s", out)
	}
	if got := zfsCmd(t, "list", "-H", "-o", "name", "-r", pool); strings.Contains(got, pool+"/c") {
		t.Errorf("clone still there:\n%s", got)
	}
	mi, err := os.ReadFile("/proc/self/mountinfo")
	require.NoError(t, err)
	if strings.Contains(string(mi), hidden) {
		t.Errorf("clone still mounted in the daemon's namespace")
	}
}

func TestNoNamespaceHopInTheDaemonsOwnNamespace(t *testing.T) {
	pool, _ := newPool(t) // starts the daemon if needed
	_ = pool
	ns, err := FuseDaemonNamespace()
	require.NoError(t, err)
	if ns != "" {
		t.Skipf("this test process is not in the zfs-fuse daemon's namespace (%s)", ns)
	}
	skipUnlessFuse(t)
	argv, err := New(nil).Command()
	require.NoError(t, err)
	if len(argv) != 1 || filepath.Base(argv[0]) != "zfs" {
		t.Errorf("command = %v, want just zfs", argv)
	}
}

// new-2 (internal/booted): a unit without CAP_SYS_PTRACE (every bakc
// unit: its bounding set has none) may not read the zfs-fuse daemon's
// /proc/<pid>/ns/mnt. The Runner took that for "the daemon shares our
// namespace", ran zfs from the unit's private namespace, and the run's
// release could not unmount the daemon's clones: exit 6 with clones and
// snapshots left behind. It must refuse before any zfs command instead,
// saying what the process lacks. Here the test binary runs again as root
// with CAP_SYS_PTRACE out of its bounding set (setpriv), as in the unit.
func TestRunnerRefusesADaemonNamespaceItCannotRead(t *testing.T) {
	testenv.Root(t)
	pool, _ := newPool(t) // starts the daemon if needed
	_ = pool
	skipUnlessFuse(t)
	setpriv := testenv.LookPath(t, "setpriv")
	exe, err := os.Executable()
	require.NoError(t, err)
	cmd := exec.Command(setpriv, "--bounding-set=-sys_ptrace", "--", exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), noPtraceEnv+"=1")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "the Runner without CAP_SYS_PTRACE must refuse:\n%s", out)
	for _, want := range []string{"zfs-fuse daemon", "CAP_SYS_PTRACE", "permission denied"} {
		require.Contains(t, string(out), want, "the error says why and what to do")
	}
	t.Logf("child:\n%s", out)
}

// skipUnlessFuse skips a test of zfs-fuse's behaviour on kernel ZFS.
func skipUnlessFuse(t *testing.T) {
	t.Helper()
	fuse, err := IsFuse()
	require.NoError(t, err)
	if !fuse {
		t.Skip("kernel ZFS: the zfs command mounts and unmounts in the caller's namespace")
	}
}

// A container's zfs-fuse daemon is visible in the host's /proc but serves
// the container: the host's runs must never pick it (the booted test tier
// runs such containers next to the other tests). Here on a proc tree of
// files: the container's daemon comes first in /proc's order.
func TestFuseDaemonOfAnotherPIDNamespaceIsSkipped(t *testing.T) {
	proc := t.TempDir()
	process := func(pid, comm, pidNS string) {
		dir := filepath.Join(proc, pid)
		require.NoError(t, os.MkdirAll(filepath.Join(dir, "ns"), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "comm"), []byte(comm+"\n"), 0o644))
		require.NoError(t, os.Symlink(pidNS, filepath.Join(dir, "ns", "pid")))
	}
	require.NoError(t, os.MkdirAll(filepath.Join(proc, "self", "ns"), 0o755))
	require.NoError(t, os.Symlink("pid:[4026531836]", filepath.Join(proc, "self", "ns", "pid")))
	process("1", "systemd", "pid:[4026531836]")
	process("12000", "zfs-fuse", "pid:[4026532999]") // in a container
	process("15456", "zfs-fuse", "pid:[4026531836]") // ours

	pid, err := fuseDaemonPIDIn(proc)
	require.NoError(t, err)
	require.Equal(t, 15456, pid)

	require.NoError(t, os.RemoveAll(filepath.Join(proc, "15456")))
	pid, err = fuseDaemonPIDIn(proc)
	require.NoError(t, err)
	require.Equal(t, 0, pid, "only a container's daemon runs: none of ours")

	// Without CAP_SYS_PTRACE (a unit) ns/pid cannot be read; the status's
	// NSpid line, one pid per namespace from ours down, still tells.
	unreadable := func(pid, nspid string) {
		dir := filepath.Join(proc, pid)
		require.NoError(t, os.MkdirAll(dir, 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "comm"), []byte("zfs-fuse\n"), 0o644))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "status"), []byte("Name:\tzfs-fuse\nNSpid:\t"+nspid+"\n"), 0o644))
	}
	unreadable("13000", "13000\t57") // in a container
	pid, err = fuseDaemonPIDIn(proc)
	require.NoError(t, err)
	require.Equal(t, 0, pid, "a container's daemon, told by its NSpid")
	unreadable("16000", "16000")
	pid, err = fuseDaemonPIDIn(proc)
	require.NoError(t, err)
	require.Equal(t, 16000, pid, "ours, told by its NSpid")
}
