package booted

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// What a test uses inside the machine (Inside() is true): systemd, asked
// the way an administrator asks it.

// UnitRun is a unit's state after `systemctl start` returned.
type UnitRun struct {
	Unit string
	// StartErr is systemctl start's error: a failed oneshot service, or
	// a dependency that failed so that the service never started.
	StartErr error
	// StartOutput is what systemctl start printed.
	StartOutput string
	// Result, ActiveState, ExecMainStatus: systemctl show's properties.
	Result      string
	ActiveState string
	// ExecMainStatus is the main process's exit status.
	ExecMainStatus int
	// Ran reports whether the service's main process was started at all
	// in this boot (ExecMainStartTimestampMonotonic is set).
	Ran bool
	// Took is how long the main process ran (from systemd's monotonic
	// start and exit timestamps); 0 when unknown.
	Took time.Duration
}

// String is the state as one line, for messages.
func (r UnitRun) String() string {
	return fmt.Sprintf("%s: Result=%s ActiveState=%s ExecMainStatus=%d ran=%v took=%v", r.Unit, r.Result, r.ActiveState, r.ExecMainStatus, r.Ran, r.Took.Round(100*time.Millisecond))
}

// Start runs `systemctl start UNIT`, which for a oneshot service returns
// when the service has finished, and returns the unit's state.
func Start(t testing.TB, unit string) UnitRun { t.Helper(); return StartAll(t, unit)[0] }

// StartAll starts the units at the same moment (one `systemctl start`
// for all), waits until every one has finished, and returns their
// states.
func StartAll(t testing.TB, units ...string) []UnitRun {
	t.Helper()
	out, err := exec.Command("systemctl", append([]string{"start"}, units...)...).CombinedOutput()
	var runs []UnitRun
	for _, u := range units {
		runs = append(runs, state(t, u, err, string(out)))
	}
	return runs
}

func state(t testing.TB, unit string, err error, out string) UnitRun {
	t.Helper()
	r := UnitRun{Unit: unit, StartErr: err, StartOutput: strings.TrimSpace(out)}
	props := Show(t, unit, "Result", "ActiveState", "ExecMainStatus", "ExecMainStartTimestampMonotonic", "ExecMainExitTimestampMonotonic")
	r.Result, r.ActiveState = props["Result"], props["ActiveState"]
	r.ExecMainStatus, _ = strconv.Atoi(props["ExecMainStatus"])
	r.Ran = props["ExecMainStartTimestampMonotonic"] != "" && props["ExecMainStartTimestampMonotonic"] != "0"
	start, err1 := strconv.ParseInt(props["ExecMainStartTimestampMonotonic"], 10, 64)
	exit, err2 := strconv.ParseInt(props["ExecMainExitTimestampMonotonic"], 10, 64)
	if err1 == nil && err2 == nil && start > 0 && exit >= start {
		r.Took = time.Duration(exit-start) * time.Microsecond
	}
	return r
}

// StartNoBlock starts the units (systemctl start --no-block) and returns
// at once; Wait waits for them.
func StartNoBlock(t testing.TB, units ...string) {
	t.Helper()
	Systemctl(t, append([]string{"start", "--no-block"}, units...)...)
}

