package restic

import (
	"context"

	"os/exec"
	"syscall"

	"golang.org/x/sys/unix"
)

// Command is restic with the subcommand and its arguments as an
// exec.Cmd that is not started: the same argument vector, environment
// and user as Run, with nothing attached to its standard streams. It is
// for a person at the node (`bakc restic`, `bakc mount`), whose terminal
// the caller gives restic itself, so that restic's prompts, progress and
// exit code are restic's own. Unlike Run, ending ctx kills restic
// (exec.CommandContext); a caller that wants restic to remove its lock
// first sends it SIGINT itself.
func (r *Restic) Command(ctx context.Context, sub []string) *exec.Cmd {
	argv := r.Argv(sub)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	r.prepare(cmd)
	return cmd
}

// prepare gives cmd restic's environment and, with a Credential, its user
// and ambient capabilities: what every restic bakc starts has.
func (r *Restic) prepare(cmd *exec.Cmd) {
	cmd.Env = r.environ()
	if r.Credential != nil {
		caps := r.Capabilities
		if caps == nil {
			caps = []uintptr{unix.CAP_DAC_READ_SEARCH}
		}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: r.Credential, AmbientCaps: caps}
	}
}

// RestoreCapabilities are the ambient capabilities a restic restoring
// files as the backup user needs to put back every file as it was:
// owners and groups (chown), modes and times of others' files (fowner,
// fsetid), anywhere below a target only root may write to
// (dac_override), reading everything (dac_read_search), device files
// (mknod). The runbook's restore commands give setpriv the same list.
var RestoreCapabilities = []uintptr{
	unix.CAP_CHOWN, unix.CAP_DAC_OVERRIDE, unix.CAP_DAC_READ_SEARCH,
	unix.CAP_FOWNER, unix.CAP_FSETID, unix.CAP_MKNOD,
}
