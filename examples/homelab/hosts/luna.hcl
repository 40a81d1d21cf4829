# A new node: one host file, then `bakc compile` and `bakc nas-plan luna`.
node "luna" {
  address = "luna.holthome.net"
  nas     = "nas-1"

  zfs {
    datasets        = { "/var/lib" = "tank/state" }
    replication_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIElRYuC2Xud34ga4jP7CwPz8oKWSDCnrRfQF3/A9j1C root@luna"
  }

  repository "nas" {
    nfs {
      dataset    = "restic"
      mountpoint = "/mnt/nas-backup"
    }
    password_file = "/run/secrets/restic-password"
  }

  job "state" {
    paths    = ["/var/lib"]
    schedule = "*-*-* 02:30:00"
    snapshot = "zfs"
  }
}
