#!/bin/sh
# Boots a Debian tree in systemd-nspawn (systemd 252 as PID 1) to show
# how services that write a repository behind an automount behave; the
# facts behind bakc's mount dependencies (docs/nixos.md, "How bakc's
# units use the NFS mounts"). Root only; the tree is never changed (an
# overlay takes every write, and is removed afterwards).
#
#   scripts/container-mounts.sh idle-requires   RequiresMountsFor=, TimeoutIdleSec=5s
#   scripts/container-mounts.sh idle-wants      Wants=/After= the automount, TimeoutIdleSec=5s
#   scripts/container-mounts.sh idle-none       Wants=/After= the automount, no idle timeout
#       a service with PrivateMounts=yes, PrivateDevices=yes, NoNewPrivileges=yes
#       and ProtectSystem=strict holds a file of an automounted tmpfs open
#       and writes a line a second for 20 s
#   scripts/container-mounts.sh nas-down BAKC
#       compiles a node whose job "data" writes an NFS repository (its NAS
#       at 192.0.2.1, unreachable) and a local one standing in for the
#       cloud with the bakc binary BAKC, installs its `bakc units` output
#       and starts the backup while the NFS mount fails
#
# TREE (default ~/.cache/bakc/try-tree) is made by
#   debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus,restic bookworm TREE
# It prints the probe's lines: the service's result, and for nas-down the
# error log, the metrics and the second repository's snapshots.
set -eu

case=${1:?usage: container-mounts.sh idle-requires|idle-wants|idle-none|nas-down [BAKC]}
tree=${TREE:-$HOME/.cache/bakc/try-tree}
[ -d "$tree/etc/systemd" ] || { echo "no systemd tree at $tree (set TREE)" >&2; exit 2; }

work=$(mktemp -d /tmp/bakc-container-XXXXXX)
m=$work/merged
mkdir -p "$work/upper" "$work/work" "$m"
mount -t overlay overlay -o "lowerdir=$tree,upperdir=$work/upper,workdir=$work/work" "$m"
trap 'umount "$m"; rm -rf "$work"' EXIT
s=$m/etc/systemd/system
mkdir -p "$s/multi-user.target.wants" "$s/remote-fs.target.wants"
# Only the probe runs; nothing else the tree enables.
find "$s/multi-user.target.wants" -type l -name '*.service' -delete

probe() { # the shell command of the probe, then it powers off
	cat >"$s/probe.service" <<EOF
[Unit]
Description=probe
After=multi-user.target remote-fs.target systemd-tmpfiles-setup.service systemd-sysusers.service
[Service]
Type=oneshot
StandardOutput=journal+console
StandardError=journal+console
ExecStart=/bin/sh /probe.sh
ExecStartPost=/bin/systemctl poweroff --no-block
[Install]
WantedBy=multi-user.target
EOF
	ln -sf ../probe.service "$s/multi-user.target.wants/probe.service"
	cat >"$m/probe.sh"
}

case $case in
idle-*)
	cat >"$s/mnt-repo.mount" <<'EOF'
[Unit]
Description=stand-in for an NFS repository
[Mount]
What=tmpfs
Where=/mnt/repo
Type=tmpfs
EOF
	idle="TimeoutIdleSec=5s"
	[ "$case" = idle-none ] && idle=""
	printf '[Unit]\nDescription=automount of the stand-in\n[Automount]\nWhere=/mnt/repo\n%s\n[Install]\nWantedBy=remote-fs.target\n' "$idle" >"$s/mnt-repo.automount"
	ln -sf ../mnt-repo.automount "$s/remote-fs.target.wants/mnt-repo.automount"
	if [ "$case" = idle-requires ]; then
		deps="RequiresMountsFor=/mnt/repo" rw="ReadWritePaths=/mnt/repo"
	else
		deps="Wants=mnt-repo.automount
After=mnt-repo.automount" rw="ReadWritePaths=-/mnt/repo"
	fi
	cat >"$s/longbackup.service" <<EOF
[Unit]
Description=a backup that holds a file of the repository open for 20 s
$deps
[Service]
Type=oneshot
PrivateMounts=yes
PrivateDevices=yes
PrivateTmp=yes
NoNewPrivileges=yes
ProtectSystem=strict
$rw
ExecStart=/bin/sh -c 'exec 3>>/mnt/repo/progress; for i in \$\$(seq 20); do echo \$\$i >&3 || exit 1; sleep 1; done; echo "20 lines written"'
EOF
	probe <<'EOF'
