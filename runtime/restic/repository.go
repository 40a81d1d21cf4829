package restic

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// InitArgs is `restic init`.
func InitArgs() []string { return []string{"init"} }

// Init creates the repository. Only the runtime's preflight calls it, and
// only when the plan allows (Repository.Init).
func (r *Restic) Init(ctx context.Context) error { return r.Run(ctx, InitArgs(), nil) }

// CatConfigArgs is `restic cat config --no-lock`: the cheapest call that
// opens the repository (it must exist and the password must fit). The
// config never changes, so it is read without a lock (restic 0.14 would
// take one, and fail on another process's exclusive lock).
func CatConfigArgs() []string { return []string{"cat", "config", "--no-lock"} }

// CatConfig opens the repository and reads its config; it fails with
// category Storage when there is no repository and Auth when the password
// does not fit.
func (r *Restic) CatConfig(ctx context.Context) error { return r.Run(ctx, CatConfigArgs(), nil) }

// ShortID is the first eight characters of a snapshot's or lock's ID,
// as restic itself shows them.
func ShortID(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}

// Short is the snapshot's short ID: restic's own, or ShortID of its ID.
func (s Snapshot) Short() string {
	if s.ShortID != "" {
		return s.ShortID
	}
	return ShortID(s.ID)
}

// Snapshot is one entry of `restic snapshots --json`.
type Snapshot struct {
	ID       string    `json:"id"`
	ShortID  string    `json:"short_id"`
	Time     time.Time `json:"time"`
	Parent   string    `json:"parent"`
	Paths    []string  `json:"paths"`
	Hostname string    `json:"hostname"`
	Tags     []string  `json:"tags"`
	// Summary is restic's record of the backup that made the snapshot
	// (restic ≥ 0.17); nil from an older restic.
	Summary *SnapshotSummary `json:"summary,omitempty"`
}

// SnapshotSummary is what `restic snapshots --json` says of the backup
// that made a snapshot (restic ≥ 0.17).
type SnapshotSummary struct {
	BackupStart         time.Time `json:"backup_start"`
	BackupEnd           time.Time `json:"backup_end"`
	FilesNew            uint64    `json:"files_new"`
	FilesChanged        uint64    `json:"files_changed"`
	DataAdded           uint64    `json:"data_added"`
	TotalFilesProcessed uint64    `json:"total_files_processed"`
	TotalBytesProcessed uint64    `json:"total_bytes_processed"`
}

// SnapshotsArgs is `restic snapshots --json`, filtered by host and tag
// when given.
func SnapshotsArgs(host, tag string) []string {
	args := []string{"snapshots", "--json"}
	if host != "" {
		args = append(args, "--host", host)
	}
	if tag != "" {
		args = append(args, "--tag", tag)
	}
	return args
}

// Snapshots lists the repository's snapshots, oldest first, filtered by
// host and tag when given.
func (r *Restic) Snapshots(ctx context.Context, host, tag string) ([]Snapshot, error) {
	var out []byte
	err := r.Run(ctx, SnapshotsArgs(host, tag), func(line []byte) {
		out = append(out, line...)
		out = append(out, '\n')
	})
	if err != nil {
		return nil, err
	}
	var snaps []Snapshot
	if err := json.Unmarshal(out, &snaps); err != nil {
		return nil, fmt.Errorf("restic snapshots: reading its JSON: %w", err)
	}
	return snaps, nil
}
