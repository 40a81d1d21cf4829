package namespace

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// shareDir is the per-run folder Enter's parent makes below the share
// root, named after the parent's pid, so that runs of different jobs at
// the same time never touch each other's.
type shareDir struct {
	dir string
	// bound is true when the parent made dir a shared bind mount of
	// itself (it was on a mount that shares nothing), and must undo it.
	bound bool
}

// prepareShareDir makes the run's share folder below root: a folder on a
// shared mount, so that what the parent's namespace mounts below it
// reaches the child's. It first removes folders left by parents that
// died without cleaning up.
func prepareShareDir(root string, log *slog.Logger) (*shareDir, error) {
	if root == "" {
		return nil, errors.New("no share root")
	}
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, err
	}
	cleanStaleShareDirs(root, log)
	s := &shareDir{dir: filepath.Join(root, strconv.Itoa(os.Getpid()))}
	if err := os.Mkdir(s.dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return nil, err
	}
	mounts, err := Mounts()
	if err != nil {
		return nil, err
	}
	if m, ok := containing(mounts, s.dir); ok && m.PeerGroup() != 0 {
		log.Debug("share folder is on a shared mount already", "dir", s.dir, "mount", m.Mountpoint)
		return s, nil
	}
	if err := unix.Mount(s.dir, s.dir, "", unix.MS_BIND, ""); err != nil {
		os.Remove(s.dir)
		return nil, fmt.Errorf("bind-mounting %s on itself: %w", s.dir, err)
	}
	s.bound = true
	if err := unix.Mount("", s.dir, "", unix.MS_SHARED, ""); err != nil {
		s.release(log)
		return nil, fmt.Errorf("making %s a shared mount: %w", s.dir, err)
	}
	log.Debug("share folder made a shared bind mount", "dir", s.dir)
	return s, nil
}

// release undoes prepareShareDir. A folder that still has mounts below
// it (a child killed before it destroyed its zfs-fuse clones) stays; the
// next run's snapshot cleanup destroys the clones and its parent then
// removes the folder (cleanStaleShareDirs).
func (s *shareDir) release(log *slog.Logger) {
	if s.bound {
		if err := unix.Unmount(s.dir, 0); err != nil && !errors.Is(err, unix.EINVAL) {
			log.Warn("share folder still in use; left for the next run to remove", "dir", s.dir, "error", err)
			return
		}
		s.bound = false
	}
	// Folders the zfs-fuse daemon made for clones, if a crash left them:
	// empty ones only (Rmdir never removes content or a mountpoint).
	if entries, err := os.ReadDir(s.dir); err == nil {
		for _, e := range entries {
			_ = unix.Rmdir(filepath.Join(s.dir, e.Name()))
		}
	}
	if err := os.Remove(s.dir); err != nil && !errors.Is(err, os.ErrNotExist) {
		log.Warn("removing share folder", "dir", s.dir, "error", err)
	}
}

// cleanStaleShareDirs removes share folders of parents that no longer
// run. It never detaches lazily: a folder with mounts below it stays.
func cleanStaleShareDirs(root string, log *slog.Logger) {
	entries, err := os.ReadDir(root)
	if err != nil {
		return
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid <= 0 || pid == os.Getpid() {
			continue
		}
		if _, err := os.Stat("/proc/" + e.Name()); err == nil {
			continue // its parent still runs (or the pid was reused: later)
		}
		s := &shareDir{dir: filepath.Join(root, e.Name()), bound: true}
		log.Info("removing share folder of a run that did not clean up", "dir", s.dir, "pid", pid)
		s.release(log)
	}
}

// containing returns the mount path lies on.
func containing(mounts []Mount, path string) (Mount, bool) { return Lookup(mounts, path) }
