// Command genfleet writes a synthetic fleet for bakc's compiler
// benchmarks: N nodes with J jobs each, spread over NAS of 50 nodes,
// using most of the language (ZFS snapshots, NFS and cloud repositories,
// excludes, retention, resources, hooks, verify and restore tests). The
// output depends only on the flags, so figures can be compared run to
// run.
//
//	go run ./bench/genfleet -nodes 1000 -jobs 10 -out /tmp/fleet-1000
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// nodesPerNAS keeps each NAS's quota sum within its capacity.
const nodesPerNAS = 50

func main() {
	nodes := flag.Int("nodes", 100, "number of nodes")
	jobs := flag.Int("jobs", 10, "jobs per node")
	out := flag.String("out", "", "folder to write the fleet to (created; must not hold a fleet already)")
	flag.Parse()
	if *out == "" || *nodes < 1 || *jobs < 1 {
		fmt.Fprintln(os.Stderr, "usage: genfleet -nodes N -jobs J -out DIR")
		os.Exit(2)
	}
	if err := write(*out, *nodes, *jobs); err != nil {
		fmt.Fprintln(os.Stderr, "genfleet:", err)
		os.Exit(1)
	}
}

func write(out string, nodes, jobs int) error {
	if err := os.MkdirAll(filepath.Join(out, "hosts"), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(out, "bakc.hcl"), []byte(rootFile(nodes)), 0o644); err != nil {
		return err
	}
	for i := 1; i <= nodes; i++ {
		name := fmt.Sprintf("node-%05d", i)
		if err := os.WriteFile(filepath.Join(out, "hosts", name+".hcl"), []byte(hostFile(i, name, jobs)), 0o644); err != nil {
			return err
		}
	}
	return nil
}

func nasCount(nodes int) int { return (nodes + nodesPerNAS - 1) / nodesPerNAS }

func rootFile(nodes int) string {
	var b strings.Builder
	for n := 1; n <= nasCount(nodes); n++ {
		fmt.Fprintf(&b, `nas "nas-%d" {
  address    = "nas-%d.bench.example.net"
  parent     = "backup"
  mount_root = "/mnt/backup"
  capacity   = "40T"

  replication {
    identity_file = "/run/secrets/bakc-replication-key"
    public_key    = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE+tGQwqeUpu/56CW5SZqVZTWlSU1cwkYDzKcBR1wEBr bakc@nas"
    from          = ["192.0.2.%d"]
  }

  dataset "restic" {
    quota       = "300G"
    compression = "lz4"
    atime       = "off"
    recordsize  = "1M"
    export      = "nfs"
  }

  dataset "zfs-recv" {
    quota    = "500G"
    readonly = "on"
    receive  = true
  }
}

`, n, n, n)
	}
	b.WriteString(`defaults {
  exclude = ["**/.cache", "**/Cache", "**/node_modules", "**/target", "**/result", "**/*.tmp", "**/.direnv"]

  retention {
    hourly  = 24
    daily   = 14
    weekly  = 8
    monthly = 6
    yearly  = 2
  }

  resources {
    nice       = 10
    io_class   = "idle"
    cpu_quota  = "100%"
    memory_max = "4G"
    timeout    = "12h"
  }

  verify {
    schedule         = "weekly"
    read_data_subset = "5%"
  }
}
`)
	return b.String()
}

var schedules = []string{"daily", "hourly", "weekly", "*-*-* 02:30:00", "Mon..Fri 03:15", "*-*-* 00/4:00:00"}

func hostFile(i int, name string, jobs int) string {
	var b strings.Builder
	nas := (i-1)/nodesPerNAS + 1
	fmt.Fprintf(&b, `node %q {
  address = "${node.name}.bench.example.net"
  nas     = "nas-%d"

  zfs {
    datasets = {
`, name, nas)
	for j := 0; j < jobs; j++ {
		fmt.Fprintf(&b, "      \"/srv/app-%02d\" = \"tank/app-%02d\"\n", j, j)
	}
	b.WriteString(`      "/home" = "rpool/home"
    }
    replication {
      host_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIACbE1vw7nszp8Qhn8bKeXZkWdma59rHcW+qOtwR9PBH"
    }
  }

  repository "nas" {
    nfs {
      dataset    = "restic"
      mountpoint = "/mnt/nas-backup"
    }
    password_file = "/run/secrets/restic/password"
  }

  repository "cloud" {
    url              = "b2:bench-bucket:/${node.name}"
    password_file    = "/run/secrets/restic/password"
    environment_file = "/run/secrets/restic/b2-credentials"
  }

  restore_test {
    files = 5
  }
`)
	for j := 0; j < jobs; j++ {
		fmt.Fprintf(&b, `
  job "app-%02d" {
    description = "Application %d of ${node.name}"
    paths       = ["/srv/app-%02d/data", "/srv/app-%02d/config"]
    exclude     = ["/srv/app-%02d/data/tmp/**", "**/*.log"]
    schedule    = %q
    tags        = ["app", "bench"]
`, j, j, j, j, j, schedules[(i+j)%len(schedules)])
		if j%3 == 0 {
			b.WriteString("    snapshot    = \"zfs\"\n")
		}
		if j%2 == 1 {
			b.WriteString("    repositories = [\"nas\"]\n\n    retention {\n      hourly = 24\n      daily  = 7\n      weekly = 4\n    }\n")
		}
		if j%4 == 2 {
			fmt.Fprintf(&b, "    pre_backup  = \"pg_dump app%d > /srv/app-%02d/data/dump.sql\"\n", j, j)
		}
		b.WriteString("  }\n")
	}
	b.WriteString("}\n")
	return b.String()
}
