package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/holthome/bakc/runtime"
)

// systemctl is how status asks systemd about timers; the tests point it
// at a systemd user manager of their own (systemctl --user).
var systemctl = []string{"systemctl"}

// systemdBooted reports whether systemd runs this machine (sd_booted(3):
// /run/systemd/system exists); the tests replace it with theirs.
var systemdBooted = func() bool {
	fi, err := os.Lstat("/run/systemd/system")
	return err == nil && fi.IsDir()
}

// listTimers asks systemd for the next and last elapse of every timer of
// bakc's (`systemctl list-timers --all --output=json 'bakc-*'`, systemd
// ≥ 251). It returns nil and why when it cannot.
func listTimers(ctx context.Context) (map[string]runtime.TimerInfo, string) {
	if !systemdBooted() {
		return nil, "computed from the plan's schedules, without their randomized delay: systemd is not running here (no /run/systemd/system)"
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	argv := append(append([]string{}, systemctl...), "list-timers", "--all", "--output=json", "--no-pager", "bakc-*")
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	out, err := cmd.Output()
	if err != nil {
		why := err.Error()
		if ee, ok := err.(*exec.ExitError); ok && len(ee.Stderr) > 0 {
			why = strings.TrimSpace(string(ee.Stderr))
		}
		return nil, fmt.Sprintf("computed from the plan's schedules, without their randomized delay: systemctl list-timers failed (%s)", why)
	}
	var timers []struct {
		Unit string `json:"unit"`
		Next uint64 `json:"next"`
		Last uint64 `json:"last"`
	}
	if err := json.Unmarshal(out, &timers); err != nil {
		return nil, "computed from the plan's schedules, without their randomized delay: systemctl list-timers gave no JSON (systemd older than 251?)"
	}
	m := map[string]runtime.TimerInfo{}
	for _, t := range timers {
		m[t.Unit] = runtime.TimerInfo{Next: fromUsec(t.Next), Last: fromUsec(t.Last)}
	}
	return m, ""
}

// fromUsec is systemd's microseconds since the epoch; 0 (and infinity)
// is "never".
func fromUsec(us uint64) time.Time {
	if us == 0 || us == ^uint64(0) {
		return time.Time{}
	}
	return time.UnixMicro(int64(us))
}
