package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/runtime"
	"github.com/holthome/bakc/runtime/namespace"
)

// runOptions are the flags every `bakc run` task shares.
type runOptions struct {
	plan          string
	dryRun        bool
	restic        string
	resticOptions []string
	verbose       bool
	seed          uint64
	lockWait      time.Duration
	openTimeout   time.Duration
}

const runLong = `Run one task of the installed plan: what the systemd units start on each
node. The task's steps, its metrics (docs/metrics.md) and its error log are
described in docs/runtime.md.

  backup JOB         lock, preflight, pre_backup hook, dumps (on the live
                     system), ZFS snapshot shown at the original paths
                     (private mount namespace), restic backup into each
                     repository, forget, post_backup or on_failure hook
  prune REPO         restic prune
  verify REPO        restic check --read-data-subset (the plan's subset)
  restore-test REPO  restore random files of the node's latest snapshot
                     and compare them with the snapshot's record
  replicate -- ARGS  on the NAS: syncoid ARGS, pulling one dataset of a
                     node (docs/replication.md)

Progress goes to the terminal and, under systemd (NOTIFY_SOCKET), to the
unit's status line; the log goes to stderr (the journal). With --dry-run
every command the task would run is printed and nothing is run or written.

` + runtime.ExitCodeHelp

func newRunCmd(e *env) *cobra.Command {
	var opts runOptions
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run a backup, prune or verify task of the installed plan (what the units start)",
		Long:  runLong,
		Args:  cobra.NoArgs,
	}
	f := cmd.PersistentFlags()
	f.StringVar(&opts.plan, "plan", "/etc/bakc/plan.json", "the node's plan `FILE`, as bakc plan wrote it")
	f.BoolVar(&opts.dryRun, "dry-run", false, "print every command the task would run; run and write nothing")
	f.StringVar(&opts.restic, "restic", envOr("BAKC_RESTIC", "restic"), "the restic `binary` ($BAKC_RESTIC sets the default)")
	f.StringArrayVarP(&opts.resticOptions, "restic-option", "o", nil, "an extended restic option for every restic call, such as sftp.command=…; repeatable")
	f.BoolVarP(&opts.verbose, "verbose", "v", false, "log debug messages too")
	f.DurationVar(&opts.lockWait, "lock-wait", lockWaitDefault(), "how long to wait for a repository that another run of this node uses, then for restic's own lock (restic ≥ 0.16), before failing with exit code 5 ($BAKC_LOCK_WAIT sets the default)")
	f.DurationVar(&opts.openTimeout, "open-timeout", durationEnv("BAKC_OPEN_TIMEOUT", runtime.DefaultOpenTimeout), "how long the preflight gives each URL repository (s3, b2, rest, sftp, …) to open before it leaves it out of the run with category network ($BAKC_OPEN_TIMEOUT sets the default)")

	cmd.AddCommand(
		&cobra.Command{
			Use:   "backup JOB",
			Short: "Back up one job of the plan into each of its repositories",
			Long:  "Back up one job of the plan into each of its repositories.\n\n" + runtime.ExitCodeHelp,
			Args:  exactArgs(1, "backup needs the name of one job of the plan"),
			RunE:  func(_ *cobra.Command, args []string) error { return runBackup(e, opts, args[0]) },
		},
		&cobra.Command{
			Use:   "prune REPO",
			Short: "Remove data no snapshot needs any more from one repository (restic prune)",
			Long:  "Remove data no snapshot needs any more from one repository (restic prune).\n\n" + runtime.ExitCodeHelp,
			Args:  exactArgs(1, "prune needs the name of one repository of the plan"),
			RunE: func(_ *cobra.Command, args []string) error {
				return runRepositoryTask(e, opts, args[0], runtime.Prune)
			},
		},
		&cobra.Command{
			Use:   "verify REPO",
			Short: "Check one repository and read back a subset of its data (restic check)",
			Long:  "Check one repository and read back a subset of its data (restic check --read-data-subset).\n\n" + runtime.ExitCodeHelp,
			Args:  exactArgs(1, "verify needs the name of one repository of the plan"),
			RunE: func(_ *cobra.Command, args []string) error {
				return runRepositoryTask(e, opts, args[0], runtime.Verify)
			},
		},
	)
	restoreTest := &cobra.Command{
		Use:   "restore-test REPO",
		Short: "Restore random files of the node's latest snapshot and compare them with its record",
		Long: `Restore random regular files (the plan's restore_test.files, 5 without one) of
the node's latest snapshot in one repository into a temporary folder, with
restic dump, which checks every block against the SHA-256 the snapshot
records, and compare each file's size with the record. The seed of the pick
is logged; --seed repeats a pick.

` + runtime.ExitCodeHelp,
		Args: exactArgs(1, "restore-test needs the name of one repository of the plan"),
		RunE: func(_ *cobra.Command, args []string) error {
			return runRepositoryTask(e, opts, args[0], runtime.RestoreTest)
		},
	}
	restoreTest.Flags().Uint64Var(&opts.seed, "seed", 0, "pick the files with this seed (0: a new one, logged)")
	cmd.AddCommand(restoreTest)
	cmd.AddCommand(newReplicateCmd(e, &opts))
	return cmd
}

