package compiler

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"

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
	f, rootAbs, diags := loadRoot(dir)
	if diags.HasErrors() && f.rootFile == nil {
		return f, diags
	}
	var hostFiles []string
	err := filepath.WalkDir(rootAbs, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p == rootAbs {
				return nil
			}
			if strings.HasPrefix(d.Name(), ".") || holdsRootFile(p) {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasPrefix(d.Name(), ".") || !schema.IsConfigFile(d.Name()) || filepath.Dir(p) == rootAbs && isRootFileName(d.Name()) {
			return nil
		}
		hostFiles = append(hostFiles, p)
		return nil
	})
	if err != nil {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Cannot read the fleet",
			Detail:   fmt.Sprintf("Reading the fleet's folder failed: %s. Check that the folder exists and is readable.", err),
		})
		return f, diags
	}
	for _, p := range hostFiles {
		diags = append(diags, f.loadHostFile(rootAbs, p)...)
	}
	return f, diags
}

// LoadNodeFile loads one host file and the nearest bakc.hcl above it:
// what compiling one node needs. Fleet checks that need every node (two
// nodes sharing an export, a NAS's quota sum) see only this node.
func LoadNodeFile(file string) (*Fleet, hcl.Diagnostics) {
	info, err := os.Stat(file)
	if err != nil {
		f := newFleet(filepath.Dir(file))
		return f, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Cannot read host file",
			Detail:   fmt.Sprintf("%s. Give the path of a node's host file, such as hosts/forge.hcl.", err),
		}}
	}
	if info.IsDir() || !schema.IsConfigFile(file) || isRootFileName(filepath.Base(file)) {
		f := newFleet(filepath.Dir(file))
		return f, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Not a host file",
			Detail:   fmt.Sprintf("%s is not a host file. Give the path of a file declaring a node (*.hcl or *.hcl.json below the fleet's bakc.hcl), such as hosts/forge.hcl.", file),
		}}
	}
	f, rootAbs, diags := loadRoot(filepath.Dir(file))
	if diags.HasErrors() && f.rootFile == nil {
		return f, diags
	}
	abs, err := filepath.Abs(file)
	if err != nil {
		return f, append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Cannot read host file", Detail: err.Error() + "."})
	}
	diags = append(diags, f.loadHostFile(rootAbs, abs)...)
	if !diags.HasErrors() && len(f.nodes) == 0 {
		name := f.displayName(rootAbs, abs)
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "No node in host file",
			Detail:   fmt.Sprintf("%s declares no node. Add a node \"<name>\" { … } block, or give the file that declares the node.", name),
			Subject:  &hcl.Range{Filename: name, Start: hcl.InitialPos, End: hcl.InitialPos},
		})
	}
	return f, diags
}

// findRoot walks up from dir to the nearest folder holding a root file.
func findRoot(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for cur := abs; ; {
		if holdsRootFile(cur) {
			return cur, nil
		}
		parent := filepath.Dir(cur)
		if parent == cur {
			return "", fmt.Errorf("no bakc.hcl in %s or any folder above it", dir)
		}
		cur = parent
	}
}

func holdsRootFile(dir string) bool {
	for _, n := range RootFileNames {
		if st, err := os.Stat(filepath.Join(dir, n)); err == nil && !st.IsDir() {
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

// loadRoot finds, parses and decodes the root file for dir. It returns
// the new Fleet, the root folder's absolute path, and the diagnostics.
func loadRoot(dir string) (*Fleet, string, hcl.Diagnostics) {
	rootAbs, err := findRoot(dir)
	if err != nil {
		return newFleet(dir), "", hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "No fleet found",
			Detail:   fmt.Sprintf("There is %s. A fleet is a folder with bakc.hcl at its root; run bakc inside one, or give a path inside one.", err),
		}}
	}
	f := newFleet(displayRoot(dir, rootAbs))
	var found []string
	for _, n := range RootFileNames {
		if _, err := os.Stat(filepath.Join(rootAbs, n)); err == nil {
			found = append(found, n)
		}
	}
	name := f.displayName(rootAbs, filepath.Join(rootAbs, found[0]))
	if len(found) > 1 {
		return f, rootAbs, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Two fleet files",
			Detail:   fmt.Sprintf("%s holds both %s and %s, so it is not clear which one describes the fleet. Keep one.", f.root, found[0], found[1]),
		}}
	}
	file, diags := f.parse(rootAbs, filepath.Join(rootAbs, found[0]))
	if file == nil {
		return f, rootAbs, diags
	}
	root, d := schema.DecodeRootFile(file, name)
	diags = append(diags, d...)
	f.rootFile = root
	for _, n := range root.NAS {
		if prev, dup := f.nas[n.Name]; dup {
			diags = append(diags, errorAt(n.NameRange, "Duplicate NAS",
				"A NAS named %q is already declared at %s. NAS names must be unique: rename one, or merge the two blocks.", n.Name, prev.DeclRange))
			continue
		}
		f.nas[n.Name] = n
		seen := map[string]*schema.NASDataset{}
		for _, ds := range n.Datasets {
			if prev, dup := seen[ds.Name]; dup {
				diags = append(diags, errorAt(ds.NameRange, "Duplicate NAS dataset",
					"The NAS %q already has a dataset named %q, at %s. Dataset names must be unique within a NAS: rename one, or merge the two blocks.", n.Name, ds.Name, prev.DeclRange))
				continue
			}
			seen[ds.Name] = ds
		}
	}
	return f, rootAbs, diags
}

// loadHostFile parses and decodes one host file into f.
func (f *Fleet) loadHostFile(rootAbs, abs string) hcl.Diagnostics {
	file, diags := f.parse(rootAbs, abs)
	if file == nil {
		return diags
	}
	hf, d := schema.DecodeHostFile(file, f.displayName(rootAbs, abs), schema.HostContext(f.rootFile))
	diags = append(diags, d...)
	for _, n := range hf.Nodes {
		if prev, dup := f.nodes[n.Name]; dup {
			diags = append(diags, errorAt(n.NameRange, "Duplicate node",
				"A node named %q is already declared at %s. Node names must be unique in the fleet, since they name datasets and exports on the NAS: rename one.", n.Name, prev.DeclRange))
			continue
		}
		f.nodes[n.Name] = n
	}
	return diags
}

// parse reads and parses one file, recording it in f.files even when it
// has syntax errors, so that they print with their source lines.
func (f *Fleet) parse(rootAbs, abs string) (*hcl.File, hcl.Diagnostics) {
	name := f.displayName(rootAbs, abs)
	src, err := os.ReadFile(abs)
	if err != nil {
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Cannot read file",
			Detail:   fmt.Sprintf("Reading %s failed: %s.", name, err),
		}}
	}
	file, diags := schema.Parse(hclparse.NewParser(), src, name)
	if file != nil {
		f.files[name] = file
		if rel, err := filepath.Rel(rootAbs, abs); err == nil {
			f.rel[name] = filepath.ToSlash(rel)
		}
	}
	if diags.HasErrors() {
		return nil, diags
	}
	return file, diags
}

// displayName is how diagnostics name the file abs: below the root as
// the caller named it.
func (f *Fleet) displayName(rootAbs, abs string) string {
	rel, err := filepath.Rel(rootAbs, abs)
	if err != nil {
		return abs
	}
	return filepath.Join(f.root, rel)
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
