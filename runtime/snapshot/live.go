package snapshot

import (
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"github.com/holthome/bakc/runtime/namespace"
)

// WithLive names paths (folders or files) that must stay as the host has
// them inside the views: the folders the runtime and restic write while
// the snapshots are shown (state, restic's cache, TMPDIR, a repository
// folder) and the files restic reads then (its password file). A job may
// back up the folder they are in (luna backs up /var/lib, and bakc's state
// is /var/lib/bakc); the read-only view over it would otherwise make every
// write there fail, and hide what is mounted below it (a ReadWritePaths=
// bind, a tmpfs, an NFS mount).
//
// Expose shows each such path that lies under a view live again, on top
// of the views, in the run's namespace only: it opens the live path before
// the views cover it and bind-mounts it (MS_REC) at the same place once
// they are there. Where a path lies on a mount that the view hides (a
// mount below a view that is not a view itself), that whole mount is
// shown again at its mountpoint, which the view has as a folder. Paths
// that do not exist, or lie under no view, need nothing.
//
// Whatever is shown live is read live by restic too: the caller leaves
// out of the backup what should not be in it (the runtime does so for its
// state and restic's cache).
func WithLive(paths ...string) Option {
	return func(s *Set) { s.livePaths = append(s.livePaths, paths...) }
}

// live is one place Expose shows live again.
type live struct {
	place string   // where: the path itself, or the hidden mount it is on
	paths []string // the paths asked for that this place shows, for logs

	fd      int // the live place, opened before the views (O_PATH), -1 when closed
	mounted bool
	mountID int // the bind's mount ID, so that Release takes only it away
}

// planLive decides, from the live mounts (before any view), what Expose
// shows live again for the requested paths: one place per path under a
// view, the outermost first, none inside another.
func planLive(paths []string, views []*view, mounts []namespace.Mount) []*live {
	isView := map[string]bool{}
	for _, v := range views {
		isView[v.target] = true
	}
	underView := func(p string) bool {
		for _, v := range views {
			if within(p, v.target) {
				return true
			}
		}
		return false
	}
	byPlace := map[string]*live{}
	for _, p := range paths {
		if p == "" || !filepath.IsAbs(p) {
			continue
		}
		// The path the kernel reaches: a symbolic link out of the view
		// (state → /srv/bakc) leads live by itself.
		if real, err := filepath.EvalSymlinks(p); err == nil {
			p = real
		} else {
			continue // not there: nothing to show
		}
		if !underView(p) {
			continue
		}
		place := p
		// The outermost mount on the way to p that a view hides.
		for _, m := range mounts {
			if within(p, m.Mountpoint) && underView(m.Mountpoint) && !isView[m.Mountpoint] &&
				len(m.Mountpoint) < len(place) {
				place = m.Mountpoint
			}
		}
		if l := byPlace[place]; l != nil {
			l.paths = append(l.paths, p)
			continue
		}
		byPlace[place] = &live{place: place, paths: []string{p}, fd: -1}
	}
	var out []*live
	for _, l := range byPlace {
		out = append(out, l)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].place < out[j].place })
	// A place inside another is shown with it (MS_REC).
	var kept []*live
	for _, l := range out {
		if n := len(kept); n > 0 && within(l.place, kept[n-1].place) {
			kept[n-1].paths = append(kept[n-1].paths, l.paths...)
			continue
		}
		kept = append(kept, l)
	}
	return kept
}

// isLivePlace reports whether a mountpoint is shown live again.
func (s *Set) isLivePlace(mountpoint string) bool {
	for _, l := range s.live {
		if within(mountpoint, l.place) {
			return true
		}
	}
	return false
}

// openLive opens every live place before the views cover it.
func (s *Set) openLive() error {
	for _, l := range s.live {
		if l.fd >= 0 {
			continue
		}
		fd, err := unix.Open(l.place, unix.O_PATH|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("opening %s to show it live inside the views: %w", l.place, err)
		}
		l.fd = fd
	}
	return nil
}

// closeLive closes what openLive opened.
func (s *Set) closeLive() {
	for _, l := range s.live {
		if l.fd >= 0 {
			unix.Close(l.fd)
			l.fd = -1
		}
	}
}

// showLive bind-mounts every live place, as opened before the views, over
// its place inside them. The bind keeps the live mount's flags: what the
// host (or the unit's ReadWritePaths=) lets the run write stays writable.
func (s *Set) showLive() error {
	defer s.closeLive()
	for _, l := range s.live {
		src := "/proc/self/fd/" + strconv.Itoa(l.fd)
		if err := unix.Mount(src, l.place, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("showing %s live inside the views: %w", l.place, err)
		}
		l.mounted = true
		mounts, err := namespace.Mounts()
		if err != nil {
			return err
		}
		top, ok := namespace.Lookup(mounts, l.place)
		if !ok || top.Mountpoint != l.place {
			return fmt.Errorf("showing %s live inside the views: the bind mount is not there", l.place)
		}
		l.mountID = top.ID
		s.log.Info("runtime path shown live inside the views", "place", l.place, "for", l.paths)
	}
	return nil
}

// hideLive takes the live binds away, last first, before the views go.
func (s *Set) hideLive() error {
	s.closeLive()
	var err error
	for i := len(s.live) - 1; i >= 0; i-- {
		l := s.live[i]
		if !l.mounted {
			continue
		}
		if uerr := unmountOwn(l.place, func(m namespace.Mount) bool { return m.ID == l.mountID }); uerr != nil {
			err = errors.Join(err, uerr)
			continue
		}
		l.mounted = false
	}
	return err
}

// unmountOwn unmounts what is mounted at target for as long as the mount
// on top there is ours (by isOurs): never anything else. A mount still in
// use (a straggling reader) is retried for a moment and then detached
// lazily: it lives in the run's private namespace, which ends with the
// run.
func unmountOwn(target string, isOurs func(namespace.Mount) bool) error {
	deadline := time.Now().Add(2 * time.Second)
	for wait := 10 * time.Millisecond; ; wait = min(2*wait, 200*time.Millisecond) {
		top, ok, err := topMount(target)
		if err != nil {
			return err
		}
		if !ok || !isOurs(top) {
			return nil // gone already
		}
		err = unix.Unmount(target, 0)
		switch {
		case err == nil:
			continue // look again: the same source may be stacked twice
		case errors.Is(err, unix.EBUSY) && time.Now().Before(deadline):
			time.Sleep(wait)
		case errors.Is(err, unix.EBUSY):
			if derr := unix.Unmount(target, unix.MNT_DETACH); derr != nil {
				return fmt.Errorf("unmounting %s: %w", target, derr)
			}
			return nil
		default:
			return fmt.Errorf("unmounting %s: %w", target, err)
		}
	}
}
