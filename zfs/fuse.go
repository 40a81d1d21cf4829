package zfs

import (
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
// A daemon whose namespace cannot be read counts as sharing ours: nsenter
// could not enter it either, and the commands that need no mount still
// work from here.
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
	if err != nil || theirs == ours {
		return "", nil
	}
	return path, nil
}

// IsFuse reports whether this host runs zfs-fuse rather than kernel ZFS:
// a zfs-fuse daemon is running.
func IsFuse() (bool, error) {
	pid, err := fuseDaemonPID()
	return pid != 0, err
}

// fuseDaemonPID finds the zfs-fuse daemon by its command name; 0 when
// none runs. A daemon in another PID namespace (a container's, whose
// processes the host sees too) serves that container, not us, and is
// skipped; one whose namespace cannot be read counts as ours.
func fuseDaemonPID() (int, error) { return fuseDaemonPIDIn("/proc") }

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
			}
			pid, err := strconv.Atoi(filepath.Base(d))
			if err == nil {
				return pid, nil
			}
		}
	}
	return 0, nil
}
