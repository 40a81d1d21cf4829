package runtime

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"golang.org/x/sys/unix"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/compiler/schedule"
)

// `bakc status` is read from the files the runs leave, never from the
// repositories: the state files (the last success of each task in each
// repository, which survive a wiped metrics folder), the metrics
// textfiles (the last run's outcome, duration, files and bytes), the
// error log (the category and message of a failure), and the run
// records with their task locks (a run in progress, or one that was
// killed and not yet reported by the next run). Whether a task is late
// is decided by package schedule, the one place that says "overdue".

// Health is how a task, a job or a repository stands.
type Health string

// The healths, best first; a job or repository takes its worst task's.
const (
	HealthOK       Health = "ok"
	HealthDisabled Health = "disabled"
	// HealthPending is a repository task (verify, restore test, prune)
	// that has not run yet: a new node's weekly prune is not late on
	// its first day, and status cannot tell since when the task should
	// have run (it opens no repository). Not a problem.
	HealthPending Health = "pending"
	// HealthNever is a task that has not succeeded yet: nothing of it
	// can be restored. It counts as overdue.
	HealthNever   Health = "never"
	HealthOverdue Health = "overdue"
	// HealthFailed is a task whose last run failed (a partial backup
	// too) or was killed.
	HealthFailed Health = "failed"
)

func (h Health) rank() int {
	switch h {
	case HealthFailed:
		return 4
	case HealthOverdue:
		return 3
	case HealthNever:
		return 2
	case HealthOK, HealthPending:
		return 1
	}
	return 0
}

func worse(a, b Health) Health {
	if b.rank() > a.rank() {
		return b
	}
	return a
}

// Status is the node's status at one instant (docs/status.md).
type Status struct {
	Node string    `json:"node"`
	Time time.Time `json:"time"`
	// Timers says where the next runs come from: "systemd" (its timers,
	// as loaded), or "plan" (computed from the schedules, without the
	// randomized delay), with TimersNote saying why.
	Timers     string `json:"timers"`
	TimersNote string `json:"timers_note,omitempty"`
	// Health is the worst of every job's and repository's.
	Health       Health             `json:"health"`
	Jobs         []JobStatus        `json:"jobs"`
	Repositories []RepositoryStatus `json:"repositories"`
	// Problems say, one sentence each, what is failed or overdue.
	Problems []Problem `json:"problems"`
}

// JobStatus is one backup job.
type JobStatus struct {
	Name     string `json:"name"`
	Disabled bool   `json:"disabled,omitempty"`
	Health   Health `json:"health"`
	Schedule string `json:"schedule,omitempty"`
	// MaxAgeSeconds is how old a repository's last success may be
	// before the job is overdue there (schedule.Limit).
	MaxAgeSeconds float64    `json:"max_age_seconds,omitempty"`
	NextRun       *time.Time `json:"next_run,omitempty"`
	// LastRun, ExitCode and RunDurationSeconds are the last run's, from
	// the metrics (ExitCode 137: killed, reported by the next run).
	LastRun            *time.Time `json:"last_run,omitempty"`
	ExitCode           *int       `json:"exit_code,omitempty"`
	RunDurationSeconds *float64   `json:"run_duration_seconds,omitempty"`
	// Running is a run in progress; Killed a run whose record is left
	// and whose lock is free: it was killed, and no run has reported it
	// yet.
	Running *RunInfo `json:"running,omitempty"`
	Killed  *RunInfo `json:"killed,omitempty"`
	// Error is the last run's failure of the whole job (lock, hook,
	// snapshot), if any.
	Error        *ErrorLine            `json:"error,omitempty"`
	Repositories []JobRepositoryStatus `json:"repositories"`
}

// JobRepositoryStatus is one job in one of its repositories.
type JobRepositoryStatus struct {
	Name        string     `json:"name"`
	Health      Health     `json:"health"`
	LastSuccess *time.Time `json:"last_success,omitempty"`
	// Outcome is the last run's: complete, partial or failed.
	Outcome         string   `json:"outcome,omitempty"`
	ResticExitCode  *int     `json:"restic_exit_code,omitempty"`
	DurationSeconds *float64 `json:"duration_seconds,omitempty"`
	FilesNew        *uint64  `json:"files_new,omitempty"`
	FilesChanged    *uint64  `json:"files_changed,omitempty"`
	AddedBytes      *uint64  `json:"added_bytes,omitempty"`
	SnapshotID      string   `json:"snapshot_id,omitempty"`
	// Error is the last run's failure in this repository, if any.
	Error *ErrorLine `json:"error,omitempty"`
}

