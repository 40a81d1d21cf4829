package runtime

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/holthome/bakc/compiler/plan"
)

// The state folder and restic's cache are left out of a job whose path
// covers them, escaped for restic; a job path that is such a folder, or
// inside it, is backed up as asked; the log and the metrics folder are
// not the runtime's to leave out.
func TestExcludeLinesLeaveOutTheRuntimesOwnFolders(t *testing.T) {
	paths := plan.Paths{State: "/var/lib/bakc", Cache: "/var/cache/bakc", Log: "/var/log/bakc"}
	tests := []struct {
		name     string
		paths    plan.Paths
		jobPaths []string
		exclude  []string
		want     []string
	}{
		{name: "luna: /var/lib holds the state", paths: paths, jobPaths: []string{"/var/lib"},
			want: []string{"/var/lib/bakc"}},
		{name: "/var holds both, after the job's own patterns", paths: paths, jobPaths: []string{"/home", "/var"}, exclude: []string{"**/.cache"},
			want: []string{"**/.cache", "/var/lib/bakc", "/var/cache/bakc"}},
		{name: "/ holds both", paths: paths, jobPaths: []string{"/"},
			want: []string{"/var/lib/bakc", "/var/cache/bakc"}},
		{name: "neither covered", paths: paths, jobPaths: []string{"/home", "/var/lib/bakc-other"}},
		{name: "the state folder itself is the job", paths: paths, jobPaths: []string{"/var/lib/bakc"}},
		{name: "inside the cache", paths: paths, jobPaths: []string{"/var/cache/bakc/x"}},
		{name: "no cache", paths: plan.Paths{State: "/srv/st", Log: "/srv/log"}, jobPaths: []string{"/srv"},
			want: []string{"/srv/st"}},
		{name: "special characters escaped", paths: plan.Paths{State: "/srv/b*kc $x", Cache: "/srv/[c]"}, jobPaths: []string{"/srv"},
			want: []string{`/srv/b\*kc[ ]$$x`, `/srv/\[c]`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &plan.Plan{Paths: tt.paths}
			job := &plan.Job{Name: "j", Paths: tt.jobPaths, Exclude: tt.exclude}
			got := excludeLines(p, job)
			if len(got) == 0 {
				got = nil
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("exclude lines (-want +got):\n%s", diff)
			}
		})
	}
}
