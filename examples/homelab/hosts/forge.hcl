node "forge" {
  address = "forge.holthome.net"
  nas     = "nas-1"

  zfs {
    datasets = {
      "/home"    = "rpool/safe/home"
      "/persist" = "rpool/safe/persist"
    }

    # nas-1 pulls both datasets every hour into backup/forge/zfs-recv;
    # sanoid snapshots them here and prunes both sides.
    replication {
      host_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIACbE1vw7nszp8Qhn8bKeXZkWdma59rHcW+qOtwR9PBH root@forge" # /etc/ssh/ssh_host_ed25519_key.pub

      snapshots { # on forge
        hourly  = 24
        daily   = 7
        weekly  = 1
        monthly = 1
      }

      keep { # on nas-1
        hourly  = 24
        daily   = 30
        weekly  = 8
        monthly = 12
      }
    }
  }

  repository "nas-primary" {
    nfs {
      dataset    = "restic"
      mountpoint = "/mnt/nas"
    }
    # A sops-nix secret: backup.nix declares it (owner, mode, path) and
    # the plan names only the path it is decrypted to.
    password_file = { sops = "secrets/forge.yaml", key = "restic/password" }
  }

  # Off-site copy of what cannot be had again. default = false: only the
  # jobs that list it write here (the hourly databases job does not
  # upload every hour), and it keeps less than the NAS.
  repository "cloud-secondary" {
    url              = "b2:bucket-name:/${node.name}"
    password_file    = { sops = "secrets/forge.yaml", key = "restic/password" }
    environment_file = { sops = "secrets/forge.yaml", key = "restic/b2-credentials" }
    default          = false

    retention {
      daily   = 7
      weekly  = 4
      monthly = 3
    }
  }

  job "system" {
    description  = "Home folders and persistent state"
    paths        = ["/home", "/persist"]
    exclude      = ["/persist/var/lib/plex/**"] # added to defaults.exclude
    repositories = ["nas-primary"]
    schedule     = "daily"
    snapshot     = "zfs"

    # For a phone without Prometheus: a healthchecks.io check (pinged at
    # start, on success, on failure) and an ntfy topic on failure.
    notify {
      ping_url    = "https://hc-ping.com/0b4f7e2c-5d1a-4c59-9d0e-6f3f1b9a8c21"
      failure_url = "https://ntfy.sh/holthome-backups-4f9c2a"
    }
  }

  job "plex" {
    paths        = ["/persist/var/lib/plex"]
    repositories = ["nas-primary", "cloud-secondary"]
    schedule     = "weekly"
    exclude      = ["**/Plex Media Server/Cache/**", "**/Transcode/**"]
    tags         = ["plex", "media-metadata"]

    retention {
      weekly  = 4
      monthly = 3
      yearly  = 1
    }
  }

  # Lists no repositories: the node's default ones, so the NAS only.
  job "databases" {
    description = "PostgreSQL, dumped with pg_dumpall straight into restic"
    schedule    = "hourly"

    # Hourly runs need an hourly retention: with the defaults' (daily and
    # longer) restic would keep one dump a day.
    retention {
      hourly  = 24
      daily   = 14
      weekly  = 8
      monthly = 6
      yearly  = 2
    }

    # Streamed into restic's stdin as the postgres user: no dump file,
    # no files of the database folder read while it changes.
    dump "postgres" {
      command         = ["pg_dumpall"]
      user            = "postgres"
      filename        = "postgresql/all.sql"
      packages        = ["postgresql"]                 # backup.nix: pkgs.postgresql on the unit's path
      path            = ["/usr/lib/postgresql/15/bin"] # hosts without Nix (Debian's layout)
      restore_command = ["psql", "-X", "-d", "postgres"]
    }
  }

  # Maintenance keeps bakc's default schedules (Saturday and Sunday 03:30,
  # the 1st at 04:30), which never start with the backups above.
  verify {
    read_data_subset = "5%"
  }

  restore_test {
    files = 5
  }
}
