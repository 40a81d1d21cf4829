package main

import (
	"context"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/runtime"
)

const replicateLong = `Run syncoid once on the NAS, pulling one dataset of a node into its copy,
under bakc's lock for that copy, with its failure categorised in the error
log and metrics per node and dataset in the textfile collector: the last
success, the last run's outcome, and the lag (the age of the copy's newest
snapshot). Everything after -- is syncoid's command line, as NixOS's
services.syncoid writes it; its last two arguments are the source
USER@NODE:DATASET and the target. The NAS's generated configuration makes
the syncoid that services.syncoid starts a wrapper that runs this command
(docs/replication.md), with the folders of the NAS plan.

` + runtime.ExitCodeHelp

// replicateOptions are `bakc run replicate`'s own flags.
type replicateOptions struct {
	syncoid, zfs string
	nas          plan.NASReplication
}

func newReplicateCmd(e *env, opts *runOptions) *cobra.Command {
	var ro replicateOptions
	cmd := &cobra.Command{
		Use:   "replicate --syncoid PROGRAM [flags] -- SYNCOID-ARGS...",
		Short: "Pull one dataset of a node with syncoid, on the NAS (what its syncoid units start)",
		Long:  replicateLong,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) < 2 {
				return usageError("replicate needs syncoid's command line after --, ending with the source USER@NODE:DATASET and the target")
			}
			return nil
		},
		RunE: func(_ *cobra.Command, args []string) error {
			if ro.syncoid == "" {
				return usageError("replicate needs --syncoid, the real syncoid program")
			}
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			log := newRunLogger(e.stderr, opts.verbose)
			nas := ro.nas
			rep, err := runtime.Replicate(ctx, runtime.ReplicateRun{
				Config: &nas, Syncoid: ro.syncoid, Args: args, ZFS: ro.zfs, Output: e.stderr,
			}, runtimeOptions(e, *opts, log))
			if err != nil {
				return &exitError{code: exitConfig, err: err}
			}
			return exitWith(rep.ExitCode)
		},
	}
	f := cmd.Flags()
	f.StringVar(&ro.syncoid, "syncoid", "", "the real syncoid `program`")
	f.StringVar(&ro.zfs, "zfs", "zfs", "the zfs `program` the copy's newest snapshot is read with")
	f.StringVar(&ro.nas.State, "state", "/var/lib/bakc", "the NAS's bakc state `folder` (locks, run records, last successes)")
	f.StringVar(&ro.nas.TextfileDir, "textfile-dir", "/var/lib/node_exporter/textfile_collector", "node_exporter's textfile collector `folder` on the NAS")
	f.StringVar(&ro.nas.ErrorLog, "error-log", "/var/log/bakc/errors.jsonl", "the error log `file`: one JSON line per failure")
	return cmd
}
