package compiler

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/schema"
)

// RootFileNames are the names of a fleet's root file, in either syntax.
// Like go.mod, the nearest one at or above a folder marks the fleet.
var RootFileNames = []string{"bakc.hcl", "bakc.hcl.json"}

// LoadFleet loads the fleet that dir belongs to: the nearest bakc.hcl at
// or above dir, and every host file (*.hcl, *.hcl.json) below that
// folder, skipping hidden folders and folders holding a fleet of their
// own. The diagnostics are those of parsing and decoding; the returned
// Fleet is never nil, so that its Files can print them.
func LoadFleet(dir string) (*Fleet, hcl.Diagnostics) {
	rootAbs, err := findRoot(dir)
	if err != nil {
		return newFleet(dir), noFleet(err)
	}
	f, diags := loadFS(os.DirFS(rootAbs), displayRoot(dir, rootAbs), nil)
	f.rootAbs = rootAbs
	return f, diags
}

// LoadNodeFile loads one host file and the nearest bakc.hcl above it:
// what compiling one node needs. Fleet checks that need every node (two
// nodes sharing an export, a NAS's quota sum) see only this node.
func LoadNodeFile(file string) (*Fleet, hcl.Diagnostics) {
	info, err := os.Stat(file)
	if err != nil {
		return newFleet(filepath.Dir(file)), hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Cannot read host file",
			Detail:   fmt.Sprintf("%s. Give the path of a node's host file, such as hosts/forge.hcl.", err),
		}}
	}
	if info.IsDir() || !schema.IsConfigFile(file) || isRootFileName(filepath.Base(file)) {
		return newFleet(filepath.Dir(file)), hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Not a host file",
			Detail:   fmt.Sprintf("%s is not a host file. Give the path of a file declaring a node (*.hcl or *.hcl.json below the fleet's bakc.hcl), such as hosts/forge.hcl.", file),
		}}
	}
	rootAbs, err := findRoot(filepath.Dir(file))
	if err != nil {
		return newFleet(filepath.Dir(file)), noFleet(err)
	}
	abs, err := filepath.Abs(file)
	if err != nil {
		return newFleet(filepath.Dir(file)), hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Cannot read host file", Detail: err.Error() + "."}}
	}
	rel, err := filepath.Rel(rootAbs, abs)
	if err != nil {
		return newFleet(filepath.Dir(file)), hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Cannot read host file", Detail: err.Error() + "."}}
	}
	f, diags := loadFS(os.DirFS(rootAbs), displayRoot(filepath.Dir(file), rootAbs), []string{filepath.ToSlash(rel)})
	f.rootAbs = rootAbs
	if !diags.HasErrors() && len(f.nodes) == 0 {
		name := f.displayName(filepath.ToSlash(rel))
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "No node in host file",
			Detail:   fmt.Sprintf("%s declares no node. Add a node \"<name>\" { … } block, or give the file that declares the node.", name),
			Subject:  &hcl.Range{Filename: name, Start: hcl.InitialPos, End: hcl.InitialPos},
		})
	}
	return f, diags
}

func noFleet(err error) hcl.Diagnostics {
	return hcl.Diagnostics{{
		Severity: hcl.DiagError,
		Summary:  "No fleet found",
		Detail:   fmt.Sprintf("There is %s. A fleet is a folder with bakc.hcl at its root: run bakc inside one, or name a folder inside one (bakc validate DIR; --fleet DIR for bakc nas-plan and bakc plan --nas). A host file belongs to the nearest bakc.hcl above it.", err),
	}}
}

// findRoot walks up from dir to the nearest folder holding a root file.
func findRoot(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for cur := abs; ; {
		if holdsRootFile(os.DirFS(cur), ".") {
			return cur, nil
		}
		parent := filepath.Dir(cur)
		if parent == cur {
			return "", fmt.Errorf("no bakc.hcl in %s or any folder above it", abs)
		}
		cur = parent
	}
}

// holdsRootFile reports whether the folder dir of fsys holds a root
// file.
func holdsRootFile(fsys fs.FS, dir string) bool {
	for _, n := range RootFileNames {
		if st, err := fs.Stat(fsys, path.Join(dir, n)); err == nil && !st.IsDir() {
			return true
		}
	}
	return false
}

