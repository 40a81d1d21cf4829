# A node without ZFS that backs up over sftp to the NAS.
node "cluster-0" {
  address = "cluster-0.holthome.net"

  repository "nas-sftp" {
    url           = "sftp:restic@nas-1.holthome.net:/srv/restic/${node.name}"
    password_file = "/run/secrets/restic-password"
  }

  job "etcd" {
    paths    = ["/var/lib/etcd"]
    schedule = "hourly"
    retention {
      hourly = 24
      daily  = 7
    }
  }
}
