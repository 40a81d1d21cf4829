package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

// Exit codes shared by every command. `bakc run` adds its own, documented
// in its help, from exitRunFirst upwards.
const (
	exitOK     = 0 // success; warnings may have been printed
	exitConfig = 1 // the configuration has errors (or a command failed)
	exitUsage  = 2 // the command line is wrong
)

// exitError carries an exit code out of a command's RunE. The message, if
// any, has already been printed when err is nil.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit code %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// usageError marks a wrong command line (exit code 2).
func usageError(format string, args ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, args...)}
}

// silentExit returns an exitError for a failure that has already been
// reported (diagnostics printed).
func silentExit(code int) error { return &exitError{code: code} }

// env is what every command gets: its streams. Only the cmd package
// touches files and the terminal.
type env struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

const rootLong = `bakc compiles a fleet's backup intent, written in HCL, into everything
that runs those backups: a NixOS module (backup.nix) per node, plain systemd
units, the NAS side (datasets, quotas, exports, replication user), a restore
runbook, and is the runtime those units start (bakc run).

Exit codes:
  0  success (warnings may have been printed)
  1  the configuration has errors, or the command failed
  2  usage error (unknown command or flag, wrong arguments)
  bakc run, status, restic and restore have codes of their own; see
  their --help.`

// newRootCmd builds the command tree; each command lives in its own file.
func newRootCmd(e *env) *cobra.Command {
	root := &cobra.Command{
		Use:           "bakc",
		Short:         "Compile a fleet's backup intent into NixOS modules, units and NAS plans, and run backups",
		Long:          rootLong,
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	root.SetIn(e.stdin)
	root.SetOut(e.stdout)
	root.SetErr(e.stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return &exitError{code: exitUsage, err: err}
	})
	root.AddCommand(
		newVersionCmd(e),
		newValidateCmd(e), newPlanCmd(e), newFmtCmd(e),
		newDocsCmd(e),
		newNASPlanCmd(e),
		newInitCmd(e),
		newCompileCmd(e), newUnitsCmd(e),
		newRunCmd(e),
		newStatusCmd(e), newSnapshotsCmd(e), newRestoreCmd(e),
		newResticCmd(e), newMountCmd(e),
		newAlertsCmd(e), newDashboardCmd(e),
		newSendGuardCmd(e),
	)
	wrapRunErrors(root)
	return root
}

// wrapRunErrors makes every error a command's RunE returns an exitError
// (exit code 1 unless it says otherwise), so that Main can tell them from
// cobra's own errors about the command line, which are usage errors.
func wrapRunErrors(c *cobra.Command) {
	if run := c.RunE; run != nil {
		c.RunE = func(cmd *cobra.Command, args []string) error {
			err := run(cmd, args)
			var ee *exitError
			if err == nil || errors.As(err, &ee) {
				return err
			}
			return &exitError{code: exitConfig, err: err}
		}
	}
	for _, sub := range c.Commands() {
		wrapRunErrors(sub)
	}
}

// Main runs bakc with args (without the program name) and returns the
// process exit code. Tests call it in-process.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr}
	root := newRootCmd(e)
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintf(stderr, "bakc: %v\n", ee.err)
		}
		return ee.code
	}
	// Every other error is cobra's own about the command line (unknown
	// command, wrong number of arguments): a usage error.
	fmt.Fprintf(stderr, "bakc: %v\nRun 'bakc --help' for usage.\n", err)
	return exitUsage
}
