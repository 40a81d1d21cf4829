package booted_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/internal/booted"
	"github.com/holthome/bakc/internal/testenv"
	"github.com/holthome/bakc/replication"
	"github.com/holthome/bakc/runtime"
	"github.com/holthome/bakc/runtime/restic"
)

// What the scenarios check inside the machine.

// checkInstall checks what the boot made of the installed units: the
// timers, the backup user (systemd-sysusers), the folders
// (systemd-tmpfiles-setup). It then stops bakc's timers, so that none
// fires into the scenario's own runs.
func checkInstall(t *testing.T, p *plan.Plan) {
	t.Run("timers", func(t *testing.T) { checkTimers(t, p) })
	t.Run("sysusers", func(t *testing.T) { checkSysusers(t, p) })
	t.Run("tmpfiles", func(t *testing.T) { checkTmpfiles(t) })
	booted.Systemctl(t, "stop", "bakc-*.timer")
}

// timer is a timer the plan asks for.
type timer struct {
	unit     string
	schedule plan.Schedule
}

// planTimers are the timers of the plan's jobs and repository tasks.
func planTimers(p *plan.Plan) []timer {
	var out []timer
	for _, j := range p.Jobs {
		out = append(out, timer{"bakc-backup-" + j.Name + ".timer", j.Schedule})
	}
	for _, r := range p.Repositories {
		out = append(out, timer{"bakc-prune-" + r.Name + ".timer", r.Prune.Schedule})
		if r.Verify != nil {
			out = append(out, timer{"bakc-verify-" + r.Name + ".timer", r.Verify.Schedule})
		}
		if r.RestoreTest != nil {
			out = append(out, timer{"bakc-restore-test-" + r.Name + ".timer", r.RestoreTest.Schedule})
		}
	}
	if r := p.Replication; r != nil {
		// A plain host's sanoid (emit/unitfile), no randomized delay.
		out = append(out, timer{"bakc-sanoid.timer", plan.Schedule{Calendar: replication.SanoidCalendar(r.Snapshots)}})
	}
	sort.Slice(out, func(i, k int) bool { return out[i].unit < out[k].unit })
	return out
}

var timersCalendar = regexp.MustCompile(`^\{ OnCalendar=(.*) ; next_elapse=(.*) \}$`)

// checkTimers: `systemctl list-timers` shows exactly the plan's timers,
// enabled and waiting; each with the plan's calendar (normalized as
// systemd-analyze normalizes it) and randomized delay, and a next elapse
// within that delay after the calendar's next elapse.
func checkTimers(t *testing.T, p *plan.Plan) {
	want := planTimers(p)
	listed := map[string]booted.Timer{}
	for _, tm := range booted.Timers(t) {
		if strings.HasPrefix(tm.Unit, "bakc-") {
			listed[tm.Unit] = tm
		}
	}
	var wantNames, gotNames []string
	for _, w := range want {
		wantNames = append(wantNames, w.unit)
	}
	for name := range listed {
		gotNames = append(gotNames, name)
	}
	sort.Strings(gotNames)
	require.Equal(t, wantNames, gotNames, "bakc's timers in systemctl list-timers --all")

	for _, w := range want {
		t.Run(strings.TrimSuffix(w.unit, ".timer"), func(t *testing.T) {
			props := booted.Show(t, w.unit, "UnitFileState", "ActiveState", "TimersCalendar", "RandomizedDelayUSec", "Persistent")
			assert.Equal(t, "enabled", props["UnitFileState"])
			assert.Equal(t, "active", props["ActiveState"])
			assert.Equal(t, "yes", props["Persistent"])
			normalized, calendarNext := booted.Calendar(t, w.schedule.Calendar)
			m := timersCalendar.FindStringSubmatch(props["TimersCalendar"])
			require.NotNil(t, m, "TimersCalendar=%s", props["TimersCalendar"])
			assert.Equal(t, normalized, m[1], "the timer's calendar is the plan's %q", w.schedule.Calendar)
			timerCalendarNext, err := time.ParseInLocation("Mon 2006-01-02 15:04:05 MST", m[2], time.UTC)
			require.NoError(t, err)
			// The timer computed its next elapse at boot, systemd-analyze
			// now: they agree unless an elapse passed in between.
			if !timerCalendarNext.Equal(calendarNext) {
				assert.True(t, timerCalendarNext.Before(time.Now()), "the timer's calendar elapse %v is neither systemd-analyze's %v nor past", timerCalendarNext, calendarNext)
			}
			delay := timespan(t, props["RandomizedDelayUSec"])
			if w.schedule.RandomizedDelay != "" {
				assert.Equal(t, timespan(t, w.schedule.RandomizedDelay), delay, "RandomizedDelaySec is the plan's %q", w.schedule.RandomizedDelay)
			}
			next := time.UnixMicro(listed[w.unit].Next)
			assert.False(t, next.Before(timerCalendarNext), "list-timers' next elapse %v is before the calendar's %v", next, timerCalendarNext)
			assert.False(t, next.After(timerCalendarNext.Add(delay)), "list-timers' next elapse %v is later than the calendar's %v plus %v", next, timerCalendarNext, delay)
		})
	}
}

