package runtime

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/runtime/namespace"
	"github.com/holthome/bakc/runtime/restic"
)

func TestParseEnvironment(t *testing.T) {
	tests := []struct {
		name, text string
		want       []string
		err        string
	}{
		{"plain, comments, blanks, quotes",
			"# B2\nB2_ACCOUNT_ID=abc\n\n; old\nB2_ACCOUNT_KEY='k=ey with spaces'\nAWS_X=\"q\"\nEMPTY=\n",
			[]string{"B2_ACCOUNT_ID=abc", "B2_ACCOUNT_KEY=k=ey with spaces", "AWS_X=q", "EMPTY="}, ""},
		{"shell is text", "A=$(touch /tmp/x)\n", []string{"A=$(touch /tmp/x)"}, ""},
		{"not a KEY=value line, value not shown", "GOOD=1\nthe secret itself\n", nil, `env:2: no "=", and systemd ignores the line`},
		{"bad name", "1BAD=x\n", nil, `env:1: the name before "=" is not a variable name (letters, digits and _; no "export"), and systemd ignores the line`},
		{"export, which systemd ignores", "export B2_ACCOUNT_KEY=k\n", nil, `env:1: the name before "=" is not a variable name (letters, digits and _; no "export"), and systemd ignores the line`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseEnvironment("env", tt.text)
			if tt.err != "" {
				require.Error(t, err)
				if err.Error() != tt.err || strings.Contains(err.Error(), "secret") {
					t.Errorf("error %q, want %q", err, tt.err)
				}
				return
			}
			require.NoError(t, err)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("environment (-want +got):\n%s", diff)
			}
		})
	}
}

// The NFS mount check reads the real mount table where it can (the
// "not mounted" cases, and a tmpfs standing in for "something else is
// mounted there"); the cases of an NFS mount are given as mountinfo text,
// since no NFS server runs here.
func TestCheckNFSMounted(t *testing.T) {
	dir := t.TempDir()
	nfs := &plan.NFSMount{Server: "nas-1.example", Export: "/mnt/backup/forge/restic", Mountpoint: dir}
	mountinfo := func(lines ...string) func() ([]namespace.Mount, error) {
		return func() ([]namespace.Mount, error) {
			return namespace.ParseMountinfo("22 1 0:21 / / rw - ext4 /dev/sda1 rw\n" + strings.Join(lines, "\n"))
		}
	}
	tests := []struct {
		name   string
		mounts func() ([]namespace.Mount, error)
		cat    restic.Category
		err    string
	}{
		{"nfs4 from the plan's export", mountinfo("90 22 0:55 / " + dir + " rw,relatime - nfs4 nas-1.example:/mnt/backup/forge/restic rw,vers=4.2"), "", ""},
		{"trailing slash", mountinfo("90 22 0:55 / " + dir + " rw - nfs nas-1.example:/mnt/backup/forge/restic/ rw"), "", ""},
		{"not mounted: the real mount table", namespace.Mounts, restic.CategoryStorage, "is not mounted: it is an empty folder on"},
		{"another export", mountinfo("90 22 0:55 / " + dir + " rw - nfs4 nas-1.example:/mnt/backup/luna/restic rw"), restic.CategoryStorage, "is mounted from nas-1.example:/mnt/backup/luna/restic, but the plan says nas-1.example:/mnt/backup/forge/restic"},
		{"a local disk", mountinfo("90 22 8:17 / " + dir + " rw - ext4 /dev/sdb1 rw"), restic.CategoryStorage, "is mounted from /dev/sdb1 (ext4), not the NFS export"},
		{"automount that did not mount", mountinfo("90 22 0:50 / " + dir + " rw - autofs systemd-1 rw"), restic.CategoryNetwork, "automount point that did not mount"},
		{"nfs under an automount point", mountinfo("90 22 0:50 / "+dir+" rw - autofs systemd-1 rw", "91 90 0:55 / "+dir+" rw - nfs4 nas-1.example:/mnt/backup/forge/restic rw"), "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkNFSMounted(context.Background(), nfs, dir, tt.mounts)
			if tt.err == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			if !strings.Contains(err.Error(), tt.err) || mountCategory(err) != tt.cat {
				t.Errorf("error %q (%s); want one with %q (%s)", err, mountCategory(err), tt.err, tt.cat)
			}
		})
	}
}

