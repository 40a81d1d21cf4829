package units

import (
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/escape"
)

// zfsCapabilities bound what the root process of a ZFS snapshot backup
// can ever do (docs/security.md explains each):
//
//	CAP_SYS_ADMIN        zfs snapshot/clone/destroy (ioctls on /dev/zfs) and mount(2)
//	CAP_DAC_READ_SEARCH  read every file, as restic does
//	CAP_SETUID/SETGID    start restic and the hooks as the backup user
//	CAP_KILL             signal that restic, which runs as another uid
//	CAP_DAC_OVERRIDE, CAP_FOWNER, CAP_CHOWN
//	                     write and hand back to the backup user the
//	                     runtime's own state, log and metrics files,
//	                     which belong to the backup user
var zfsCapabilities = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER",
	"CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SYS_ADMIN",
}

// RunDir is the runtime's folder under /run: a ZFS snapshot backup
// mounts its temporary clones below it (runtime/snapshot.DefaultCloneDir,
// and namespace.DefaultShareRoot outside systemd; a test keeps them
// below RunDir). ProtectSystem=strict makes /run read-only, so the ZFS
// backup services get it in ReadWritePaths= and the tmpfiles rules
// create it, for root only.
const RunDir = "/run/bakc"

// Maintenance tasks (verify, restore test, prune) have no resources in
// the plan; they run at the lowest CPU and I/O priority.
const maintenanceNice = "19"

// buildService writes the service of a task.
func buildService(p *plan.Plan, t task) Unit {
	u := newSection("Unit").
		add("Description", escape.SystemdString(t.description)).
		add("After", "network-online.target").
		add("Wants", "network-online.target")
	addRepositoryDependencies(u, t.repos)
	if t.onFailure != "" {
		// Verbatim: checkPlan allowed only unit name characters and
		// the specifiers a notification unit is told the failed
		// unit's name with (notify@%n.service).
		u.add("OnFailure", t.onFailure)
	}

	s := newSection("Service").
		add("Type", "oneshot").
		// The runtime reports progress with sd_notify STATUS=; systemd
		// drops it from a oneshot unit unless told otherwise, and a ZFS
		// job sends it from its re-executed child, not the main process.
		add("NotifyAccess", "all").
		addProgram("ExecStart", escape.SystemdExecArgs([]string{"run", t.kind, t.name, "--plan", p.Paths.Plan}))
	addPrivileges(s, p, t)
	addHardening(s, p, t)
	addResources(s, t)
	var packages []string
	if t.job != nil {
		if env := pathEnvironment(t.job); env != "" {
			s.addPlainOnly("Environment", env)
		}
		packages = stepPackages(t.job)
	}

	return Unit{
		Name:     ServiceName(t.kind, t.name) + ".service",
		Sections: []Section{u.Section, s.Section},
		RunsZFS:  t.zfs,
		Packages: packages,
		RunsSSH:  runsSSH(t),
	}
}

// addPrivileges: every service runs as the backup user with
// CAP_DAC_READ_SEARCH to read what it backs up, except the backup of a
// ZFS snapshot job, which starts as root inside a narrow bounding set
// because it must snapshot, clone and mount; its runtime runs restic and
// the hooks as the backup user.
func addPrivileges(s *section, p *plan.Plan, t task) {
	if t.zfs {
		s.add("CapabilityBoundingSet", strings.Join(zfsCapabilities, " "))
		// Kernel ZFS is driven through /dev/zfs; no other device.
		s.add("DevicePolicy", "closed")
		s.add("DeviceAllow", "/dev/zfs rw")
		return
	}
	if t.job != nil && RunsAsOtherUser(p, t.job) {
		// A hook or dump runs as another user: the runtime starts as
		// root to switch to it, and runs restic as the backup user.
		s.add("CapabilityBoundingSet", strings.Join(stepCapabilities, " ")).
			add("PrivateDevices", "yes")
		return
	}
	s.add("User", p.User.Name).
		add("Group", p.User.Group).
		add("AmbientCapabilities", "CAP_DAC_READ_SEARCH").
		add("CapabilityBoundingSet", "CAP_DAC_READ_SEARCH").
		add("PrivateDevices", "yes")
}

// addHardening: the rest of the system is read-only and hidden where
// it can be; the runtime writes only to its own folders and the
// task's repositories.
func addHardening(s *section, p *plan.Plan, t task) {
	s.add("NoNewPrivileges", "yes").
		// Snapshot mounts stay inside the service.
		add("PrivateMounts", "yes").
		add("PrivateTmp", "yes").
		add("ProtectSystem", "strict")
	dirs := writablePaths(p, t.repos)
	if t.zfs {
		dirs = outermost(append(dirs, RunDir))
	}
	for _, dir := range dirs {
		s.add("ReadWritePaths", readWritePath(p, dir))
	}
	if t.job != nil {
		addStepWrites(s, dirs, t.job)
	}
	s.add("ProtectKernelTunables", "yes").
		add("ProtectKernelModules", "yes").
		add("ProtectKernelLogs", "yes").
		add("ProtectControlGroups", "yes").
		add("ProtectHostname", "yes").
		add("RestrictSUIDSGID", "yes").
		add("RestrictRealtime", "yes").
		add("LockPersonality", "yes").
		add("SystemCallArchitectures", "native")
}

// addResources: the job's limits; maintenance tasks run niced and idle.
func addResources(s *section, t task) {
	if t.resources == nil {
		s.add("Nice", maintenanceNice).add("IOSchedulingClass", "idle")
		return
	}
	r := t.resources
	s.add("Nice", strconv.Itoa(r.Nice))
	s.add("IOSchedulingClass", r.IOSchedulingClass)
	if r.CPUQuota != "" {
		s.add("CPUQuota", r.CPUQuota)
	}
	if r.MemoryMax != "" {
		s.add("MemoryMax", r.MemoryMax)
	}
	if r.TimeoutStart != "" {
		s.add("TimeoutStartSec", r.TimeoutStart)
	}
}

// runtimeDirs are the folders every service writes to: state (locks),
// restic's cache, the log with the error log, and the metrics folder.
func runtimeDirs(p *plan.Plan) []string {
	return []string{
		p.Paths.State,
		p.Paths.Cache,
		p.Paths.Log,
		path.Dir(p.Monitoring.ErrorLog),
		p.Monitoring.TextfileDir,
	}
}

// repoDir is the folder a local or NFS repository lives in; empty for
// remote repositories.
func repoDir(r *plan.Repository) string {
	switch r.Kind {
	case plan.KindLocal:
		return r.URL
	case plan.KindNFS:
		return r.NFS.Mountpoint
	}
	return ""
}

// writablePaths are the ReadWritePaths= of a service: the runtime's
// folders and the folders of the repositories it writes, sorted, without
// duplicates and without folders inside another one of the list.
func writablePaths(p *plan.Plan, repos []*plan.Repository) []string {
	dirs := runtimeDirs(p)
	for _, r := range repos {
		if d := repoDir(r); d != "" {
			dirs = append(dirs, d)
		}
	}
	return outermost(dirs)
}

// outermost sorts dirs and drops duplicates and folders inside another.
func outermost(dirs []string) []string {
	dirs = slices.Clone(dirs)
	slices.Sort(dirs)
	var out []string
	for _, d := range slices.Compact(dirs) {
		if !slices.ContainsFunc(out, func(o string) bool { return isInside(d, o) }) {
			out = append(out, d)
		}
	}
	return out
}

// isInside reports whether path d is dir or below it.
func isInside(d, dir string) bool {
	return d == dir || dir == "/" || strings.HasPrefix(d, dir+"/")
}
