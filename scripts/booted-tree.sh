#!/bin/sh
# The Debian bookworm tree that the booted-systemd test tier
# (internal/booted, docs/testing.md) boots with systemd-nspawn: systemd
# 252 as PID 1, zfs-fuse, sshd, PostgreSQL, Debian's restic (0.14) and sanoid.
#
#   booted-tree.sh          build the tree unless it is there; print its path
#   booted-tree.sh --path   print the path only (the tests ask this)
#
# The tree is built once into $BAKC_CACHE_DIR/nspawn/bookworm-<key>, where
# <key> hashes the recipe version, the suite and the packages: changing
# either builds a new tree. It is built into a temporary folder and renamed
# when complete, so an interrupted build never looks done. The tests never
# write into it: each boot mounts an overlay over it.
set -eu

# Bump when the steps below change in a way the package list does not show.
recipe=1
suite=bookworm
mirror="${BAKC_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
packages="systemd systemd-sysv dbus zfs-fuse openssh-server openssh-client
postgresql sqlite3 restic procps iproute2 util-linux sanoid"

cache="${BAKC_CACHE_DIR:-$HOME/.cache/bakc}"
key=$(printf '%s\n' "recipe=$recipe" "suite=$suite" $packages | sha256sum | cut -c1-12)
tree="$cache/nspawn/$suite-$key"

if [ "${1:-}" = "--path" ]; then
	echo "$tree"
	exit 0
fi
if [ -d "$tree" ]; then
	echo "$tree"
	exit 0
fi

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"

mkdir -p "$cache/nspawn"
# One build at a time; a second caller waits and then finds the tree.
exec 9>"$cache/nspawn/.lock"
flock 9
if [ -d "$tree" ]; then
	echo "$tree"
	exit 0
fi
# Left by an interrupted build (under the lock, so no build is running).
$sudo rm -rf "$tree".partial.*

partial="$tree.partial.$$"
echo "booted-tree: building $tree (debootstrap $suite, about 1 to 4 minutes)" >&2
$sudo debootstrap --variant=minbase --include="$(echo $packages | tr ' ' ',')" \
	"$suite" "$partial" "$mirror" >&2

# Debian's zfs-fuse.service (an init-script wrapper) fails in a container;
# the tests start the daemon from a unit of their own (internal/booted).
$sudo ln -sf /dev/null "$partial/etc/systemd/system/zfs-fuse.service"
# The downloaded packages are not needed any more.
$sudo rm -f "$partial"/var/cache/apt/archives/*.deb

$sudo mv "$partial" "$tree"
echo "$tree"
