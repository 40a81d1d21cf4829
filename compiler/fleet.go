package compiler

import (
	"sort"

	"github.com/hashicorp/hcl/v2"

	"github.com/holthome/bakc/schema"
)

// Fleet is a loaded fleet: bakc.hcl and the host files below it, decoded
// but not yet checked. Plan, NASPlan and Validate check and lower it;
// their shared steps (defaults, NAS declarations, node identities) are
// computed once per Fleet, so validating a fleet of thousands of nodes
// stays linear. A Fleet is not safe for concurrent use.
type Fleet struct {
	// root is the fleet's folder as the caller named it (relative stays
	// relative), so that diagnostics print paths the user recognises.
	root string
	// files are the parsed files by the name diagnostics use.
	files map[string]*hcl.File
	// rel maps a file's name to its path relative to root, slash
	// separated, for plan sources.
	rel map[string]string

	rootFile *schema.RootFile
	// nodes and nas hold the first declaration of each name; later
	// duplicates were reported when loading.
	nodes map[string]*schema.Node
	nas   map[string]*schema.NAS

	defaults   *resolvedDefaults
	nasDecls   map[string]*nasDecl
	identities map[string]*nodeIdentity
}

func newFleet(root string) *Fleet {
	return &Fleet{
		root:       root,
		files:      map[string]*hcl.File{},
		rel:        map[string]string{},
		nodes:      map[string]*schema.Node{},
		nas:        map[string]*schema.NAS{},
		nasDecls:   map[string]*nasDecl{},
		identities: map[string]*nodeIdentity{},
	}
}

// Root is the fleet's folder, as the caller named it.
func (f *Fleet) Root() string { return f.root }

// Files are the fleet's parsed files by name, for printing diagnostics
// with their source lines.
func (f *Fleet) Files() map[string]*hcl.File { return f.files }

// NodeNames lists the fleet's nodes, sorted.
func (f *Fleet) NodeNames() []string { return sortedKeys(f.nodes) }

// NASNames lists the fleet's NAS, sorted.
func (f *Fleet) NASNames() []string { return sortedKeys(f.nas) }

// NodeFile returns the name (as diagnostics print it) of the file that
// declares node, and whether the node exists.
func (f *Fleet) NodeFile(node string) (string, bool) {
	n, ok := f.nodes[node]
	if !ok {
		return "", false
	}
	return n.Filename, true
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