// RepositoryStatus is one repository and its own tasks.
type RepositoryStatus struct {
	Name   string `json:"name"`
	Kind   string `json:"kind"`
	URL    string `json:"url"`
	Health Health `json:"health"`
	// SizeBytes, UsedBytes and AvailableBytes are the space of the file
	// system the repository is on, as the last run that reached it read
	// it with statfs (bakc_repository_size_bytes, …_used_bytes,
	// …_available_bytes: local and NFS repositories); QuotaBytes the NAS
	// dataset's declared quota (bakc_repository_quota_bytes). nil when
	// no metric reports them.
	SizeBytes      *uint64      `json:"size_bytes,omitempty"`
	UsedBytes      *uint64      `json:"used_bytes,omitempty"`
	AvailableBytes *uint64      `json:"available_bytes,omitempty"`
	QuotaBytes     *uint64      `json:"quota_bytes,omitempty"`
	Tasks          []TaskStatus `json:"tasks"`
}

// TaskStatus is a repository task: verify, restore-test or prune.
type TaskStatus struct {
	Task            string     `json:"task"`
	Health          Health     `json:"health"`
	Schedule        string     `json:"schedule"`
	MaxAgeSeconds   float64    `json:"max_age_seconds,omitempty"`
	NextRun         *time.Time `json:"next_run,omitempty"`
	LastRun         *time.Time `json:"last_run,omitempty"`
	LastSuccess     *time.Time `json:"last_success,omitempty"`
	ExitCode        *int       `json:"exit_code,omitempty"`
	DurationSeconds *float64   `json:"duration_seconds,omitempty"`
	Running         *RunInfo   `json:"running,omitempty"`
	Killed          *RunInfo   `json:"killed,omitempty"`
	Error           *ErrorLine `json:"error,omitempty"`
}

// RunInfo is a run's record (runstate.go).
type RunInfo struct {
	PID        int       `json:"pid"`
	Start      time.Time `json:"start"`
	Phase      Phase     `json:"phase"`
	Repository string    `json:"repository,omitempty"`
	Updated    time.Time `json:"updated"`
}

// Problem is one thing the node's status is not ok for.
type Problem struct {
	Health Health `json:"health"`
	// Task is "backup", "verify", "restore-test" or "prune"; Name the
	// job or the repository.
	Task       string `json:"task"`
	Name       string `json:"name"`
	Repository string `json:"repository,omitempty"`
	Message    string `json:"message"`
}

// TimerInfo is what systemd says of a timer.
type TimerInfo struct {
	Next, Last time.Time
}

// StatusOptions are how the status is taken.
type StatusOptions struct {
	// Now is the instant the status is for.
	Now time.Time
	// Timers are systemd's timers by unit name (TimerUnit), when
	// systemd was asked; nil computes the next runs from the plan.
	Timers map[string]TimerInfo
	// TimersNote says why Timers is nil (systemd not running, …).
	TimersNote string
}

// TimerUnit is the timer of a task on a job or repository, as the units
// name it (emit/units.ServiceName, with ".timer").
func TimerUnit(task, name string) string { return "bakc-" + task + "-" + name + ".timer" }

// ReadStatus reads the node's status from the files the runs of plan p
// left. Unreadable files are taken as missing (a node before its first
// run has none); the status says what it could not tell.
func ReadStatus(p *plan.Plan, o StatusOptions) *Status {
	s := &Status{Node: p.Node.Name, Time: o.Now, Timers: "systemd", Health: HealthOK}
	if o.Timers == nil {
		s.Timers, s.TimersNote = "plan", o.TimersNote
	}
	// The compiler checked the grace; a plan edited by hand that breaks
	// it is judged with the default rather than not at all.
	grace, err := schedule.Grace(p)
	if err != nil {
		grace = time.Hour
	}
	sr := statusReader{plan: p, opts: o, grace: grace, metrics: readMetricsDir(p.Monitoring.TextfileDir), errors: readErrorLog(p.Monitoring.ErrorLog)}
	for i := range p.Jobs {
		js := sr.job(&p.Jobs[i], s)
		s.Health = worse(s.Health, js.Health)
		s.Jobs = append(s.Jobs, js)
	}
	for i := range p.Repositories {
		rs := sr.repository(&p.Repositories[i], s)
		s.Health = worse(s.Health, rs.Health)
		s.Repositories = append(s.Repositories, rs)
	}
	return s
}