// exactArgs is cobra.ExactArgs with a message that says what is missing.
func exactArgs(n int, msg string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) != n {
			return usageError("%s", msg)
		}
		return nil
	}
}

// lockWaitDefault is $BAKC_LOCK_WAIT when it is a duration (a unit's
// drop-in can set it without changing ExecStart=), else the runtime's
// default.
func lockWaitDefault() time.Duration {
	return durationEnv("BAKC_LOCK_WAIT", runtime.DefaultLockWait)
}

// durationEnv is the environment variable name when it holds a positive
// duration, else def.
func durationEnv(name string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(os.Getenv(name)); err == nil && d > 0 {
		return d
	}
	return def
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// runBackup is `bakc run backup JOB`. A ZFS snapshot job first moves into
// a private mount namespace (namespace.Enter re-executes bakc there
// unless systemd gave the unit one), so that the snapshot views at the
// original paths are seen by this run only.
func runBackup(e *env, opts runOptions, job string) error {
	p, err := plan.ReadFile(opts.plan)
	if err != nil {
		return &exitError{code: exitConfig, err: err}
	}
	j, ok := p.Job(job)
	if !ok {
		return &exitError{code: exitConfig, err: fmt.Errorf("%s has no job %q", opts.plan, job)}
	}
	if err := runtime.RefuseDisabled(j); err != nil {
		return &exitError{code: exitConfig, err: err}
	}
	log := newRunLogger(e.stderr, opts.verbose)
	if j.Snapshot == plan.SnapshotZFS && !opts.dryRun {
		inChild, code, err := namespace.Enter(context.Background(), namespace.WithLogger(log))
		if err != nil {
			return &exitError{code: runtime.ExitSnapshotFailed, err: fmt.Errorf("job %s needs a private mount namespace for its snapshots: %w", job, err)}
		}
		if !inChild {
			return silentExit(code)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	rep, err := runtime.Backup(ctx, p, job, runtimeOptions(e, opts, log))
	if err != nil {
		return &exitError{code: exitConfig, err: err}
	}
	return exitWith(rep.ExitCode)
}

// runRepositoryTask is `bakc run prune|verify|restore-test REPO`.
func runRepositoryTask(e *env, opts runOptions, repo string,
	task func(context.Context, *plan.Plan, string, runtime.Options) (*runtime.TaskReport, error)) error {
	p, err := plan.ReadFile(opts.plan)
	if err != nil {
		return &exitError{code: exitConfig, err: err}
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	log := newRunLogger(e.stderr, opts.verbose)
	rep, err := task(ctx, p, repo, runtimeOptions(e, opts, log))
	if err != nil {
		return &exitError{code: exitConfig, err: err}
	}
	return exitWith(rep.ExitCode)
}

// exitWith turns a task's exit code into RunE's result; its failures are
// logged already.
func exitWith(code int) error {
	if code == runtime.ExitOK {
		return nil
	}
	return silentExit(code)
}

// runtimeOptions are the runtime's options from the flags and the
// process's surroundings (terminal, systemd).
func runtimeOptions(e *env, opts runOptions, log *slog.Logger) runtime.Options {
	o := runtime.Options{
		Restic:        opts.restic,
		ResticOptions: opts.resticOptions,
		DryRun:        opts.dryRun,
		Seed:          opts.seed,
		LockWait:      opts.lockWait,
		OpenTimeout:   opts.openTimeout,
		Out:           e.stdout,
		Terminal:      isTerminal(e.stdout),
		Log:           log,
		Now:           clock, // nil: the real clock; the tests set it
	}
	if opts.lockWait <= 0 {
		o.LockWait = -1 // --lock-wait 0: do not wait
	}
	if os.Getenv("NOTIFY_SOCKET") != "" {
		o.Notify = func(state string) error {
			_, err := daemon.SdNotify(false, state)
			return err
		}
	}
	return o
}

// newRunLogger logs structured lines (log/slog, key=value) to stderr.
// Under systemd (JOURNAL_STREAM set) the time is left out: the journal
// stamps every line itself.
func newRunLogger(w io.Writer, verbose bool) *slog.Logger {
	level := slog.LevelInfo
	if verbose {
		level = slog.LevelDebug
	}
	journal := os.Getenv("JOURNAL_STREAM") != ""
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{
		Level: level,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if journal && len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))
}

// isTerminal reports whether w is a terminal (progress is drawn there).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}
