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
    ssh {
      identity_file = "/run/secrets/restic-ssh-key"
      known_hosts = [
        "nas-1.holthome.net ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOq8B0VF0d9ZVPFtGJed4g7hoAs6BjzRCeE/yjuYM3Se",
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
