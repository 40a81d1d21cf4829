package units_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/emit/units"
	"github.com/holthome/bakc/emit/units/unitstest"
	"github.com/holthome/bakc/escape"
	"github.com/holthome/bakc/runtime/namespace"
	"github.com/holthome/bakc/runtime/snapshot"
	"github.com/stretchr/testify/require"
)

func forge(t *testing.T) *plan.Plan {
	for _, ex := range unitstest.Examples(t) {
		if ex.Node == "forge" {
			return ex.Plan
		}
	}
	t.Fatal("no forge example")
	return nil
}

func names(set *units.Set) []string {
	var out []string
	for _, u := range set.Units {
		out = append(out, u.Name)
	}
	return out
}

// TestForgeUnits: the forge example gets a service and a timer per job
// and per repository task, and the mounts of its NFS repository.
func TestForgeUnits(t *testing.T) {
	set, err := units.Build(forge(t))
	require.NoError(t, err)
	want := []string{
		"bakc-backup-databases.service", "bakc-backup-databases.timer",
		"bakc-backup-plex.service", "bakc-backup-plex.timer",
		"bakc-backup-system.service", "bakc-backup-system.timer",
		"bakc-prune-cloud-secondary.service", "bakc-prune-cloud-secondary.timer",
		"bakc-prune-nas-primary.service", "bakc-prune-nas-primary.timer",
		"bakc-restore-test-cloud-secondary.service", "bakc-restore-test-cloud-secondary.timer",
		"bakc-restore-test-nas-primary.service", "bakc-restore-test-nas-primary.timer",
		"bakc-verify-cloud-secondary.service", "bakc-verify-cloud-secondary.timer",
		"bakc-verify-nas-primary.service", "bakc-verify-nas-primary.timer",
		`mnt-nas.automount`, `mnt-nas.mount`,
	}
	if diff := cmp.Diff(want, names(set)); diff != "" {
		t.Errorf("units (-want +got):\n%s", diff)
	}
}

// values returns section → key → values of a unit.
func values(u *units.Unit) map[string]map[string][]string {
	out := map[string]map[string][]string{}
	for _, s := range u.Sections {
		out[s.Name] = map[string][]string{}
		for _, k := range s.Keys() {
			out[s.Name][k] = s.Values(k)
		}
	}
	return out
}

