package compiler

import (
	"io/fs"
	"os"
	"path"
	"slices"
	"sort"
	"testing/fstest"

	"github.com/hashicorp/hcl/v2"
)

// What bakc init reads of a fleet to write a new node's host file: the
// fleet knows its NAS and their datasets, its defaults, and the
// addresses of its other nodes, so that init asks the user none of it.

// NASFacts is what a new node of a NAS gets from it.
type NASFacts struct {
	Name string
	// Exported are the datasets exported over NFS to each node (an nfs
	// repository each), Receive those that receive ZFS replication;
	// sorted.
	Exported []string
	Receive  []string
}

// NASFacts returns what the fleet declares of each NAS, sorted by name.
func (f *Fleet) NASFacts() []NASFacts {
	var out []NASFacts
	for _, name := range f.NASNames() {
		n := f.nas[name]
		facts := NASFacts{Name: name}
		for _, d := range n.Datasets {
			if d.Export != nil && d.Export.Value == "nfs" {
				facts.Exported = append(facts.Exported, d.Name)
			}
			if d.Receive != nil && d.Receive.Value {
				facts.Receive = append(facts.Receive, d.Name)
			}
		}
		sort.Strings(facts.Exported)
		sort.Strings(facts.Receive)
		out = append(out, facts)
	}
	return out
}

// HasDefaultRetention reports whether the fleet's defaults give every
// job a retention.
func (f *Fleet) HasDefaultRetention() bool {
	return f.rootFile != nil && f.rootFile.Defaults != nil && f.rootFile.Defaults.Retention != nil
}

// NodeAddresses returns the address each node declares (literally or
// from node.name), by node; nodes without one are left out.
func (f *Fleet) NodeAddresses() map[string]string {
	out := map[string]string{}
	for name, n := range f.nodes {
		if n.Address != nil {
			out[name] = n.Address.Value
		}
	}
	return out
}

// RootDir is the fleet's folder on disk (absolute), "" when it was not
// loaded from the disk.
func (f *Fleet) RootDir() string { return f.rootAbs }

// LoadFleetWith is LoadFleet with host files that are not on disk yet:
// extra maps a path relative to the root (slash-separated) to its
// content, added to the fleet's host files (or replacing one). bakc init
// checks the host file it is about to write with it.
func LoadFleetWith(dir string, extra map[string][]byte) (*Fleet, hcl.Diagnostics) {
	rootAbs, err := findRoot(dir)
	if err != nil {
		return newFleet(dir), noFleet(err)
	}
	disk := os.DirFS(rootAbs)
	hosts, err := findHostFiles(disk)
	if err != nil {
		return newFleet(dir), hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Cannot read the fleet", Detail: err.Error() + "."}}
	}
	mem := fstest.MapFS{}
	for name, data := range extra {
		mem[path.Clean(name)] = &fstest.MapFile{Data: data, Mode: 0o644}
		if !slices.Contains(hosts, name) {
			hosts = append(hosts, name)
		}
	}
	sort.Strings(hosts)
	f, diags := loadFS(overlayFS{mem: mem, disk: disk}, displayRoot(dir, rootAbs), hosts)
	f.rootAbs = rootAbs
	return f, diags
}

// overlayFS serves the files of mem, and every other file from disk.
type overlayFS struct {
	mem  fstest.MapFS
	disk fs.FS
}

func (o overlayFS) Open(name string) (fs.File, error) {
	if _, ok := o.mem[name]; ok {
		return o.mem.Open(name)
	}
	return o.disk.Open(name)
}