type statusReader struct {
	plan    *plan.Plan
	opts    StatusOptions
	grace   time.Duration // schedule.Grace of the plan
	metrics metricsIndex
	errors  []ErrorLine
}

func (sr *statusReader) job(j *plan.Job, s *Status) JobStatus {
	js := JobStatus{Name: j.Name, Disabled: j.Disabled, Health: HealthOK}
	if j.Disabled {
		js.Health = HealthDisabled
	} else {
		js.Schedule = j.Schedule.Calendar
		js.NextRun = sr.nextRun("backup", j.Name, j.Schedule)
	}
	state, _ := readState(statePath(sr.plan.Paths.State, "backup", j.Name))
	jobL := map[string]string{"job": j.Name}
	if v, ok := sr.metrics.get("bakc_backup_exit_code", jobL); ok {
		code := int(v)
		js.ExitCode = &code
	}
	if v, ok := sr.metrics.get("bakc_backup_run_duration_seconds", jobL); ok {
		js.RunDurationSeconds = &v
	}
	var lastRun time.Time
	for _, repo := range j.Repositories {
		if v, ok := sr.metrics.get("bakc_backup_last_run_timestamp_seconds", map[string]string{"job": j.Name, "repository": repo}); ok && v > 0 {
			if t := fromUnix(v); t.After(lastRun) {
				lastRun = t
			}
		}
	}
	if !lastRun.IsZero() {
		js.LastRun = &lastRun
	}
	js.Running, js.Killed = readRun(sr.plan.Paths.State, "backup", j.Name)
	var limit schedule.Limit
	judged := false
	if !j.Disabled {
		if l, ok, err := schedule.For(j.Schedule, sr.grace); err == nil && ok {
			limit, judged = l, true
			js.MaxAgeSeconds = l.MaxAge().Seconds()
		}
	}
	if e := sr.lastError("backup", j.Name, "", lastRun); e != nil {
		js.Error = e
	}
	for _, repo := range j.Repositories {
		l := map[string]string{"job": j.Name, "repository": repo}
		rs := JobRepositoryStatus{Name: repo, Health: HealthOK}
		st := state.Repositories[repo]
		last := st.LastSuccess
		if last.IsZero() {
			if v, ok := sr.metrics.get("bakc_backup_last_success_timestamp_seconds", l); ok && v > 0 {
				last = fromUnix(v)
			}
		}
		if !last.IsZero() {
			rs.LastSuccess = &last
		}
		rs.SnapshotID = st.SnapshotID
		for _, o := range []Outcome{OutcomeComplete, OutcomePartial, OutcomeFailed} {
			if v, ok := sr.metrics.get("bakc_backup_result", map[string]string{"job": j.Name, "repository": repo, "result": string(o)}); ok && v == 1 {
				rs.Outcome = string(o)
			}
		}
		if v, ok := sr.metrics.get("bakc_backup_restic_exit_code", l); ok {
			code := int(v)
			rs.ResticExitCode = &code
		}
		if v, ok := sr.metrics.get("bakc_backup_duration_seconds", l); ok {
			rs.DurationSeconds = &v
		}
		rs.FilesNew = sr.metrics.count("bakc_backup_files_new", l)
		rs.FilesChanged = sr.metrics.count("bakc_backup_files_changed", l)
		rs.AddedBytes = sr.metrics.count("bakc_backup_added_bytes", l)
		rs.Error = sr.lastError("backup", j.Name, repo, lastRun)
		what := "job " + j.Name + " in repository " + repo
		switch {
		case rs.Outcome == string(OutcomeFailed) || rs.Outcome == string(OutcomePartial):
			rs.Health = HealthFailed
			how := "failed"
			if rs.Outcome == string(OutcomePartial) {
				how = "was partial (restic could not read some files)"
			}
			s.problem(HealthFailed, "backup", j.Name, repo, fmt.Sprintf("the last backup of %s %s%s", what, how, errorWords(rs.Error, js.Error)))
		case j.Disabled:
			rs.Health = HealthDisabled
		case judged && last.IsZero():
			rs.Health = HealthNever
			s.problem(HealthNever, "backup", j.Name, repo, fmt.Sprintf("%s has no successful backup yet", what))
		case judged && limit.Overdue(last, sr.opts.Now):
			rs.Health = HealthOverdue
			s.problem(HealthOverdue, "backup", j.Name, repo, fmt.Sprintf("the last successful backup of %s started %s, longer ago than its schedule %q allows (%s)",
				what, last.UTC().Format(time.RFC3339), j.Schedule.Calendar, roundDuration(limit.MaxAge())))
		}
		js.Health = worse(js.Health, rs.Health)
		js.Repositories = append(js.Repositories, rs)
	}
	if js.Killed != nil {
		js.Health = HealthFailed
		s.problem(HealthFailed, "backup", j.Name, js.Killed.Repository, fmt.Sprintf("a run of job %s that started %s (pid %d) was killed in phase %s, and no run has reported it yet",
			j.Name, js.Killed.Start.UTC().Format(time.RFC3339), js.Killed.PID, js.Killed.Phase))
	}
	if js.Disabled {
		js.Health = HealthDisabled
	} else if sr.timerMissing(s, "backup", j.Name, "") {
		js.Health = worse(js.Health, HealthOverdue)
	}
	return js
}