func isRootFileName(name string) bool {
	for _, n := range RootFileNames {
		if name == n {
			return true
		}
	}
	return false
}

// loadFS loads the fleet whose root folder is fsys: the root file and
// either the given host files (slash-separated, relative to the root)
// or, when hosts is nil, every host file below the root. root is how
// diagnostics name the root folder. Reading through an fs.FS keeps the
// loader testable (and fuzzable) without touching the disk.
func loadFS(fsys fs.FS, root string, hosts []string) (*Fleet, hcl.Diagnostics) {
	f := newFleet(root)
	f.fsys = fsys
	var found []string
	for _, n := range RootFileNames {
		if _, err := fs.Stat(fsys, n); err == nil {
			found = append(found, n)
		}
	}
	if len(found) == 0 {
		return f, noFleet(fmt.Errorf("no bakc.hcl in %s", root))
	}
	if len(found) > 1 {
		return f, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Two fleet files",
			Detail:   fmt.Sprintf("%s holds both %s and %s, so it is not clear which one describes the fleet. Keep one.", root, found[0], found[1]),
		}}
	}
	diags := f.loadRootFile(fsys, found[0])
	if f.rootFile == nil {
		return f, diags
	}
	if hosts == nil {
		var err error
		if hosts, err = findHostFiles(fsys); err != nil {
			return f, append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Cannot read the fleet",
				Detail:   fmt.Sprintf("Reading the fleet's folder %s failed: %s. Check that it exists and is readable.", root, err),
			})
		}
	}
	diags = append(diags, f.loadHostFiles(fsys, hosts)...)
	// hcl reports unexpected attributes in map order: sort, so that the
	// same files always give the same report.
	sortDiagnostics(diags)
	return f, diags
}

// findHostFiles lists the host files below the root of fsys, sorted:
// *.hcl and *.hcl.json, not hidden, not the root file, not in a hidden
// folder or in a folder that is a fleet of its own.
func findHostFiles(fsys fs.FS) ([]string, error) {
	var hosts []string
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != "." && (strings.HasPrefix(d.Name(), ".") || holdsRootFile(fsys, p)) {
				return fs.SkipDir
			}
			return nil
		}
		if strings.HasPrefix(d.Name(), ".") || !schema.IsConfigFile(d.Name()) || path.Dir(p) == "." && isRootFileName(d.Name()) {
			return nil
		}
		hosts = append(hosts, p)
		return nil
	})
	return hosts, err
}

// loadRootFile parses and decodes the root file into f.
func (f *Fleet) loadRootFile(fsys fs.FS, rel string) hcl.Diagnostics {
	name := f.displayName(rel)
	src, file, diags := readAndParse(fsys, rel, name)
	f.addSource(name, rel, src)
	if file == nil {
		return diags
	}
	root, d := schema.DecodeRootFile(file, name)
	diags = append(diags, d...)
	f.rootFile = root
	for _, n := range root.NAS {
		if prev, dup := f.nas[n.Name]; dup {
			diags = append(diags, errorAt(n.NameRange, "Duplicate NAS",
				"A NAS named %q is already declared at %s. NAS names must be unique: rename one, or merge the two blocks.", n.Name, at(prev.DeclRange)))
			continue
		}
		f.nas[n.Name] = n
		seen := map[string]*schema.NASDataset{}
		for _, ds := range n.Datasets {
			if prev, dup := seen[ds.Name]; dup {
				diags = append(diags, errorAt(ds.NameRange, "Duplicate NAS dataset",
					"The NAS %q already has a dataset named %q, at %s. Dataset names must be unique within a NAS: rename one, or merge the two blocks.", n.Name, ds.Name, at(prev.DeclRange)))
				continue
			}
			seen[ds.Name] = ds
		}
	}
	return diags
}

// hostResult is one host file, read, parsed and decoded.
type hostResult struct {
	rel, name string
	src       []byte
	hf        *schema.HostFile
	diags     hcl.Diagnostics
}

