package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/holthome/bakc/internal/atomicfile"
)

// taskState is what a task remembers between runs, per repository: the
// metrics of a failed run must still say when the last success was, and
// which snapshot it made. It lives in the plan's state folder, not in the
// metrics file, because node_exporter's folder may be wiped or on tmpfs.
type taskState struct {
	Repositories map[string]repoState `json:"repositories"`
}

// repoState is one repository's memory of a task.
type repoState struct {
	// LastSuccess is the start of the last fully successful run there.
	LastSuccess time.Time `json:"last_success"`
	// SnapshotID is the restic snapshot of the last complete or partial
	// backup there (backups only).
	SnapshotID string `json:"snapshot_id,omitempty"`
	// Dumps remember each dump of a backup job there, by name.
	Dumps map[string]dumpState `json:"dumps,omitempty"`
}

// dumpState is one dump's memory in one repository.
type dumpState struct {
	// LastSuccess is the start of the last run whose dump was complete.
	LastSuccess time.Time `json:"last_success"`
	// SnapshotID is the restic snapshot of that dump.
	SnapshotID string `json:"snapshot_id,omitempty"`
}

// statePath is the state file of a task on a job or repository.
func statePath(stateDir, task, name string) string {
	return filepath.Join(stateDir, task+"-"+name+".json")
}

// readState reads a state file; a missing one is an empty state (the
// first run).
func readState(path string) (*taskState, error) {
	s := &taskState{Repositories: map[string]repoState{}}
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return s, err
	}
	if err := json.Unmarshal(data, s); err != nil {
		return &taskState{Repositories: map[string]repoState{}}, fmt.Errorf("%s: %w", path, err)
	}
	if s.Repositories == nil {
		s.Repositories = map[string]repoState{}
	}
	return s, nil
}

// write replaces the state file atomically.
func (s *taskState) write(path string) error {
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(path, append(data, '\n'), 0o644)
}

// writeFileAtomic makes path's folder if needed and replaces path whole.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return atomicfile.Write(path, data, perm)
}
