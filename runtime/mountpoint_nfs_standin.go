//go:build bakc_nfs_standin

package runtime

// The booted-systemd test tier (internal/booted) builds the bakc it runs
// in its container with the tag bakc_nfs_standin, and only there. That
// container's kernel has no NFS client, so the test stands in for a
// node's NFS mount with a tmpfs whose source is the plan's exact export
// ("nas-1.holthome.net:/mnt/backup/forge/restic"). With this tag the
// mount check accepts tmpfs as an NFS file system type; everything else
// of the check (the mount must be there, on top, from exactly that
// source) stays as it is. runtime/nfs_standin_test.go proves that this
// file is the tag's only effect.
func init() { nfsFSTypes["tmpfs"] = true }
