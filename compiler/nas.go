package compiler

import (
	"fmt"
	"math/big"
	"path"
	"regexp"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/schema"
)

// Defaults of the NAS side.
var (
	// defaultExportOptions squash root: repositories belong to the
	// backup user's fixed uid, so root on the node needs no rights there.
	defaultExportOptions = []string{"rw", "sync", "no_subtree_check", "root_squash"}
)

// nasDecl is a checked NAS declaration: what every node of the NAS gets.
type nasDecl struct {
	decl     *schema.NAS
	nas      plan.NAS
	datasets []*nasDataset // sorted by name
	// replication is the NAS's replication block, nil without one.
	replication *nasReplication
	diags       hcl.Diagnostics
}

// nasDataset is a checked dataset block of a NAS.
type nasDataset struct {
	decl       *schema.NASDataset
	name       string
	properties []plan.Property
	// quota is the quota in bytes, -1 when there is none.
	quota int64
	// quotaBad is true when the quota was wrong (reported).
	quotaBad      bool
	export        bool
	exportOptions []string
	receive       bool
}

func (n *nasDecl) dataset(name string) *nasDataset {
	for _, ds := range n.datasets {
		if ds.name == name {
			return ds
		}
	}
	return nil
}

func (n *nasDecl) datasetNames() []string {
	names := make([]string, len(n.datasets))
	for i, ds := range n.datasets {
		names[i] = ds.name
	}
	return names
}

// needsAddress reports whether every node of the NAS must have an
// address: an export is made to it. (A node that replicates needs one
// too, as the NAS connects to it: checkNodeReplication.)
func (n *nasDecl) needsAddress() *nasDataset {
	for _, ds := range n.datasets {
		if ds.export {
			return ds
		}
	}
	return nil
}

// resolveNAS checks a NAS declaration once; nil when no NAS has the name.
func (f *Fleet) resolveNAS(name string) *nasDecl {
	if d, ok := f.nasDecls[name]; ok {
		return d
	}
	decl, ok := f.nas[name]
	if !ok {
		return nil
	}
	n := &nasDecl{decl: decl, nas: plan.NAS{Name: decl.Name}}
	f.nasDecls[name] = n
	diags := checkName(decl.Name, decl.NameRange, plan.NameNAS)
	if decl.Address != nil {
		diags = append(diags, checkAddress(decl.Address, "NAS address")...)
		n.nas.Address = decl.Address.Value
	}
	if decl.Parent != nil {
		diags = append(diags, checkDatasetName(decl.Parent, "parent dataset")...)
		n.nas.Parent = decl.Parent.Value
		n.nas.MountRoot = "/" + decl.Parent.Value
	}
	if decl.MountRoot != nil {
		if d := checkAbsPath(decl.MountRoot, "mount root"); d.HasErrors() {
			diags = append(diags, d...)
		} else if !exportPathRE.MatchString(decl.MountRoot.Value) {
			diags = append(diags, errorAt(decl.MountRoot.Range, "Invalid mount root",
				"The mount root %q holds characters that an exports(5) line cannot carry safely (spaces, quotes, \"#\"). Use only letters, digits and \"_.:+@-\" in its folder names.", decl.MountRoot.Value))
		} else if decl.MountRoot.Value == "/" {
			diags = append(diags, errorAt(decl.MountRoot.Range, "Invalid mount root",
				"The mount root cannot be \"/\": node folders would be created at the NAS's root. Write the parent dataset's mountpoint, such as \"/mnt/backup\"."))
		} else {
			n.nas.MountRoot = decl.MountRoot.Value
		}
	}
	if decl.Capacity != nil {
		c, err := parseSize(decl.Capacity.Value)
		if err != nil || c == 0 {
			diags = append(diags, errorAt(decl.Capacity.Range, "Invalid size",
				"The capacity %q is not a size. Write a size with a binary unit, such as \"4T\" or \"500G\".", decl.Capacity.Value))
		} else {
			n.nas.Capacity = c
		}
	}
	if decl.Replication != nil {
		var d hcl.Diagnostics
		n.replication, d = checkNASReplication(decl.Replication, decl.Address)
		diags = append(diags, d...)
	}
	seen := map[string]bool{}
	for _, dsDecl := range decl.Datasets {
		if seen[dsDecl.Name] {
			continue // reported when loading
		}
		seen[dsDecl.Name] = true
		ds, d := checkNASDataset(dsDecl)
		diags = append(diags, d...)
		n.datasets = append(n.datasets, ds)
	}
	sort.Slice(n.datasets, func(i, j int) bool { return n.datasets[i].name < n.datasets[j].name })
	n.diags = diags
	return n
}