// scheduledTask is a repository task and its schedule.
type scheduledTask struct {
	task  string
	sched plan.Schedule
}

// repositoryTasks are the repository tasks the plan has for r, with
// their schedules: verify and restore test when declared, prune always.
func repositoryTasks(r *plan.Repository) []scheduledTask {
	var out []scheduledTask
	if r.Verify != nil {
		out = append(out, scheduledTask{"verify", r.Verify.Schedule})
	}
	if r.RestoreTest != nil {
		out = append(out, scheduledTask{"restore-test", r.RestoreTest.Schedule})
	}
	return append(out, scheduledTask{"prune", r.Prune.Schedule})
}

func (sr *statusReader) repository(r *plan.Repository, s *Status) RepositoryStatus {
	rs := RepositoryStatus{Name: r.Name, Kind: r.Kind, URL: r.URL, Health: HealthOK}
	l := map[string]string{"repository": r.Name}
	rs.SizeBytes = sr.metrics.count("bakc_repository_size_bytes", l)
	rs.UsedBytes = sr.metrics.count("bakc_repository_used_bytes", l)
	rs.AvailableBytes = sr.metrics.count("bakc_repository_available_bytes", l)
	rs.QuotaBytes = sr.metrics.count("bakc_repository_quota_bytes", l)
	for _, t := range repositoryTasks(r) {
		ts := TaskStatus{Task: t.task, Health: HealthOK, Schedule: t.sched.Calendar}
		ts.NextRun = sr.nextRun(t.task, r.Name, t.sched)
		prefix := "bakc_" + strings.ReplaceAll(t.task, "-", "_") + "_"
		var lastRun time.Time
		if v, ok := sr.metrics.get(prefix+"last_run_timestamp_seconds", l); ok && v > 0 {
			lastRun = fromUnix(v)
			ts.LastRun = &lastRun
		}
		state, _ := readState(statePath(sr.plan.Paths.State, t.task, r.Name))
		last := state.Repositories[r.Name].LastSuccess
		if last.IsZero() {
			if v, ok := sr.metrics.get(prefix+"last_success_timestamp_seconds", l); ok && v > 0 {
				last = fromUnix(v)
			}
		}
		if !last.IsZero() {
			ts.LastSuccess = &last
		}
		if v, ok := sr.metrics.get(prefix+"exit_code", l); ok {
			code := int(v)
			ts.ExitCode = &code
		}
		if v, ok := sr.metrics.get(prefix+"duration_seconds", l); ok {
			ts.DurationSeconds = &v
		}
		ts.Running, ts.Killed = readRun(sr.plan.Paths.State, t.task, r.Name)
		ts.Error = sr.lastError(t.task, "", r.Name, lastRun)
		what := t.task + " of repository " + r.Name
		limit, judged, err := schedule.For(t.sched, sr.grace)
		judged = judged && err == nil
		if judged {
			ts.MaxAgeSeconds = limit.MaxAge().Seconds()
		}
		switch {
		case ts.Killed != nil:
			ts.Health = HealthFailed
			s.problem(HealthFailed, t.task, r.Name, r.Name, fmt.Sprintf("a run of the %s that started %s (pid %d) was killed in phase %s, and no run has reported it yet",
				what, ts.Killed.Start.UTC().Format(time.RFC3339), ts.Killed.PID, ts.Killed.Phase))
		case ts.ExitCode != nil && *ts.ExitCode != ExitOK:
			ts.Health = HealthFailed
			s.problem(HealthFailed, t.task, r.Name, r.Name, fmt.Sprintf("the last %s failed (exit code %d)%s", what, *ts.ExitCode, errorWords(ts.Error, nil)))
		case last.IsZero():
			ts.Health = HealthPending
		case judged && limit.Overdue(last, sr.opts.Now):
			ts.Health = HealthOverdue
			s.problem(HealthOverdue, t.task, r.Name, r.Name, fmt.Sprintf("the last successful %s started %s, longer ago than its schedule %q allows (%s)",
				what, last.UTC().Format(time.RFC3339), t.sched.Calendar, roundDuration(limit.MaxAge())))
		}
		if sr.timerMissing(s, t.task, r.Name, r.Name) {
			ts.Health = worse(ts.Health, HealthOverdue)
		}
		rs.Health = worse(rs.Health, ts.Health)
		rs.Tasks = append(rs.Tasks, ts)
	}
	return rs
}

