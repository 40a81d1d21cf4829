node "web" {
  repository "local" {
    path          = "/srv/restic/web"
    password_file = "/run/secrets/restic"
  }

  # The test points this repository at a folder that does not exist.
  repository "gone" {
    path          = "/srv/restic/gone"
    password_file = "/run/secrets/restic"
  }

  job "daily" {
    paths        = ["/srv/data"]
    repositories = ["local"]
    schedule     = "daily"
  }

  job "hourly" {
    paths            = ["/srv/data"]
    repositories     = ["local"]
    schedule         = "hourly"
    randomized_delay = "5m"

    retention {
      hourly = 24
    }
  }

  job "broken" {
    paths        = ["/srv/data"]
    repositories = ["gone"]
    schedule     = "daily"
  }

  verify {
    read_data_subset = "5%"
  }

  restore_test {
    files = 1
  }
}
