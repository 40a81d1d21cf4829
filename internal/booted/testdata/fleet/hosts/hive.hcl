# Eight jobs into one repository that none of them finds initialised
# (init = true), all started at once; then four again at once with the
# repository's prune started while they run. The repository's disk is a
# tmpfs the test mounts at /srv/backup.
node "hive" {
  repository "shared" {
    path          = "/srv/backup/restic"
    mountpoint    = "/srv/backup"
    password_file = "/run/secrets/restic-password"
    init          = true
  }

  job "j1" {
    paths    = ["/srv/hive/j1"]
    schedule = "daily"
  }
  job "j2" {
    paths    = ["/srv/hive/j2"]
    schedule = "daily"
  }
  job "j3" {
    paths    = ["/srv/hive/j3"]
    schedule = "daily"
  }
  job "j4" {
    paths    = ["/srv/hive/j4"]
    schedule = "daily"
  }
  job "j5" {
    paths    = ["/srv/hive/j5"]
    schedule = "daily"
  }
  job "j6" {
    paths    = ["/srv/hive/j6"]
    schedule = "daily"
  }
  job "j7" {
    paths    = ["/srv/hive/j7"]
    schedule = "daily"
  }
  job "j8" {
    paths    = ["/srv/hive/j8"]
    schedule = "daily"
  }
}
