package restic

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// LockInfo is a lock file in the repository, as `restic cat lock` prints
// it (restic's internal/restic.Lock, the same in 0.14 and 0.18).
type LockInfo struct {
	// ID is the lock file's name (not in the JSON).
	ID        string    `json:"-"`
	Time      time.Time `json:"time"`
	Exclusive bool      `json:"exclusive"`
	Hostname  string    `json:"hostname"`
	Username  string    `json:"username"`
	PID       int       `json:"pid"`
	UID       uint32    `json:"uid"`
	GID       uint32    `json:"gid"`
}

// StaleLockAge is when restic (0.14 to 0.18, internal/restic/lock.go)
// takes a lock for stale whoever made it: a live restic refreshes its
// lock every five minutes.
const StaleLockAge = 30 * time.Minute

// ListLocksArgs is `restic list locks --no-lock`: the lock files' IDs.
func ListLocksArgs() []string { return []string{"list", "locks", "--no-lock"} }

// ListLocks returns the IDs of the repository's lock files.
func (r *Restic) ListLocks(ctx context.Context) ([]string, error) {
	var ids []string
	err := r.Run(ctx, ListLocksArgs(), func(line []byte) {
		if id := strings.TrimSpace(string(line)); id != "" {
			ids = append(ids, id)
		}
	})
	return ids, err
}

// CatLockArgs is `restic cat lock ID --no-lock`.
func CatLockArgs(id string) []string { return []string{"cat", "lock", "--no-lock", id} }

// CatLock reads one lock file.
func (r *Restic) CatLock(ctx context.Context, id string) (*LockInfo, error) {
	var out []byte
	err := r.Run(ctx, CatLockArgs(id), func(line []byte) {
		out = append(append(out, line...), '\n')
	})
	if err != nil {
		return nil, err
	}
	l := &LockInfo{ID: id}
	if err := json.Unmarshal(out, l); err != nil {
		return nil, fmt.Errorf("restic cat lock %s: reading its JSON: %w", shortLockID(id), err)
	}
	return l, nil
}

// UnlockArgs is `restic unlock`: it removes the locks restic takes for
// stale (older than StaleLockAge, or made on this host by a process that
// does not answer a signal), and no other.
func UnlockArgs() []string { return []string{"unlock"} }

// Unlock runs restic unlock.
func (r *Restic) Unlock(ctx context.Context) error { return r.Run(ctx, UnlockArgs(), nil) }

func shortLockID(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}
