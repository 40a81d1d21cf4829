# The booted tier's own fleet (internal/booted, docs/testing.md): nodes for
# what the example fleet does not have, each compiled with `bakc units`
# and run under the machine's systemd like the example's.
#
#   hosts/box.hcl   the failure cases: a hook that fails, OnFailure=, a
#                   ZFS job stopped and killed while restic runs, a NAS
#                   that is down next to a repository that works
#   hosts/hive.hcl  eight jobs sharing one repository that they
#                   initialise themselves (init = true)

# A NAS that is down: the machine has no NFS client, so its export never
# mounts.
nas "nas-1" {
  address    = "nas-1.test"
  parent     = "backup"
  mount_root = "/mnt/backup"

  dataset "restic" {
    quota  = "10G"
    export = "nfs"
  }
}

defaults {
  retention {
    daily  = 7
    weekly = 4
  }
}
