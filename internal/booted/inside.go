package booted

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
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
}

// String is the state as one line, for messages.
func (r UnitRun) String() string {
	return fmt.Sprintf("%s: Result=%s ActiveState=%s ExecMainStatus=%d ran=%v", r.Unit, r.Result, r.ActiveState, r.ExecMainStatus, r.Ran)
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
	props := Show(t, unit, "Result", "ActiveState", "ExecMainStatus", "ExecMainStartTimestampMonotonic")
	r.Result, r.ActiveState = props["Result"], props["ActiveState"]
	r.ExecMainStatus, _ = strconv.Atoi(props["ExecMainStatus"])
	r.Ran = props["ExecMainStartTimestampMonotonic"] != "" && props["ExecMainStartTimestampMonotonic"] != "0"
	return r
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
