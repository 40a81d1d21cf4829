#!/bin/sh
# Installs and starts everything the tests use, on a fresh Debian machine
# (as root, or with sudo): restic from Debian (0.14) and restic 0.18.1 built
# from source (NixOS ships 0.18), sops 3.13.3 built from source and
# Debian's age (bakc init, sops-nix secrets), zfs-fuse with its daemon running, nix-bin
# for nix-instantiate, systemd for systemd-analyze, openssh for sftp tests,
# gcc to compare the calendar's port of mktime with the C library's,
# promtool (Debian's prometheus) for the alert rules,
# and for the booted-systemd tier (internal/booted) debootstrap,
# systemd-nspawn and the Debian tree it boots (scripts/booted-tree.sh).
# Safe to run again: it skips what is already there.
set -eu

cache="${BAKC_CACHE_DIR:-$HOME/.cache/bakc}"
restic18="$cache/restic-0.18.1/restic"
sops="$cache/sops-3.13.3/sops"

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"

need=""
for pair in restic:restic zfs:zfs-fuse nix-instantiate:nix-bin \
	systemd-analyze:systemd sshd:openssh-server ssh:openssh-client \
	ssh-keygen:openssh-client hyperfine:hyperfine fusermount:fuse \
	nsenter:util-linux setpriv:util-linux useradd:passwd cc:gcc \
	debootstrap:debootstrap systemd-nspawn:systemd-container flock:util-linux \
	age-keygen:age sanoid:sanoid syncoid:sanoid mbuffer:mbuffer \
	faketime:faketime strace:strace; do
	cmd=${pair%%:*}
	pkg=${pair#*:}
	if ! command -v "$cmd" >/dev/null 2>&1 && ! [ -x "/usr/sbin/$cmd" ]; then
		need="$need $pkg"
	fi
done
# GNU time, for the benchmark scripts' peak memory (bench/).
[ -x /usr/bin/time ] || need="$need time"
# dbus-daemon (and util-linux's unshare), for the tests' own systemd user
# manager that runs systemd-run's services (testenv.StartSystemdManager).
command -v dbus-daemon >/dev/null 2>&1 || need="$need dbus-daemon"
command -v unshare >/dev/null 2>&1 || need="$need util-linux"
# promtool, for the alert rules' tests (emit/alerts): Debian's prometheus
# package, without its recommended node exporter. Its service is not
# started by the tests.
if ! command -v promtool >/dev/null 2>&1; then
	echo "test-setup: installing prometheus (for promtool)"
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi
if [ -n "$need" ]; then
	echo "test-setup: installing$need"
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq $need >/dev/null
fi

if ! [ -x "$restic18" ]; then
	echo "test-setup: building restic 0.18.1 into $restic18 (about 80 s)"
	mkdir -p "$(dirname "$restic18")"
	GOBIN="$(dirname "$restic18")" GOFLAGS=-buildvcs=false \
		go install github.com/restic/restic/cmd/restic@v0.18.1
fi

# sops, for bakc init (it writes a new node's secrets with the real sops)
# and the tests of sops-nix secrets; age keys come from Debian's age.
if ! [ -x "$sops" ]; then
	echo "test-setup: building sops 3.13.3 into $sops (about a minute)"
	mkdir -p "$(dirname "$sops")"
	GOBIN="$(dirname "$sops")" GOFLAGS=-buildvcs=false \
		go install github.com/getsops/sops/v3/cmd/sops@v3.13.3
fi

# nfs-utils' mount.nfs, for tests that run it with -f (parse the NFS
# source and options, resolve the server, mount nothing): unpacked from
# Debian's nfs-common into the cache, not installed, so that no rpcbind
# or statd is started. It needs libtirpc3.
nfs="$cache/nfs-common"
if ! [ -x /sbin/mount.nfs ] && ! [ -x "$nfs/sbin/mount.nfs" ]; then
	echo "test-setup: unpacking mount.nfs from nfs-common into $nfs"
	dpkg -s libtirpc3 >/dev/null 2>&1 || {
		$sudo apt-get update -qq
		DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq libtirpc3 >/dev/null
	}
	tmp=$(mktemp -d)
	(cd "$tmp" && apt-get download nfs-common >/dev/null 2>&1) || {
		$sudo apt-get update -qq
		(cd "$tmp" && apt-get download nfs-common >/dev/null)
	}
	mkdir -p "$nfs"
	dpkg-deb -x "$tmp"/nfs-common_*.deb "$tmp/root"
	cp -a "$tmp/root/sbin" "$nfs/"
	rm -rf "$tmp"
fi

# zfs-fuse: the daemon must run for zpool/zfs to work. It needs /dev/fuse.
start_zfs_fuse() {
	echo "test-setup: starting zfs-fuse"
	$sudo zfs-fuse
	i=0
	until zpool list >/dev/null 2>&1; do
		i=$((i + 1))
		[ $i -lt 50 ] || { echo "test-setup: zfs-fuse did not start" >&2; exit 1; }
		sleep 0.2
	done
}
# zfs_fuse_healthy makes a pool in a file, writes and reads a file in its
# dataset and destroys it, each step bounded: a zfs-fuse whose FUSE side
# hangs (seen under load: getattr stuck in D state) still answers zpool
# list, and every test that mounts a dataset would then hang until its
# timeout.
zfs_fuse_healthy() {
	probe=$(mktemp -d /tmp/bakc-zfs-probe.XXXXXX)
	pool=bakcprobe$$
	truncate -s 128M "$probe/disk"
	ok=0
	if timeout 30 $sudo zpool create -m "$probe/mnt" "$pool" "$probe/disk" >/dev/null 2>&1 &&
		timeout 20 $sudo sh -c "echo probe > '$probe/mnt/f' && cat '$probe/mnt/f'" >/dev/null 2>&1; then
		ok=1
	fi
	# zfs-fuse calls a pool busy for a moment after its mount was used.
	i=0
	until timeout 30 $sudo zpool destroy -f "$pool" >/dev/null 2>&1 || ! zpool list "$pool" >/dev/null 2>&1; do
		i=$((i + 1))
		[ $i -lt 20 ] || { echo "test-setup: the probe pool $pool stays busy" >&2; ok=0; break; }
		sleep 1
	done
	zpool list "$pool" >/dev/null 2>&1 || rm -rf "$probe" 2>/dev/null || true
	[ $ok = 1 ]
}
# restart_zfs_fuse kills a hung daemon, lets go of its mounts and starts
# a new one.
restart_zfs_fuse() {
	echo "test-setup: zfs-fuse does not answer on its mounts; restarting it" >&2
	$sudo pkill -9 -x zfs-fuse || true
	awk '$3 == "fuse" && $1 ~ /^[a-z]/ { print $2 }' /proc/mounts | while read -r m; do
		$sudo umount -l "$m" 2>/dev/null || true
	done
	$sudo rm -f /var/run/zfs-fuse.pid /run/zfs-fuse.pid 2>/dev/null || true
	sleep 1
	start_zfs_fuse
}
zpool list >/dev/null 2>&1 || start_zfs_fuse
# Pools a killed test run left behind (testenv names them bakct<pid>_<n>,
# the probe below bakcprobe<pid>; a process that still runs keeps its own).
for pool in $(zpool list -H -o name 2>/dev/null | grep -E '^bakct[0-9]+_|^bakcprobe[0-9]+$'); do
	pid=${pool#bakct}
	pid=${pid#bakcprobe}
	pid=${pid%%_*}
	[ -d "/proc/$pid" ] && continue
	echo "test-setup: destroying the leftover test pool $pool"
	timeout 60 $sudo zpool destroy -f "$pool" || true
done
zfs_fuse_healthy || { restart_zfs_fuse && zfs_fuse_healthy; } || {
	echo "test-setup: zfs-fuse is not healthy after a restart" >&2
	exit 1
}

# /dev/fuse open to everyone, as udev makes it on Debian and NixOS (some
# containers make it 0600): the set-uid fusermount opens it as the user
# who mounts, and bakc mount's test mounts as the backup user.
if [ -c /dev/fuse ] && [ "$(stat -c %a /dev/fuse)" != 666 ]; then
	echo "test-setup: chmod 0666 /dev/fuse"
	$sudo chmod 0666 /dev/fuse
fi
# ... and user_allow_other in /etc/fuse.conf (NixOS:
# programs.fuse.userAllowOther), which fusermount reads for restic mount
# --allow-other as the backup user.
if ! grep -qx user_allow_other /etc/fuse.conf 2>/dev/null; then
	echo "test-setup: user_allow_other in /etc/fuse.conf"
	echo user_allow_other | $sudo tee -a /etc/fuse.conf >/dev/null
fi

# /dev/autofs, which the booted tier binds into its machines for the
# automounts of NFS repositories (automount-idle): the autofs4 module,
# which systemd loads at boot on most hosts.
[ -e /dev/autofs ] || $sudo modprobe autofs4 || {
	echo "test-setup: no /dev/autofs and no autofs4 module: the booted tier's automount scenario will fail" >&2
}

# sshd's privilege separation folder, which the package's tmpfiles.d makes
# at boot; the NAS tests run a local sshd to prove the replication key.
[ -d /run/sshd ] || $sudo mkdir -p -m 0755 /run/sshd

# The backup user of the example fleet (uid and gid 2049): the runtime's
# tests run restic as this user, and ssh (restic's sftp) refuses to run for
# a uid that has no passwd entry.
if ! getent passwd 2049 >/dev/null 2>&1; then
	getent group 2049 >/dev/null 2>&1 || $sudo groupadd --system --gid 2049 bakc
	$sudo useradd --system --uid 2049 --gid 2049 --home-dir /var/empty --no-create-home --shell /usr/sbin/nologin bakc
fi

# A second user (uid and gid 2050), for the runtime's tests of hooks and
# database dumps that run as a user other than the backup user, as a
# database's own user (postgres) would on a real node.
if ! getent passwd 2050 >/dev/null 2>&1; then
	getent group 2050 >/dev/null 2>&1 || $sudo groupadd --system --gid 2050 bakc-test
	$sudo useradd --system --uid 2050 --gid 2050 --home-dir /var/empty --no-create-home --shell /usr/sbin/nologin bakc-test
fi

# The booted tier's Debian tree: built once (about a minute), then cached.
tree=$("$(dirname "$0")/booted-tree.sh")

echo "test-setup: ready (restic $(restic version | cut -d' ' -f2), restic $("$restic18" version | cut -d' ' -f2), $(nix-instantiate --version), $(systemd-analyze --version | head -n1), booted tree $tree)"