func TestServices(t *testing.T) {
	set, err := units.Build(forge(t))
	require.NoError(t, err)
	tests := []struct {
		unit    string
		section string
		key     string
		want    []string
	}{
		// Every service.
		{"bakc-backup-plex.service", "Service", "Type", []string{"oneshot"}},
		// After the network and the NFS repository's automount, which
		// it wants but does not require: a NAS that is down costs that
		// repository only (the runtime's preflight finds out).
		{"bakc-backup-plex.service", "Unit", "After", []string{"network-online.target", `mnt-nas.automount`}},
		{"bakc-backup-plex.service", "Unit", "Wants", []string{"network-online.target", `mnt-nas.automount`}},
		{"bakc-prune-cloud-secondary.service", "Unit", "After", []string{"network-online.target"}},
		{"bakc-prune-cloud-secondary.service", "Unit", "Wants", []string{"network-online.target"}},
		{"bakc-backup-plex.service", "Service", "ExecStart", []string{"run backup plex --plan /etc/bakc/plan.json"}},
		{"bakc-verify-nas-primary.service", "Service", "ExecStart", []string{"run verify nas-primary --plan /etc/bakc/plan.json"}},
		{"bakc-restore-test-cloud-secondary.service", "Service", "ExecStart", []string{"run restore-test cloud-secondary --plan /etc/bakc/plan.json"}},
		{"bakc-prune-cloud-secondary.service", "Service", "ExecStart", []string{"run prune cloud-secondary --plan /etc/bakc/plan.json"}},
		{"bakc-backup-plex.service", "Service", "ProtectSystem", []string{"strict"}},
		{"bakc-backup-plex.service", "Service", "PrivateMounts", []string{"yes"}},
		{"bakc-backup-plex.service", "Service", "PrivateTmp", []string{"yes"}},
		{"bakc-backup-plex.service", "Service", "NoNewPrivileges", []string{"yes"}},
		// A job without ZFS runs as the backup user, reading with
		// CAP_DAC_READ_SEARCH only.
		{"bakc-backup-plex.service", "Service", "User", []string{"bakc"}},
		{"bakc-backup-plex.service", "Service", "Group", []string{"bakc"}},
		{"bakc-backup-plex.service", "Service", "AmbientCapabilities", []string{"CAP_DAC_READ_SEARCH"}},
		{"bakc-backup-plex.service", "Service", "CapabilityBoundingSet", []string{"CAP_DAC_READ_SEARCH"}},
		// The ZFS snapshot job starts as root in a narrow bounding set.
		{"bakc-backup-system.service", "Service", "User", nil},
		{"bakc-backup-system.service", "Service", "CapabilityBoundingSet", []string{"CAP_CHOWN CAP_DAC_OVERRIDE CAP_DAC_READ_SEARCH CAP_FOWNER CAP_KILL CAP_SETGID CAP_SETUID CAP_SYS_ADMIN"}},
		{"bakc-backup-system.service", "Service", "DeviceAllow", []string{"/dev/zfs rw"}},
		// The dump runs as postgres: the service starts as root in a
		// bounding set without CAP_SYS_ADMIN, and its PATH on a plain host
		// has the declared folder first (NixOS: Unit.Packages instead).
		{"bakc-backup-databases.service", "Service", "User", nil},
		{"bakc-backup-databases.service", "Service", "CapabilityBoundingSet", []string{"CAP_CHOWN CAP_DAC_OVERRIDE CAP_DAC_READ_SEARCH CAP_FOWNER CAP_KILL CAP_SETGID CAP_SETUID"}},
		{"bakc-backup-databases.service", "Service", "PrivateDevices", []string{"yes"}},
		{"bakc-backup-databases.service", "Service", "Environment", []string{"PATH=/usr/lib/postgresql/15/bin:" + units.DefaultPath}},
		{"bakc-backup-plex.service", "Service", "Environment", nil},
		// Writable: the runtime's folders and the NFS repository, which
		// systemd skips when it is missing ("-"); the b2 repository has
		// no folder.
		{"bakc-backup-databases.service", "Service", "ReadWritePaths", []string{"-/mnt/nas", "/var/cache/bakc", "/var/lib/bakc", "/var/lib/node_exporter/textfile_collector", "/var/log/bakc"}},
		{"bakc-prune-cloud-secondary.service", "Service", "ReadWritePaths", []string{"/var/cache/bakc", "/var/lib/bakc", "/var/lib/node_exporter/textfile_collector", "/var/log/bakc"}},
		// Never RequiresMountsFor=: a failed mount would keep the
		// service from starting, and a stopped one would stop it.
		{"bakc-backup-databases.service", "Unit", "RequiresMountsFor", nil},
		{"bakc-prune-nas-primary.service", "Unit", "RequiresMountsFor", nil},
		// Resources from the job; maintenance at the lowest priority.
		{"bakc-backup-databases.service", "Service", "Nice", []string{"10"}},
		{"bakc-backup-databases.service", "Service", "IOSchedulingClass", []string{"idle"}},
		{"bakc-backup-databases.service", "Service", "CPUQuota", []string{"100%"}},
		{"bakc-backup-databases.service", "Service", "MemoryMax", []string{"4G"}},
		{"bakc-backup-databases.service", "Service", "TimeoutStartSec", []string{"12h"}},
		{"bakc-prune-nas-primary.service", "Service", "Nice", []string{"19"}},
		{"bakc-prune-nas-primary.service", "Service", "IOSchedulingClass", []string{"idle"}},
		// Timers.
		{"bakc-backup-databases.timer", "Timer", "OnCalendar", []string{"hourly"}},
		{"bakc-backup-databases.timer", "Timer", "Persistent", []string{"true"}},
		{"bakc-backup-databases.timer", "Timer", "RandomizedDelaySec", []string{"30m"}},
		// The same offset in the window every time, per machine and timer.
		{"bakc-backup-databases.timer", "Timer", "FixedRandomDelay", []string{"true"}},
		{"bakc-prune-nas-primary.timer", "Timer", "FixedRandomDelay", []string{"true"}},
		{"bakc-backup-databases.timer", "Install", "WantedBy", []string{"timers.target"}},
		// Maintenance on the half hour, away from the backups.
		{"bakc-restore-test-nas-primary.timer", "Timer", "OnCalendar", []string{"*-*-01 04:30:00"}},
		{"bakc-prune-nas-primary.timer", "Timer", "OnCalendar", []string{"Sun *-*-* 03:30:00"}},
		{"bakc-verify-nas-primary.timer", "Timer", "OnCalendar", []string{"Sat *-*-* 03:30:00"}},
		// No OnFailure= unless the configuration names a unit.
		{"bakc-backup-databases.service", "Unit", "OnFailure", nil},
	}
	for _, tt := range tests {
		t.Run(tt.unit+"/"+tt.key, func(t *testing.T) {
			u := set.Unit(tt.unit)
			require.NotNil(t, u, "no unit %s", tt.unit)
			got := values(u)[tt.section][tt.key]
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("[%s] %s (-want +got):\n%s", tt.section, tt.key, diff)
			}
		})
	}
	// Only ExecStart= carries the program.
	for _, u := range set.Units {
		for _, s := range u.Sections {
			for _, e := range s.Entries {
				if e.Program != (e.Key == "ExecStart") {
					t.Errorf("%s: %s Program=%v", u.Name, e.Key, e.Program)
				}
			}
		}
	}
	if !set.Unit("bakc-backup-system.service").RunsZFS || set.Unit("bakc-backup-plex.service").RunsZFS {
		t.Error("RunsZFS is set on the wrong services")
	}
}

