package compiler

import (
	"runtime"
	"sync"

	"github.com/hashicorp/hcl/v2"
)

// Validate checks the whole fleet: the defaults, every NAS, every node
// and the rules between them (no dataset or export twice on one NAS
// host, quotas within each NAS's capacity, no two nodes on one address). Each problem is reported
// once, sorted by file and position.
func (f *Fleet) Validate() hcl.Diagnostics {
	diags := append(hcl.Diagnostics{}, f.resolveDefaults().diags...)
	for _, name := range f.NASNames() {
		diags = append(diags, f.resolveNAS(name).diags...)
	}
	names := f.NodeNames()
	ids := make([]*nodeIdentity, len(names))
	for i, name := range names {
		ids[i] = f.resolveIdentity(name)
		diags = append(diags, ids[i].diags...)
	}
	diags = append(diags, f.lowerNodes(ids)...)
	diags = append(diags, checkNodeAddresses(ids)...)
	addresses := map[string]bool{}
	for _, name := range f.NASNames() {
		n := f.resolveNAS(name)
		_, d := f.lowerNAS(n)
		diags = append(diags, d...)
		if key := addressKey(n.nas.Address); !addresses[key] {
			addresses[key] = true
			diags = append(diags, f.checkNASOverlap(n.nas.Address)...)
		}
	}
	sortDiagnostics(diags)
	return diags
}

// checkNASOverlap reports two NAS declarations for the same host that
// would create the same dataset or export the same folder for two
// nodes: each node's plan looks right on its own, and they would write
// into each other's repository.
func (f *Fleet) checkNASOverlap(address string) hcl.Diagnostics {
	if address == "" {
		return nil
	}
	type owner struct {
		nas, node string
	}
	var diags hcl.Diagnostics
	var same []*nasDecl
	for _, name := range f.NASNames() {
		if n := f.resolveNAS(name); addressKey(n.nas.Address) == addressKey(address) {
			same = append(same, n)
		}
	}
	// Two blocks for one host with the same parent dataset or mount root
	// describe one place twice: ZFS mounts a dataset in one place, and
	// each block's capacity would count only half the quotas.
	for i, a := range same {
		for _, b := range same[i+1:] {
			first, second := a, b
			if second.decl.DeclRange.Start.Byte < first.decl.DeclRange.Start.Byte {
				first, second = second, first
			}
			what, value := "", ""
			switch {
			case a.nas.Parent != "" && a.nas.Parent == b.nas.Parent:
				what, value = "parent dataset", a.nas.Parent
			case a.nas.MountRoot != "" && a.nas.MountRoot == b.nas.MountRoot:
				what, value = "mount root", a.nas.MountRoot
			default:
				continue
			}
			diags = append(diags, errorAt(second.decl.NameRange, "Overlapping NAS",
				"The NAS %q has the same address (%s) and %s (%s) as the NAS %q, at %s, so both would create and export node datasets in one place. Declare the host once, or give each block its own %s.",
				second.nas.Name, address, what, value, first.nas.Name, at(first.decl.DeclRange), what))
		}
	}
	if diags.HasErrors() {
		return diags
	}
	datasets := map[string]owner{}
	exports := map[string]owner{}
	for _, n := range same {
		p, _ := f.lowerNAS(n)
		for _, node := range p.Nodes {
			me := owner{n.nas.Name, node.Name}
			names := []string{node.Dataset}
			for _, ds := range node.Datasets {
				names = append(names, ds.ZFSName)
			}
			for _, ds := range names {
				if prev, dup := datasets[ds]; dup && prev != me {
					diags = append(diags, errorAt(n.decl.DeclRange, "Duplicate NAS dataset",
						"The dataset %s on %s would be created both for node %q of NAS %q and for node %q of NAS %q, so the two would write into one dataset. Give the NAS blocks of one host different parent datasets.",
						ds, address, prev.node, prev.nas, node.Name, n.nas.Name))
					return diags
				}
				datasets[ds] = me
			}
			for _, ds := range node.Datasets {
				if prev, dup := exports[ds.Mountpoint]; dup && prev != me {
					diags = append(diags, errorAt(n.decl.DeclRange, "Duplicate NFS export",
						"The folder %s on %s would be the dataset of node %q of NAS %q and of node %q of NAS %q, so two nodes would write into the same export. Give the NAS blocks of one host different mount roots.",
						ds.Mountpoint, address, prev.node, prev.nas, node.Name, n.nas.Name))
					return diags
				}
				exports[ds.Mountpoint] = me
			}
		}
	}
	return diags
}

// lowerNodes lowers every node on every CPU and returns their
// diagnostics in the order of ids. Everything shared (defaults, NAS
// declarations, identities) is resolved before, so that lowering a node
// only reads the Fleet.
func (f *Fleet) lowerNodes(ids []*nodeIdentity) hcl.Diagnostics {
	f.resolveDefaults()
	results := make([]hcl.Diagnostics, len(ids))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(ids)) {
		wg.Go(func() {
			for i := range next {
				_, results[i] = f.lowerNode(ids[i])
			}
		})
	}
	for i := range ids {
		next <- i
	}
	close(next)
	wg.Wait()
	var diags hcl.Diagnostics
	for _, d := range results {
		diags = append(diags, d...)
	}
	return diags
}
