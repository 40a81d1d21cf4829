#!/bin/sh
# Installs and starts everything the tests use, on a fresh Debian machine
# (as root, or with sudo): restic from Debian (0.14) and restic 0.18.1 built
# from source (NixOS ships 0.18), zfs-fuse with its daemon running, nix-bin
# for nix-instantiate, systemd for systemd-analyze, openssh for sftp tests,
# gcc to compare the calendar's port of mktime with the C library's.
# Safe to run again: it skips what is already there.
set -eu

cache="${BAKC_CACHE_DIR:-$HOME/.cache/bakc}"
restic18="$cache/restic-0.18.1/restic"

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"

need=""
for pair in restic:restic zfs:zfs-fuse nix-instantiate:nix-bin \
	systemd-analyze:systemd sshd:openssh-server ssh:openssh-client \
	ssh-keygen:openssh-client hyperfine:hyperfine fusermount:fuse \
	nsenter:util-linux setpriv:util-linux useradd:passwd cc:gcc; do
	cmd=${pair%%:*}
	pkg=${pair#*:}
	if ! command -v "$cmd" >/dev/null 2>&1 && ! [ -x "/usr/sbin/$cmd" ]; then
		need="$need $pkg"
	fi
done
# GNU time, for the benchmark scripts' peak memory (bench/).
[ -x /usr/bin/time ] || need="$need time"
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

# zfs-fuse: the daemon must run for zpool/zfs to work. It needs /dev/fuse.
if ! zpool list >/dev/null 2>&1; then
	echo "test-setup: starting zfs-fuse"
	$sudo zfs-fuse
	i=0
	until zpool list >/dev/null 2>&1; do
		i=$((i + 1))
		[ $i -lt 50 ] || { echo "test-setup: zfs-fuse did not start" >&2; exit 1; }
		sleep 0.2
	done
fi

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

echo "test-setup: ready (restic $(restic version | cut -d' ' -f2), restic $("$restic18" version | cut -d' ' -f2), $(nix-instantiate --version), $(systemd-analyze --version | head -n1))"
