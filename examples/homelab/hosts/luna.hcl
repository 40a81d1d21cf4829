# A new node: one host file, then `bakc compile` and `bakc nas-plan luna`.
node "luna" {
  address = "luna.holthome.net"
  nas     = "nas-1"

  zfs {
    datasets = { "/var/lib" = "tank/state" }
  }

  repository "nas" {
    nfs {
      dataset    = "restic"
      mountpoint = "/mnt/nas"
    }
    password_file = "/run/secrets/restic-password"
  }

  job "state" {
    paths    = ["/var/lib"]
    schedule = "*-*-* 02:30:00"
    snapshot = "zfs"
  }
}
