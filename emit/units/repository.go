package units

import (
	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/escape"
)

// A repository that is down must cost only itself: the job's other
// repositories are still backed up, with their metrics and error lines
// (docs/runtime.md). So a service never depends hard on a repository's
// mount, and never fails to start because a repository's folder is
// missing. The runtime's preflight (runtime/mountpoint.go) decides per
// repository: it touches the mountpoint, which makes the automount
// mount it, and refuses one that is not the NFS export.
//
// The systemd 252 facts this rests on, seen in a booted container
// (docs/nixos.md, "How bakc's units use the NFS mounts"):
//
//   - RequiresMountsFor= adds Requires= and After= on the .mount unit.
//     When the mount fails (the NAS is down) the service is not started
//     at all ("Dependency failed", result 'dependency'), so the job's
//     other repositories are skipped with no metric and no error line.
//     And when an automount's idle timeout stops the mount while the
//     service runs in its own mount namespace (PrivateMounts=), systemd
//     stops the service with it (systemd#3410, #40586): the kernel does
//     not count the service's use of its copy of the mount.
//   - Wants= and After= on the .automount unit only order the service
//     after the autofs mount point is set up; nothing of the NFS mount
//     can stop or block the service.
//   - ReadWritePaths= on an autofs mount point does not trigger it: the
//     namespace setup only asks whether the path is a mount point
//     (statx with AT_NO_AUTOMOUNT, src/core/namespace.c) and leaves a
//     mount point as it is; the NFS mount made later from inside the
//     service is writable there. A "-" in front makes systemd skip a
//     path that does not exist instead of failing the service with
//     226/NAMESPACE.

// addRepositoryDependencies orders a service after what its NFS
// repositories' mounts need, without requiring them: Wants= and After=
// the repository's automount unit, or its mount unit when the options
// have no x-systemd.automount (then starting the service starts the
// mount, and a mount that fails does not keep the service from
// starting).
func addRepositoryDependencies(u *section, repos []*plan.Repository) {
	for _, r := range repos {
		if r.Kind != plan.KindNFS {
			continue
		}
		suffix := ".mount"
		if mountOptions(r.NFS.Options).automount {
			suffix = ".automount"
		}
		// A unit name made from a path has only letters, digits,
		// ":_.\-" in it: nothing systemd's dependency parser reads
		// specially (it keeps backslashes, and % is escaped as \x25).
		name := escape.SystemdUnitNameFromPath(r.NFS.Mountpoint, suffix)
		u.add("Wants", name).add("After", name)
	}
}

// readWritePath is one ReadWritePaths= word: the runtime's own folders
// must exist (tmpfiles creates them), a repository's folder may be
// missing, and then only that repository fails, in the runtime's
// preflight.
func readWritePath(p *plan.Plan, dir string) string {
	if dir == RunDir {
		return escape.SystemdPath(dir)
	}
	for _, d := range runtimeDirs(p) {
		if d == dir {
			return escape.SystemdPath(dir)
		}
	}
	return escape.SystemdOptionalPath(dir)
}
