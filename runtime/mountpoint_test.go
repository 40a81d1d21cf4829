package runtime

import (
	"io/fs"
	"strings"
	"syscall"
	"testing"

	"github.com/holthome/bakc/runtime/restic"
)

// TestTouchError: the ENODEV an automount answers when its mount fails
// (seen in a booted systemd 252 with the NAS unreachable) is a network
// failure that names the mount unit whose log says why; anything else
// about the mountpoint is a storage failure.
func TestTouchError(t *testing.T) {
	tests := []struct {
		name     string
		err      error
		category restic.Category
		contains []string
	}{
		{"automount failed", &fs.PathError{Op: "stat", Path: "/mnt/nas-backup/.", Err: syscall.ENODEV}, restic.CategoryNetwork,
			[]string{"/mnt/nas-backup: the automount could not mount the NFS export (no such device)", `journalctl -u mnt-nas\x2dbackup.mount`}},
		{"missing", &fs.PathError{Op: "stat", Path: "/mnt/nas-backup/.", Err: syscall.ENOENT}, restic.CategoryStorage,
			[]string{"mountpoint /mnt/nas-backup: no such file or directory"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := touchError("/mnt/nas-backup", tt.err)
			if got := mountCategory(err); got != tt.category {
				t.Errorf("category %s, want %s (%v)", got, tt.category, err)
			}
			for _, c := range tt.contains {
				if !strings.Contains(err.Error(), c) {
					t.Errorf("%q lacks %q", err, c)
				}
			}
		})
	}
}
