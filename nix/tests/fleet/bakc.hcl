# The fleet of the NixOS VM test (nix/tests/backup-restore.nix): one NAS
# exporting a folder over NFS, one client backing up to it.

nas "nas" {
  address    = "nas"
  parent     = "tank/backup"
  mount_root = "/export"

  dataset "restic" {
    export = "nfs"
  }
}

defaults {
  retention {
    daily = 7
  }
}
