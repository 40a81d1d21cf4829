# A NixOS VM test for hosts with a real NixOS (nix flake check on Linux
# with KVM): a NAS configured by `bakc nas-plan --format nix` exports a ZFS
# dataset over NFS; a client imports bakc's module and its generated
# backup.nix, runs the backup service, restores the file with restic and
# runs the restore test service.
#
# fleet/ is the configuration; fleet/out/ holds what bakc generated from it
# (checked to be current by cmd/bakc's TestNixOSTestFleet).
{
  pkgs,
  self,
}:

pkgs.testers.runNixOSTest {
  name = "bakc-backup-restore";

  # The client imports bakc's module, which adds the overlay through
  # nixpkgs.overlays, as a user's host does; the test's nixpkgs must not be
  # read-only for that.
  node.pkgsReadOnly = false;

  nodes = {
    nas =
      { pkgs, ... }:
      {
        imports = [ ./fleet/out/nas/nas.nix ];
        boot.supportedFilesystems = [ "zfs" ];
        networking.hostId = "8425e349";
        virtualisation.emptyDiskImages = [ 1024 ];
        # The pool the NAS plan's parent dataset (tank/backup) lives in.
        systemd.services.bakc-test-pool = {
          wantedBy = [ "multi-user.target" ];
          before = [ "bakc-nas-client.service" ];
          requiredBy = [ "bakc-nas-client.service" ];
          after = [ "zfs-import.target" ];
          path = [ pkgs.zfs ];
          serviceConfig = {
            Type = "oneshot";
            RemainAfterExit = true;
          };
          script = ''
            zpool list tank || zpool create -O mountpoint=none tank /dev/vdb
          '';
        };
        networking.firewall.enable = false;
      };

    client =
      { ... }:
      {
        imports = [
          self.nixosModules.default
          ./fleet/out/client/backup.nix
        ];
        environment.systemPackages = [ pkgs.restic ];
        networking.firewall.enable = false;
      };
  };

  testScript = ''
    start_all()
    nas.wait_for_unit("bakc-nas-client.service")
    nas.wait_for_unit("nfs-server.service")
    client.wait_for_unit("multi-user.target")

    # Test data, and the repository password (never in the Nix store),
    # readable by the backup user so that the checks below can run restic
    # as that user: the export squashes root.
    client.succeed("mkdir -p /srv/data && echo 'hello from client' > /srv/data/file.txt")
    client.succeed(
      "install -d -m 0755 /run/secrets && printf test-password | install -o bakc -g bakc -m 0400 /dev/stdin /run/secrets/restic-password"
    )

    # The backup service: the repository is initialised on the NFS export
    # (init = true), written by the backup user's uid.
    client.succeed("systemctl start bakc-backup-data.service")
    client.succeed("test \"$(stat -c %u /mnt/backup/config)\" = 2049")
    restic = "runuser -u bakc -- restic -r /mnt/backup --password-file /run/secrets/restic-password --cache-dir /tmp/restic-cache"
    client.succeed(f"{restic} snapshots --tag job:data --host client --json | grep -q /srv/data")

    # A restore with plain restic, as the runbook prints it.
    client.succeed(f"{restic} restore latest --tag job:data --host client --target /tmp/restore --include /srv/data")
    client.succeed("grep -q 'hello from client' /tmp/restore/srv/data/file.txt")

    # The restore test service passes, and the timers are installed.
    client.succeed("systemctl start bakc-restore-test-nas.service")
    client.succeed("systemctl list-timers --all | grep -q bakc-backup-data.timer")
  '';
}
