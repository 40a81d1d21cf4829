# The holthome homelab: one NAS, three nodes.
#
# Compile one node:   bakc compile hosts/forge.hcl > backup.nix
# Check the fleet:    bakc validate
# The NAS side:       bakc nas-plan forge

nas "nas-1" {
  address    = "nas-1.holthome.net"
  parent     = "backup"      # node datasets become backup/<node>/<name>
  mount_root = "/mnt/backup" # where the parent is mounted on the NAS
  capacity   = "4T"

  # The NAS pulls the ZFS datasets of the nodes that replicate (hosts/forge.hcl)
  # with this key; the nodes let it in from the NAS's address only, to run
  # nothing but zfs send of their own datasets (docs/replication.md).
  replication {
    identity_file = "/run/secrets/bakc-replication-key" # on nas-1, never in the Nix store
    public_key    = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE+tGQwqeUpu/56CW5SZqVZTWlSU1cwkYDzKcBR1wEBr bakc@nas-1"
    from          = ["192.168.10.5"] # nas-1's address as the nodes see it; sshd matches no host names
  }

  dataset "restic" {
    quota       = "300G"
    compression = "lz4"
    atime       = "off"
    recordsize  = "1M"
    export      = "nfs" # exported read-write to the node that owns it
  }

  dataset "zfs-recv" {
    quota    = "500G"
    readonly = "on"
    receive  = true # the copies of a node's datasets, for the nodes that replicate
  }
}

defaults {
  exclude = [
    "**/.cache",
    "**/Cache",
    "**/node_modules",
    "**/target",
    "**/result",
    "**/*.tmp",
    "**/.direnv",
  ]

  retention {
    daily   = 14
    weekly  = 8
    monthly = 6
    yearly  = 2
  }

  # bakc alerts calls a task overdue after the longest gap between its
  # runs, its randomized delay and this grace: the longest a run takes.
  monitoring {
    grace = "2h"
  }

  resources {
    nice       = 10
    io_class   = "idle"
    cpu_quota  = "100%"
    memory_max = "4G"
    timeout    = "12h"
  }
}
