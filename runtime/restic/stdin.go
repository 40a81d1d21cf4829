package restic

import (
	"context"
	"encoding/json"
	"io"
	"os"
)

// StdinArgs is the subcommand and its arguments for a backup of stdin,
// with --json for progress and the summary.
func StdinArgs(o BackupOptions, filename string) []string {
	args := BackupArgs(BackupOptions{Host: o.Host, Tags: o.Tags, Time: o.Time})
	// BackupArgs ends with "--" before the paths; stdin has none.
	args = args[:len(args)-1]
	return append(args, "--stdin", "--stdin-filename", filename)
}

// BackupStdin runs `restic backup --stdin --stdin-filename NAME --json`
// reading stdin, which restic gets as its own standard input; bakc's
// copy of it is closed once restic has started. The snapshot is written
// when stdin ends (EOF); stopping ctx before that sends restic SIGINT,
// on which neither 0.14 (it exits at once) nor 0.18 (it fails with
// "unable to save snapshot: context canceled" once stdin ends) writes
// one.
func (r *Restic) BackupStdin(ctx context.Context, o BackupOptions, filename string, stdin *os.File, onStatus func(Status)) (*Summary, error) {
	var summary *Summary
	err := r.runStdin(ctx, StdinArgs(o, filename), stdin, func(rd io.Reader) {
		eachLine(rd, func(line []byte) {
			if s, st := parseBackupLine(line); s != nil {
				summary = s
			} else if st != nil && onStatus != nil {
				onStatus(*st)
			}
		})
	})
	return summary, err
}

// parseBackupLine reads one stdout line of `backup --json`: a summary,
// a status, or neither (restic prints some warnings to stdout).
func parseBackupLine(line []byte) (*Summary, *Status) {
	var head struct {
		MessageType string `json:"message_type"`
	}
	if json.Unmarshal(line, &head) != nil {
		return nil, nil
	}
	switch head.MessageType {
	case "status":
		var s Status
		if json.Unmarshal(line, &s) == nil {
			return nil, &s
		}
	case "summary":
		var s Summary
		if json.Unmarshal(line, &s) == nil {
			return &s, nil
		}
	}
	return nil, nil
}
