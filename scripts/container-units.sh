#!/bin/sh
# Boots a Debian tree in systemd-nspawn (systemd 252 as PID 1) and runs
# bakc's units in it the way systemd runs them: how services that write a
# repository behind an automount behave (docs/nixos.md, "How bakc's units
# use the NFS mounts"), and an sftp repository as generated
# (docs/language.md, "ssh"). Root only; the tree is never changed (an
# overlay takes every write, and is removed afterwards).
#
#   scripts/container-units.sh idle-requires   RequiresMountsFor=, TimeoutIdleSec=5s
#   scripts/container-units.sh idle-wants      Wants=/After= the automount, TimeoutIdleSec=5s
#   scripts/container-units.sh idle-none       Wants=/After= the automount, no idle timeout
#       a service with PrivateMounts=yes, PrivateDevices=yes, NoNewPrivileges=yes
#       and ProtectSystem=strict holds a file of an automounted tmpfs open
#       and writes a line a second for 20 s
#   scripts/container-units.sh nas-down BAKC
#       compiles a node whose job "data" writes an NFS repository (its NAS
#       at 192.0.2.1, unreachable) and a local one standing in for the
#       cloud with the bakc binary BAKC, installs its `bakc units` output
#       and starts the backup while the NFS mount fails
#   scripts/container-units.sh sftp BAKC
#       compiles a node whose job "data" writes an sftp repository on an
#       sshd in the container (127.0.0.1:2222, root's sftp) with an ssh
#       block (a key made here, the sshd's host key), installs its `bakc
#       units` output and starts the backup; then again with a host key
#       line that is not the server's
#
# TREE (default ~/.cache/bakc/try-tree) is made by
#   debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus,restic,openssh-server bookworm TREE
# It prints the probe's lines: the service's result, and for nas-down and
# sftp the error log, the metrics and the repositories' snapshots.
set -eu

case=${1:?usage: container-units.sh idle-requires|idle-wants|idle-none|nas-down BAKC|sftp BAKC}
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

install_units() { # BAKC UNITS: as docs/nixos.md installs them on a host that is not NixOS
	install -m 0755 "$1" "$m/usr/local/bin/bakc"
	cp "$2"/*.service "$2"/*.timer "$s/"
	for u in "$2"/*.mount "$2"/*.automount; do
		[ -e "$u" ] && cp "$u" "$s/"
	done
	install -D -m 0644 "$2/plan.json" "$m/etc/bakc/plan.json"
	[ -e "$2/known_hosts" ] && install -D -m 0644 "$2/known_hosts" "$m/etc/bakc/known_hosts"
	install -D -m 0644 "$2/bakc-sysusers.conf" "$m/etc/sysusers.d/bakc.conf"
	install -D -m 0644 "$2/bakc-tmpfiles.conf" "$m/etc/tmpfiles.d/bakc.conf"
	for a in "$2"/*.automount; do
		[ -e "$a" ] && ln -sf "../$(basename "$a")" "$s/remote-fs.target.wants/$(basename "$a")"
	done
	install -d -m 0700 "$m/etc/bakc-secret"
	echo "correct horse battery staple" >"$m/etc/bakc-secret/password"
	chmod 0600 "$m/etc/bakc-secret/password"
	mkdir -p "$m/srv/data" && echo hello >"$m/srv/data/file"
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
	install_units "$bakc" "$units"
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
sftp)
	bakc=${2:?sftp needs the bakc binary}
	units=$work/units
	mkdir -p "$work/fleet/hosts" "$work/keys"
	ssh-keygen -q -t ed25519 -N "" -C "" -f "$work/keys/host"
	ssh-keygen -q -t ed25519 -N "" -C "" -f "$work/keys/client"
	ssh-keygen -q -t ed25519 -N "" -C "" -f "$work/keys/other"
	hostline="[127.0.0.1]:2222 $(cut -d' ' -f1,2 "$work/keys/host.pub")"
	otherline="[127.0.0.1]:2222 $(cut -d' ' -f1,2 "$work/keys/other.pub")"
	printf 'defaults {\n  retention {\n    daily = 7\n  }\n}\n' >"$work/fleet/bakc.hcl"
	fleet() { # KNOWN_HOSTS_LINE
		cat <<EOF
node "box" {
  repository "nas" {
    url           = "sftp://root@127.0.0.1:2222//srv/sftp-repo"
    password_file = "/etc/bakc-secret/password"
    init          = true
    ssh {
      identity_file = "/etc/bakc-secret/ssh-key"
      known_hosts   = ["$1"]
    }
  }
  job "data" {
    paths = ["/srv/data"]
  }
}
EOF
	}
	fleet "$hostline" >"$work/fleet/hosts/box.hcl"
	"$bakc" units "$work/fleet/hosts/box.hcl" -o "$units" --bakc /usr/local/bin/bakc
	install_units "$bakc" "$units"
	# The same node, declaring a host key that is not the server's.
	fleet "$otherline" >"$work/fleet/hosts/box.hcl"
	"$bakc" units "$work/fleet/hosts/box.hcl" -o "$work/wrong" --bakc /usr/local/bin/bakc
	install -D -m 0644 "$work/wrong/plan.json" "$m/etc/bakc-test/wrong/plan.json"
	install -D -m 0644 "$work/wrong/known_hosts" "$m/etc/bakc-test/wrong/known_hosts"
	install -m 0600 "$work/keys/client" "$m/etc/bakc-secret/ssh-key"
	install -d -m 0755 "$m/etc/bakc-test"
	install -m 0600 "$work/keys/host" "$m/etc/bakc-test/host"
	install -m 0644 "$work/keys/client.pub" "$m/etc/bakc-test/authorized_keys"
	printf 'ListenAddress 127.0.0.1:2222\nHostKey /etc/bakc-test/host\nAuthorizedKeysFile /etc/bakc-test/authorized_keys\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\nPermitRootLogin prohibit-password\nSubsystem sftp internal-sftp\n' >"$m/etc/bakc-test/sshd_config"
	cat >"$s/bakc-test-sshd.service" <<'EOF'
[Unit]
Description=the sftp server the repository is on
[Service]
RuntimeDirectory=sshd
ExecStart=/usr/sbin/sshd -D -e -f /etc/bakc-test/sshd_config
[Install]
WantedBy=multi-user.target
EOF
	ln -sf ../bakc-test-sshd.service "$s/multi-user.target.wants/bakc-test-sshd.service"
	probe <<'EOF'
for i in 1 2 3 4 5 6 7 8 9 10; do systemctl is-active -q bakc-test-sshd.service && break; sleep 0.5; done
t0=$(date +%s)
systemctl start bakc-backup-data.service
echo "PROBE systemctl start: exit $? after $(($(date +%s) - t0)) s"
systemctl show -p Result,ExecMainStatus bakc-backup-data.service | sed 's/^/PROBE /'
ls /srv/sftp-repo/snapshots | sed 's/^/PROBE snapshot file in the repository: /'
grep -h '^bakc_backup_last_success' /var/lib/node_exporter/textfile_collector/*.prom | sed 's/^/PROBE metric: /'
journalctl -b --no-pager -o cat -u bakc-backup-data.service | grep -i 'ssh\|run ends\|failure' | sed 's/^/PROBE journal: /'
# The node now declares a host key that is not the server's.
cp /etc/bakc-test/wrong/plan.json /etc/bakc-test/wrong/known_hosts /etc/bakc/
systemctl start bakc-backup-data.service
echo "PROBE with a wrong host key, systemctl start: exit $?"
sed 's/^/PROBE error log: /' /var/log/bakc/errors.jsonl
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
