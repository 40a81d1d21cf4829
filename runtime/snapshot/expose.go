package snapshot

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/holthome/bakc/runtime/namespace"
	"github.com/holthome/bakc/zfs"
)

// exposer shows one dataset's snapshot at its mountpoint, and takes it
// away again. There are two, chosen once per process by probeExposer:
// direct snapshot mounts on kernel ZFS, temporary clones on zfs-fuse.
type exposer interface {
	// kind names the strategy, for logs.
	kind() string
	// expose mounts v.snapshot's content read-only at v.target, and
	// records in v what it made (even when it fails half-way).
	expose(ctx context.Context, s *Set, v *view) error
	// unexpose destroys what expose recorded in v beyond the mount at
	// v.target (which Release unmounts first): the clone, its folder.
	unexpose(ctx context.Context, s *Set, v *view) error
}

var (
	probeOnce   sync.Once
	probedKind  exposer
	probedError error
)

// probeExposer chooses the strategy for this host, once: kernel ZFS
// (listed in /proc/filesystems) mounts snapshots directly; zfs-fuse (its
// daemon runs) goes through clones.
func probeExposer() (exposer, error) {
	probeOnce.Do(func() {
		fs, err := os.ReadFile("/proc/filesystems")
		if err != nil {
			probedError = fmt.Errorf("probing for kernel ZFS: %w", err)
			return
		}
		if kernelZFS(string(fs)) {
			probedKind = directMounts{mount: unix.Mount}
			return
		}
		fuse, err := zfs.IsFuse()
		if err != nil {
			probedError = fmt.Errorf("probing for zfs-fuse: %w", err)
			return
		}
		if fuse {
			probedKind = fuseClones{}
			return
		}
		probedError = errors.New("neither kernel ZFS (no zfs in /proc/filesystems) nor a zfs-fuse daemon is there to show snapshots with")
	})
	return probedKind, probedError
}

// kernelZFS reports whether /proc/filesystems lists the zfs file system
// (the OpenZFS kernel module is loaded).
func kernelZFS(filesystems string) bool {
	for _, line := range strings.Split(filesystems, "\n") {
		f := strings.Fields(line)
		if len(f) > 0 && f[len(f)-1] == "zfs" {
			return true
		}
	}
	return false
}

// Expose shows every dataset of the Set read-only at its original
// mountpoint, parents before children, with the snapshot's content, and
// then the live paths (WithLive) that lie under them live again. It
// must run in the run's private mount namespace (namespace.Enter) and
// refuses otherwise: the whole host would see the snapshot there.
//
// On error it takes back what it showed; the snapshots stay for
// Release, which the caller runs in any case.
func (s *Set) Expose(ctx context.Context) error {
	if s.exposed {
		return nil
	}
	if !s.isolated() {
		return errors.New("refusing to mount snapshots over their datasets outside a private mount namespace (the whole host would see them); run inside namespace.Enter or a unit with PrivateMounts=yes")
	}
	if s.exposer == nil {
		e, err := probeExposer()
		if err != nil {
			return err
		}
		s.exposer = e
	}
	s.log.Debug("showing snapshots at their mountpoints", "strategy", s.exposer.kind(), "datasets", len(s.views))
	fail := func(err error) error {
		if uerr := s.unexpose(ctx); uerr != nil {
			err = fmt.Errorf("%w; and taking the views back: %v", err, uerr)
		}
		return err
	}
	// The live places are opened before the views cover them.
	if err := s.openLive(); err != nil {
		return fail(err)
	}
	for i, v := range s.views {
		if v.clone == "" {
			v.clone = pool(v.dataset) + "/" + s.name + "-" + strconv.Itoa(i)
		}
		if err := s.exposer.expose(ctx, s, v); err != nil {
			return fail(fmt.Errorf("showing %s at %s: %w", v.snapshot, v.target, err))
		}
		s.log.Info("snapshot shown at its mountpoint", "dataset", v.dataset, "mountpoint", v.target, "strategy", s.exposer.kind())
	}
	if err := s.showLive(); err != nil {
		return fail(err)
	}
	s.exposed = true
	return nil
}

// roFlags are the flags of every view: read-only, and nothing on it can
// gain privileges or be a device.
const roFlags = unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV

// directMounts is the kernel ZFS strategy: `mount -t zfs -o ro
// pool/ds@snap /path`, in this namespace, nothing else made.
//
// This machine has no kernel ZFS; its test replaces mount with a double
// and says so. It needs a real host to be proven (docs/snapshots.md).
type directMounts struct {
	mount func(source, target, fstype string, flags uintptr, data string) error
}

func (directMounts) kind() string { return "direct snapshot mount" }

func (d directMounts) expose(ctx context.Context, s *Set, v *view) error {
	if err := d.mount(v.snapshot, v.target, "zfs", roFlags, ""); err != nil {
		return fmt.Errorf("mount -t zfs %s %s: %w", v.snapshot, v.target, err)
	}
	v.source, v.mounted = v.snapshot, true
	return nil
}

func (directMounts) unexpose(context.Context, *Set, *view) error { return nil }

// fuseClones is the zfs-fuse strategy (zfs-fuse has no snapshot mounts
// and no .zfs/snapshot): a read-only clone of the snapshot, which the
// daemon mounts in its own namespace at a hidden folder below the clone
// folder; the folder is shared with our namespace (namespace.ShareDir),
// so the mount appears here too, and we bind it over the original
// mountpoint and make the bind read-only.
type fuseClones struct{}

func (fuseClones) kind() string { return "zfs-fuse clone" }

func (fuseClones) expose(ctx context.Context, s *Set, v *view) error {
	v.hidden = path.Join(s.cloneDir, path.Base(v.clone))
	err := s.z.Clone(ctx, v.snapshot, v.clone, map[string]string{
		"readonly":   "on",
		"mountpoint": v.hidden,
		"canmount":   "on",
	})
	if err != nil && !zfs.IsExist(err) {
		// zfs may have made the clone and failed to mount it: if a
		// clone of our snapshot is there, it is ours to destroy.
		if origin, gerr := s.z.Get(ctx, v.clone, "origin"); gerr == nil && origin == v.snapshot {
			v.cloneMade = true
		}
	}
	if err != nil {
		return fmt.Errorf("cloning: %w", err)
	}
	v.cloneMade = true
	if err := waitMounted(ctx, v.clone, v.hidden); err != nil {
		return err
	}
	if err := unix.Mount(v.hidden, v.target, "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind-mounting %s over %s: %w", v.hidden, v.target, err)
	}
	v.source, v.mounted = v.clone, true
	if err := unix.Mount("", v.target, "", unix.MS_BIND|unix.MS_REMOUNT|roFlags, ""); err != nil {
		return fmt.Errorf("making the view at %s read-only: %w", v.target, err)
	}
	return nil
}

func (fuseClones) unexpose(ctx context.Context, s *Set, v *view) error {
	if !v.cloneMade {
		return nil
	}
	if err := s.z.Destroy(ctx, v.clone, false); err != nil && !zfs.IsNotExist(err) {
		return fmt.Errorf("destroying clone %s: %w", v.clone, err)
	}
	v.cloneMade = false
	// The daemon made the folder; an empty one is all that is left.
	if v.hidden != "" {
		if err := os.Remove(v.hidden); err != nil && !errors.Is(err, os.ErrNotExist) {
			s.log.Debug("clone folder not removed", "dir", v.hidden, "error", err)
		}
	}
	return nil
}

// waitMounted waits until the zfs-fuse daemon's mount of clone at dir
// shows in this namespace. zfs clone returns once the daemon mounted it,
// and propagation is immediate, so this is normally the first look; the
// short wait covers a slow daemon. A mount that never shows means dir is
// not on a mount shared with the daemon's namespace.
func waitMounted(ctx context.Context, clone, dir string) error {
	deadline := time.Now().Add(5 * time.Second)
	for wait := 5 * time.Millisecond; ; wait = min(2*wait, 200*time.Millisecond) {
		mounts, err := namespace.Mounts()
		if err != nil {
			return err
		}
		for _, m := range mounts {
			if m.Mountpoint == dir && m.Source == clone {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the zfs-fuse daemon mounted clone %s at %s in its own mount namespace and the mount does not reach this one: the folder must be below namespace.ShareDir() (Enter makes it) or on a mount shared with the host", clone, dir)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}