// checkNASDataset checks one dataset block and lowers its properties.
func checkNASDataset(decl *schema.NASDataset) (*nasDataset, hcl.Diagnostics) {
	ds := &nasDataset{decl: decl, name: decl.Name, quota: -1}
	diags := checkName(decl.Name, decl.NameRange, plan.NameDataset)
	props := map[string]string{}
	propRange := map[string]hcl.Range{}
	set := func(name string, t *schema.Text, value string) {
		props[name] = value
		propRange[name] = t.Range
	}
	for _, s := range []struct {
		v    *schema.Text
		name string
	}{{decl.Quota, "quota"}, {decl.Reservation, "reservation"}} {
		if s.v == nil {
			continue
		}
		if s.v.Value == "none" {
			set(s.name, s.v, "none")
			continue
		}
		n, err := parseSize(s.v.Value)
		if err != nil || n == 0 {
			ds.quotaBad = ds.quotaBad || s.name == "quota"
			diags = append(diags, errorAt(s.v.Range, "Invalid size",
				"The %s %q is not a size. Write a size with a binary unit, such as \"300G\", or \"none\".", s.name, s.v.Value))
			continue
		}
		if s.name == "quota" {
			ds.quota = n
		}
		set(s.name, s.v, s.v.Value)
	}
	if t := decl.Compression; t != nil {
		if !compressionRE.MatchString(t.Value) {
			diags = append(diags, errorAt(t.Range, "Invalid ZFS property",
				"%q is not a ZFS compression. Write one of on, off, lz4, zstd, zstd-1 … zstd-19, gzip, gzip-1 … gzip-9, lzjb or zle.", t.Value))
		} else {
			set("compression", t, t.Value)
		}
	}
	for _, s := range []struct {
		v    *schema.Text
		name string
	}{{decl.Atime, "atime"}, {decl.Readonly, "readonly"}} {
		if s.v == nil {
			continue
		}
		switch s.v.Value {
		case "on", "true":
			set(s.name, s.v, "on")
		case "off", "false":
			set(s.name, s.v, "off")
		default:
			diags = append(diags, errorAt(s.v.Range, "Invalid ZFS property",
				"%s must be \"on\" or \"off\", not %q.", s.name, s.v.Value))
		}
	}
	if t := decl.Recordsize; t != nil {
		n, err := parseSize(t.Value)
		if err != nil || n < 512 || n > 16<<20 || n&(n-1) != 0 {
			diags = append(diags, errorAt(t.Range, "Invalid ZFS property",
				"The recordsize %q is not a power of two from 512 to 16M. Write a size such as \"128K\" or \"1M\".", t.Value))
		} else {
			set("recordsize", t, t.Value)
		}
	}
	if decl.Properties != nil {
		for _, e := range decl.Properties.Entries {
			name := e.Key.Value
			switch {
			case !propertyNameRE.MatchString(name):
				diags = append(diags, errorAt(e.Key.Range, "Invalid ZFS property",
					"%q is not a ZFS property name. Write a native property such as \"xattr\", or a user property with a colon, such as \"com.example:owner\".", name))
			case name == "mountpoint" || name == "canmount":
				diags = append(diags, errorAt(e.Key.Range, "Invalid ZFS property",
					"bakc decides where node datasets are mounted (the NAS's mount_root/<node>/<dataset>), since the export and the node's mount depend on it. Remove %q, or change the NAS's mount_root.", name))
			case contains(attributeProperties, name):
				diags = append(diags, errorAt(e.Key.Range, "Invalid ZFS property",
					"%q has an attribute of its own in a dataset block. Write %s = %q instead of setting it in properties.", name, name, e.Value.Value))
			case propRange[name] != (hcl.Range{}):
				diags = append(diags, errorAt(e.Key.Range, "Duplicate ZFS property",
					"The property %q is already set at %s. Set it once.", name, at(propRange[name])))
			case contains(sizeProperties, name) && e.Value.Value != "none" && !validSize(e.Value.Value):
				diags = append(diags, errorAt(e.Value.Range, "Invalid size",
					"The property %q takes a size, and %q is not one. Write a size with a binary unit, such as \"300G\", or \"none\".", name, e.Value.Value))
			default:
				if e.Value.Value == "" {
					diags = append(diags, errorAt(e.Value.Range, "Invalid ZFS property",
						"The property %q has an empty value. Give it a value, or remove it.", name))
					continue
				}
				set(name, &e.Value, e.Value.Value)
				propRange[name] = e.Key.Range
			}
		}
	}
	for _, name := range sortedKeys(props) {
		ds.properties = append(ds.properties, plan.Property{Name: name, Value: props[name]})
	}
	if t := decl.Export; t != nil {
		if t.Value != "nfs" {
			diags = append(diags, errorAt(t.Range, "Invalid export",
				"%q is not a kind of export bakc makes. Write \"nfs\", or remove export.%s", t.Value, didYouMean(t.Value, []string{"nfs"})))
		} else {
			ds.export = true
		}
	}
	if decl.Receive != nil && decl.Receive.Value {
		ds.receive = true
		if ds.export {
			diags = append(diags, errorAt(decl.Receive.Range, "Export and receive",
				"A dataset is either an NFS repository (export) or a target of ZFS replication (receive): a receive would replace the files restic writes. Declare two datasets."))
		}
	}
	if decl.ExportOptions != nil {
		if !ds.export {
			diags = append(diags, errorAt(decl.ExportOptions.Range, "Export options without export",
				"export_options is set, but the dataset is not exported. Add export = \"nfs\", or remove export_options."))
		}
		opts, d := checkExportOptions(decl.ExportOptions)
		diags = append(diags, d...)
		ds.exportOptions = opts
	} else if ds.export {
		ds.exportOptions = defaultExportOptions
	}
	return ds, diags
}

