package snapshot

import (
	"context"
	"errors"
	"fmt"
	"time"

	"golang.org/x/sys/unix"

	"github.com/holthome/bakc/runtime/namespace"
	"github.com/holthome/bakc/zfs"
)

// ReleaseTimeout bounds Release when the caller's context is already
// cancelled (a SIGTERM): cleanup must still happen, but not forever.
const ReleaseTimeout = 2 * time.Minute

// Release takes the views away (children first), destroys the clones and
// then the snapshots the Set created, and nothing else. It works after a
// Take or Expose that failed half-way, can be called again (what is gone
// stays gone; what failed is tried again), and on a nil Set does nothing.
//
// It runs even when ctx is cancelled (SIGTERM is exactly when cleanup
// matters): it keeps ctx's values but not its cancellation, and bounds
// itself with ReleaseTimeout.
func (s *Set) Release(ctx context.Context) error {
	if s == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ReleaseTimeout)
	defer cancel()
	err := s.unexpose(ctx)
	for i := len(s.snapshots) - 1; i >= 0; i-- {
		t := s.snapshots[i]
		if t.destroyed {
			continue
		}
		if derr := s.z.Destroy(ctx, t.name, true); derr != nil && !zfs.IsNotExist(derr) {
			err = errors.Join(err, fmt.Errorf("destroying snapshot %s: %w", t.name, derr))
			continue
		}
		t.destroyed = true
		s.log.Info("snapshot destroyed", "name", t.name)
	}
	return err
}

// unexpose takes every view away, children first: unmount, then what the
// strategy made (the clone). It goes on after an error, so that one stuck
// view does not keep the others.
func (s *Set) unexpose(ctx context.Context) error {
	var err error
	for i := len(s.views) - 1; i >= 0; i-- {
		v := s.views[i]
		if v.mounted {
			if uerr := unmountView(v); uerr != nil {
				err = errors.Join(err, uerr)
				continue
			}
			v.mounted = false
		}
		if s.exposer != nil {
			if uerr := s.exposer.unexpose(ctx, s, v); uerr != nil {
				err = errors.Join(err, uerr)
			}
		}
	}
	s.exposed = false
	return err
}

// unmountView unmounts the view at v.target, if the mount on top there
// is still ours (v.source): never anything else. A view still in use (a
// straggling reader) is retried for a moment and then detached lazily:
// it lives in the run's private namespace, which ends with the run.
func unmountView(v *view) error {
	deadline := time.Now().Add(2 * time.Second)
	for wait := 10 * time.Millisecond; ; wait = min(2*wait, 200*time.Millisecond) {
		top, ok, err := topMount(v.target)
		if err != nil {
			return err
		}
		if !ok || top.Source != v.source {
			return nil // gone already
		}
		err = unix.Unmount(v.target, 0)
		switch {
		case err == nil:
			continue // look again: the same source may be stacked twice
		case errors.Is(err, unix.EBUSY) && time.Now().Before(deadline):
			time.Sleep(wait)
		case errors.Is(err, unix.EBUSY):
			if derr := unix.Unmount(v.target, unix.MNT_DETACH); derr != nil {
				return fmt.Errorf("unmounting the view at %s: %w", v.target, derr)
			}
			return nil
		default:
			return fmt.Errorf("unmounting the view at %s: %w", v.target, err)
		}
	}
}

// topMount returns the mount a lookup of dir finds, and whether dir is
// its mountpoint (something is mounted right there).
func topMount(dir string) (namespace.Mount, bool, error) {
	mounts, err := namespace.Mounts()
	if err != nil {
		return namespace.Mount{}, false, err
	}
	m, ok := namespace.Lookup(mounts, dir)
	return m, ok && m.Mountpoint == dir, nil
}
