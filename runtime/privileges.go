package runtime

import (
	"errors"
	"fmt"
	"os"
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

// prepareCacheDir makes restic's cache folder and, when restic runs as
// the backup user, gives it to that user: restic writes there.
func prepareCacheDir(dir string, cred *syscall.Credential) error {
	if dir == "" {
		return nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("restic cache folder: %w", err)
	}
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
		return fmt.Errorf("giving the restic cache folder %s to uid %d: %w", dir, cred.Uid, err)
	}
	return nil
}
