package runtime

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/runtime/restic"
)

// A local repository normally lives on a disk of its own (a USB disk, a
// second drive). When that disk is not mounted, its mountpoint is an
// empty folder on the root file system (the units' tmpfiles rules even
// make the repository folder there at boot), and with init = true a run
// used to create a new, empty repository in it: backups that seem to
// work, on the disk that fails with the machine, next to the real
// history that nothing writes to any more.
//
// Two rules, by what the plan can say:
//
//   - The plan names the disk's mountpoint (mountpoint = "/mnt/usb" in the
//     repository block): every run checks that it is mounted and refuses
//     the repository otherwise, whether it exists or not.
//   - The plan does not: bakc refuses to create the repository when the
//     folder it would be created in is on the root file system. A
//     repository that belongs there says so with mountpoint = "/".
//
// Both compare device numbers (st_dev), not the mount table: under
// systemd, ReadWritePaths= bind-mounts the repository folder onto itself,
// which looks like a mount in /proc/self/mountinfo but keeps the device
// of the file system it is on.

// checkLocalDisk is the mount check of a local repository whose plan
// names its mountpoint: the folder is touched first (an automount, such
// as x-systemd.automount for a USB disk, mounts then), and must be a
// mount point: another device than the folder above it.
func checkLocalDisk(ctx context.Context, repo *plan.Repository) error {
	mp := filepath.Clean(repo.Mountpoint)
	if mp == "/" || repo.Mountpoint == "" {
		return nil
	}
	if !within(filepath.Clean(repo.URL), mp) {
		return &mountError{restic.CategoryStorage, fmt.Sprintf("repository %s is not below its mountpoint %s", repo.URL, mp)}
	}
	if err := touch(ctx, mp); err != nil {
		return err
	}
	here, err := device(mp)
	if err != nil {
		return &mountError{restic.CategoryStorage, fmt.Sprintf("mountpoint %s: %v", mp, err)}
	}
	above, err := device(filepath.Dir(mp))
	if err != nil {
		return &mountError{restic.CategoryStorage, fmt.Sprintf("%s: %v", filepath.Dir(mp), err)}
	}
	if here == above {
		return &mountError{restic.CategoryStorage, fmt.Sprintf(
			"%s is not mounted: the repository's disk is not there (%s is a folder on the file system of %s); refusing to use it (is the disk plugged in, did its mount fail?)",
			mp, mp, filepath.Dir(mp))}
	}
	return nil
}

// checkInitTarget is asked before a local repository is created: without
// a mountpoint in the plan, the folder it would be created in (the
// repository folder, or the nearest folder above it that exists) must not
// be on the root file system.
func checkInitTarget(repo *plan.Repository) error {
	if repo.Kind != plan.KindLocal || repo.Mountpoint != "" {
		return nil
	}
	at, err := nearestExisting(repo.URL)
	if err != nil {
		return err
	}
	here, err := device(at)
	if err != nil {
		return err
	}
	root, err := device("/")
	if err != nil {
		return err
	}
	if here != root {
		return nil
	}
	return &mountError{restic.CategoryStorage, fmt.Sprintf(
		"refusing to create a repository at %s: it would be on the root file system (%s is on it), and a missing local repository is far more often a disk that is not mounted than a new one. Mount the disk; if the repository is new and does belong on the root file system, say so with mountpoint = \"/\" in its repository block (or mountpoint = the disk's mountpoint, which bakc then checks every run)",
		repo.URL, at)}
}

// device is the device number of the file system path is on.
func device(path string) (uint64, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return 0, err
	}
	return st.Dev, nil
}

// nearestExisting is path, or the nearest folder above it that exists.
func nearestExisting(path string) (string, error) {
	p := filepath.Clean(path)
	for {
		_, err := os.Stat(p)
		if err == nil {
			return p, nil
		}
		if !errors.Is(err, os.ErrNotExist) || p == "/" {
			return "", err
		}
		p = filepath.Dir(p)
	}
}
