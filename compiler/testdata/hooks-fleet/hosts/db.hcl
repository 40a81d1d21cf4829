node "db" {
  repository "usb" {
    path          = "/mnt/usb/restic"
    password_file = "/run/secrets/restic"
  }

  job "postgres" {
    paths = ["/var/lib/postgresql/dumps"]

    hook "pre_backup" {
      command  = "pg_dumpall > /var/lib/postgresql/dumps/all.sql"
      user     = "postgres"
      packages = ["postgresql"]
      path     = ["/usr/lib/postgresql/15/bin"]
      writes   = ["/var/lib/postgresql/dumps"]
    }

    post_backup = "rm -f /tmp/marker; echo done"
  }

  job "etc" {
    paths      = ["/etc"]
    on_failure = "echo \"$BAKC_ERROR\" | systemd-cat -t bakc"

    hook "pre_backup" {
      command = "/usr/local/bin/save-config > /var/backups/config.txt"
      writes  = ["/var/backups"]
    }
  }
}