func TestHostileValuesAreEscaped(t *testing.T) {
	set, err := units.Build(unitstest.Hostile())
	require.NoError(t, err)
	media := values(set.Unit("bakc-backup-media.service"))
	tests := []struct {
		section, key string
		want         []string
	}{
		{"Unit", "Description", []string{`bakc backup media: Nightly "full" 100%% of $HOME, ${x} and C:\backup; it's 'quoted' #1`}},
		{"Unit", "Wants", []string{"network-online.target", escape.SystemdUnitNameFromPath(unitstest.HostileMountpoint, ".automount")}},
		{"Unit", "RequiresMountsFor", nil},
		{"Unit", "OnFailure", []string{"notify-failure@%n.service"}},
		{"Service", "ExecStart", []string{`run backup media --plan "/etc/bakc/plan $$1 \"x\" 100%%.json"`}},
		{"Service", "TimeoutStartSec", []string{"2h 30min"}},
		{"Service", "CPUQuota", []string{"50%"}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, media[tt.section][tt.key]); diff != "" {
			t.Errorf("[%s] %s (-want +got):\n%s", tt.section, tt.key, diff)
		}
	}
	// A job's own OnFailure= wins over the node's.
	if diff := cmp.Diff([]string{"page-oncall.service"}, values(set.Unit("bakc-backup-system.service"))["Unit"]["OnFailure"]); diff != "" {
		t.Errorf("system OnFailure (-want +got):\n%s", diff)
	}
	wantTmpfiles := []string{
		`d "/srv/restic repo/it's 50%%/${z}" 0700 bakc bakc - -`,
		"d /var/cache/bakc 0750 bakc bakc - -",
		"d \"/var/lib/bakc state/%%i\" 0750 bakc bakc - -",
		`d "/var/lib/node_exporter/textfile collector" 0755 bakc bakc - -`,
		"d /var/log/bakc 0750 bakc bakc - -",
		// The docs folder the plan sets (paths.docs), quoted and with %
		// doubled, as every other path.
		`d "/srv/backup docs/it's 100%% ${d} \"q\"" 0755 root root - -`,
		`L+ "/srv/backup docs/it's 100%% ${d} \"q\"/runbook.md" - - - - /etc/bakc/runbook.md`,
		"d /run/bakc 0700 root root - -",
	}
	if diff := cmp.Diff(wantTmpfiles, set.Tmpfiles); diff != "" {
		t.Errorf("tmpfiles (-want +got):\n%s", diff)
	}
}

