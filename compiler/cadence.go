package compiler

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/holthome/bakc/compiler/calendar"
	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/schema"
)

// restic's forget keeps, for --keep-hourly/daily/weekly/monthly/yearly,
// the newest snapshot of each calendar hour, day, ISO week, month or
// year (internal/restic/snapshot_policy.go: ymdh, ymd, yw, ym, y; the
// same in 0.14.0 and 0.18.1), and every snapshot for --keep-last N and
// --keep-within. A job that runs several times within the finest period
// its retention keeps therefore loses all but the newest snapshot of
// each period: an hourly job with only daily = 7 keeps one snapshot a
// day. checkCadence warns about that.

// period is a retention unit, finest first.
type period struct {
	key     string // the retention attribute
	noun    string // "day"
	article string
	bucket  func(time.Time) int
}

var periods = []period{
	{"hourly", "hour", "an", func(t time.Time) int { return t.Year()*1000000 + int(t.Month())*10000 + t.Day()*100 + t.Hour() }},
	{"daily", "day", "a", func(t time.Time) int { return t.Year()*10000 + int(t.Month())*100 + t.Day() }},
	{"weekly", "week", "a", func(t time.Time) int { y, w := t.ISOWeek(); return y*100 + w }},
	{"monthly", "month", "a", func(t time.Time) int { return t.Year()*100 + int(t.Month()) }},
	{"yearly", "year", "a", func(t time.Time) int { return t.Year() }},
}

// finestPeriod is the finest period r keeps one snapshot of; ok is false
// when r keeps every recent snapshot (last, within), or nothing.
func finestPeriod(r plan.Retention) (int, bool) {
	if r.Last > 0 || r.Within != "" {
		return 0, false
	}
	for i, n := range []int{r.Hourly, r.Daily, r.Weekly, r.Monthly, r.Yearly} {
		if n > 0 {
			return i, true
		}
	}
	return 0, false
}

// cadenceStart is where the schedule is walked from: 2024-01-01 00:00
// UTC is a Monday, so an hour, a day, an ISO week, a month and a year
// all start there, and the result does not depend on today's date. UTC
// stands for the node's zone, as for "Schedule never fires".
var cadenceStart = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// cadenceElapses bounds the walk: enough for the first periods of any
// repeating schedule, cheap for every job of a large fleet.
const cadenceElapses = 200

// runsPerPeriod is how often the schedule cal runs within one period p:
// the count in the first period that has more than one run (n > 1),
// or 0 when none has in the first cadenceElapses runs. more says the
// walk ended inside that period, so there are at least n.
func runsPerPeriod(cal string, p period) (n int, more bool) {
	key := cadenceKey{cal, p.key}
	if v, ok := cadenceCache.Load(key); ok {
		r := v.([2]int)
		return r[0], r[1] == 1
	}
	n, more = walkCadence(cal, p)
	m := 0
	if more {
		m = 1
	}
	cadenceCache.Store(key, [2]int{n, m})
	return n, more
}

type cadenceKey struct{ calendar, period string }

// cadenceCache holds runsPerPeriod's answers: a fleet has few distinct
// schedules and many jobs.
var cadenceCache sync.Map

func walkCadence(cal string, p period) (int, bool) {
	current, count, seen := -1, 0, 0
	found := 0
	err := calendar.Elapses(cal, cadenceStart.Add(-time.Microsecond), func(t time.Time) bool {
		seen++
		b := p.bucket(t)
		if b != current {
			if count > 1 {
				found = count
				return false
			}
			current, count = b, 0
		}
		count++
		return seen < cadenceElapses
	})
	switch {
	case err != nil:
		return 0, false
	case found > 0:
		return found, false
	case count > 1:
		// The walk ended inside a period with several runs: at the limit
		// (at least count), or because the schedule ends (exactly count).
		return count, seen >= cadenceElapses
	}
	return 0, false
}

// checkCadence warns when the job's schedule runs more than once in the
// finest period its retention keeps one snapshot of. The warning points
// at the job's retention block, else its schedule, else the job.
func checkCadence(j *schema.Job, job *plan.Job) hcl.Diagnostics {
	rng := j.DeclRange
	switch {
	case j.Retention != nil:
		rng = j.Retention.DeclRange
	case j.Schedule != nil:
		rng = j.Schedule.Range
	}
	var own bool
	for _, name := range job.Repositories {
		if _, ok := job.RepositoryRetention[name]; !ok {
			own = true
		}
	}
	if !own {
		// The job's retention applies nowhere: every repository of
		// the job has its own (checkRepositoryCadence).
		return nil
	}
	return cadenceWarning(job, job.Retention, rng, "its retention", "add %s to the retention")
}

// checkRepositoryCadence is checkCadence for the retention of a
// repository, which replaces the job's there: the warning points at the
// repository's retention block and names the job.
func checkRepositoryCadence(r *schema.Repository, job *plan.Job) hcl.Diagnostics {
	rt, ok := job.RepositoryRetention[r.Name]
	if !ok || r.Retention == nil {
		return nil
	}
	return cadenceWarning(job, rt, r.Retention.DeclRange,
		fmt.Sprintf("the retention of repository %q, which replaces the job's there,", r.Name),
		"add %s to the repository's retention; keep the job out of the repository (list the job's repositories, or set default = false in the repository)")
}

// cadenceWarning is the warning of checkCadence for the policy r, said
// to be whose, at rng; fix is what to add ("%s" is the keep option).
func cadenceWarning(job *plan.Job, r plan.Retention, rng hcl.Range, whose, fix string) hcl.Diagnostics {
	fi, ok := finestPeriod(r)
	if !ok {
		return nil
	}
	p := periods[fi]
	n, more := runsPerPeriod(job.Schedule.Calendar, p)
	if n < 2 {
		return nil
	}
	count := fmt.Sprint(n)
	if more {
		count = "at least " + count
	}
	// What would keep them: the coarsest finer period the schedule runs
	// at most once in, else last or within.
	keep := `last = N or within = "…"`
	for i := fi - 1; i >= 0; i-- {
		if m, _ := runsPerPeriod(job.Schedule.Calendar, periods[i]); m < 2 {
			keep = periods[i].key + " = N, last = N or within = \"…\""
			break
		}
	}
	return hcl.Diagnostics{warningAt(rng, "Retention forgets most runs",
		"The job %q runs %s times in one %s (schedule %q), but %s (%s) keeps at most one snapshot %s %s: restic forget keeps the newest snapshot of each %s, so the job keeps 1 of its %s snapshots %s %s beyond the latest, and forgets the others after the next backup. To keep them, %s; or run the job at most once %s %s.",
		job.Name, count, p.noun, job.Schedule.Calendar, whose, retentionText(r), p.article, p.noun, p.noun, count, p.article, p.noun, fmt.Sprintf(fix, keep), p.article, p.noun)}
}

// retentionText is r as it is written: "daily = 7, weekly = 4".
func retentionText(r plan.Retention) string {
	var parts []string
	for _, k := range []struct {
		name string
		n    int
	}{{"last", r.Last}, {"hourly", r.Hourly}, {"daily", r.Daily}, {"weekly", r.Weekly}, {"monthly", r.Monthly}, {"yearly", r.Yearly}} {
		if k.n > 0 {
			parts = append(parts, fmt.Sprintf("%s = %d", k.name, k.n))
		}
	}
	if r.Within != "" {
		parts = append(parts, fmt.Sprintf("within = %q", r.Within))
	}
	return strings.Join(parts, ", ")
}
