package booted

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/holthome/bakc/runtime/namespace"
)

// Every boot runs in a cgroup of its own.
//
// systemd-nspawn --keep-unit (there is no machined to make a scope) takes
// the cgroup it was started in as the container's, and the container's
// systemd builds its tree inside it: <cgroup>/payload/system.slice/
// bakc-backup-plex.service and so on. Two containers started from one
// cgroup (two scenarios of one `go test`, or two test processes started
// from the same shell) therefore shared every unit's cgroup: each
// container's systemd saw the other's processes in its units, failed to
// kill them ("Failed to kill control group … Input/output error"), and
// could take a unit of its own for still running or stop processes that
// were not its own. So each boot's systemd-nspawn is moved, before it
// starts, into a new cgroup below the test process's, in each hierarchy
// systemd uses (the unified one, and on a hybrid host the named v1
// hierarchy name=systemd), and the cgroup is removed after the boot.

// cgroupHierarchy is one cgroup hierarchy the test process is in.
type cgroupHierarchy struct {
	// Line is the hierarchy as a line of /proc/self/cgroup starts: "0:"
	// for the unified hierarchy, "<n>:name=systemd" for systemd's named
	// v1 one.
	Line string
	// Dir is the test process's cgroup in it, on the host.
	Dir string
}

// ownCgroup makes the cgroup name below the test process's cgroup in
// every hierarchy systemd uses, and returns them. systemd-nspawn must be
// moved into each (cgroup.procs) before it starts (inCgroup). The
// cgroups are removed when the test ends (they are empty by then: the
// container powered off).
func ownCgroup(t *testing.T, name string) []string {
	t.Helper()
	hs, err := cgroupHierarchies()
	if err != nil {
		t.Fatalf("the test's cgroups, to give the boot its own: %v", err)
	}
	var dirs []string
	for _, h := range hs {
		dir := filepath.Join(h.Dir, name)
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatalf("a cgroup of the boot's own (%s): %v", h.Line, err)
		}
		t.Cleanup(func() {
			if err := removeCgroup(dir); err != nil {
				t.Errorf("removing the boot's cgroup: %v", err)
			}
		})
		dirs = append(dirs, dir)
	}
	return dirs
}

// cgroupHierarchies finds the test process's cgroup in the unified
// hierarchy and in systemd's named v1 hierarchy (on a hybrid or legacy
// host), by /proc/self/cgroup and where the hierarchies are mounted.
func cgroupHierarchies() ([]cgroupHierarchy, error) {
	f, err := os.Open("/proc/self/cgroup")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	mounts, err := namespace.Mounts()
	if err != nil {
		return nil, err
	}
	var out []cgroupHierarchy
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// ID:controllers:path
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		var root string
		switch {
		case parts[0] == "0" && parts[1] == "":
			root = mountOf(mounts, "cgroup2", "")
		case parts[1] == "name=systemd":
			root = mountOf(mounts, "cgroup", "systemd")
		default:
			continue
		}
		if root == "" {
			continue // listed, not mounted here (a v1-only host has no unified mount)
		}
		out = append(out, cgroupHierarchy{Line: parts[0] + ":" + parts[1], Dir: filepath.Join(root, parts[2])})
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, errors.New("neither the unified cgroup hierarchy nor systemd's name=systemd one is mounted")
	}
	return out, nil
}

// mountOf is where a cgroup file system is mounted: the first mount of
// type fstype, and for v1 the one whose folder is named base (systemd
// mounts its named hierarchy at /sys/fs/cgroup/systemd).
func mountOf(mounts []namespace.Mount, fstype, base string) string {
	for _, m := range mounts {
		if m.FSType == fstype && (base == "" || filepath.Base(m.Mountpoint) == base) {
			return m.Mountpoint
		}
	}
	return ""
}

// removeCgroup removes a cgroup and every cgroup below it, deepest first
// (a cgroup folder goes with rmdir, its files with it).
func removeCgroup(dir string) error {
	var dirs []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	sort.Slice(dirs, func(i, k int) bool { return len(dirs[i]) > len(dirs[k]) })
	var errs []error
	for _, d := range dirs {
		if err := unix.Rmdir(d); err != nil && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("%s: %w", d, err))
		}
	}
	return errors.Join(errs...)
}

// inCgroup is the command line that moves itself into the cgroups dirs
// and then becomes argv: a shell that writes its pid into each one's
// cgroup.procs and execs argv (so argv keeps its pid, and signals sent
// to the command reach it).
func inCgroup(dirs []string, argv []string) []string {
	script := `for d do [ "$d" = -- ] && break; echo $$ > "$d/cgroup.procs" || exit 125; shift; done; shift; exec "$@"`
	out := append([]string{"/bin/sh", "-c", script, "sh"}, dirs...)
	return append(append(out, "--"), argv...)
}

// checkOwnCgroup checks, after a boot, that systemd-nspawn made the
// container's cgroup (payload) inside the boot's own cgroups.
func checkOwnCgroup(t *testing.T, dirs []string) {
	t.Helper()
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "payload")); err != nil {
			t.Errorf("the container did not run in its boot's own cgroup %s: %v", d, err)
		}
	}
}
