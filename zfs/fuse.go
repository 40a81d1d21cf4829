package zfs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// FuseDaemonNamespace returns the mount namespace of a running zfs-fuse
// daemon ("/proc/<pid>/ns/mnt") when it differs from this process's, and
// "" when there is no zfs-fuse daemon (kernel ZFS) or it shares our
// namespace. See the package documentation for why that matters.
//
// A daemon whose namespace this process may not read is an error
// (*NamespaceError), not a guess: the kernel lets only a process with
// CAP_SYS_PTRACE (or every capability the daemon has) read it, so a
// sandboxed unit (every bakc unit: none has CAP_SYS_PTRACE) cannot tell
// whether the daemon shares its namespace. Guessing "it does" ran zfs
// from a unit's private namespace, where zfs cannot unmount the clones
// the daemon mounted in its own: the run took its snapshots and then
// left them and their clones behind. Refusing before the first zfs
// command leaves nothing.
func FuseDaemonNamespace() (string, error) {
	pid, err := fuseDaemonPID()
	if err != nil || pid == 0 {
		return "", err
	}
	ours, err := os.Readlink("/proc/self/ns/mnt")
	if err != nil {
		return "", err
	}
	path := "/proc/" + strconv.Itoa(pid) + "/ns/mnt"
	theirs, err := os.Readlink(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "", nil // the daemon is gone; zfs will say so
	case err != nil:
		return "", &NamespaceError{PID: pid, Err: err}
	case theirs == ours:
		return "", nil
	}
	return path, nil
}

// NamespaceError is a zfs-fuse daemon whose mount namespace this process
// may not read (see FuseDaemonNamespace).
type NamespaceError struct {
	PID int
	Err error
}

func (e *NamespaceError) Error() string {
	return fmt.Sprintf("the zfs-fuse daemon (pid %d) mounts the snapshots' clones in its own mount namespace, and this process may not read which one that is (%v), so zfs could not unmount them again: "+
		"run bakc with CAP_SYS_PTRACE, and CAP_SYS_ADMIN and CAP_SYS_CHROOT to enter it (nsenter), in its unit's CapabilityBoundingSet= (a drop-in), or in the daemon's own namespace without PrivateMounts=; kernel ZFS needs none of this", e.PID, e.Err)
}

func (e *NamespaceError) Unwrap() error { return e.Err }

// IsFuse reports whether this host runs zfs-fuse rather than kernel ZFS:
// a zfs-fuse daemon is running.
func IsFuse() (bool, error) {
	pid, err := fuseDaemonPID()
	return pid != 0, err
}

// fuseDaemonPID finds the zfs-fuse daemon by its command name; 0 when
// none runs. A daemon in another PID namespace (a container's, whose
// processes the host sees too) serves that container, not us, and is
// skipped (known by its ns/pid link, or by its status when that link
// cannot be read).
func fuseDaemonPID() (int, error) { return fuseDaemonPIDIn("/proc") }

// inChildPIDNamespace reports whether the process of the proc folder d
// lives in a PID namespace below ours, by the NSpid line of its status
// (one pid per namespace, from ours down): readable by every process,
// unlike ns/pid, which a process without CAP_SYS_PTRACE (a sandboxed
// unit) may not read of a root daemon.
func inChildPIDNamespace(d string) bool {
	status, err := os.ReadFile(filepath.Join(d, "status"))
	if err != nil {
		return false
	}
	for _, l := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(l, "NSpid:"); ok {
			return len(strings.Fields(v)) > 1
		}
	}
	return false
}

// fuseDaemonPIDIn is fuseDaemonPID on the proc file system at proc.
func fuseDaemonPIDIn(proc string) (int, error) {
	dirs, err := filepath.Glob(filepath.Join(proc, "[0-9]*"))
	if err != nil {
		return 0, err
	}
	ourPIDNS, _ := os.Readlink(filepath.Join(proc, "self", "ns", "pid"))
	for _, d := range dirs {
		comm, err := os.ReadFile(filepath.Join(d, "comm"))
		if err != nil {
			continue // gone meanwhile, or not ours to read
		}
		if strings.TrimSpace(string(comm)) == "zfs-fuse" {
			if ns, err := os.Readlink(filepath.Join(d, "ns", "pid")); err == nil && ourPIDNS != "" && ns != ourPIDNS {
				continue
			} else if err != nil && inChildPIDNamespace(d) {
				continue
			}
			pid, err := strconv.Atoi(filepath.Base(d))
			if err == nil {
				return pid, nil
			}
		}
	}
	return 0, nil
}
