// Package unitstest gives the emitters' tests their plans: the example
// fleet's plans (examples/homelab/out/<node>/plan.json) and a hostile
// plan whose every value that reaches a unit or Nix has quotes, %, $,
// ${, backslashes and spaces in it.
package unitstest

import (
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"testing"

	"github.com/holthome/bakc/compiler"
	"github.com/holthome/bakc/compiler/plan"
)

// ExamplesDir is examples/homelab/out in the source tree.
func ExamplesDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "examples", "homelab", "out")
}

// Example is one example node: its name, its plan and the folder its
// golden outputs live in.
type Example struct {
	Node string
	Plan *plan.Plan
	Dir  string
}

// Examples returns every example node that has a plan, sorted by name.
// The hand-written forge plan is always among them.
func Examples(t testing.TB) []Example {
	t.Helper()
	matches, err := filepath.Glob(filepath.Join(ExamplesDir(), "*", "plan.json"))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(matches)
	var out []Example
	for _, m := range matches {
		p, err := plan.ReadFile(m)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, Example{Node: filepath.Base(filepath.Dir(m)), Plan: p, Dir: filepath.Dir(m)})
	}
	if len(out) == 0 {
		t.Fatalf("no example plans under %s", ExamplesDir())
	}
	return out
}

// Hostile strings, each carried into a different field.
const (
	HostileDescription = `Nightly "full" 100% of $HOME, ${x} and C:\backup; it's 'quoted' #1`
	HostileMountpoint  = `/mnt/nas "q" 100% $x ${y} back\slash`
	HostileLocalRepo   = `/srv/restic repo/it's 50%/${z}`
	// HostileDocs is the docs folder the runbook is linked into.
	HostileDocs = `/srv/backup docs/it's 100% ${d} "q"`
	// HostileKnownHosts is a known_hosts line whose comment has what Nix
	// and systemd read specially.
	HostileKnownHosts = "[nas.example.net]:2222 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOq8B0VF0d9ZVPFtGJed4g7hoAs6BjzRCeE/yjuYM3Se it's ''${x} 100% \\ \"q\""
	HostileState      = `/var/lib/bakc state/%i`
	HostilePlanPath   = `/etc/bakc/plan $1 "x" 100%.json`
	HostileServer     = `nas-1.example.net`
	HostileExport     = `/mnt/backup/host/restic`
	HostileOnFailure  = `notify-failure@%n.service`
	HostileWrites     = `/srv/dumps "q" 100% $x`
	HostilePathDir    = `/opt/pg 15/bin "q" 100%`
)