// timespan reads a systemd time span with systemd-analyze.
func timespan(t *testing.T, s string) time.Duration {
	t.Helper()
	out, err := exec.Command("systemd-analyze", "timespan", s).Output()
	require.NoError(t, err, "systemd-analyze timespan %q", s)
	for _, l := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "μs: "); ok {
			us, err := strconv.ParseInt(v, 10, 64)
			require.NoError(t, err)
			return time.Duration(us) * time.Microsecond
		}
	}
	t.Fatalf("systemd-analyze timespan %q: %s", s, out)
	return 0
}

// checkSysusers: the backup user and group exist as the plan says, made
// by systemd-sysusers at this boot from /etc/sysusers.d/bakc.conf. (It
// runs at every boot of the machine: the tree never records an update of
// /etc, ConditionNeedsUpdate=/etc. On a real host it runs at boot only
// after /usr changed, which is why bakc units --help says to run
// systemd-sysusers after installing.)
func checkSysusers(t *testing.T, p *plan.Plan) {
	u, err := user.Lookup(p.User.Name)
	require.NoError(t, err)
	assert.Equal(t, strconv.Itoa(p.User.UID), u.Uid)
	assert.Equal(t, strconv.Itoa(p.User.GID), u.Gid)
	g, err := user.LookupGroupId(u.Gid)
	require.NoError(t, err)
	assert.Equal(t, p.User.Group, g.Name)
	// The tree has no such user (the outer test checked): systemd-sysusers
	// ran at this boot and made it.
	props := booted.Show(t, "systemd-sysusers.service", "ActiveState", "ConditionResult")
	assert.Equal(t, map[string]string{"ActiveState": "active", "ConditionResult": "yes"}, props, "systemd-sysusers ran at boot")
}

// checkTmpfiles: every folder of /etc/tmpfiles.d/bakc.conf exists with
// its mode and owner, made by systemd-tmpfiles-setup at boot (the tree
// has none of them; the outer test checked).
func checkTmpfiles(t *testing.T) {
	data, err := os.ReadFile("/etc/tmpfiles.d/bakc.conf")
	require.NoError(t, err)
	assert.Equal(t, "active", booted.Show(t, "systemd-tmpfiles-setup.service", "ActiveState")["ActiveState"])
	n := 0
	for _, l := range strings.Split(string(data), "\n") {
		f := strings.Fields(l)
		if len(f) < 5 || strings.HasPrefix(l, "#") {
			continue
		}
		if f[0] == "L+" {
			// The runbook's link in /var/lib/backup-docs, to the
			// runbook installed beside the plan.
			require.Len(t, f, 7, "line %q", l)
			target, err := os.Readlink(f[1])
			if assert.NoError(t, err, "tmpfiles line %q", l) {
				assert.Equal(t, f[6], target)
				_, err := os.Stat(f[1])
				assert.NoError(t, err, "the runbook behind %s", f[1])
			}
			continue
		}
		require.Equal(t, "d", f[0], "line %q", l)
		n++
		fi, err := os.Stat(f[1])
		if !assert.NoError(t, err, "tmpfiles line %q", l) {
			continue
		}
		mode, err := strconv.ParseUint(f[2], 8, 32)
		require.NoError(t, err)
		assert.True(t, fi.IsDir(), f[1])
		assert.Equal(t, os.FileMode(mode).String(), fi.Mode().Perm().String(), "mode of %s", f[1])
		st := fi.Sys().(*syscall.Stat_t)
		assert.Equal(t, lookupUID(t, f[3]), int(st.Uid), "owner of %s", f[1])
		assert.Equal(t, lookupGID(t, f[4]), int(st.Gid), "group of %s", f[1])
	}
	assert.Positive(t, n, "bakc.conf has folders")
}

