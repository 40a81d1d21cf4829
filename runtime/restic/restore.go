package restic

import (
	"context"
	"encoding/json"
	"io"
)

// Node is one entry of `restic ls --json`: a file, folder or link of a
// snapshot, as the snapshot records it.
type Node struct {
	Name string `json:"name"`
	// Type is "file", "dir", "symlink", …
	Type string `json:"type"`
	// Path is the entry's path in the snapshot (the original path).
	Path string `json:"path"`
	Size uint64 `json:"size"`
	// Occurrence counts the entries listed before this one with the same
	// Path, for a path that is not Exact (see StoredPaths); set by the
	// caller of Ls.
	Occurrence int `json:"-"`
}

// LsArgs is `restic ls --json` of a snapshot ("latest" with host: the
// node's latest).
func LsArgs(snapshot, host string) []string {
	args := []string{"ls", "--json"}
	if host != "" {
		args = append(args, "--host", host)
	}
	return append(args, snapshot)
}

// Ls lists a snapshot: it returns the snapshot's id and calls onNode for
// every entry, streaming (a snapshot may hold millions).
func (r *Restic) Ls(ctx context.Context, snapshot, host string, onNode func(Node)) (string, error) {
	var id string
	err := r.Run(ctx, LsArgs(snapshot, host), func(line []byte) {
		var head struct {
			StructType string `json:"struct_type"`
			ID         string `json:"id"`
		}
		if json.Unmarshal(line, &head) != nil {
			return
		}
		switch head.StructType {
		case "snapshot":
			id = head.ID
		case "node":
			var n Node
			if json.Unmarshal(line, &n) == nil {
				onNode(n)
			}
		}
	})
	return id, err
}

// DumpArgs is `restic dump` of one file of a snapshot.
func DumpArgs(snapshot, path string) []string {
	return []string{"dump", snapshot, path}
}

// Dump writes one file of a snapshot to w, as restic restores it: every
// blob of it is read from the repository, decrypted, authenticated and
// checked against its id (the SHA-256 the snapshot records). The path is
// taken as it is (no patterns), whatever characters it holds.
func (r *Restic) Dump(ctx context.Context, snapshot, path string, w io.Writer) error {
	var werr error
	err := r.run(ctx, DumpArgs(snapshot, path), func(stdout io.Reader) {
		_, werr = io.Copy(w, stdout)
	})
	if err != nil {
		return err
	}
	return werr
}