func (s *Status) problem(h Health, task, name, repo, msg string) {
	s.Problems = append(s.Problems, Problem{Health: h, Task: task, Name: name, Repository: repo, Message: msg})
}

// errorWords is ": category: message" of the first of the error lines
// that is set, or "".
func errorWords(lines ...*ErrorLine) string {
	for _, l := range lines {
		if l != nil {
			return fmt.Sprintf(" (%s, phase %s): %s", l.Category, l.Phase, l.Message)
		}
	}
	return ""
}

// timerMissing reports a task whose timer systemd, asked, does not
// have: the task never runs by itself.
func (sr *statusReader) timerMissing(s *Status, task, name, repo string) bool {
	if sr.opts.Timers == nil {
		return false
	}
	if _, ok := sr.opts.Timers[TimerUnit(task, name)]; ok {
		return false
	}
	s.problem(HealthOverdue, task, name, repo, fmt.Sprintf("systemd has no timer %s: the %s of %s never runs by itself (install and enable the units, or rebuild the NixOS configuration)",
		TimerUnit(task, name), task, name))
	return true
}

// nextRun is when the task's timer fires next: systemd's answer when it
// was asked and knows the timer, else the schedule's next elapse.
func (sr *statusReader) nextRun(task, name string, s plan.Schedule) *time.Time {
	if sr.opts.Timers != nil {
		if ti, ok := sr.opts.Timers[TimerUnit(task, name)]; ok && !ti.Next.IsZero() {
			return &ti.Next
		}
		return nil
	}
	next, ok, err := schedule.Next(s, sr.opts.Now)
	if err != nil || !ok {
		return nil
	}
	return &next
}

// lastError is the newest error line of the task on job (or, for a
// repository task, of the repository) in repo ("" for a failure of the
// whole job) written at or after since (the last run's start).
func (sr *statusReader) lastError(task, job, repo string, since time.Time) *ErrorLine {
	if since.IsZero() {
		return nil
	}
	for i := len(sr.errors) - 1; i >= 0; i-- {
		l := sr.errors[i]
		if l.Time.Before(since) {
			// Lines are appended in time order.
			break
		}
		if l.Task == task && l.Job == job && l.Repository == repo && (l.Node == "" || l.Node == sr.plan.Node.Name) {
			return &l
		}
	}
	return nil
}

