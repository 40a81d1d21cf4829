package runtime

import (
	"context"
	"fmt"
	"log/slog"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// hookStopGrace is how long a hook's processes get after SIGTERM before
// they are killed, when the run is stopped.
const hookStopGrace = 10 * time.Second

// hook runs one of the job's hooks with `sh -c`, as the service's user,
// from /, with stdin from /dev/null. Everything it prints is logged line
// by line; the error of a failing hook carries its last line. It gets
// BAKC_NODE, BAKC_JOB and BAKC_HOOK in its environment, plus extra.
//
// The hook runs in a process group of its own: when the run is stopped
// the whole group gets SIGTERM, so that `pg_dump … > file` does not
// outlive the shell that started it.
//
// A hook declared with what it needs (plan.Needs) runs as its user, with
// that user's groups and HOME, and its PATH folders first (steps.go).
func (r *backupRun) hook(ctx context.Context, phase Phase, command string, extra []string) error {
	log := r.log.With("hook", string(phase))
	ra, err := r.resolveStep(r.job.HookNeeds(hookName(phase)))
	if err != nil {
		return fmt.Errorf("%s hook: %w", hookName(phase), err)
	}
	cmd := exec.CommandContext(ctx, "sh", "-c", command)
	cmd.Dir = "/"
	cmd.Env = stepEnv(ra, append([]string{
		"BAKC_NODE=" + r.plan.Node.Name,
		"BAKC_JOB=" + r.job.Name,
		"BAKC_HOOK=" + hookName(phase),
	}, extra...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: ra.cred}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) }
	cmd.WaitDelay = hookStopGrace

	out := &hookOutput{log: log}
	cmd.Stdout = out
	cmd.Stderr = out
	start := time.Now()
	log.Info("hook starts", "command", command, "user", ra.who)
	err = cmd.Run()
	out.flush()
	if err != nil {
		if last := out.lastLine(); last != "" {
			return fmt.Errorf("%s hook `%s` failed: %v (last output: %s)", hookName(phase), command, err, last)
		}
		return fmt.Errorf("%s hook `%s` failed: %v", hookName(phase), command, err)
	}
	log.Info("hook done", "seconds", time.Since(start).Seconds())
	return nil
}

// hookName is the plan's name of the hook a phase runs.
func hookName(p Phase) string {
	switch p {
	case PhasePreHook:
		return "pre_backup"
	case PhasePostHook:
		return "post_backup"
	case PhaseFailureHook:
		return "on_failure"
	}
	return string(p)
}

// hookOutput logs a hook's output line by line and keeps the last line.
// stdout and stderr share it, so writes are serialised.
type hookOutput struct {
	log  *slog.Logger
	mu   sync.Mutex
	buf  []byte
	last string
}

func (h *hookOutput) Write(p []byte) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.buf = append(h.buf, p...)
	for {
		i := strings.IndexByte(string(h.buf), '\n')
		if i < 0 {
			break
		}
		h.line(string(h.buf[:i]))
		h.buf = h.buf[i+1:]
	}
	// A line without an end is logged in pieces rather than kept for ever.
	if len(h.buf) > 64<<10 {
		h.line(string(h.buf))
		h.buf = nil
	}
	return len(p), nil
}

func (h *hookOutput) line(s string) {
	s = strings.TrimRight(s, "\r")
	if strings.TrimSpace(s) == "" {
		return
	}
	h.last = s
	h.log.Info("hook output", "line", s)
}

func (h *hookOutput) flush() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.buf) > 0 {
		h.line(string(h.buf))
		h.buf = nil
	}
}

func (h *hookOutput) lastLine() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.last
}