// A real mount at the mountpoint that is not NFS (tmpfs, mounted from a
// name that looks like the export) is refused.
func TestCheckNFSMountedRealTmpfs(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting needs root")
	}
	dir := t.TempDir()
	require.NoError(t, mountTmpfs("nas-1.example:/mnt/backup/forge/restic", dir))
	t.Cleanup(func() { unmount(dir) })
	nfs := &plan.NFSMount{Server: "nas-1.example", Export: "/mnt/backup/forge/restic", Mountpoint: dir}
	err := checkNFSMounted(context.Background(), nfs, dir, namespace.Mounts)
	require.Error(t, err)
	if !strings.Contains(err.Error(), "(tmpfs), not the NFS export") {
		t.Errorf("error %q", err)
	}
	err = checkNFSMounted(context.Background(), nfs, filepath.Join(t.TempDir(), "elsewhere"), namespace.Mounts)
	if err == nil || !strings.Contains(err.Error(), "is not below its NFS mountpoint") {
		t.Errorf("repository outside the mountpoint: %v", err)
	}
}

func TestFormatStatus(t *testing.T) {
	tests := []struct {
		s    restic.Status
		want string
	}{
		{restic.Status{PercentDone: 0.4213, FilesDone: 1234, TotalFiles: 5000, BytesDone: 1288490188, TotalBytes: 3221225472, SecondsRemaining: 312},
			"42.1% · 1234/5000 files · 1.2 GiB/3.0 GiB · 5m12s left"},
		{restic.Status{PercentDone: 0, TotalFiles: 1, TotalBytes: 100}, "0.0% · 0/1 files · 0 B/100 B"},
		{restic.Status{PercentDone: 1, FilesDone: 3, TotalFiles: 3, BytesDone: 2048, TotalBytes: 2048, ErrorCount: 2}, "100.0% · 3/3 files · 2.0 KiB/2.0 KiB · 2 errors"},
	}
	for _, tt := range tests {
		if got := formatStatus(tt.s); got != tt.want {
			t.Errorf("formatStatus(%+v) = %q, want %q", tt.s, got, tt.want)
		}
	}
}

func TestLock(t *testing.T) {
	path := LockPath(t.TempDir(), "backup", "system")
	l, err := AcquireLock(path)
	require.NoError(t, err)
	_, err = AcquireLock(path)
	if !errors.Is(err, errLockHeld) || !strings.Contains(err.Error(), "is held by pid ") {
		t.Errorf("second lock: %v; want it held by our pid", err)
	}
	require.NoError(t, l.Release())
	l2, err := AcquireLock(path)
	require.NoError(t, err, "lock not free after release")
	l2.Release()
}

func TestExitCodes(t *testing.T) {
	want := map[Phase]int{
		PhaseLock: ExitLockHeld, PhasePreflight: ExitPreflightFailed, PhasePreHook: ExitHookFailed,
		PhaseSnapshot: ExitSnapshotFailed, PhaseBackup: ExitTaskFailed, PhaseForget: ExitTaskFailed,
		PhaseRelease: ExitSnapshotFailed, PhasePostHook: ExitHookFailed, PhaseFailureHook: ExitHookFailed,
		PhasePrune: ExitTaskFailed, PhaseCheck: ExitTaskFailed,
	}
	seen := map[int]bool{}
	for p, code := range want {
		if got := exitCodeOf(p); got != code {
			t.Errorf("exitCodeOf(%s) = %d, want %d", p, got, code)
		}
		seen[code] = true
	}
	// Distinct, and none is bakc's 1 (configuration) or 2 (usage).
	for _, c := range []int{ExitOK, ExitTaskFailed, ExitPreflightFailed, ExitLockHeld, ExitSnapshotFailed, ExitHookFailed, ExitInterrupted} {
		if c == 1 || c == 2 {
			t.Errorf("exit code %d is taken by bakc's configuration/usage errors", c)
		}
		if !strings.Contains(ExitCodeHelp, "\n  "+strconv.Itoa(c)+"  ") {
			t.Errorf("exit code %d is not documented in ExitCodeHelp", c)
		}
	}
}