// readRun reads a task's run record: a run in progress when another
// process holds the task's lock, a killed run when none does. It reads
// the lock's holders from /proc/locks and never takes the lock itself,
// so that a run starting meanwhile is never refused because of status.
func readRun(stateDir, task, name string) (running, killed *RunInfo) {
	data, err := os.ReadFile(RunRecordPath(stateDir, task, name))
	if err != nil {
		return nil, nil
	}
	var rec runRecord
	if json.Unmarshal(data, &rec) != nil {
		rec = runRecord{Phase: PhaseLock}
	}
	info := &RunInfo{PID: rec.PID, Start: rec.Start, Phase: rec.Phase, Repository: rec.Repository, Updated: rec.Updated}
	if lockHeld(LockPath(stateDir, task, name)) {
		return info, nil
	}
	// The run may have ended between reading the record and looking at
	// the lock: a record that is gone now was not a killed run's.
	if _, err := os.Stat(RunRecordPath(stateDir, task, name)); err != nil {
		return nil, nil
	}
	return nil, info
}

// lockHeld reports whether a process holds a flock on the file.
func lockHeld(path string) bool {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return false
	}
	return len(flockHolders(uint32(unix.Major(st.Dev)), uint32(unix.Minor(st.Dev)), st.Ino)) > 0
}

// errorLogTail is how much of the end of the error log status reads:
// the last runs' lines, not years of history.
const errorLogTail = 1 << 20

// readErrorLog reads the error lines at the end of the error log, oldest
// first; unreadable lines are skipped.
func readErrorLog(path string) []ErrorLine {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Size() > errorLogTail {
		f.Seek(fi.Size()-errorLogTail, io.SeekStart)
		bufio.NewReader(f).ReadString('\n') // a partial first line
	}
	var lines []ErrorLine
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), errorLogTail)
	for sc.Scan() {
		var l ErrorLine
		if json.Unmarshal(sc.Bytes(), &l) == nil {
			lines = append(lines, l)
		}
	}
	sort.SliceStable(lines, func(i, j int) bool { return lines[i].Time.Before(lines[j].Time) })
	return lines
}

// metricsIndex holds the samples of the node's bakc textfiles by
// metric name.
type metricsIndex map[string][]metricSample

type metricSample struct {
	labels map[string]string
	value  float64
}

// readMetricsDir reads every bakc-*.prom file in node_exporter's
// textfile folder.
func readMetricsDir(dir string) metricsIndex {
	idx := metricsIndex{}
	files, _ := filepath.Glob(filepath.Join(dir, "bakc-*.prom"))
	slices.Sort(files)
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		p := expfmt.NewTextParser(model.UTF8Validation)
		fams, err := p.TextToMetricFamilies(bytes.NewReader(data))
		if err != nil {
			continue
		}
		for name, fam := range fams {
			for _, m := range fam.GetMetric() {
				v, ok := sampleValue(m)
				if !ok {
					continue
				}
				labels := map[string]string{}
				for _, lp := range m.GetLabel() {
					labels[lp.GetName()] = lp.GetValue()
				}
				idx[name] = append(idx[name], metricSample{labels: labels, value: v})
			}
		}
	}
	return idx
}

func sampleValue(m *dto.Metric) (float64, bool) {
	switch {
	case m.Gauge != nil:
		return m.Gauge.GetValue(), true
	case m.Counter != nil:
		return m.Counter.GetValue(), true
	case m.Untyped != nil:
		return m.Untyped.GetValue(), true
	}
	return 0, false
}

// get returns the value of the sample of name whose labels include
// want.
func (idx metricsIndex) get(name string, want map[string]string) (float64, bool) {
	for _, s := range idx[name] {
		match := true
		for k, v := range want {
			if s.labels[k] != v {
				match = false
				break
			}
		}
		if match {
			return s.value, true
		}
	}
	return 0, false
}

// count is get for a non-negative whole number; nil when absent.
func (idx metricsIndex) count(name string, want map[string]string) *uint64 {
	v, ok := idx.get(name, want)
	if !ok || v < 0 {
		return nil
	}
	n := uint64(v)
	return &n
}

func fromUnix(v float64) time.Time {
	sec := int64(v)
	return time.Unix(sec, int64((v-float64(sec))*1e9)).UTC()
}

// roundDuration is d for a sentence: to the minute.
func roundDuration(d time.Duration) string {
	return d.Round(time.Minute).String()
}
