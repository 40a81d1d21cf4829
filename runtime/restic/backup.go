package restic

import (
	"context"
	"encoding/json"
	"strconv"
	"time"
)

// TimeFormat is the layout of restic's --time flag, read in local time.
const TimeFormat = "2006-01-02 15:04:05"

// BackupOptions are the arguments of one `restic backup`.
type BackupOptions struct {
	// Paths are backed up as given; with a ZFS snapshot job they are the
	// original paths, the snapshot being exposed there.
	Paths []string
	// ExcludeFile is given as --exclude-file (one pattern per line).
	ExcludeFile string
	// Tags are given one --tag each (restic splits a tag at commas).
	Tags []string
	// Host is given as --host, so that forget and the parent search see
	// the node, not whatever the machine calls itself.
	Host string
	// Time, if not zero, is given as --time: the snapshot's time is the
	// moment the data was frozen, not when restic got to it.
	Time time.Time
	// ExcludeCaches, OneFileSystem and ExcludeLargerThan (a size as
	// restic reads it; empty for none) are restic's options of the same
	// names (0.14 to 0.18 know them all).
	ExcludeCaches     bool
	OneFileSystem     bool
	ExcludeLargerThan string
	// ReadConcurrency, when positive, is given as --read-concurrency
	// (restic ≥ 0.15).
	ReadConcurrency int
}

// BackupArgs is the subcommand and its arguments for BackupOptions, with
// --json so that progress and the summary can be read.
func BackupArgs(o BackupOptions) []string {
	args := []string{"backup", "--json"}
	if o.Host != "" {
		args = append(args, "--host", o.Host)
	}
	for _, t := range o.Tags {
		args = append(args, "--tag", t)
	}
	if o.ExcludeFile != "" {
		args = append(args, "--exclude-file", o.ExcludeFile)
	}
	if o.ExcludeCaches {
		args = append(args, "--exclude-caches")
	}
	if o.OneFileSystem {
		args = append(args, "--one-file-system")
	}
	if o.ExcludeLargerThan != "" {
		args = append(args, "--exclude-larger-than", o.ExcludeLargerThan)
	}
	if o.ReadConcurrency > 0 {
		args = append(args, "--read-concurrency", strconv.Itoa(o.ReadConcurrency))
	}
	if !o.Time.IsZero() {
		args = append(args, "--time", o.Time.Local().Format(TimeFormat))
	}
	args = append(args, "--")
	return append(args, o.Paths...)
}

// Status is one progress line of `backup --json` (message_type "status").
type Status struct {
	SecondsElapsed   uint64   `json:"seconds_elapsed"`
	SecondsRemaining uint64   `json:"seconds_remaining"`
	PercentDone      float64  `json:"percent_done"`
	TotalFiles       uint64   `json:"total_files"`
	FilesDone        uint64   `json:"files_done"`
	TotalBytes       uint64   `json:"total_bytes"`
	BytesDone        uint64   `json:"bytes_done"`
	ErrorCount       uint64   `json:"error_count"`
	CurrentFiles     []string `json:"current_files"`
}

// Summary is the last line of a successful or partial `backup --json`
// (message_type "summary"): what the metrics report.
type Summary struct {
	FilesNew            uint64  `json:"files_new"`
	FilesChanged        uint64  `json:"files_changed"`
	FilesUnmodified     uint64  `json:"files_unmodified"`
	DirsNew             uint64  `json:"dirs_new"`
	DirsChanged         uint64  `json:"dirs_changed"`
	DirsUnmodified      uint64  `json:"dirs_unmodified"`
	DataBlobs           uint64  `json:"data_blobs"`
	TreeBlobs           uint64  `json:"tree_blobs"`
	DataAdded           uint64  `json:"data_added"`
	TotalFilesProcessed uint64  `json:"total_files_processed"`
	TotalBytesProcessed uint64  `json:"total_bytes_processed"`
	TotalDuration       float64 `json:"total_duration"`
	// SnapshotID is short (8 hex digits) from restic 0.14, full from 0.18.
	SnapshotID string `json:"snapshot_id"`
}

// Backup runs `restic backup --json`, calls onStatus (if not nil) for each
// status line, and returns the summary. A partial backup (exit code 3:
// snapshot written, some files unreadable) returns both the summary and
// an *Error, since the snapshot exists but is not complete.
func (r *Restic) Backup(ctx context.Context, o BackupOptions, onStatus func(Status)) (*Summary, error) {
	var summary *Summary
	err := r.Run(ctx, BackupArgs(o), func(line []byte) {
		var head struct {
			MessageType string `json:"message_type"`
		}
		if json.Unmarshal(line, &head) != nil {
			return // not JSON: restic prints some warnings to stdout
		}
		switch head.MessageType {
		case "status":
			var s Status
			if onStatus != nil && json.Unmarshal(line, &s) == nil {
				onStatus(s)
			}
		case "summary":
			var s Summary
			if json.Unmarshal(line, &s) == nil {
				summary = &s
			}
		}
	})
	return summary, err
}
