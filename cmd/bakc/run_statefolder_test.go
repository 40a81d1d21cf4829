package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/holthome/bakc/internal/testenv"
	"github.com/holthome/bakc/runtime"
	"github.com/holthome/bakc/runtime/restic/restictest"
)

// The state folder may lie below a path a ZFS job snapshots (luna's
// /var/lib/bakc in its /var/lib job). While the run's restic backs up,
// the snapshot is shown read-only at that path in the run's namespace,
// so the repository's lock and the run's record must be the live files,
// opened before: here, seen from the host while restic is held, the
// live lock file is flocked by the run and the live record says phase
// backup; the run ends complete and removes its record.
func TestRunBackupZFSStateFolderInsideTheJob(t *testing.T) {
	testenv.Root(t)
	r := restictest.Restics(t)[len(restictest.Restics(t))-1]
	n := newZFSNode(t, r)
	n.plan.Paths.State = filepath.Join(n.data, "state")
	n.savePlan()
	require.Equal(t, 0, n.backup(), "first run")

	stand, pause := n.pausingRestic()
	cmd, out := n.bakcCommand(stand)
	exited, wait := startBakc(t, cmd, out)
	waitFor(t, filepath.Join(pause, "reached"), exited, out)

	lockPath := runtime.RepositoryLockPath(n.plan.Paths.State, "local")
	var st unix.Stat_t
	require.NoError(t, unix.Stat(lockPath, &st))
	if !flockedBy(t, st, cmd.Process.Pid) {
		t.Errorf("the live repository lock file %s is not locked by the run (pid %d or its child): /proc/locks says\n%s", lockPath, cmd.Process.Pid, procLocks(t))
	}
	data, err := os.ReadFile(runtime.RunRecordPath(n.plan.Paths.State, "backup", "data"))
	require.NoError(t, err, "the live run record")
	var rec struct {
		Phase      string `json:"phase"`
		Repository string `json:"repository"`
	}
	require.NoError(t, json.Unmarshal(data, &rec))
	if rec.Phase != "backup" || rec.Repository != "local" {
		t.Errorf("live record %s; want phase backup, repository local", data)
	}

	require.NoError(t, os.WriteFile(filepath.Join(pause, "go"), nil, 0o644))
	require.NoError(t, wait(), "bakc run backup:\n%s", out)
	if _, err := os.Stat(runtime.RunRecordPath(n.plan.Paths.State, "backup", "data")); !os.IsNotExist(err) {
		t.Errorf("the run record is still there after the run: %v\n%s", err, out)
	}
	if left := n.leftovers(); len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}
}

func procLocks(t *testing.T) string {
	b, err := os.ReadFile("/proc/locks")
	require.NoError(t, err)
	return string(b)
}

// flockedBy reports whether /proc/locks has a granted flock on the file
// by pid or by a process whose parent is pid (the namespace child).
func flockedBy(t *testing.T, st unix.Stat_t, pid int) bool {
	dev := func(n uint32) string {
		s := strconv.FormatUint(uint64(n), 16)
		if len(s) < 2 {
			s = "0" + s
		}
		return s
	}
	key := dev(unix.Major(st.Dev)) + ":" + dev(unix.Minor(st.Dev)) + ":" + strconv.FormatUint(st.Ino, 10)
	for _, line := range strings.Split(procLocks(t), "\n") {
		f := strings.Fields(line)
		if len(f) < 6 || f[1] != "FLOCK" || f[5] != key {
			continue
		}
		holder, _ := strconv.Atoi(f[4])
		if holder == pid || parentOf(holder) == pid {
			return true
		}
	}
	return false
}

// parentOf is a process's parent pid, or -1.
func parentOf(pid int) int {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return -1
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 2 {
		return -1
	}
	ppid, _ := strconv.Atoi(f[1])
	return ppid
}
