package plan

import "strings"

// Hook names: the keys of Hooks.Needs, the labels of hook blocks and the
// value of BAKC_HOOK.
const (
	HookPreBackup  = "pre_backup"
	HookPostBackup = "post_backup"
	HookOnFailure  = "on_failure"
)

// DumpTagPrefix starts the tag that names a dump; a dump's snapshots
// carry the job's tags and this one, so that restic's forget (grouped by
// paths and tags) keeps them apart from the job's path snapshots and
// from each other, and `restic dump --tag` finds them.
const DumpTagPrefix = "dump:"

// Needs is what a hook or a dump runs with, beyond its command.
type Needs struct {
	// User is the user the command runs as (with that user's groups and
	// home). Empty: the backup user, except in the backup service of a
	// ZFS snapshot job, where a hook without a user runs as root (as
	// hooks always did there).
	User string `json:"user,omitempty"`
	// Packages are Nix package attribute paths ("postgresql",
	// "python3Packages.psycopg") that backup.nix puts on the service's
	// path; a plain host ignores them.
	Packages []string `json:"packages,omitempty"`
	// Path are absolute folders put before PATH: in the service's
	// Environment=PATH= on a plain host, and before the command's PATH
	// by the runtime everywhere.
	Path []string `json:"path,omitempty"`
	// Writes are absolute paths the command writes to; they become
	// ReadWritePaths= of the job's service. Always empty for a dump.
	Writes []string `json:"writes,omitempty"`
}

// Dump is a command whose standard output restic backs up from its
// stdin (`restic backup --stdin --stdin-filename Filename`), once per
// repository of the job, as Needs.User, without touching the file
// system. A dump that exits non-zero fails the job and leaves no
// snapshot.
type Dump struct {
	Name string `json:"name"`
	// Command is the argv, run without a shell; Command[0] is looked up
	// in PATH.
	Command []string `json:"command"`
	// Filename is the file's path inside the snapshot, relative and
	// clean ("postgresql/all.sql"); restic records it as "/" + Filename.
	Filename string `json:"filename"`
	// Tag is DumpTagPrefix + Name.
	Tag string `json:"tag"`
	// RestoreCommand, if set, is the argv the runbook pipes the dump
	// into to restore it ("psql"), run as Needs.User. Never run by bakc.
	RestoreCommand []string `json:"restore_command,omitempty"`
	Needs
}

// SnapshotPath is the path restic records for the dump: "/" + Filename.
func (d Dump) SnapshotPath() string { return "/" + strings.TrimPrefix(d.Filename, "/") }

// HookNeeds returns what the named hook runs with; the zero Needs for a
// hook written as a plain string.
func (j *Job) HookNeeds(hook string) Needs { return j.Hooks.Needs[hook] }

// StepNeeds lists the Needs of every hook (that is set) and dump of the
// job: what its service must allow.
func (j *Job) StepNeeds() []Needs {
	var out []Needs
	for _, h := range []struct{ name, cmd string }{
		{HookPreBackup, j.Hooks.PreBackup}, {HookPostBackup, j.Hooks.PostBackup}, {HookOnFailure, j.Hooks.OnFailure},
	} {
		if h.cmd != "" {
			out = append(out, j.Hooks.Needs[h.name])
		}
	}
	for _, d := range j.Dumps {
		out = append(out, d.Needs)
	}
	return out
}