// TestDocsDefault: a plan without paths.docs (every plan before it)
// links the runbook into the seed's /var/lib/backup-docs.
func TestDocsDefault(t *testing.T) {
	p := unitstest.Hostile()
	p.Paths.Docs = ""
	set, err := units.Build(p)
	require.NoError(t, err)
	require.Contains(t, set.Tmpfiles, "d /var/lib/backup-docs 0755 root root - -")
	require.Contains(t, set.Tmpfiles, "L+ /var/lib/backup-docs/runbook.md - - - - /etc/bakc/runbook.md")
}

// TestWritablePathsOutermost: a folder inside another one of the list
// is not listed twice, and a sibling that only shares a prefix is kept.
func TestWritablePathsOutermost(t *testing.T) {
	p := unitstest.Hostile()
	p.Paths.State = "/var/lib/bakc"
	p.Paths.Cache = "/var/lib/bakc/cache"
	p.Paths.Log = "/var/lib/bakc log"
	p.Monitoring.ErrorLog = "/var/lib/bakc log/errors.jsonl"
	p.Monitoring.TextfileDir = "/var/lib/bakc/metrics"
	set, err := units.Build(p)
	require.NoError(t, err)
	got := values(set.Unit("bakc-prune-cloud.service"))["Service"]["ReadWritePaths"]
	if diff := cmp.Diff([]string{"/var/lib/bakc", `"/var/lib/bakc log"`}, got); diff != "" {
		t.Errorf("ReadWritePaths (-want +got):\n%s", diff)
	}
}

func TestMountOptions(t *testing.T) {
	p := unitstest.Hostile()
	nfs := p.Repositories[3].NFS
	nfs.Options = []string{"_netdev", "nfsvers=4.2"}
	set, err := units.Build(p)
	require.NoError(t, err)
	var mounts []string
	for _, u := range set.Units {
		if u.Repository != "" {
			mounts = append(mounts, u.Type())
		}
	}
	// Without x-systemd.automount: a mount wanted by remote-fs.target.
	if diff := cmp.Diff([]string{"mount"}, mounts); diff != "" {
		t.Errorf("mount units (-want +got):\n%s", diff)
	}
	for _, u := range set.Units {
		if u.Type() == "mount" {
			if got := values(&u)["Install"]["WantedBy"]; !cmp.Equal(got, []string{"remote-fs.target"}) {
				t.Errorf("mount WantedBy = %q", got)
			}
			if got := values(&u)["Mount"]["TimeoutSec"]; got != nil {
				t.Errorf("mount TimeoutSec = %q without x-systemd.mount-timeout", got)
			}
		}
	}
}

func TestBuildRejectsAll(t *testing.T) {
	p := unitstest.Hostile()
	p.Jobs[0].Description = "two\nlines"
	p.Jobs[1].Schedule.Calendar = ""
	p.Repositories[0].Name = "a b"
	_, err := units.Build(p)
	require.Error(t, err)
	for _, want := range []string{`job "media": description`, `job "system": schedule`, `repository "a b": name`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not name %s:\n%v", want, err)
		}
	}
}

