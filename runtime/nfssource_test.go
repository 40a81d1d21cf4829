package runtime

import (
	"context"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/runtime/namespace"
)

// An NFS repository on an IPv6 NAS. No NFS server runs here, so the
// mounts are given as the kernel writes them in mountinfo (read in
// fs/nfs: NFSv4 names its mount "[server]:/" plus the export's path,
// do_nfs4_mount and nfs_path; NFSv3 keeps the source mount.nfs gave,
// which is the plan's Source), and the real mount table is read for a
// tmpfs mounted from the same source, to show that such a source comes
// back from mountinfo unchanged.
func TestCheckNFSMountedIPv6(t *testing.T) {
	dir := t.TempDir()
	nfs := &plan.NFSMount{Server: "fd00::1", Export: "/mnt/backup/forge/restic", Mountpoint: dir}
	mountinfo := func(fstype, source string) func() ([]namespace.Mount, error) {
		return func() ([]namespace.Mount, error) {
			return namespace.ParseMountinfo("22 1 0:21 / / rw - ext4 /dev/sda1 rw\n90 22 0:55 / " + dir + " rw,relatime - " + fstype + " " + source + " rw")
		}
	}
	for _, tt := range []struct {
		name, fstype, source, err string
	}{
		{"nfs4 as the kernel names it", "nfs4", "[fd00::1]:/mnt/backup/forge/restic", ""},
		{"nfs3 as mount.nfs gave it", "nfs", "[fd00::1]:/mnt/backup/forge/restic/", ""},
		{"the address in another form", "nfs4", "[FD00:0::1]:/mnt/backup/forge/restic", ""},
		{"another server", "nfs4", "[fd00::2]:/mnt/backup/forge/restic", "is mounted from [fd00::2]:/mnt/backup/forge/restic, but the plan says [fd00::1]:/mnt/backup/forge/restic"},
		{"another export", "nfs4", "[fd00::1]:/mnt/backup/luna/restic", "but the plan says"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := checkNFSMounted(context.Background(), nfs, dir, mountinfo(tt.fstype, tt.source))
			if tt.err == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			require.Contains(t, err.Error(), tt.err)
		})
	}

	t.Run("mountinfo gives the bracketed source back", func(t *testing.T) {
		if os.Geteuid() != 0 {
			t.Skip("mounting needs root")
		}
		require.NoError(t, mountTmpfs(nfs.Source(), dir))
		t.Cleanup(func() { unmount(dir) })
		ms, err := namespace.Mounts()
		require.NoError(t, err)
		top, ok := namespace.Lookup(ms, dir)
		require.True(t, ok)
		require.Equal(t, nfs.Source(), top.Source)
		require.True(t, sameNFSSource(top.Source, nfs.Source()))
	})
}

func TestSameNFSSource(t *testing.T) {
	for _, tt := range []struct {
		got, want string
		same      bool
	}{
		{"nas-1.example:/mnt/x", "nas-1.example:/mnt/x", true},
		{"NAS-1.example.:/mnt/x/", "nas-1.example:/mnt/x", true},
		{"192.0.2.10:/mnt/x", "192.0.2.10:/mnt/x", true},
		{"192.0.2.10:/mnt/x", "192.0.2.11:/mnt/x", false},
		{"[fd00::1]:/mnt/x", "[fd00:0::1]:/mnt/x", true},
		{"[fd00::1]:/mnt/x", "[fd00::1]:/mnt/y", false},
		{"[fd00::1]:/", "[fd00::1]:/", true},
		{"fd00::1:/mnt/x", "[fd00::1]:/mnt/x", false},
		{"nas-1.example:/mnt/x", "nas-1.example:/mnt/x:y", false},
	} {
		if got := sameNFSSource(tt.got, tt.want); got != tt.same {
			t.Errorf("sameNFSSource(%q, %q) = %v, want %v", tt.got, tt.want, got, tt.same)
		}
	}
}