// Wait waits until none of the units is starting or stopping any more
// (at most timeout), and returns their states.
func Wait(t testing.TB, timeout time.Duration, units ...string) []UnitRun {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var runs []UnitRun
	for _, u := range units {
		for {
			r := state(t, u, nil, "")
			if r.ActiveState != "activating" && r.ActiveState != "deactivating" && r.ActiveState != "reloading" {
				runs = append(runs, r)
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s is still %s after %v", u, r.ActiveState, timeout)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	return runs
}

// WaitFor polls cond every 100 ms until it is true, for at most timeout;
// it reports whether it became true.
func WaitFor(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Process is a process of a unit.
type Process struct {
	PID  int
	Argv []string
}

// Processes lists the processes of a unit: those whose cgroup (in any
// hierarchy /proc/<pid>/cgroup lists) is the unit's own or below it.
func Processes(unit string) []Process {
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	var out []Process
	for _, d := range dirs {
		cg, err := os.ReadFile(filepath.Join(d, "cgroup"))
		if err != nil || !strings.Contains(string(cg)+"\n", "/"+unit+"\n") && !strings.Contains(string(cg), "/"+unit+"/") {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join(d, "cmdline"))
		if err != nil || len(cmdline) == 0 {
			continue
		}
		pid, _ := strconv.Atoi(filepath.Base(d))
		out = append(out, Process{PID: pid, Argv: strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00")})
	}
	return out
}

// RunningRestic reports whether a restic of the unit runs the restic
// command sub (backup, forget, prune …).
func RunningRestic(unit, sub string) bool {
	for _, p := range Processes(unit) {
		if filepath.Base(p.Argv[0]) == "restic" && slices.Contains(p.Argv, sub) {
			return true
		}
	}
	return false
}

// HoldRestic waits (at most timeout) until a restic of the unit runs
// the restic command sub, and stops it there with SIGSTOP: it holds
// whatever it is doing, with its lock, until a signal of systemd's (stop
// sends SIGTERM and SIGCONT to every process of the unit; kill sends
// what it is told) or ResumeRestic. So a test can stop or kill a unit
// while restic is surely in sub, whatever the machine's speed. It
// returns restic's pid.
func HoldRestic(t testing.TB, unit, sub string, timeout time.Duration) int {
	t.Helper()
	pid := 0
	WaitFor(timeout, func() bool {
		for _, p := range Processes(unit) {
			if filepath.Base(p.Argv[0]) == "restic" && slices.Contains(p.Argv, sub) {
				if err := syscall.Kill(p.PID, syscall.SIGSTOP); err == nil {
					pid = p.PID
					return true
				}
			}
		}
		return false
	})
	if pid == 0 {
		t.Fatalf("no restic %s ran in %s within %v\n%s", sub, unit, timeout, Journal(unit))
	}
	// It is stopped, not gone: it had not finished.
	if !WaitFor(10*time.Second, func() bool { return processState(pid) == "T" }) {
		t.Fatalf("restic %s (pid %d) of %s did not stop (state %q): it ended first\n%s", sub, pid, unit, processState(pid), Journal(unit))
	}
	return pid
}

// processState is the state letter of /proc/<pid>/stat ("R", "S", "T"
// …), or "" when the process is gone.
func processState(pid int) string {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ""
	}
	// pid (comm) state …; comm may hold spaces and parentheses.
	s := string(data)
	i := strings.LastIndex(s, ")")
	if i < 0 || i+2 >= len(s) {
		return ""
	}
	return s[i+2 : i+3]
}

// DropIn writes a drop-in for unit at runtime (under /run/systemd/system,
// gone at the next boot) and reloads systemd.
func DropIn(t testing.TB, unit, name, content string) {
	t.Helper()
	dir := "/run/systemd/system/" + unit + ".d"
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".conf"), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	Systemctl(t, "daemon-reload")
}

// Show returns properties of a unit (systemctl show -p).
func Show(t testing.TB, unit string, props ...string) map[string]string {
	t.Helper()
	out, err := exec.Command("systemctl", "show", unit, "-p", strings.Join(props, ",")).Output()
	if err != nil {
		t.Fatalf("systemctl show %s: %v", unit, err)
	}
	m := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			m[k] = v
		}
	}
	return m
}

// Systemctl runs systemctl with args and returns its output; an error
// fails the test.
func Systemctl(t testing.TB, args ...string) string {
	t.Helper()
	out, err := exec.Command("systemctl", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("systemctl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// Journal is the unit's journal of this boot (the last lines), for
// failure messages.
func Journal(unit string) string {
	out, _ := exec.Command("journalctl", "-b", "--no-pager", "-o", "short-monotonic", "-n", "60", "-u", unit).CombinedOutput()
	return string(out)
}

// Timer is one line of `systemctl list-timers --all --output=json`.
type Timer struct {
	Unit      string `json:"unit"`
	Activates string `json:"activates"`
	// Next is the next elapse in µs since the epoch; 0 when none.
	Next int64 `json:"next"`
	Last int64 `json:"last"`
}

// Timers lists every timer, as `systemctl list-timers --all` shows them.
func Timers(t testing.TB) []Timer {
	t.Helper()
	var ts []Timer
	out := Systemctl(t, "list-timers", "--all", "--output=json")
	if err := json.Unmarshal([]byte(out), &ts); err != nil {
		t.Fatalf("systemctl list-timers --output=json: %v\n%s", err, out)
	}
	return ts
}

// Calendar is `systemd-analyze calendar EXPR` read in UTC: the
// normalized form of a calendar expression and its next elapse from now.
func Calendar(t testing.TB, expr string) (normalized string, next time.Time) {
	t.Helper()
	cmd := exec.Command("systemd-analyze", "calendar", expr)
	cmd.Env = []string{"TZ=UTC", "LANG=C"}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("systemd-analyze calendar %q: %v\n%s", expr, err, out)
	}
	for _, l := range strings.Split(string(out), "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(l), ": ")
		if !ok {
			continue
		}
		switch k {
		case "Normalized form":
			normalized = v
		case "Next elapse":
			next, err = time.Parse("Mon 2006-01-02 15:04:05 MST", v)
			if err != nil {
				t.Fatalf("systemd-analyze calendar %q: next elapse %q: %v", expr, v, err)
			}
		}
	}
	if normalized == "" || next.IsZero() {
		t.Fatalf("systemd-analyze calendar %q: unexpected output\n%s", expr, out)
	}
	return normalized, next
}