// compressionRE is the compression values of OpenZFS.
var compressionRE = regexp.MustCompile(`^(on|off|lz4|lzjb|zle|gzip|gzip-[1-9]|zstd|zstd-fast|zstd-(1[0-9]|[1-9])|zstd-fast-[0-9]+)$`)

// propertyNameRE is a native ZFS property name, or a user property
// (module:property, with a colon).
var propertyNameRE = regexp.MustCompile(`^([a-z][a-z0-9_]*|[a-z0-9_.-]+:[a-z0-9_.:-]+)$`)

// exportOptionRE is one option of an exports(5) line: a word, with an
// optional value. Commas, spaces, parentheses and quotes would change
// the line's meaning, so they are refused.
var exportOptionRE = regexp.MustCompile(`^[a-z0-9_]+(=[A-Za-z0-9_.:@/-]+)?$`)

// exportPathRE is a folder an exports(5) line can name without quoting.
var exportPathRE = regexp.MustCompile(`^[A-Za-z0-9_.:+@/-]+$`)

// attributeProperties are the ZFS properties a dataset block has an
// attribute for; the quota sum reads the quota attribute, so these may
// not be set through properties too.
var attributeProperties = []string{"atime", "compression", "quota", "readonly", "recordsize", "reservation"}

// sizeProperties are the other ZFS properties whose values are sizes.
var sizeProperties = []string{"refquota", "refreservation", "special_small_blocks", "volblocksize", "volsize"}