// loadHostFiles reads, parses and decodes host files on every CPU (each
// file on its own: they share only the root file's read-only context),
// then adds their nodes to f in the order of hosts, so that the result
// does not depend on which worker was first.
func (f *Fleet) loadHostFiles(fsys fs.FS, hosts []string) hcl.Diagnostics {
	ctx := schema.HostContext(f.rootFile)
	results := make([]hostResult, len(hosts))
	var wg sync.WaitGroup
	next := make(chan int)
	for range min(runtime.GOMAXPROCS(0), len(hosts)) {
		wg.Go(func() {
			for i := range next {
				r := &results[i]
				r.rel, r.name = hosts[i], f.displayName(hosts[i])
				if d := checkHostFileName(r); d != nil {
					// Not read: its nodes' plans could not name it.
					r.diags = hcl.Diagnostics{d}
					continue
				}
				var file *hcl.File
				r.src, file, r.diags = readAndParse(fsys, r.rel, r.name)
				if file != nil {
					var d hcl.Diagnostics
					r.hf, d = schema.DecodeHostFile(file, r.name, ctx)
					r.diags = append(r.diags, d...)
				}
			}
		})
	}
	for i := range hosts {
		next <- i
	}
	close(next)
	wg.Wait()

	var diags hcl.Diagnostics
	for _, r := range results {
		diags = append(diags, r.diags...)
		f.addSource(r.name, r.rel, r.src)
		if r.hf == nil {
			continue
		}
		for i, n := range r.hf.Nodes {
			if i > 0 {
				// bakc compile, units, docs and plan make a node's outputs
				// from its own file; validate agrees, so that what it
				// accepts compiles.
				first := r.hf.Nodes[0]
				diags = append(diags, errorAt(n.NameRange, "Several nodes in one host file",
					"This file already declares the node %q, at %s. A host file holds one node, since a node's outputs are compiled from its own file: move the node %q to a file of its own, such as hosts/%s.hcl.", first.Name, at(first.DeclRange), n.Name, n.Name))
				continue
			}
			if prev, dup := f.nodes[n.Name]; dup {
				diags = append(diags, errorAt(n.NameRange, "Duplicate node",
					"A node named %q is already declared at %s. Node names must be unique in the fleet, since they name datasets and exports on the NAS: rename one.", n.Name, at(prev.DeclRange)))
				continue
			}
			f.nodes[n.Name] = n
		}
	}
	return diags
}

// addSource records a file's bytes (nil when it could not be read).
func (f *Fleet) addSource(name, rel string, src []byte) {
	if src != nil {
		f.sources[name] = src
		f.rel[name] = rel
	}
}

// readAndParse reads and parses one file. The file is nil when it could
// not be read or has syntax errors.
func readAndParse(fsys fs.FS, rel, name string) ([]byte, *hcl.File, hcl.Diagnostics) {
	src, err := fs.ReadFile(fsys, rel)
	if err != nil {
		return nil, nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Cannot read file",
			Detail:   fmt.Sprintf("Reading %s failed: %s.", name, err),
		}}
	}
	file, diags := schema.Parse(hclparse.NewParser(), src, name)
	if diags.HasErrors() {
		return src, nil, diags
	}
	return src, file, diags
}

// displayName is how diagnostics name the file at rel (slash-separated,
// relative to the root): below the root as the caller named it.
func (f *Fleet) displayName(rel string) string {
	return filepath.Join(f.root, filepath.FromSlash(rel))
}

// displayRoot is the root folder as the caller would name it: absolute
// if they gave an absolute path, relative to the working folder if not.
func displayRoot(given, rootAbs string) string {
	if filepath.IsAbs(given) {
		return rootAbs
	}
	wd, err := os.Getwd()
	if err != nil {
		return rootAbs
	}
	rel, err := filepath.Rel(wd, rootAbs)
	if err != nil {
		return rootAbs
	}
	return rel
}

// checkHostFileName refuses a host file whose name the plan's source
// cannot carry (plan.CheckSource): a control character such as a
// newline, or bytes that are not UTF-8. The name is written into the
// plan and the header of every output; the header escapes it
// (escape.CommentText), but the plan's JSON cannot hold such bytes and
// the runtime refuses a plan whose source spans lines.
func checkHostFileName(r *hostResult) *hcl.Diagnostic {
	err := plan.CheckSource(r.rel)
	if err == nil {
		return nil
	}
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "Invalid file name",
		Detail:   fmt.Sprintf("The host file's name cannot be carried into the plan and the outputs' headers: %s. Rename the file, for example to hosts/<node>.hcl.", err),
		Subject:  &hcl.Range{Filename: r.name, Start: hcl.InitialPos, End: hcl.InitialPos},
	}
}