// TestRunDirHoldsTheRuntimesMounts: the folder the ZFS backup services
// may write below /run is where the runtime puts its clones and share
// folders.
func TestRunDirHoldsTheRuntimesMounts(t *testing.T) {
	for _, dir := range []string{snapshot.DefaultCloneDir, namespace.DefaultShareRoot} {
		if !strings.HasPrefix(dir, units.RunDir+"/") {
			t.Errorf("the runtime uses %s, outside units.RunDir %s", dir, units.RunDir)
		}
	}
	set, err := units.Build(forge(t))
	require.NoError(t, err)
	if got := values(set.Unit("bakc-backup-system.service"))["Service"]["ReadWritePaths"]; !slices.Contains(got, units.RunDir) {
		t.Errorf("the ZFS backup cannot write %s: %q", units.RunDir, got)
	}
	if got := values(set.Unit("bakc-backup-plex.service"))["Service"]["ReadWritePaths"]; slices.Contains(got, units.RunDir) {
		t.Errorf("a backup without ZFS can write %s", units.RunDir)
	}
	if !slices.Contains(set.Tmpfiles, "d /run/bakc 0700 root root - -") {
		t.Errorf("no tmpfiles rule for %s: %q", units.RunDir, set.Tmpfiles)
	}
}

// TestMountDependencies: a service wants and follows its NFS
// repositories' automount, or the mount itself when the options mount
// without an automount, and never requires either.
func TestMountDependencies(t *testing.T) {
	for _, tt := range []struct {
		name    string
		options []string
		want    string
	}{
		{"automount", []string{"_netdev", "noauto", "x-systemd.automount"}, `mnt-nas.automount`},
		{"mounted at boot", []string{"_netdev", "nfsvers=4.2"}, `mnt-nas.mount`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := forge(t)
			r, ok := p.Repository("nas-primary")
			require.True(t, ok)
			r.NFS.Options = tt.options
			set, err := units.Build(p)
			require.NoError(t, err)
			unit := values(set.Unit("bakc-backup-system.service"))["Unit"]
			want := []string{"network-online.target", tt.want}
			if diff := cmp.Diff(want, unit["Wants"]); diff != "" {
				t.Errorf("Wants (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(want, unit["After"]); diff != "" {
				t.Errorf("After (-want +got):\n%s", diff)
			}
			for _, k := range []string{"Requires", "RequiresMountsFor", "BindsTo"} {
				if unit[k] != nil {
					t.Errorf("%s=%q: a repository that is down must not keep the service from starting", k, unit[k])
				}
			}
		})
	}
}

// TestBuildRefusesMountpointsWhereCannotCarry: an NFS mountpoint that
// Where= (one line of a unit file) cannot carry is refused with an
// error naming it, never a panic in the escaping (issue 9, item 5: a
// final backslash crashed `bakc compile` and `bakc units`).
func TestBuildRefusesMountpointsWhereCannotCarry(t *testing.T) {
	for _, mp := range []string{`/mnt/nas\`, `/mnt/nas `} {
		t.Run(mp, func(t *testing.T) {
			p := unitstest.Hostile()
			p.Repositories[3].NFS.Mountpoint = mp
			p.Repositories[3].URL = mp
			_, err := units.Build(p)
			require.Error(t, err)
			require.Contains(t, err.Error(), "nfs.mountpoint")
		})
	}
}

// A disabled job (enabled = false) has no service and no timer; the
// other jobs and the repositories' tasks keep theirs.
func TestDisabledJobHasNoUnits(t *testing.T) {
	p := forge(t)
	for i := range p.Jobs {
		if p.Jobs[i].Name == "plex" {
			p.Jobs[i].Disabled = true
		}
	}
	set, err := units.Build(p)
	require.NoError(t, err)
	got := names(set)
	require.NotContains(t, got, "bakc-backup-plex.service")
	require.NotContains(t, got, "bakc-backup-plex.timer")
	require.Contains(t, got, "bakc-backup-system.service")
	require.Contains(t, got, "bakc-prune-nas-primary.timer")
}
