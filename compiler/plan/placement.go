package plan

import (
	"fmt"
	"path"
	"strings"
)

// Where the paths bakc writes may be. The plan is installed into /etc,
// and the runtime's folders are created by tmpfiles.d lines that give
// them to the backup user ("d PATH 0750 bakc bakc": an existing folder
// changes owner and mode), so a path that belongs to someone else is
// taken over: plan = "/etc/fstab" makes NixOS merge the plan into the
// real fstab, state = "/var/lib/postgresql" gives the database's folder
// to the backup user, a local repository at "/home" locks every user out
// of theirs. The compiler refuses such paths with CheckPlacement; the
// runtime does not (it runs a plan wherever its paths point, and its
// tests run plans in temporary folders).

// Placement is what a path bakc writes is for, which decides where it
// may be.
type Placement int

const (
	// PlacePlan is the installed plan: a file under PlanDir.
	PlacePlan Placement = iota
	// PlaceOwnFolder is one of the runtime's own folders (state, cache,
	// log): bakc's alone, so its path names bakc.
	PlaceOwnFolder
	// PlaceOwnFile is a file bakc writes into a folder of its own (the
	// error log).
	PlaceOwnFile
	// PlaceShared is a folder bakc shares with another program by
	// design (node_exporter's textfile collector folder): any dedicated
	// folder, but not a system folder or one that holds others'.
	PlaceShared
	// PlaceRepository is the folder of a local repository, or where an
	// NFS repository is mounted: a dedicated folder, like PlaceShared,
	// that survives a reboot.
	PlaceRepository
)

// PlanDir is the folder of the installed plan: environment.etc."bakc/…"
// on NixOS. Everything else under /etc belongs to NixOS's other options
// or to the system.
const PlanDir = "/etc/bakc"

// systemTree is a folder no path bakc writes may be in, and why.
type systemTree struct {
	dir, why string
	// volatile trees lose their content at boot: fine for metrics that
	// are written anew on every run, not for state or backups.
	volatile bool
}

var systemTrees = []systemTree{
	{dir: "/etc", why: "NixOS's environment.etc and the system own it; only the plan goes to " + PlanDir},
	{dir: "/nix", why: "the Nix store is read-only and readable by every user"},
	{dir: "/usr", why: "it holds the system's programs"},
	{dir: "/bin", why: "it holds the system's programs"},
	{dir: "/sbin", why: "it holds the system's programs"},
	{dir: "/lib", why: "it holds the system's libraries"},
	{dir: "/lib64", why: "it holds the system's libraries"},
	{dir: "/boot", why: "it holds the boot loader and kernels"},
	{dir: "/dev", why: "it is the kernel's device file system"},
	{dir: "/proc", why: "it is the kernel's process file system"},
	{dir: "/sys", why: "it is the kernel's sysfs"},
	{dir: "/tmp", why: "every bakc service has a private one (PrivateTmp=yes), so what one run writes there no other run sees"},
	{dir: "/var/tmp", why: "every bakc service has a private one (PrivateTmp=yes), so what one run writes there no other run sees"},
	{dir: "/run", why: "it is emptied at every boot", volatile: true},
}

// sharedFolders hold other programs' or users' folders: bakc may create
// a folder inside one, never take one over.
var sharedFolders = []string{
	"/", "/home", "/root", "/srv", "/opt", "/mnt", "/media", "/data", "/persist",
	"/var", "/var/lib", "/var/cache", "/var/log", "/var/spool", "/var/db",
	"/var/backups", "/var/mail", "/var/empty", "/run",
}

// PlacementError is a path that is not where its placement allows.
type PlacementError struct {
	// Summary is a short title for a diagnostic.
	Summary string
	// Why says why, in a sentence without a trailing period.
	Why string
}

func (e *PlacementError) Error() string { return e.Why }

func placementError(summary, format string, args ...any) error {
	return &PlacementError{Summary: summary, Why: fmt.Sprintf(format, args...)}
}

// CheckPlacement reports a path that is not where a path of the given
// placement may be, with a *PlacementError that says why. The path is
// absolute and clean (CheckAbsPath).
func CheckPlacement(pl Placement, p string) error {
	if err := CheckAbsPath(p); err != nil {
		return err
	}
	if pl == PlacePlan {
		if !IsUnder(p, PlanDir) || p == PlanDir {
			return placementError("Plan path outside "+PlanDir, "%q is not a file under %s, where bakc installs the plan; any other file under /etc belongs to another NixOS option or to the system (with /etc/fstab, NixOS would merge the plan into the real fstab)", p, PlanDir)
		}
		return nil
	}
	for _, t := range systemTrees {
		if IsUnder(p, t.dir) && !(t.volatile && pl == PlaceShared) {
			return placementError("Path in a system folder", "%q is in %s: %s", p, t.dir, t.why)
		}
	}
	switch pl {
	case PlaceOwnFolder:
		if !namesBakc(p) {
			return placementError("Not a folder of bakc's own", "%q is not a folder of bakc's own: bakc gives it to the backup user, so one of its folders must be named bakc (or start with bakc), as in /var/lib/bakc", p)
		}
	case PlaceOwnFile:
		if p == "/" || !namesBakc(path.Dir(p)) {
			return placementError("Not in a folder of bakc's own", "%q is not in a folder of bakc's own: bakc gives its folder to the backup user, so one of the folders above it must be named bakc (or start with bakc), as in /var/log/bakc/errors.jsonl", p)
		}
	case PlaceShared, PlaceRepository:
		for _, s := range sharedFolders {
			if p == s {
				return placementError("Shared folder", "%q holds other programs' or users' folders, and bakc would give it to the backup user; name a folder of its own inside it", p)
			}
		}
		if path.Dir(p) == "/home" {
			return placementError("Shared folder", "%q is a user's home folder, and bakc would give it to the backup user; name a folder of its own", p)
		}
	}
	return nil
}

// namesBakc reports whether one of p's folders is named bakc or starts
// with bakc.
func namesBakc(p string) bool {
	for _, c := range strings.Split(p, "/") {
		if strings.HasPrefix(c, "bakc") {
			return true
		}
	}
	return false
}
