// Package runtime is `bakc run`: what the units start on each node, every
// night, unattended. It reads only the plan.
//
// A backup run goes through named phases, each in its own file:
//
//	lock        one run per job at a time (lock.go)
//	preflight   password and environment files readable, sources there,
//	            each repository mounted from where the plan says and
//	            initialised (preflight.go, mountpoint.go)
//	pre hook    the job's pre_backup command (hooks.go)
//	dumps       each dump command streamed into `restic backup --stdin`,
//	            per repository, on the live system (dump.go)
//	snapshot    ZFS snapshots shown at the original paths in the run's
//	            private mount namespace (snapshots.go, runtime/snapshot)
//	backup      one `restic backup --json` per repository from the same
//	            snapshot, progress to the terminal and systemd (backup.go,
//	            progress.go)
//	retention   `restic forget` for this node and job, after a complete
//	            backup only (retention.go)
//	release     snapshots unmounted and destroyed, whatever happened
//	post hook   post_backup on success, on_failure otherwise (hooks.go)
//	report      metrics, the last success kept across failures, one error
//	            line per failure (metrics.go, state.go, errorlog.go)
//
// Every restic operation on a repository holds the repository's lock on
// this node, shared (backup, ls, dump) or exclusive (forget, prune, check,
// init), waiting a bounded time for other runs (repolock.go), and first
// removes the stale restic locks of this host's killed restics
// (stalelock.go). Every run records its start durably, so that the next
// one reports a run that was killed (runstate.go).
//
// The exit code says which phase failed first (exitcode.go). Prune and
// verify are runs of their own per repository (maintenance.go).
package runtime

import (
	"io"
	"log/slog"
	"time"

	"github.com/holthome/bakc/runtime/namespace"
	"github.com/holthome/bakc/runtime/snapshot"
)

// Options are how a run is carried out, beyond what the plan says. The
// zero value runs for real with restic from PATH.
type Options struct {
	// Restic is the restic binary; empty means "restic" from PATH.
	Restic string
	// ResticOptions are extended options (`-o key=value`) given to every
	// restic call, such as sftp.command. The plan has none; tests and
	// unusual setups use them.
	ResticOptions []string
	// DryRun prints every command the run would run to Out, and runs and
	// writes nothing: no lock, no hook, no snapshot, no restic, no metrics.
	DryRun bool
	// Out receives the dry run's commands, and progress when Terminal is
	// set. Nil discards.
	Out io.Writer
	// Terminal says Out is a terminal: progress is drawn there, on one
	// line rewritten in place.
	Terminal bool
	// Notify sends a state to systemd ("STATUS=…"); nil sends nothing.
	// The command sets it to go-systemd's daemon.SdNotify when
	// NOTIFY_SOCKET is set.
	Notify func(state string) error
	// Log receives the run's structured log. Nil discards.
	Log *slog.Logger
	// Now is the clock: the run's start, the snapshot's name and the
	// metrics' timestamps; when set, restic's snapshots get its time too
	// (--time). Nil is time.Now, and restic's own clock. Tests stamp runs
	// on simulated days with it.
	Now func() time.Time
	// ZFS runs zfs(8) for snapshot jobs; nil is zfs.New.
	ZFS snapshot.ZFS
	// Mounts returns this process's mounts, for the repository mount
	// checks; nil is namespace.Mounts (/proc/self/mountinfo). Tests of
	// an NFS repository, which cannot be mounted here, replace it.
	Mounts func() ([]namespace.Mount, error)
	// Euid is the effective user id deciding whether restic is started as
	// the plan's backup user; nil is os.Geteuid.
	Euid func() int
	// Seed picks the files of a restore test; 0 picks a new seed, which
	// is logged so that a test can be repeated with the same files.
	Seed uint64
	// LockWait bounds the wait for a repository that another run of this
	// node uses (repolock.go); 0 is DefaultLockWait, negative does not
	// wait. What is left of it is restic's --retry-lock (restic ≥ 0.16).
	LockWait time.Duration
	// OpenTimeout bounds the preflight's opening of each URL repository
	// (reach.go); 0 is DefaultOpenTimeout.
	OpenTimeout time.Duration
}

func (o *Options) log() *slog.Logger {
	if o.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return o.Log
}

func (o *Options) now() time.Time {
	if o.Now == nil {
		return time.Now()
	}
	return o.Now()
}

func (o *Options) out() io.Writer {
	if o.Out == nil {
		return io.Discard
	}
	return o.Out
}

func (o *Options) restic() string {
	if o.Restic == "" {
		return "restic"
	}
	return o.Restic
}

func (o *Options) openTimeout() time.Duration {
	if o.OpenTimeout <= 0 {
		return DefaultOpenTimeout
	}
	return o.OpenTimeout
}

func (o *Options) mounts() ([]namespace.Mount, error) {
	if o.Mounts == nil {
		return namespace.Mounts()
	}
	return o.Mounts()
}
