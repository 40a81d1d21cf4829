# A node without ZFS that backs up over sftp to the NAS.
node "cluster-0" {
  address = "cluster-0.holthome.net"

  repository "nas-sftp" {
    url           = "sftp:restic@nas-1.holthome.net:/srv/restic/${node.name}"
    password_file = "/run/secrets/restic-password"

    # restic's ssh runs as the backup user, whose home has no key and no
    # known_hosts: give it both. The host key line is what
    # `ssh-keyscan -t ed25519 nas-1.holthome.net` prints (checked on the NAS
    # with `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub`).
    #
    # This line is the example's: the key of the test tier's stand-in for
    # nas-1 (internal/booted/testdata/nas-1-ssh_host_ed25519_key, whose
    # private half is public too). Put your NAS's own line here.
    ssh {
      identity_file = "/run/secrets/restic-ssh-key"
      known_hosts = [
        "nas-1.holthome.net ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPwQJUxVQzzukR3dqaNkb0+UqdiDNJzgmwKZgsv8+an1",
      ]
    }
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
