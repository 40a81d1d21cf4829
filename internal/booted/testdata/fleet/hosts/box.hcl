# The failure cases as units. The repository "disk" is a local one on its
# own disk (a tmpfs the test mounts at /srv/backup before the units
# start); "nas" is on nas-1, which is down.
node "box" {
  address = "box.test"
  nas     = "nas-1"

  zfs {
    datasets = { "/srv/data" = "tank/data" }
  }

  repository "disk" {
    path          = "/srv/backup/restic"
    mountpoint    = "/srv/backup"
    password_file = "/run/secrets/restic-password"
    init          = true
  }

  # On nas-1, which is down.
  repository "nas" {
    nfs {
      dataset    = "restic"
      mountpoint = "/mnt/nas-backup"
    }
    password_file = "/run/secrets/restic-password"
  }

  # A job of both repositories: with the NAS down, the disk still gets
  # its snapshot.
  job "split" {
    paths        = ["/srv/split"]
    repositories = ["nas", "disk"]
    schedule     = "daily"
  }

  # A ZFS job that the test stops, and kills, while its restic backup
  # runs (the test holds restic with SIGSTOP first).
  job "slow" {
    paths        = ["/srv/data"]
    repositories = ["disk"]
    snapshot     = "zfs"
    schedule     = "daily"
  }

  # A job whose pre_backup hook fails; its OnFailure= unit records that
  # it ran, with the failed unit's name (%n).
  job "hooked" {
    paths           = ["/etc/bakc"]
    repositories    = ["disk"]
    schedule        = "daily"
    on_failure_unit = "bakc-test-notify@%n.service"

    hook "pre_backup" {
      command = "echo 'the database is not ready' >&2; exit 3"
    }
  }
}
