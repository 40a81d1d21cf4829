package main

import (
	"context"
	"os"

	"github.com/spf13/cobra"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/replication"
)

const sendGuardLong = `send-guard is the forced command of the NAS's replication key on a node
(command="… send-guard DATASET…" in the authorized_keys line bakc writes).
sshd runs it instead of what the NAS asked for, with the request in
SSH_ORIGINAL_COMMAND. It runs that request only when it is one of the
commands syncoid runs on a source: zfs get of a listed dataset's snapshot
lists (filtered to sanoid's snapshots) and zfs send of sanoid's snapshots
of a listed dataset. Everything else is refused before anything runs, with
a message on stderr and exit code 1 (docs/replication.md).

It is not meant to be run by hand.`

func newSendGuardCmd(e *env) *cobra.Command {
	var zfs string
	cmd := &cobra.Command{
		Use:    replication.GuardCommand + " DATASET...",
		Short:  "The forced command of the NAS's replication key on a node",
		Long:   sendGuardLong,
		Hidden: true,
		Args:   cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, datasets []string) error {
			for _, ds := range datasets {
				if err := plan.CheckDatasetName(ds); err != nil {
					return usageError("%s: %v", replication.GuardCommand, err)
				}
			}
			g := replication.Guard{Datasets: datasets}
			code := replication.Serve(context.Background(), g, os.Getenv("SSH_ORIGINAL_COMMAND"), zfs, e.stdout, e.stderr)
			if code != 0 {
				return silentExit(code)
			}
			return nil
		},
	}
	// --zfs is for tests only (a stand-in for what zfs-fuse lacks); the
	// key's command="…" is written by bakc and never sets it, and the
	// NAS cannot: sshd runs the key's command, not the NAS's.
	cmd.Flags().StringVar(&zfs, "zfs", "", "the zfs program (default: zfs found in "+replication.GuardPath+")")
	_ = cmd.Flags().MarkHidden("zfs")
	return cmd
}
