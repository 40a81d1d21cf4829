package runtime

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/runtime/restic"
)

// The restore test's files are divided among the jobs as evenly as they
// go, at least one each, so that no job is left untested.
func TestSplitFiles(t *testing.T) {
	for _, tt := range []struct {
		name string
		n, k int
		want []int
	}{
		{"one job takes all", 5, 1, []int{5}},
		{"remainder to the first", 5, 2, []int{3, 2}},
		{"even", 6, 3, []int{2, 2, 2}},
		{"fewer files than jobs: one each", 5, 7, []int{1, 1, 1, 1, 1, 1, 1}},
		{"no job with paths", 5, 0, []int{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, splitFiles(tt.n, tt.k)); diff != "" {
				t.Errorf("splitFiles(%d, %d) (-want +got):\n%s", tt.n, tt.k, diff)
			}
		})
	}
}

// Each job's latest snapshot of its paths is the newest with its tag and
// no dump tag (a dump snapshot of the same job is not its paths'); each
// dump's is the newest with the job's and the dump's tags; what has no
// snapshot is named.
func TestFindRestoreTargets(t *testing.T) {
	at := func(h int) time.Time { return time.Date(2024, 5, 1, h, 0, 0, 0, time.UTC) }
	snaps := []restic.Snapshot{
		{ID: "home1", Time: at(1), Tags: []string{"job:home"}},
		{ID: "home2", Time: at(3), Tags: []string{"job:home", "nightly"}},
		{ID: "db-dump1", Time: at(2), Tags: []string{"job:db", "dump:pg"}},
		{ID: "db-dump2", Time: at(5), Tags: []string{"job:db", "dump:pg"}},
		{ID: "db-paths", Time: at(4), Tags: []string{"job:db"}},
		{ID: "other", Time: at(9), Tags: []string{"job:other"}},
	}
	home := &plan.Job{Name: "home", JobTag: "job:home", Paths: []string{"/home"}}
	db := &plan.Job{Name: "db", JobTag: "job:db", Paths: []string{"/var/lib/db"},
		Dumps: []plan.Dump{{Name: "pg", Tag: "dump:pg"}, {Name: "redis", Tag: "dump:redis"}}}
	dumpOnly := &plan.Job{Name: "dumponly", JobTag: "job:dumponly", Dumps: []plan.Dump{{Name: "x", Tag: "dump:x"}}}

	type target struct {
		Job, Files string
		Dumps      []string
		Missing    []string
	}
	var got []target
	for _, tg := range findRestoreTargets([]*plan.Job{home, db, dumpOnly}, snaps) {
		g := target{Job: tg.job.Name, Missing: tg.missing}
		if tg.files != nil {
			g.Files = tg.files.ID
		}
		for _, d := range tg.dumps {
			g.Dumps = append(g.Dumps, d.dump.Name+"="+d.snapshot.ID)
		}
		got = append(got, g)
	}
	want := []target{
		{Job: "home", Files: "home2"},
		{Job: "db", Files: "db-paths", Dumps: []string{"pg=db-dump2"}, Missing: []string{"the dump redis"}},
		{Job: "dumponly", Missing: []string{"the dump x"}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("targets (-want +got):\n%s", diff)
	}
}

// A task's error is split into one failure per job only when every part
// names its job; anything else stays whole, as it was.
func TestJobErrorsOf(t *testing.T) {
	a, b := &jobError{job: "a", err: errors.New("x")}, &jobError{job: "b", err: errors.New("y")}
	other := errors.New("listing failed")
	for _, tt := range []struct {
		name string
		err  error
		want []string // job: message
	}{
		{"nil", nil, nil},
		{"one job", a, []string{"a: job a: x"}},
		{"two jobs", errors.Join(a, b), []string{"a: job a: x", "b: job b: y"}},
		{"not a job's", other, []string{": listing failed"}},
		{"mixed stays whole", errors.Join(a, other), []string{": job a: x\nlisting failed"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, je := range jobErrorsOf(tt.err) {
				got = append(got, je.job+": "+je.Error())
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
