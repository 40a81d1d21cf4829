package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/holthome/bakc/runtime/restic"
)

const resticLong = `Run restic on a repository of the installed plan with everything the units
give it: the repository, its password file, its environment file (read as
systemd reads EnvironmentFile=, never by a shell), restic's cache, the ssh
command of an sftp repository, and, run as root, the backup user, who owns
the repository, with the capabilities to read everything and to restore
owners and modes (chown, dac_override, dac_read_search, fowner, fsetid,
mknod). The repository's preflight runs first (password file, NFS mount,
the repository there), as for a verify.

ARGS are restic's own: a subcommand and its flags, after "--" (bakc's own
flags, --plan and --restic, go before it). restic's
standard streams are bakc's: its prompts, progress and output are
restic's own. SIGINT from the terminal reaches restic itself, which
removes its lock; SIGTERM to bakc reaches restic as SIGINT.

Exit codes:
  restic's own exit code, when restic ran (0 success; see restic's
  documentation for the others)
  1  the plan cannot be read, names no such repository, or the
     repository's preflight failed (restic did not run)
  2  usage error`

func newResticCmd(e *env) *cobra.Command {
	var opts nodeOptions
	cmd := &cobra.Command{
		Use:   "restic REPO -- ARGS...",
		Short: "Run restic on a repository of the plan, with its password, environment, cache and user",
		Long:  resticLong,
		Example: `  bakc restic nas-primary -- snapshots --host forge
  bakc restic nas-primary -- ls latest /persist/var/lib/plex
  bakc restic cloud-secondary -- stats --mode raw-data`,
		ValidArgsFunction: completeFirstRepository,
		RunE: func(cmd *cobra.Command, args []string) error {
			if dash := cmd.ArgsLenAtDash(); dash > 1 {
				return usageError("restic's arguments go after --, and the repository before it: bakc restic REPO -- ARGS")
			}
			if len(args) < 2 {
				return usageError("restic needs a repository of the plan and restic's arguments: bakc restic REPO -- ARGS")
			}
			return runRestic(e, opts, args[0], args[1:])
		},
	}
	addNodeFlags(cmd, &opts)
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return usageError("%v (restic's own flags go after --: bakc restic REPO -- ARGS)", err)
	})
	return cmd
}

func runRestic(e *env, opts nodeOptions, repo string, args []string) error {
	p, err := opts.readPlan()
	if err != nil {
		return err
	}
	rs, err := resticForRepository(p, opts, repo, restic.RestoreCapabilities)
	if err != nil {
		return err
	}
	return passThrough(e, rs.Command(context.Background(), args))
}

// passThrough runs cmd with bakc's own standard streams and returns
// restic's exit code as bakc's: SIGINT (a terminal's Ctrl-C reaches the
// whole process group, restic too) is left to restic, SIGTERM is passed
// on to it as SIGINT.
func passThrough(e *env, cmd *exec.Cmd) error {
	cmd.Stdin, cmd.Stdout, cmd.Stderr = e.stdin, e.stdout, e.stderr
	if f, ok := e.stdin.(*os.File); !ok || f == nil {
		cmd.Stdin = nil
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan struct{})
	go func() {
		for {
			select {
			case s := <-sigs:
				if s == syscall.SIGTERM {
					// restic 0.14 cleans up (its lock, a mount)
					// on SIGINT only.
					cmd.Process.Signal(syscall.SIGINT)
				}
			case <-done:
				return
			}
		}
	}()
	err := cmd.Wait()
	close(done)
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code := ee.ExitCode()
		if code < 0 {
			code = 128 + int(ee.Sys().(syscall.WaitStatus).Signal())
		}
		return silentExit(code)
	}
	return err
}