func lookupUID(t *testing.T, name string) int {
	u, err := user.Lookup(name)
	require.NoError(t, err)
	id, _ := strconv.Atoi(u.Uid)
	return id
}

func lookupGID(t *testing.T, name string) int {
	g, err := user.LookupGroup(name)
	require.NoError(t, err)
	id, _ := strconv.Atoi(g.Gid)
	return id
}

// run is `systemctl start UNIT` with its outcome checked: want is the
// unit's Result and the main process's exit status (bakc run's exit
// code, docs/runtime.md). On a mismatch the unit's journal is in the
// message.
func run(t *testing.T, unit, wantResult string, wantStatus int) booted.UnitRun {
	t.Helper()
	r := booted.Start(t, unit)
	t.Logf("%s (systemctl start: %v)", r, r.StartErr)
	checkRun(t, r, wantResult, wantStatus)
	return r
}

// checkRun checks a unit's outcome (see run).
func checkRun(t *testing.T, r booted.UnitRun, wantResult string, wantStatus int) {
	t.Helper()
	if r.Result != wantResult || r.ExecMainStatus != wantStatus || !r.Ran {
		t.Errorf("%s: want Result=%s ExecMainStatus=%d after it ran; got %s\nsystemctl start: %v %s\njournal:\n%s",
			r.Unit, wantResult, wantStatus, r, r.StartErr, r.StartOutput, booted.Journal(r.Unit))
	}
}

// repo is restic on one of the plan's repositories, run by the test
// (as uid, the owner of the repository's files) with a cache of its own.
// Its methods take the (sub)test they fail.
type repo struct {
	r   *restic.Restic
	uid int
}

// openRepo is restic on the plan's repository name, at url (the plan's
// URL, or a folder that holds the same repository: the sftp
// repository's folder on the machine's stand-in NAS).
func openRepo(t *testing.T, p *plan.Plan, name, url string, uid int) *repo {
	t.Helper()
	r, ok := p.Repository(name)
	require.True(t, ok, name)
	if url == "" {
		url = r.URL
	}
	cache := t.TempDir()
	require.NoError(t, os.Chown(cache, uid, uid))
	require.NoError(t, os.Chmod(filepath.Dir(cache), 0o755))
	return &repo{uid: uid, r: &restic.Restic{Binary: "restic", Repo: url, PasswordFile: r.PasswordFile, CacheDir: cache}}
}

// run runs restic with args and returns its stdout; a failure fails the
// test.
func (r *repo) run(t *testing.T, args ...string) string {
	t.Helper()
	out, stderr, err := r.try(args...)
	require.NoError(t, err, "restic %s:\n%s", strings.Join(args, " "), stderr)
	return out
}

// try runs restic with args and returns its stdout, its stderr and its
// error.
func (r *repo) try(args ...string) (string, string, error) {
	cmd := exec.Command("restic", r.r.Argv(args)[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(r.uid), Gid: uint32(r.uid)}}
	cmd.Env = []string{"HOME=/tmp", "PATH=/usr/local/bin:/usr/bin:/bin"}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	return string(out), stderr.String(), err
}

// snapshots are the repository's snapshots with the tag (all if empty).
func (r *repo) snapshots(t *testing.T, tag string) []restic.Snapshot {
	t.Helper()
	args := []string{"snapshots", "--json", "--no-lock"}
	if tag != "" {
		args = append(args, "--tag", tag)
	}
	var snaps []restic.Snapshot
	require.NoError(t, json.Unmarshal([]byte(r.run(t, args...)), &snaps))
	return snaps
}

// files lists the paths in a snapshot.
func (r *repo) files(t *testing.T, snapshot string) []string {
	t.Helper()
	var out []string
	for _, l := range strings.Split(r.run(t, "ls", "--json", "--no-lock", snapshot), "\n") {
		var n struct {
			Path       string `json:"path"`
			StructType string `json:"struct_type"`
		}
		if json.Unmarshal([]byte(l), &n) == nil && n.StructType == "node" {
			out = append(out, n.Path)
		}
	}
	return out
}