// checkExportOptions checks export options as given (their order
// matters to exportfs, so they are kept).
func checkExportOptions(l *schema.TextList) ([]string, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	var rw bool
	for _, it := range l.Items {
		switch {
		case !exportOptionRE.MatchString(it.Value):
			diags = append(diags, errorAt(it.Range, "Invalid export option",
				"%q is not an NFS export option. Write one option per item, such as \"sync\" or \"sec=krb5p\", without commas, spaces or parentheses.", it.Value))
		case it.Value == "ro":
			diags = append(diags, errorAt(it.Range, "Read-only export",
				"The export is read-only, but restic writes to the repository. Remove \"ro\" and add \"rw\"."))
		case it.Value == "rw":
			rw = true
		case it.Value == "no_root_squash":
			diags = append(diags, warningAt(it.Range, "Export without root squashing",
				"With no_root_squash, root on the node is root on the NAS's dataset: a compromised node can change the repository's files as any user, and delete what its restic password would not let it. bakc's units write repositories as the backup user, so root_squash works; use no_root_squash only if you know why."))
		}
	}
	if !rw && !diags.HasErrors() {
		diags = append(diags, errorAt(l.Range, "Read-only export",
			"The export options do not include \"rw\", so the export would be read-only (the NFS default) and restic could not write. Add \"rw\"."))
	}
	return l.Values(), diags
}

// lowerNASNode is one node's share of its NAS.
func lowerNASNode(n *nasDecl, id *nodeIdentity, user plan.User) plan.NASNode {
	node := plan.NASNode{
		Name:    id.node.Name,
		Address: id.address,
		Dataset: n.nas.Parent + "/" + id.node.Name,
	}
	for _, ds := range n.datasets {
		if !nodeGets(id, ds) {
			continue
		}
		out := plan.NASDataset{
			Name:       ds.name,
			ZFSName:    node.Dataset + "/" + ds.name,
			Mountpoint: path.Join(n.nas.MountRoot, id.node.Name, ds.name),
			Properties: append([]plan.Property{}, ds.properties...),
		}
		if ds.export {
			out.Owner = &plan.Owner{UID: user.UID, GID: user.GID}
			out.Export = &plan.Export{Client: id.address, Options: append([]string{}, ds.exportOptions...)}
		}
		node.Datasets = append(node.Datasets, out)
	}
	node.Replication = lowerNodeReplication(n, id)
	return node
}

// NASPlan checks and lowers the NAS side for one NAS: its declaration,
// the identities of the nodes using it, and the fleet rules about it
// (no dataset or export twice, quotas within capacity, no two of its
// nodes on one address). Fleet rules see
// only the nodes loaded: every node with LoadFleet, one with
// LoadNodeFile.
func (f *Fleet) NASPlan(name string) (*plan.NASPlan, hcl.Diagnostics) {
	n := f.resolveNAS(name)
	if n == nil {
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Unknown NAS",
			Detail:   fmt.Sprintf("The fleet declares no NAS named %q; it declares %s.%s", name, quotedList(f.NASNames()), didYouMean(name, f.NASNames())),
		}}
	}
	def := f.resolveDefaults()
	diags := append(append(hcl.Diagnostics{}, def.diags...), n.diags...)
	for _, id := range f.nasNodes(n) {
		diags = append(diags, id.diags...)
	}
	diags = append(diags, checkNodeAddresses(f.nasNodes(n))...)
	p, d := f.lowerNAS(n)
	diags = append(diags, d...)
	diags = append(diags, f.checkNASOverlap(n.nas.Address)...)
	sortDiagnostics(diags)
	if diags.HasErrors() {
		return nil, diags
	}
	return p, diags
}

// nasNodes are the identities of the nodes using n, sorted by name.
func (f *Fleet) nasNodes(n *nasDecl) []*nodeIdentity {
	if ids, ok := f.nasNodeIDs[n.nas.Name]; ok {
		return ids
	}
	// Index every NAS's nodes at once: a fleet has many nodes and few NAS.
	for _, name := range f.NASNames() {
		f.nasNodeIDs[name] = nil
	}
	for _, name := range f.NodeNames() {
		if id := f.resolveIdentity(name); id.nas != nil {
			f.nasNodeIDs[id.nas.nas.Name] = append(f.nasNodeIDs[id.nas.nas.Name], id)
		}
	}
	return f.nasNodeIDs[n.nas.Name]
}

