package runbook

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/internal/testenv"
)

// TestRestoreDatasetFromCopy runs the runbook's "restore a whole dataset
// from the NAS" commands, as printed, with sh on a zfs-fuse pool: the
// copy's snapshot list, the send of a chosen snapshot into a new dataset
// beside the live one, the swap. The live dataset ends up as "-old",
// unmounted and not mountable by itself; the copy's data is at the
// mountpoint.
//
// Stood in, and why: NAS and node are one pool here, and ssh is a
// stand-in that runs the remote command with sh -c, as sshd runs it
// through the user's shell (the command is passed as one quoted word);
// zfs-fuse's receive has no -u, so a stand-in zfs receives and then
// unmounts, which is what -u leaves.
func TestRestoreDatasetFromCopy(t *testing.T) {
	zfs := testenv.LookPath(t, "zfs")
	pool := testenv.ZFSPool(t, 128<<20)
	live, copyDS := pool+"/node/home", pool+"/nas/copy/home"
	mnt := filepath.Join(t.TempDir(), "home")
	run := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(zfs, args...).CombinedOutput()
		require.NoError(t, err, "zfs %v: %s", args, out)
		return string(out)
	}
	run("create", "-p", pool+"/nas/copy")
	run("create", "-p", "-o", "mountpoint="+mnt, live)
	require.NoError(t, os.WriteFile(filepath.Join(mnt, "file"), []byte("live, damaged"), 0o644))
	run("create", copyDS)
	copyMnt := strings.TrimSpace(run("get", "-H", "-o", "value", "mountpoint", copyDS))
	require.NoError(t, os.WriteFile(filepath.Join(copyMnt, "file"), []byte("as it was"), 0o644))
	snap := "autosnap_2026-11-30_02:00:00_hourly"
	run("snapshot", copyDS+"@"+snap)
	require.NoError(t, os.WriteFile(filepath.Join(copyMnt, "file"), []byte("later"), 0o644))
	run("snapshot", copyDS+"@autosnap_2026-11-30_03:00:00_hourly")

	p := &plan.Plan{
		Node: plan.Node{Name: "forge", Address: "127.0.0.1", Datasets: []plan.Dataset{{Name: live, Mountpoint: mnt}}},
		Replication: &plan.Replication{NAS: "nas-1", Datasets: []string{live},
			Copies: []plan.ReplicaDataset{{Source: live, Target: copyDS}}},
	}
	views := copyViews(p)
	require.Len(t, views, 1)
	v := views[0]

	bin := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(bin, "ssh"), []byte("#!/bin/sh\n# stand-in: ssh HOST COMMAND\nshift\nexec sh -c \"$1\"\n"), 0o755))
	// zfs-fuse also answers "is busy" for a while after an unmount
	// (testenv.ZFSPool): the stand-in tries again, as a user would.
	require.NoError(t, os.WriteFile(filepath.Join(bin, "zfs"), []byte(`#!/bin/sh
zfs() {
	i=0
	while :; do
		out=$("`+zfs+`" "$@" 2>&1) && { [ -z "$out" ] || printf '%s\n' "$out"; return 0; }
		case $out in *"is busy"*) [ $i -lt 100 ] || break; i=$((i + 1)); sleep 0.1 ;; *) break ;; esac
	done
	printf '%s\n' "$out" >&2
	return 1
}
[ "$1" = send ] && exec "`+zfs+`" "$@"
if [ "$1 $2" = "receive -u" ]; then
	"`+zfs+`" receive "$3" || exit
	zfs unmount "$3"
	exit
fi
zfs "$@"
`), 0o755))
	sh := func(script string) string {
		t.Helper()
		cmd := exec.Command("sh", "-eu", "-c", script)
		cmd.Env = []string{"PATH=" + bin + ":/usr/sbin:/usr/bin:/sbin:/bin", "SNAP=" + snap}
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s\n%s", script, out)
		return string(out)
	}
	listed := sh(v.List)
	require.Contains(t, listed, copyDS+"@"+snap)
	sh(v.Send)
	require.Equal(t, "live, damaged", readFile(t, filepath.Join(mnt, "file")), "nothing live is touched before the swap")
	sh(strings.Join(v.Swap, "\n"))

	require.Equal(t, "as it was", readFile(t, filepath.Join(mnt, "file")))
	require.Equal(t, []string{"off", "no"}, strings.Fields(run("get", "-H", "-o", "value", "canmount,mounted", live+"-old")))
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(data)
}
