node "client" {
  address = "client"
  nas     = "nas"

  repository "nas" {
    nfs {
      dataset    = "restic"
      mountpoint = "/mnt/backup"
    }
    password_file = "/run/secrets/restic-password"
    init          = true
  }

  job "data" {
    description = "Test data"
    paths       = ["/srv/data"]
    schedule    = "daily"
  }

  restore_test {
    schedule = "weekly"
    files    = 1
  }
}
