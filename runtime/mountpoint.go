package runtime

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/escape"
	"github.com/holthome/bakc/runtime/namespace"
	"github.com/holthome/bakc/runtime/restic"
)

// AutomountTimeout bounds the wait for an NFS automount (or a hung NFS
// server) when the preflight touches the mountpoint.
const AutomountTimeout = 60 * time.Second

// nfsFSTypes are the file system types of an NFS mount in mountinfo.
var nfsFSTypes = map[string]bool{"nfs": true, "nfs4": true}

// mountError is a failed mount check and its category.
type mountError struct {
	category restic.Category
	msg      string
}

func (e *mountError) Error() string { return e.msg }

// checkNFSMounted makes sure an NFS repository's mountpoint really has the
// plan's export mounted on it, so that restic never writes into the empty
// folder on the local disk that an unmounted mountpoint is. It first
// touches the folder, which makes systemd's automount (x-systemd.automount)
// mount it, then reads the mounts: the topmost mount at the mountpoint
// must be NFS from server:/export.
func checkNFSMounted(ctx context.Context, nfs *plan.NFSMount, url string, mounts func() ([]namespace.Mount, error)) error {
	mp := filepath.Clean(nfs.Mountpoint)
	if !within(filepath.Clean(url), mp) {
		return &mountError{restic.CategoryStorage, fmt.Sprintf("repository %s is not below its NFS mountpoint %s", url, mp)}
	}
	if err := touch(ctx, mp); err != nil {
		return err
	}
	ms, err := mounts()
	if err != nil {
		return fmt.Errorf("reading the mount table: %w", err)
	}
	// The mount a lookup of mp really ends on: one mounted at mp but
	// hidden under a later mount above it does not count.
	top, ok := namespace.Lookup(ms, mp)
	if !ok || top.Mountpoint != mp {
		under := "the root file system"
		if ok {
			under = fmt.Sprintf("%s (%s from %s)", top.Mountpoint, top.FSType, top.Source)
		}
		return &mountError{restic.CategoryStorage, fmt.Sprintf(
			"%s is not mounted: it is an empty folder on %s, not the NFS export %s; refusing to back up into it (is the NAS up, is the mount unit failing?)",
			mp, under, nfs.Source())}
	}
	if top.FSType == "autofs" {
		return &mountError{restic.CategoryNetwork, fmt.Sprintf(
			"%s is an automount point that did not mount %s when touched (is the NFS server reachable?)", mp, nfs.Source())}
	}
	if !nfsFSTypes[top.FSType] {
		return &mountError{restic.CategoryStorage, fmt.Sprintf(
			"%s is mounted from %s (%s), not the NFS export %s; refusing to back up into it", mp, top.Source, top.FSType, nfs.Source())}
	}
	if !sameNFSSource(top.Source, nfs.Source()) {
		return &mountError{restic.CategoryStorage, fmt.Sprintf(
			"%s is mounted from %s, but the plan says %s; refusing to back up into another export", mp, top.Source, nfs.Source())}
	}
	return nil
}

// touch stats the folder's content, which triggers an automount, and
// gives up after AutomountTimeout: an NFS server that does not answer
// can block a stat for ever (a hard mount), and the run must not hang
// with it. The stuck stat is left behind; the process ends soon anyway.
func touch(ctx context.Context, dir string) error {
	done := make(chan error, 1)
	go func() {
		_, err := os.Stat(dir + "/.")
		done <- err
	}()
	timer := time.NewTimer(AutomountTimeout)
	defer timer.Stop()
	select {
	case err := <-done:
		if err != nil {
			return touchError(dir, err)
		}
		return nil
	case <-timer.C:
		return &mountError{restic.CategoryNetwork, fmt.Sprintf("%s did not answer within %v (NFS server unreachable?)", dir, AutomountTimeout)}
	case <-ctx.Done():
		return ctx.Err()
	}
}

// sameNFSSource compares "server:/export" as mountinfo and the plan write
// them: the server as the same host (an IP address in any of its forms,
// a name in any case), the export ignoring trailing slashes. mountinfo
// shows what mount.nfs gave the kernel, or for NFSv4 the kernel's own
// "[server]:/" with the export's path appended (fs/nfs/nfs4super.c,
// namespace.c nfs_path), so an IPv6 server is always in brackets there.
func sameNFSSource(got, want string) bool {
	gs, ge, gok := splitNFSSource(got)
	ws, we, wok := splitNFSSource(want)
	if !gok || !wok {
		return got == want
	}
	return sameHost(gs, ws) && ge == we
}

// splitNFSSource splits an NFS source the way the kernel does
// (nfs_parse_source): a server in brackets up to "]:", otherwise up to
// the first colon. Trailing slashes of the export are dropped.
func splitNFSSource(s string) (server, export string, ok bool) {
	if rest, found := strings.CutPrefix(s, "["); found {
		server, export, ok = strings.Cut(rest, "]:")
	} else {
		server, export, ok = strings.Cut(s, ":")
	}
	if e := strings.TrimRight(export, "/"); e != "" {
		export = e
	}
	return server, export, ok
}

// sameHost reports whether two server names written by the plan and by
// mountinfo name the same host: equal IP addresses, or names equal but
// for case and a trailing dot.
func sameHost(a, b string) bool {
	if x, err := netip.ParseAddr(a); err == nil {
		y, err := netip.ParseAddr(b)
		return err == nil && x == y
	}
	return strings.EqualFold(strings.TrimSuffix(a, "."), strings.TrimSuffix(b, "."))
}

// within reports whether path is dir or below it.
func within(path, dir string) bool {
	return path == dir || dir == "/" || strings.HasPrefix(path, dir+"/")
}

// touchError says why touching a mountpoint failed. An automount whose
// mount fails (the NAS is down, the export is refused, the mount timed
// out) answers the touch with ENODEV, "no such device", which alone
// tells nothing: say what it means and where systemd logged the mount's
// own error.
func touchError(dir string, err error) error {
	if errors.Is(err, syscall.ENODEV) {
		return &mountError{restic.CategoryNetwork, fmt.Sprintf(
			"%s: the automount could not mount the NFS export (%v): is the NAS up and exporting it? systemd logged why: journalctl -u %s",
			dir, unwrapPath(err), escape.SystemdUnitNameFromPath(dir, ".mount"))}
	}
	return &mountError{restic.CategoryStorage, fmt.Sprintf("mountpoint %s: %v", dir, unwrapPath(err))}
}
