package compiler

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/holthome/bakc/compiler/plan"
)

// TestSettingsMerge: the defaults block overrides the built-in defaults,
// a node's user/paths/monitoring override attribute by attribute, its
// verify/restore_test/prune replace the defaults' whole, and a
// repository's replace the node's.
func TestSettingsMerge(t *testing.T) {
	dir := writeFleet(t, map[string]string{
		"bakc.hcl": `
defaults {
  schedule         = "*-*-* 01:00"
  randomized_delay = "1h"
  exclude          = ["**/.cache"]
  retention {
    last = 3
  }
  user {
    uid = 3000
    gid = 3000
  }
  paths {
    log = "/var/log/bakc-backup"
  }
  monitoring {
    textfile_dir    = "/run/metrics"
    on_failure_unit = "notify@%n.service"
  }
  prune {
    schedule = "monthly"
  }
  verify {
    schedule         = "Sun 04:00"
    read_data_subset = "1/10"
  }
}
`,
		"hosts/a.hcl": `
node "a" {
  user {
    name = "backup"
  }
  paths {
    state = "/srv/bakc"
    docs  = "/srv/backup-docs"
  }
  monitoring {
    grace = "90min"
  }
  restore_test {
    files = 3
  }
  repository "local" {
    path          = "/srv/restic"
    password_file = "/run/secrets/restic"
  }
  repository "far" {
    url           = "rest:https://rest.example.net/a"
    password_file = "/run/secrets/restic"
    verify {
      schedule = "monthly"
    }
    prune {
      randomized_delay = "2h"
    }
  }
  job "x" {
    paths            = ["/x"]
    exclude          = ["/x/tmp"]
    exclude_defaults = false
    on_failure_unit  = "page-me.service"
    resources {
      memory_max = "25%"
    }
  }
  job "y" {
    paths = ["/y"]
    schedule = "hourly"
    randomized_delay = "0"
  }
}
`,
	})
	p := mustPlan(t, dir, "a")
	require.Equal(t, plan.User{Name: "backup", Group: "bakc", UID: 3000, GID: 3000}, p.User)
	require.Equal(t, plan.Paths{Plan: "/etc/bakc/plan.json", State: "/srv/bakc", Cache: "/var/cache/bakc", Log: "/var/log/bakc-backup", Docs: "/srv/backup-docs"}, p.Paths)
	require.Equal(t, plan.Monitoring{TextfileDir: "/run/metrics", ErrorLog: "/var/log/bakc-backup/errors.jsonl", OnFailureUnit: "notify@%n.service", Grace: "90min"}, p.Monitoring)

	wantRepos := []plan.Repository{
		{
			Name: "far", Kind: plan.KindREST, URL: "rest:https://rest.example.net/a", PasswordFile: "/run/secrets/restic",
			Prune:       plan.Prune{Schedule: plan.Schedule{Calendar: "Sun *-*-* 03:30:00", RandomizedDelay: "2h"}},
			Verify:      &plan.Verify{Schedule: plan.Schedule{Calendar: "monthly", RandomizedDelay: "1h"}},
			RestoreTest: &plan.RestoreTest{Schedule: plan.Schedule{Calendar: "*-*-01 04:30:00", RandomizedDelay: "1h"}, Files: 3},
		},
		{
			Name: "local", Kind: plan.KindLocal, URL: "/srv/restic", PasswordFile: "/run/secrets/restic",
			Prune:       plan.Prune{Schedule: plan.Schedule{Calendar: "monthly", RandomizedDelay: "1h"}},
			Verify:      &plan.Verify{Schedule: plan.Schedule{Calendar: "Sun 04:00", RandomizedDelay: "1h"}, ReadDataSubset: "1/10"},
			RestoreTest: &plan.RestoreTest{Schedule: plan.Schedule{Calendar: "*-*-01 04:30:00", RandomizedDelay: "1h"}, Files: 3},
		},
	}
	if diff := cmp.Diff(wantRepos, p.Repositories); diff != "" {
		t.Errorf("repositories (-want +got):\n%s", diff)
	}
	x, _ := p.Job("x")
	require.Equal(t, []string{"/x/tmp"}, x.Exclude, "exclude_defaults = false drops the defaults' excludes")
	require.Equal(t, "page-me.service", x.OnFailureUnit)
	require.Equal(t, plan.Resources{Nice: 10, IOSchedulingClass: "idle", MemoryMax: "25%"}, x.Resources)
	require.Equal(t, plan.Schedule{Calendar: "*-*-* 01:00", RandomizedDelay: "1h"}, x.Schedule)
	require.Equal(t, plan.Retention{Last: 3}, x.Retention)
	y, _ := p.Job("y")
	require.Equal(t, []string{"**/.cache"}, y.Exclude)
	require.Equal(t, plan.Schedule{Calendar: "hourly", RandomizedDelay: "0"}, y.Schedule)
}

// TestSnapshotDatasets: a ZFS job reads the dataset holding each path
// (longest mountpoint) and every declared dataset mounted below a path,
// sorted by mountpoint.
func TestSnapshotDatasets(t *testing.T) {
	dir := writeFleet(t, map[string]string{
		"bakc.hcl": "defaults {\n  retention {\n    daily = 1\n  }\n}\n",
		"hosts/a.hcl": `
node "a" {
  zfs {
    datasets = {
      "/"                 = "rpool/root"
      "/home"             = "rpool/home"
      "/home/alice"       = "rpool/home/alice"
      "/var/lib"          = "rpool/var"
      "/var/lib/postgres" = "rpool/pg"
      "/srv"              = "tank/srv"
    }
  }
  repository "r" {
    path          = "/backup/restic"
    password_file = "/run/secrets/restic"
  }
  job "j" {
    paths    = ["/home", "/var/lib/postgres/data", "/srv/www"]
    snapshot = "zfs"
  }
}
`,
	})
	p := mustPlan(t, dir, "a")
	j, _ := p.Job("j")
	// Not the root dataset: a path on it is an error (snapshot-of-root-dataset.txtar).
	want := []plan.Dataset{
		{Mountpoint: "/home", Name: "rpool/home"},
		{Mountpoint: "/home/alice", Name: "rpool/home/alice"},
		{Mountpoint: "/srv", Name: "tank/srv"},
		{Mountpoint: "/var/lib/postgres", Name: "rpool/pg"},
	}
	if diff := cmp.Diff(want, j.Datasets); diff != "" {
		t.Errorf("datasets (-want +got):\n%s", diff)
	}
	require.Equal(t, []string{"/home", "/srv/www", "/var/lib/postgres/data"}, j.Paths)
}