// lowerNAS lowers a NAS plan; the diagnostics are those of the fleet
// rules about this NAS alone (its quota sum).
func (f *Fleet) lowerNAS(n *nasDecl) (*plan.NASPlan, hcl.Diagnostics) {
	def := f.resolveDefaults()
	p := &plan.NASPlan{Version: plan.Version, NAS: n.nas, User: def.user, Nodes: []plan.NASNode{}}
	sources := map[string]bool{}
	if f.rootFile != nil {
		sources[f.rel[f.rootFile.Filename]] = true
	}
	for _, id := range f.nasNodes(n) {
		sources[f.rel[id.node.Filename]] = true
		nn := lowerNASNode(n, id, id.user)
		if nn.Replication != nil && n.replication != nil && p.Replication == nil {
			p.Replication = f.lowerNASReplication(n)
		}
		p.Nodes = append(p.Nodes, nn)
	}
	p.Sources = sortedKeys(sources)
	return p, f.checkNASCapacity(n, p)
}

// checkNASCapacity reports quotas that add up to more than the NAS's
// declared capacity, with the numbers. Each node gets every dataset
// block but the receive ones, which only the nodes replicating into
// them get (nodeGets).
func (f *Fleet) checkNASCapacity(n *nasDecl, p *plan.NASPlan) hcl.Diagnostics {
	if n.nas.Capacity == 0 || len(p.Nodes) == 0 {
		return nil
	}
	var diags hcl.Diagnostics
	ids := f.nasNodes(n)
	total := new(big.Int) // big: quotas near the int64 limit must not wrap
	var parts []string
	everyNodeAll := true
	perNode := new(big.Int)
	for _, ds := range n.datasets {
		if ds.quota < 0 {
			if ds.quotaBad {
				continue
			}
			diags = append(diags, warningAt(ds.decl.DeclRange, "Dataset without quota",
				"The NAS %q declares a capacity, but its dataset %q has no quota, so one node could fill the pool and the quota sum says nothing. Give it a quota.", n.nas.Name, ds.name))
			continue
		}
		var getting []string
		for _, id := range ids {
			if nodeGets(id, ds) {
				getting = append(getting, id.node.Name)
			}
		}
		if len(getting) == 0 {
			continue
		}
		everyNodeAll = everyNodeAll && len(getting) == len(ids)
		perNode.Add(perNode, big.NewInt(ds.quota))
		total.Add(total, new(big.Int).Mul(big.NewInt(ds.quota), big.NewInt(int64(len(getting)))))
		part := fmt.Sprintf("%s %s", ds.name, ds.decl.Quota.Value)
		if len(getting) != len(ids) {
			part += fmt.Sprintf(" × %d (%s)", len(getting), strings.Join(nodeNames(getting), ", "))
		}
		parts = append(parts, part)
	}
	if total.Cmp(big.NewInt(n.nas.Capacity)) <= 0 {
		return diags
	}
	var names []string
	for _, nd := range p.Nodes {
		names = append(names, nd.Name)
	}
	if everyNodeAll {
		return append(diags, errorAt(n.decl.Capacity.Range, "Quotas exceed NAS capacity",
			"The quotas on NAS %q add up to %s: %d nodes (%s) × (%s), that is %d × %s. Its declared capacity is %s, so the pool could fill up and every node's backups would fail at once. Lower the quotas, or raise capacity if the pool is larger.",
			n.nas.Name, formatBigBytes(total), len(p.Nodes), strings.Join(nodeNames(names), ", "), strings.Join(parts, " + "), len(p.Nodes), formatBigBytes(perNode), formatBytes(n.nas.Capacity)))
	}
	return append(diags, errorAt(n.decl.Capacity.Range, "Quotas exceed NAS capacity",
		"The quotas on NAS %q add up to %s, for its %d nodes (%s): %s, each once per node that gets it. Its declared capacity is %s, so the pool could fill up and every node's backups would fail at once. Lower the quotas, or raise capacity if the pool is larger.",
		n.nas.Name, formatBigBytes(total), len(p.Nodes), strings.Join(nodeNames(names), ", "), strings.Join(parts, " + "), formatBytes(n.nas.Capacity)))
}

// nodeNames shortens a long list of node names for a message.
func nodeNames(names []string) []string {
	if len(names) <= 6 {
		return names
	}
	return append(append([]string{}, names[:5]...), fmt.Sprintf("and %d more", len(names)-5))
}
