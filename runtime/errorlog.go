package runtime

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/holthome/bakc/runtime/restic"
)

// ErrorLine is one line of the error log (plan.Monitoring.ErrorLog): one
// JSON object per failure, so that a log shipper or `jq` can alert on
// categories without parsing prose.
type ErrorLine struct {
	Time time.Time `json:"time"`
	Node string    `json:"node"`
	// Task is "backup", "prune", "verify", "restore-test" or
	// "replicate" (a NAS's pull of a node's dataset; Node is that node).
	Task string `json:"task"`
	// Job is empty for a repository task (prune, verify).
	Job string `json:"job,omitempty"`
	// Repository is empty for a failure of the whole job (lock, hook,
	// snapshot).
	Repository string `json:"repository,omitempty"`
	Phase      Phase  `json:"phase"`
	// ResticExitCode is restic's exit code; absent when restic did not run.
	ResticExitCode *int            `json:"restic_exit_code,omitempty"`
	Category       restic.Category `json:"category"`
	Message        string          `json:"message"`
	// Dataset and Target are, for a replicate run on the NAS, the
	// node's dataset and its copy there; SyncoidExitCode is syncoid's
	// exit code when it ran.
	Dataset         string `json:"dataset,omitempty"`
	Target          string `json:"target,omitempty"`
	SyncoidExitCode *int   `json:"syncoid_exit_code,omitempty"`
}

// newErrorLine makes the error line of a failure.
func newErrorLine(t time.Time, node, task, job string, f Failure) ErrorLine {
	l := ErrorLine{
		Time: t.UTC(), Node: node, Task: task, Job: job, Repository: f.Repository,
		Phase: f.Phase, Category: f.Category, Message: oneLine(f.Err.Error()),
	}
	if f.ResticExitCode >= 0 {
		code := f.ResticExitCode
		l.ResticExitCode = &code
	}
	return l
}

// appendErrorLines appends lines to the error log in one write, so that
// lines of runs failing at the same moment never interleave (O_APPEND).
// owner is the backup user when the run is root's (a ZFS job, whose
// restic runs as that user), nil otherwise: a log file root makes is
// given to it, or every later run of the backup user's own services
// could not append its lines.
func appendErrorLines(path string, lines []ErrorLine, owner *syscall.Credential) error {
	if len(lines) == 0 || path == "" {
		return nil
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	for _, l := range lines {
		if err := enc.Encode(l); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return err
	}
	giveTo(path, owner)
	if _, err := f.Write(buf.Bytes()); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// errorLines are the run's failures as error lines.
func (r *backupRun) errorLines() []ErrorLine {
	var lines []ErrorLine
	now := r.o.now()
	for _, f := range r.report.Failures {
		lines = append(lines, newErrorLine(now, r.plan.Node.Name, "backup", r.job.Name, f))
	}
	return lines
}