// Hostile returns a plan with a hostile value in every field that
// reaches a unit file or Nix and can be carried there: two jobs (one
// with a ZFS snapshot), an NFS, a local and a b2 repository.
func Hostile() *plan.Plan {
	sched := func(c string) plan.Schedule { return plan.Schedule{Calendar: c, RandomizedDelay: "15min"} }
	res := plan.Resources{Nice: 5, IOSchedulingClass: "best-effort", CPUQuota: "50%", MemoryMax: "80%", TimeoutStart: "2h 30min"}
	return &plan.Plan{
		Version: plan.Version,
		Source:  "hosts/hostile.hcl",
		Node: plan.Node{
			Name: "hostile", Address: "hostile.example.net", NAS: "nas-1",
			Datasets: []plan.Dataset{{Mountpoint: "/srv/data", Name: "tank/data"}},
		},
		User: plan.User{Name: "bakc", Group: "bakc", UID: 2049, GID: 2049},
		Paths: plan.Paths{
			Plan:  HostilePlanPath,
			State: HostileState,
			Cache: "/var/cache/bakc",
			Log:   "/var/log/bakc",
			// Next to the plan, as the compiler puts it.
			KnownHosts: "/etc/bakc/known_hosts",
			Docs:       HostileDocs,
		},
		Monitoring: plan.Monitoring{
			TextfileDir:   "/var/lib/node_exporter/textfile collector",
			ErrorLog:      "/var/log/bakc/errors.jsonl",
			OnFailureUnit: HostileOnFailure,
		},
		Repositories: []plan.Repository{
			{
				Name: "cloud", Kind: plan.KindB2, URL: "b2:bucket:/hostile",
				PasswordFile: "/run/secrets/restic password", EnvironmentFile: "/run/secrets/b2 env",
				Prune: plan.Prune{Schedule: sched("weekly")},
			},
			{
				Name: "far", Kind: plan.KindSFTP, URL: "sftp://restic@nas.example.net:2222//srv/restic",
				PasswordFile: "/run/secrets/restic password",
				SSH: &plan.SSH{User: "restic", Host: "nas.example.net", Port: "2222",
					IdentityFile: "/run/secrets/ssh-key", KnownHostsFile: "/etc/bakc/known_hosts",
					KnownHosts: []string{HostileKnownHosts}},
				Prune: plan.Prune{Schedule: sched("weekly")},
			},
			{
				Name: "local", Kind: plan.KindLocal, URL: HostileLocalRepo,
				PasswordFile: "/run/secrets/restic password",
				Prune:        plan.Prune{Schedule: sched("Sun *-*-* 04:00:00")},
				RestoreTest:  &plan.RestoreTest{Schedule: sched("monthly"), Files: 3},
			},
			{
				Name: "nas", Kind: plan.KindNFS, URL: HostileMountpoint,
				PasswordFile: "/run/secrets/restic password",
				NFS: &plan.NFSMount{
					NAS: "nas-1", Server: HostileServer, Dataset: "backup/hostile/restic",
					Export: HostileExport, Mountpoint: HostileMountpoint,
					Options: []string{"_netdev", "nfsvers=4.2", "noatime", "noauto", "x-systemd.automount", "x-systemd.idle-timeout=600", "x-systemd.mount-timeout=30s"},
				},
				Prune:  plan.Prune{Schedule: sched("weekly")},
				Verify: &plan.Verify{Schedule: sched("weekly"), ReadDataSubset: "10%"},
			},
		},
		Jobs: []plan.Job{
			{
				Name: "media", Description: HostileDescription,
				Paths:        []string{"/srv/media files"},
				Repositories: []string{"cloud", "far", "local", "nas"},
				Schedule:     sched("*-*-* 01:30:00"),
				Retention:    plan.Retention{Daily: 7},
				Tags:         []string{"job:media"}, JobTag: "job:media",
				Snapshot:  plan.SnapshotNone,
				Resources: res,
				Hooks: plan.Hooks{
					PreBackup: `pg_dump "media" > '/srv/dumps "q" 100% $x/media.sql'`,
					Needs: map[string]plan.Needs{plan.HookPreBackup: {
						User:     "bakc",
						Packages: []string{"postgresql", "python3Packages.psycopg"},
						Path:     []string{HostilePathDir},
						Writes:   []string{HostileWrites},
					}},
				},
			},
			{
				Name:         "system",
				Paths:        []string{"/srv/data"},
				Repositories: []string{"nas"},
				Schedule:     sched("daily"),
				Retention:    plan.Retention{Daily: 7},
				Tags:         []string{"job:system"}, JobTag: "job:system",
				Snapshot: plan.SnapshotZFS,
				Datasets: []plan.Dataset{{Mountpoint: "/srv/data", Name: "tank/data"}},
				Dumps: []plan.Dump{{
					Name: "db", Command: []string{"pg_dumpall", "--clean"}, Filename: "db/all 100% $x.sql", Tag: "dump:db",
					RestoreCommand: []string{"psql", "-d", "it's"},
					Needs:          plan.Needs{User: "postgres", Packages: []string{"postgresql"}},
				}},
				Resources:     plan.Resources{Nice: 10, IOSchedulingClass: "idle"},
				OnFailureUnit: "page-oncall.service",
			},
		},
	}
}

// StandInProgram is the program of the stand-in units of WriteStandIns.
const StandInProgram = "/usr/local/bin/stand-in"

// WriteStandIns creates the units a hostile plan's OnFailure= names, so
// that systemd-analyze verify can resolve them, in dir.
func WriteStandIns(t testing.TB, dir string) {
	t.Helper()
	for name, data := range map[string]string{
		"notify-failure@.service": "[Unit]\nDescription=Notify about %i\n\n[Service]\nType=oneshot\nExecStart=" + StandInProgram + "\n",
		"page-oncall.service":     "[Unit]\nDescription=Page\n\n[Service]\nType=oneshot\nExecStart=" + StandInProgram + "\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// HooksFleetPlan is the plan of node db of compiler/testdata/hooks-fleet:
// hooks written as blocks (a user, packages, PATH folders, writes) and as
// attributes, compiled by the real compiler.
func HooksFleetPlan(t testing.TB) *plan.Plan {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	f, diags := compiler.LoadFleet(filepath.Join(filepath.Dir(file), "..", "..", "..", "compiler", "testdata", "hooks-fleet"))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	p, diags := f.Plan("db")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	return p
}
