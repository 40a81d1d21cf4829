package booted

import (
	"fmt"
	"slices"
	"strings"

	"github.com/holthome/bakc/escape"
)

// Pool is a ZFS pool that the machine makes at boot with zfs-fuse, in a
// file, with its datasets mounted at their mountpoints: a stand-in for
// the node's kernel ZFS pool, which this machine cannot run.
type Pool struct {
	Name     string
	Datasets []Dataset
}

// Dataset is a file system of a pool and where it is mounted.
type Dataset struct {
	Name       string
	Mountpoint string
}

// AddPool makes the pool at boot. A dataset's mountpoint that holds
// files in the machine (the tree's, or the test's) is migrated the way
// an administrator moves a folder onto ZFS: its content is copied into
// the new dataset, the folder is emptied, and the dataset is mounted
// there. So a test writes a node's data at its path (/home/alice/…)
// before the boot, and finds it on ZFS after, and luna's /var/lib
// dataset holds the system's own /var/lib, as on luna.
//
// One difference from kernel ZFS is evened out: zfs-fuse's daemon checks
// every lookup of a name in a folder against the caller's uid and
// ignores its capabilities, so the backup user (restic runs as it, with
// CAP_DAC_READ_SEARCH, which kernel ZFS honours) could not look into a
// private folder of a fresh clone. The migrated folders are therefore
// made searchable by all (a+x; never readable, and no file's mode
// changes): reading private files still needs the capability.
//
// The pools are made by two units of the test's own, before
// local-fs.target (so before systemd-tmpfiles-setup and every service,
// as kernel ZFS mounts are on a real node): bakc-test-zfs-fuse.service
// runs the daemon (Debian's zfs-fuse.service fails in a container and
// is masked in the tree), bakc-test-zfs-pools.service makes the pools.
func (m *Machine) AddPool(p Pool) { m.pools = append(m.pools, p) }

// ZFSFuseDropIn is the drop-in (its content) that a unit running zfs
// needs on zfs-fuse and not on kernel ZFS, part of the zfs-fuse stand-in:
// the zfs-fuse daemon mounts the snapshots' clones in its own mount
// namespace, and bakc's zfs runner goes there with nsenter, which must
// read the daemon's /proc/<pid>/ns/mnt (CAP_SYS_PTRACE) and enter it
// (setns: CAP_SYS_CHROOT with CAP_SYS_ADMIN). The generated units give
// neither, as kernel ZFS needs neither; without them the run refuses at
// its first zfs command (package zfs, NamespaceError), which the luna
// scenario shows before it adds this drop-in.
const ZFSFuseDropIn = `# The booted tier's zfs-fuse stand-in (internal/booted): enter the daemon's
# mount namespace (zfs.NamespaceError). Kernel ZFS needs none of this.
[Service]
CapabilityBoundingSet=CAP_SYS_PTRACE CAP_SYS_CHROOT
`

// ZFSFuseDropInName is the drop-in's file name, without ".conf".
const ZFSFuseDropInName = "bakc-test-zfs-fuse"

// GrantZFSFuse installs ZFSFuseDropIn for unit (a ZFS job's backup
// service), as a zfs-fuse host's administrator would.
func (m *Machine) GrantZFSFuse(unit string) {
	m.WriteFile("/etc/systemd/system/"+unit+".d/"+ZFSFuseDropInName+".conf", []byte(ZFSFuseDropIn), 0o644)
}

const (
	zfsFuseUnit  = "bakc-test-zfs-fuse.service"
	zfsPoolsUnit = "bakc-test-zfs-pools.service"
	zfsScript    = "/opt/bakc-test/zfs-pools.sh"
	zfsPoolDir   = "/opt/bakc-test/zfs"
)

// addZFS writes the units and the script that make m's pools.
func (m *Machine) addZFS() {
	if len(m.pools) == 0 {
		return
	}
	m.WriteFile("/etc/systemd/system/"+zfsFuseUnit, []byte(`[Unit]
Description=zfs-fuse for the test's pools (stands in for kernel ZFS)
DefaultDependencies=no
After=systemd-remount-fs.service
Before=local-fs.target

[Service]
Type=simple
ExecStart=/usr/sbin/zfs-fuse --no-daemon --no-kstat-mount
ExecStartPost=/bin/sh -c 'until zpool list >/dev/null 2>&1; do sleep 0.1; done'
`), 0o644)
	m.WriteFile("/etc/systemd/system/"+zfsPoolsUnit, []byte(`[Unit]
Description=The test's ZFS pools, from files
DefaultDependencies=no
Requires=`+zfsFuseUnit+`
After=`+zfsFuseUnit+`
Before=local-fs.target systemd-tmpfiles-setup.service

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=`+zfsScript+`
# Migrating a folder onto zfs-fuse is slow when boots run side by side.
TimeoutStartSec=10min
StandardOutput=journal+console
`), 0o644)
	m.Enable(zfsFuseUnit, "local-fs.target")
	m.Enable(zfsPoolsUnit, "local-fs.target")
	m.WriteFile(zfsScript, []byte(poolScript(m.pools)), 0o755)
}

// poolScript is the shell script that makes the pools: each in a sparse
// file of 512 MiB, its datasets created parents first.
func poolScript(pools []Pool) string {
	var b strings.Builder
	b.WriteString("#!/bin/sh\nset -eu\nmkdir -p " + zfsPoolDir + "\n")
	b.WriteString(`# dataset NAME MOUNTPOINT: create it, migrating what the folder holds.
dataset() {
	if [ -d "$2" ] && [ -n "$(ls -A "$2")" ]; then
		zfs create -p -o mountpoint="$2.bakc-migrate" "$1"
		cp -a "$2/." "$2.bakc-migrate/"
		find "$2.bakc-migrate" -type d -exec chmod a+x {} +
		zfs umount "$1"
		find "$2" -mindepth 1 -maxdepth 1 -exec rm -rf {} +
		rmdir "$2.bakc-migrate"
		zfs set mountpoint="$2" "$1"
		# zfs-fuse ends the old mount's session after zfs umount returns;
		# until then, under load (boots side by side), zfs mount says
		# "mountpoint or dataset is busy". Retry for up to 60 s.
		n=0
		until zfs mount "$1"; do
			n=$((n+1)); [ $n -lt 300 ] || exit 1
			sleep 0.2
		done
	else
		zfs create -p -o mountpoint="$2" "$1"
	fi
	echo "zfs: $1 at $2"
}
`)
	for _, p := range pools {
		img := zfsPoolDir + "/" + p.Name + ".img"
		fmt.Fprintf(&b, "truncate -s 512M %s\nzpool create -m none %s %s\n", escape.ShellQuote(img), escape.ShellQuote(p.Name), escape.ShellQuote(img))
		ds := slices.Clone(p.Datasets)
		slices.SortFunc(ds, func(a, b Dataset) int { return strings.Compare(a.Name, b.Name) })
		for _, d := range ds {
			fmt.Fprintf(&b, "dataset %s %s\n", escape.ShellQuote(d.Name), escape.ShellQuote(d.Mountpoint))
		}
	}
	return b.String()
}