t0=$(date +%s)
systemctl start longbackup.service
echo "PROBE systemctl start: exit $? after $(($(date +%s) - t0)) s"
systemctl show -p Result,ExecMainStatus longbackup.service | sed 's/^/PROBE /'
echo "PROBE lines in the repository now: $(wc -l </mnt/repo/progress 2>&1)"
journalctl -b --no-pager -o short-monotonic -u longbackup.service -u mnt-repo.mount -u mnt-repo.automount | sed 's/^/PROBE /'
EOF
	;;
nas-down)
	bakc=${2:?nas-down needs the bakc binary}
	units=$work/units
	mkdir -p "$work/fleet/hosts"
	cat >"$work/fleet/bakc.hcl" <<'EOF'
nas "nas-1" {
  address    = "192.0.2.1"
  parent     = "backup"
  mount_root = "/mnt/backup"
  dataset "restic" {
    quota  = "10G"
    export = "nfs"
  }
}
defaults {
  retention {
    daily = 7
  }
}
EOF
	cat >"$work/fleet/hosts/box.hcl" <<'EOF'
node "box" {
  address = "box.example.net"
  nas     = "nas-1"
  repository "nas" {
    nfs {
      dataset    = "restic"
      mountpoint = "/mnt/nas-backup"
    }
    password_file = "/etc/bakc-secret/password"
  }
  repository "cloud" {
    path          = "/srv/cloud-standin"
    password_file = "/etc/bakc-secret/password"
    init          = true
  }
  job "data" {
    paths = ["/srv/data"]
  }
}
EOF
	"$bakc" units "$work/fleet/hosts/box.hcl" -o "$units" --bakc /usr/local/bin/bakc
	# As docs/nixos.md installs them on a host that is not NixOS.
	install -m 0755 "$bakc" "$m/usr/local/bin/bakc"
	cp "$units"/*.service "$units"/*.timer "$units"/*.mount "$units"/*.automount "$s/"
	install -D -m 0644 "$units/plan.json" "$m/etc/bakc/plan.json"
	install -D -m 0644 "$units/bakc-sysusers.conf" "$m/etc/sysusers.d/bakc.conf"
	install -D -m 0644 "$units/bakc-tmpfiles.conf" "$m/etc/tmpfiles.d/bakc.conf"
	for a in "$units"/*.automount; do
		ln -sf "../$(basename "$a")" "$s/remote-fs.target.wants/$(basename "$a")"
	done
	install -d -m 0700 "$m/etc/bakc-secret"
	echo "correct horse battery staple" >"$m/etc/bakc-secret/password"
	chmod 0600 "$m/etc/bakc-secret/password"
	mkdir -p "$m/srv/data" && echo hello >"$m/srv/data/file"
	probe <<'EOF'
t0=$(date +%s)
systemctl start bakc-backup-data.service
echo "PROBE systemctl start: exit $? after $(($(date +%s) - t0)) s"
systemctl show -p Result,ExecMainStatus bakc-backup-data.service | sed 's/^/PROBE /'
sed 's/^/PROBE error log: /' /var/log/bakc/errors.jsonl
grep -h '^bakc_backup_last_success' /var/lib/node_exporter/textfile_collector/*.prom | sed 's/^/PROBE metric: /'
RESTIC_PASSWORD_FILE=/etc/bakc-secret/password restic -r /srv/cloud-standin snapshots --no-cache 2>&1 | sed 's/^/PROBE second repository: /'
journalctl -b --no-pager -o cat -u bakc-backup-data.service -u 'mnt-nas\x2dbackup.mount' -u 'mnt-nas\x2dbackup.automount' | sed 's/^/PROBE journal: /'
EOF
	;;
*)
	echo "unknown case $case" >&2
	exit 2
	;;
esac

timeout 300 systemd-nspawn -D "$m" --register=no --keep-unit -b \
	--bind=/dev/fuse --bind=/dev/autofs --private-network >"$work/console" 2>&1 || true
grep 'PROBE' "$work/console" | sed 's/^.*PROBE /PROBE /'
