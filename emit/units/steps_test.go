package units_test

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/emit/units"
)

// TestStepNeeds: what a job's hooks and dumps declare reaches its
// service: written paths as optional ReadWritePaths=, a user other than
// the backup user makes the service start as root, packages and PATH
// folders are collected in order, and a plain-only Environment= line.
func TestStepNeeds(t *testing.T) {
	base := func() *plan.Plan {
		p := forge(t)
		j, ok := p.Job("plex")
		require.True(t, ok)
		j.Hooks = plan.Hooks{
			PreBackup:  "pg_dump x > /srv/dumps/x.sql",
			PostBackup: "true",
			Needs: map[string]plan.Needs{
				plan.HookPreBackup:  {Writes: []string{"/srv/dumps", "/var/lib/bakc/hook"}, Packages: []string{"postgresql"}, Path: []string{"/opt/b", "/opt/a"}},
				plan.HookPostBackup: {Writes: []string{"/srv/dumps/sub", "/srv/other"}, Packages: []string{"curl", "postgresql"}, Path: []string{"/opt/a", "/opt/c"}},
			},
		}
		return p
	}
	for _, tt := range []struct {
		name      string
		change    func(j *plan.Job)
		wantUser  []string
		wantCaps  []string
		wantWrite []string
	}{
		{"backup user", func(j *plan.Job) {}, []string{"bakc"}, []string{"CAP_DAC_READ_SEARCH"}, nil},
		{"same user named", func(j *plan.Job) {
			n := j.Hooks.Needs[plan.HookPreBackup]
			n.User = "bakc"
			j.Hooks.Needs[plan.HookPreBackup] = n
		}, []string{"bakc"}, []string{"CAP_DAC_READ_SEARCH"}, nil},
		{"other user", func(j *plan.Job) {
			n := j.Hooks.Needs[plan.HookPreBackup]
			n.User = "postgres"
			j.Hooks.Needs[plan.HookPreBackup] = n
		}, nil, []string{"CAP_CHOWN CAP_DAC_OVERRIDE CAP_DAC_READ_SEARCH CAP_FOWNER CAP_KILL CAP_SETGID CAP_SETUID"}, nil},
		{"dump as other user", func(j *plan.Job) {
			j.Dumps = []plan.Dump{{Name: "db", Command: []string{"pg_dumpall"}, Filename: "db.sql", Tag: "dump:db", Needs: plan.Needs{User: "postgres"}}}
		}, nil, []string{"CAP_CHOWN CAP_DAC_OVERRIDE CAP_DAC_READ_SEARCH CAP_FOWNER CAP_KILL CAP_SETGID CAP_SETUID"}, nil},
		{"a hook that is not set asks for nothing", func(j *plan.Job) {
			j.Hooks.PreBackup = ""
			n := j.Hooks.Needs[plan.HookPreBackup]
			n.User = "postgres"
			j.Hooks.Needs[plan.HookPreBackup] = n
		}, []string{"bakc"}, []string{"CAP_DAC_READ_SEARCH"}, []string{"-/srv/dumps/sub", "-/srv/other"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := base()
			j, _ := p.Job("plex")
			tt.change(j)
			set, err := units.Build(p)
			require.NoError(t, err)
			u := set.Unit("bakc-backup-plex.service")
			svc := values(u)["Service"]
			if diff := cmp.Diff(tt.wantUser, svc["User"]); diff != "" {
				t.Errorf("User (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantCaps, svc["CapabilityBoundingSet"]); diff != "" {
				t.Errorf("CapabilityBoundingSet (-want +got):\n%s", diff)
			}
			wantWrite := tt.wantWrite
			if wantWrite == nil {
				// Outermost only, none inside the runtime's folders.
				wantWrite = []string{"-/srv/dumps", "-/srv/other"}
			}
			// The declared writes are "-" entries; so is the NFS
			// repository's folder (systemd skips it when missing),
			// which is not a hook's.
			var got []string
			for _, w := range svc["ReadWritePaths"] {
				if w[0] == '-' && w != "-/mnt/nas" {
					got = append(got, w)
				}
			}
			if diff := cmp.Diff(wantWrite, got); diff != "" {
				t.Errorf("declared ReadWritePaths (-want +got):\n%s", diff)
			}
			if !slices.Contains(svc["ReadWritePaths"], "/var/lib/bakc") {
				t.Errorf("ReadWritePaths lost the runtime's folder: %q", svc["ReadWritePaths"])
			}
		})
	}

	set, err := units.Build(base())
	require.NoError(t, err)
	u := set.Unit("bakc-backup-plex.service")
	if diff := cmp.Diff([]string{"curl", "postgresql"}, u.Packages); diff != "" {
		t.Errorf("Packages (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"PATH=/opt/b:/opt/a:/opt/c:" + units.DefaultPath}, values(u)["Service"]["Environment"]); diff != "" {
		t.Errorf("Environment (-want +got):\n%s", diff)
	}
	for _, s := range u.Sections {
		for _, e := range s.Entries {
			if e.PlainOnly != (e.Key == "Environment") {
				t.Errorf("%s= PlainOnly=%v", e.Key, e.PlainOnly)
			}
		}
	}
	if set.Unit("bakc-backup-system.service").Packages != nil {
		t.Error("a job without hooks has packages")
	}
}

// TestStepNeedsRejected: a plan written by hand cannot smuggle a value
// into the unit through a hook's needs.
func TestStepNeedsRejected(t *testing.T) {
	for name, n := range map[string]plan.Needs{
		"user":         {User: "Root Beer"},
		"write":        {Writes: []string{"relative/x"}},
		"path colon":   {Path: []string{"/opt/a:/opt/b"}},
		"path newline": {Path: []string{"/opt/a\nb"}},
		"package":      {Packages: []string{"pkgs.${x}"}},
	} {
		t.Run(name, func(t *testing.T) {
			p := forge(t)
			j, _ := p.Job("plex")
			j.Hooks = plan.Hooks{PreBackup: "true", Needs: map[string]plan.Needs{plan.HookPreBackup: n}}
			_, err := units.Build(p)
			require.Error(t, err)
		})
	}
}
