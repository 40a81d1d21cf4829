package compiler

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/holthome/bakc/compiler/plan"
)

// rolesFleet has a default repository, a secondary one (default =
// false) with a retention of its own, and three jobs: one that lists
// none, one that lists the secondary, one that lists both.
const rolesFleet = `node "web" {
  repository "nas" {
    path          = "/srv/restic"
    password_file = "/run/secrets/restic"
  }
  repository "cloud" {
    url              = "b2:bucket:/web"
    password_file    = "/run/secrets/restic"
    environment_file = "/run/secrets/b2"
    default          = false

    retention {
      daily  = 7
      weekly = 4
    }
  }
  job "databases" {
    paths    = ["/var/lib/postgresql"]
    schedule = "hourly"
    retention {
      hourly = 24
      daily  = 14
    }
  }
  job "media" {
    paths        = ["/srv/media"]
    repositories = ["cloud"]
  }
  job "state" {
    paths        = ["/var/lib/app"]
    repositories = ["nas", "cloud"]
  }
}
`

// Before repository roles every job that listed none wrote to every
// repository: the hourly databases job went to the cloud every hour
// (issue 9). A repository with default = false gets only the jobs that
// name it, and its retention replaces theirs there.
func TestRepositoryRolesAndRetention(t *testing.T) {
	dir := writeFleet(t, map[string]string{
		"bakc.hcl":      "defaults {\n  retention {\n    daily = 30\n  }\n}\n",
		"hosts/web.hcl": rolesFleet,
	})
	p := mustPlan(t, dir, "web")
	cloud := plan.Retention{Daily: 7, Weekly: 4}
	type row struct {
		Repositories []string
		Defaults     bool
		In           map[string]plan.Retention
	}
	want := map[string]row{
		"databases": {[]string{"nas"}, true, map[string]plan.Retention{"nas": {Hourly: 24, Daily: 14}}},
		"media":     {[]string{"cloud"}, false, map[string]plan.Retention{"cloud": cloud}},
		"state":     {[]string{"cloud", "nas"}, false, map[string]plan.Retention{"cloud": cloud, "nas": {Daily: 30}}},
	}
	got := map[string]row{}
	for _, j := range p.Jobs {
		in := map[string]plan.Retention{}
		for _, r := range j.Repositories {
			in[r] = j.RetentionIn(r)
		}
		got[j.Name] = row{j.Repositories, j.DefaultRepositories, in}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("jobs' repositories and retention (-want +got):\n%s", diff)
	}
	r, ok := p.Repository("cloud")
	require.True(t, ok)
	require.False(t, r.JobDefault())
	require.Equal(t, &cloud, r.Retention)
	r, ok = p.Repository("nas")
	require.True(t, ok)
	require.True(t, r.JobDefault())
	require.Nil(t, r.Default, "a default repository says nothing in the plan")
	require.NoError(t, p.Validate())
}
