package snapshot

import (
	"context"
	"errors"
	"fmt"
	"time"

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

// unexpose takes the live places and then every view away, children
// first: unmount, then what the strategy made (the clone). It goes on
// after an error, so that one stuck view does not keep the others.
func (s *Set) unexpose(ctx context.Context) error {
	err := s.hideLive()
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
// is still ours (v.source): never anything else (see unmountOwn).
func unmountView(v *view) error {
	if err := unmountOwn(v.target, func(m namespace.Mount) bool { return m.Source == v.source }); err != nil {
		return fmt.Errorf("unmounting the view: %w", err)
	}
	return nil
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