// keys are the repository's keys (restic key list).
func (r *repo) keys(t *testing.T) []map[string]any {
	t.Helper()
	var keys []map[string]any
	require.NoError(t, json.Unmarshal([]byte(r.run(t, "key", "list", "--json", "--no-lock")), &keys))
	return keys
}

// check runs `restic check --read-data`; it fails the test if the
// repository has errors.
func (r *repo) check(t *testing.T) { t.Helper(); r.run(t, "check", "--read-data") }

// metrics reads a textfile of the plan's textfile folder as
// "name{label="value",…}" → value, with the Prometheus text parser that
// node_exporter uses.
func metrics(t *testing.T, p *plan.Plan, file string) map[string]float64 {
	t.Helper()
	return testenv.ReadMetrics(t, filepath.Join(p.Monitoring.TextfileDir, file))
}

// backupResult is bakc_backup_result for a job and repository: which of
// complete, partial, failed is 1.
func backupResult(t *testing.T, ms map[string]float64, job, repository string) string {
	t.Helper()
	var set []string
	for _, res := range []string{"complete", "partial", "failed"} {
		if ms[fmt.Sprintf("bakc_backup_result{job=%q,repository=%q,result=%q}", job, repository, res)] == 1 {
			set = append(set, res)
		}
	}
	if len(set) != 1 {
		return fmt.Sprintf("%v", set)
	}
	return set[0]
}

// errorLines reads the plan's error log; none when it does not exist.
func errorLines(t *testing.T, p *plan.Plan) []runtime.ErrorLine {
	t.Helper()
	f, err := os.Open(p.Monitoring.ErrorLog)
	if os.IsNotExist(err) {
		return nil
	}
	require.NoError(t, err)
	defer f.Close()
	var lines []runtime.ErrorLine
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var l runtime.ErrorLine
		require.NoError(t, json.Unmarshal(sc.Bytes(), &l), "error line %q", sc.Text())
		lines = append(lines, l)
	}
	return lines
}

// errorLinesOf are the lines of one task and job (or repository task),
// but for those of its notifications (notifyLinesOf): the machine has no
// network, so every notification to a URL fails there.
func errorLinesOf(t *testing.T, p *plan.Plan, task, job string) []runtime.ErrorLine {
	var out []runtime.ErrorLine
	for _, l := range errorLines(t, p) {
		if l.Task == task && l.Job == job && l.Phase != runtime.PhaseNotify {
			out = append(out, l)
		}
	}
	return out
}

// notifyLinesOf are the error lines of a job's failed notifications.
func notifyLinesOf(t *testing.T, p *plan.Plan, job string) []runtime.ErrorLine {
	var out []runtime.ErrorLine
	for _, l := range errorLines(t, p) {
		if l.Task == "backup" && l.Job == job && l.Phase == runtime.PhaseNotify {
			out = append(out, l)
		}
	}
	return out
}

// checkNotifiedUnreachable: the job's notifications (forge's system job
// pings healthchecks.io and posts to ntfy.sh) were tried and, the
// machine having no network, each failed with category network, in an
// error line of its own that does not change the run's outcome; want
// are the calls, by the words of their lines ("ping (start)", "failure
// URL" …).
func checkNotifiedUnreachable(t *testing.T, p *plan.Plan, job string, want ...string) {
	t.Helper()
	lines := notifyLinesOf(t, p, job)
	var got []string
	for _, l := range lines {
		assert.Equal(t, "network", string(l.Category), "%+v", l)
		for _, w := range want {
			if strings.Contains(l.Message, w) {
				got = append(got, w)
			}
		}
	}
	assert.ElementsMatch(t, want, got, "the notifications of %s: %+v", job, lines)
}

// asUser runs a command as a user of the machine (runuser), failing the
// test if it fails.
func asUser(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command("runuser", append([]string{"-u", name, "--"}, args...)...).CombinedOutput()
	require.NoError(t, err, "runuser -u %s -- %s:\n%s", name, strings.Join(args, " "), out)
	return string(out)
}
