package runtime

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"github.com/holthome/bakc/compiler/plan"
)

// resticCredential decides who restic runs as. Run as root (a ZFS
// snapshot job's service must be root to snapshot and mount), bakc starts
// every restic as the plan's backup user with the ambient capability
// CAP_DAC_READ_SEARCH: it reads every source file, but a repository (an
// NFS export with root_squash, owned by that uid) is always written by
// the same uid. Run as anyone else (the backup user's own services, with
// AmbientCapabilities= from the unit), restic simply inherits that.
func resticCredential(p *plan.Plan, euid int) *syscall.Credential {
	if euid != 0 || p.User.UID == 0 {
		return nil
	}
	return &syscall.Credential{Uid: uint32(p.User.UID), Gid: uint32(p.User.GID)}
}

// resticTempDir is restic's temporary folder (its TMPDIR): "tmp" in its
// cache folder, or "" (restic's TMPDIR is then bakc's) without a cache.
//
// Not /tmp: the cache folder is the runtime's own, writable by the
// backup user in every unit, left out of every backup (plan.OwnFoldersLeftOut) and
// shown live inside a ZFS snapshot job's views (livePaths), so restic's
// temporary pack files never land under a read-only view nor in a
// backup while restic writes them (restic 0.14 reported its own vanished
// pack file as unreadable and the backup as partial); and they are on
// disk, not in a tmpfs /tmp charged to the service's MemoryMax.
func resticTempDir(cache string) string {
	if cache == "" {
		return ""
	}
	return filepath.Join(cache, "tmp")
}

// prepareCacheDir makes restic's cache folder and its temporary folder
// (resticTempDir) and, when restic runs as the backup user, gives them to
// that user: restic writes there.
func prepareCacheDir(dir string, cred *syscall.Credential) error {
	if dir == "" {
		return nil
	}
	for _, d := range []string{dir, resticTempDir(dir)} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return fmt.Errorf("restic cache folder: %w", err)
		}
		if err := chownTo(d, cred); err != nil {
			return err
		}
	}
	return nil
}

// chownTo gives dir to cred's user and group, unless it is theirs
// already or cred is nil (restic runs as the runtime's own user).
func chownTo(dir string, cred *syscall.Credential) error {
	if cred == nil {
		return nil
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return errors.New("restic cache folder: no owner information")
	}
	if st.Uid == cred.Uid && st.Gid == cred.Gid {
		return nil
	}
	if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
		return fmt.Errorf("giving restic's folder %s to uid %d: %w", dir, cred.Uid, err)
	}
	return nil
}
