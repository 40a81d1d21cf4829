package compiler

import (
	"io/fs"
	"sort"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"

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
	// sources are the files' bytes by the name diagnostics use. Their
	// syntax trees are dropped once decoded (a fleet of thousands of
	// nodes would otherwise keep hundreds of megabytes alive) and
	// parsed again only to print a diagnostic (Files, FilesFor).
	sources map[string][]byte
	files   map[string]*hcl.File
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
	// nasNodeIDs caches the identities of each NAS's nodes.
	nasNodeIDs map[string][]*nodeIdentity

	// fsys is the fleet's folder, rootAbs its absolute path on disk
	// ("" when it is not on disk): sops files are read through them
	// (secrets.go). skipSecretFiles leaves them unread.
	fsys            fs.FS
	rootAbs         string
	skipSecretFiles bool
}

func newFleet(root string) *Fleet {
	return &Fleet{
		root:       root,
		sources:    map[string][]byte{},
		files:      map[string]*hcl.File{},
		nasNodeIDs: map[string][]*nodeIdentity{},
		rel:        map[string]string{},
		nodes:      map[string]*schema.Node{},
		nas:        map[string]*schema.NAS{},
		nasDecls:   map[string]*nasDecl{},
		identities: map[string]*nodeIdentity{},
	}
}

// Root is the fleet's folder, as the caller named it.
func (f *Fleet) Root() string { return f.root }

// Files are the fleet's files by name, parsed, for printing diagnostics
// with their source lines and context. It parses every file again (the
// trees are not kept after loading); FilesFor parses only those a set
// of diagnostics needs.
func (f *Fleet) Files() map[string]*hcl.File {
	for name := range f.sources {
		f.file(name)
	}
	return f.files
}

// FilesFor is Files restricted to the files that diags point into: what
// printing them needs, at the cost of parsing only those again.
func (f *Fleet) FilesFor(diags hcl.Diagnostics) map[string]*hcl.File {
	out := map[string]*hcl.File{}
	for _, d := range diags {
		for _, r := range []*hcl.Range{d.Subject, d.Context} {
			if r == nil {
				continue
			}
			if file := f.file(r.Filename); file != nil {
				out[r.Filename] = file
			}
		}
	}
	return out
}

// file returns the parsed file name (nil if the fleet has no such file),
// parsing it again on first use.
func (f *Fleet) file(name string) *hcl.File {
	if file, ok := f.files[name]; ok {
		return file
	}
	src, ok := f.sources[name]
	if !ok {
		return nil
	}
	file, _ := schema.Parse(hclparse.NewParser(), src, name)
	if file == nil {
		file = &hcl.File{Bytes: src}
	}
	f.files[name] = file
	return file
}

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
