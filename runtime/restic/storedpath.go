package restic

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Names that are not UTF-8. A file name on Linux is any bytes, and restic
// keeps it exactly: its trees store each name strconv.Quote'd (restic's
// Node.MarshalJSON, in 0.14 as in 0.18). But `restic ls --json` (and
// `find --json`) write names and paths as plain JSON strings with Go's
// encoding/json, which puts U+FFFD in place of every byte that is not
// valid UTF-8, and there is no raw field: the path it lists is not a path
// of the snapshot, and `restic dump` of it finds nothing. (restic
// restore --include would need a pattern, which "?" cannot make exact, and
// the text form of ls is ambiguous for names with a newline.)
//
// So for a listed path that may have lost bytes (it holds U+FFFD), the
// exact path is read from the snapshot's trees themselves, from the root
// down the folders whose names restic's JSON shows as the listed ones:
// `restic cat snapshot ID` for the root tree, `restic cat blob ID` for
// each folder's tree (restic checks every blob it loads against its id).
// Names that JSON shows alike (a\xff, a\xfe and a real a\uFFFD) are told
// apart by order: ls lists a snapshot depth-first in tree order, and the
// walk goes the same way, so the n-th listed entry of a shown path is the
// n-th file found for it.

// Exact reports whether Path is the entry's path byte for byte. A path
// without U+FFFD is; one with it may have lost bytes to restic's JSON.
func (n Node) Exact() bool { return !strings.ContainsRune(n.Path, utf8.RuneError) }

// shownAs is s as encoding/json writes it and reads it back: every byte
// that is not part of valid UTF-8 becomes U+FFFD (one for each byte).
func shownAs(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b.WriteRune(utf8.RuneError)
		} else {
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// treeNode is an entry of a tree blob, as restic stores it.
type treeNode struct {
	// Name is strconv.Quote'd without its quotes (restic's escaping).
	Name    string `json:"name"`
	Type    string `json:"type"`
	Subtree string `json:"subtree"`
	Size    uint64 `json:"size"`
}

// StoredPaths finds the paths of listed files as one snapshot stores them
// (see Exact). It keeps the trees it has read, so that files in the same
// folders cost one `restic cat` per folder.
type StoredPaths struct {
	r        *Restic
	snapshot string
	root     string
	trees    map[string][]treeNode
}

// StoredPaths returns a finder for the snapshot's stored paths.
func (r *Restic) StoredPaths(snapshotID string) *StoredPaths {
	return &StoredPaths{r: r, snapshot: snapshotID, trees: map[string][]treeNode{}}
}

// Find returns the path of a listed file as the snapshot stores it: its
// own path when it is Exact, else the Occurrence-th regular file, in
// listing order, whose path restic's JSON shows as n.Path.
func (s *StoredPaths) Find(ctx context.Context, n Node) (string, error) {
	if n.Exact() {
		return n.Path, nil
	}
	if s.root == "" {
		var snap struct {
			Tree string `json:"tree"`
		}
		if err := s.r.catJSON(ctx, []string{"cat", "snapshot", s.snapshot}, &snap); err != nil {
			return "", err
		}
		s.root = snap.Tree
	}
	found := 0
	var stored string
	// walk visits the folders of tree whose shown names lead to want, in
	// tree order, and stops at the Occurrence-th file.
	var walk func(tree, prefix string, want []string) error
	walk = func(tree, prefix string, want []string) error {
		nodes, err := s.tree(ctx, tree)
		if err != nil {
			return err
		}
		for _, tn := range nodes {
			name, err := strconv.Unquote(`"` + tn.Name + `"`)
			if err != nil {
				return fmt.Errorf("tree %s: name %q: %w", tree, tn.Name, err)
			}
			if shownAs(name) != want[0] {
				continue
			}
			switch {
			case len(want) == 1 && tn.Type == "file":
				if found == n.Occurrence {
					stored = prefix + "/" + name
					if tn.Size != n.Size {
						return fmt.Errorf("%q: the snapshot's tree records %d bytes, its listing %d", stored, tn.Size, n.Size)
					}
					return errFound
				}
				found++
			case len(want) > 1 && tn.Type == "dir" && tn.Subtree != "":
				if err := walk(tn.Subtree, prefix+"/"+name, want[1:]); err != nil {
					return err
				}
			}
		}
		return nil
	}
	switch err := walk(s.root, "", strings.Split(strings.Trim(n.Path, "/"), "/")); err {
	case errFound:
		return stored, nil
	case nil:
		return "", fmt.Errorf("snapshot %s: no file of its trees is listed as %q (occurrence %d)", s.snapshot, n.Path, n.Occurrence+1)
	default:
		return "", err
	}
}

// tree returns a tree's entries, read once with `restic cat blob`.
func (s *StoredPaths) tree(ctx context.Context, id string) ([]treeNode, error) {
	if nodes, ok := s.trees[id]; ok {
		return nodes, nil
	}
	var t struct {
		Nodes []treeNode `json:"nodes"`
	}
	if err := s.r.catJSON(ctx, []string{"cat", "blob", id}, &t); err != nil {
		return nil, err
	}
	s.trees[id] = t.Nodes
	return t.Nodes, nil
}

// errFound ends the walk early.
var errFound = fmt.Errorf("found")

// catJSON runs a `restic cat` that prints one JSON document and decodes it.
func (r *Restic) catJSON(ctx context.Context, args []string, v any) error {
	var out []byte
	var rerr error
	err := r.run(ctx, args, func(stdout io.Reader) { out, rerr = io.ReadAll(stdout) })
	if err != nil {
		return err
	}
	if rerr != nil {
		return rerr
	}
	if err := json.NewDecoder(bytes.NewReader(out)).Decode(v); err != nil {
		return fmt.Errorf("restic %s: %w", strings.Join(args, " "), err)
	}
	return nil
}
