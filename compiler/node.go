package compiler

import (
	"fmt"
	"sort"

	"github.com/hashicorp/hcl/v2"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/schema"
)

// Plan checks one node and lowers it to its plan. The diagnostics are
// those of the defaults, of the node's NAS and of the node itself;
// warnings may come with a plan, errors never do.
func (f *Fleet) Plan(name string) (*plan.Plan, hcl.Diagnostics) {
	if _, ok := f.nodes[name]; !ok {
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Unknown node",
			Detail:   fmt.Sprintf("The fleet declares no node named %q; it declares %s.%s", name, quotedList(f.NodeNames()), didYouMean(name, f.NodeNames())),
		}}
	}
	def := f.resolveDefaults()
	id := f.resolveIdentity(name)
	diags := append(hcl.Diagnostics{}, def.diags...)
	if id.nas != nil {
		diags = append(diags, id.nas.diags...)
	}
	diags = append(diags, id.diags...)
	p, d := f.lowerNode(id)
	diags = append(diags, d...)
	sortDiagnostics(diags)
	if diags.HasErrors() {
		return nil, diags
	}
	return p, diags
}

// nodeScope is what lowering a node's repositories and jobs reads.
type nodeScope struct {
	def   *resolvedDefaults
	id    *nodeIdentity
	delay string
	// datasets are the node's ZFS datasets, sorted by mountpoint.
	datasets []plan.Dataset
	hasZFS   bool
	// datasetsBad is true when a dataset entry was wrong (reported), so
	// that a path it would have covered is not reported as well.
	datasetsBad bool
	// repos are the node's repositories by name (first of each name).
	repos map[string]*schema.Repository
	// lowered are the checked repositories, by name.
	lowered map[string]*plan.Repository
	// used records which repositories a job writes to.
	used map[string]bool
	// paths and monitoring are the node's, resolved: what a service
	// may write besides its repositories (checkSteps).
	paths      plan.Paths
	monitoring plan.Monitoring
	// read reads a sops file of the fleet (nil: not read); secrets are
	// the sops secrets the repositories declare (secrets.go).
	read    func(string) ([]byte, error)
	secrets []plan.Secret
}

// lowerNode checks everything of a node but its identity and lowers it.
func (f *Fleet) lowerNode(id *nodeIdentity) (*plan.Plan, hcl.Diagnostics) {
	node := id.node
	def := f.resolveDefaults()
	var diags hcl.Diagnostics
	p := &plan.Plan{
		Version: plan.Version,
		Source:  f.rel[node.Filename],
		Node:    plan.Node{Name: node.Name, Address: id.address},
		User:    id.user,
	}
	if id.nas != nil {
		p.Node.NAS = id.nas.nas.Name
	}
	s := &nodeScope{def: def, id: id, delay: def.randomizedDelay,
		repos: map[string]*schema.Repository{}, lowered: map[string]*plan.Repository{}, used: map[string]bool{},
		read: f.secretReader()}

	var d hcl.Diagnostics
	s.datasets, d = lowerNodeDatasets(node.ZFS)
	diags = append(diags, d...)
	s.hasZFS = node.ZFS != nil && node.ZFS.Datasets != nil && len(node.ZFS.Datasets.Entries) > 0
	s.datasetsBad = d.HasErrors()
	p.Node.Datasets = s.datasets
	p.Replication = lowerReplication(id)

	p.Paths, d = applyPaths(def.paths, node.Paths)
	diags = append(diags, d...)
	mon, d := applyMonitoring(def.monitoring, node.Monitoring)
	diags = append(diags, d...)
	p.Monitoring = mon.resolve(p.Paths)
	s.paths, s.monitoring = p.Paths, p.Monitoring

	// Tasks of the node, replacing the defaults' whole.
	prune, verify, restoreTest := def.prune, def.verify, def.restoreTest
	if node.Prune != nil {
		prune, d = lowerPrune(node.Prune, s.delay)
		diags = append(diags, d...)
	}
	if node.Verify != nil {
		verify, d = lowerVerify(node.Verify, s.delay)
		diags = append(diags, d...)
	}
	if node.RestoreTest != nil {
		restoreTest, d = lowerRestoreTest(node.RestoreTest, s.delay)
		diags = append(diags, d...)
	}

	p.Repositories = []plan.Repository{}
	locations := map[string]*schema.Repository{}
	for _, r := range node.Repositories {
		if prev, dup := s.repos[r.Name]; dup {
			diags = append(diags, errorAt(r.NameRange, "Duplicate repository",
				"The node already has a repository named %q, at %s. Rename one, or merge them.", r.Name, at(prev.DeclRange)))
			continue
		}
		s.repos[r.Name] = r
		lr, d := s.lowerRepository(r, prune, verify, restoreTest)
		diags = append(diags, d...)
		if lr == nil {
			continue
		}
		if prev, dup := locations[lr.URL]; dup {
			diags = append(diags, errorAt(r.DeclRange, "Duplicate repository location",
				"The repositories %q and %q are both %q. Two repositories in one place would prune each other's data on their own schedules; declare it once and list it in every job that writes to it.", prev.Name, r.Name, lr.URL))
			continue
		}
		locations[lr.URL] = r
		s.lowered[r.Name] = lr
	}
	for _, name := range sortedKeys(s.lowered) {
		p.Repositories = append(p.Repositories, *s.lowered[name])
	}
	placeKnownHosts(p)
	p.Secrets = s.planSecrets()

	p.Jobs = []plan.Job{}
	jobs := map[string]*schema.Job{}
	for _, j := range node.Jobs {
		if prev, dup := jobs[j.Name]; dup {
			diags = append(diags, errorAt(j.NameRange, "Duplicate job",
				"The node already has a job named %q, at %s. Job names name the job's units and tag its snapshots, so they must be unique in a node: rename one.", j.Name, at(prev.DeclRange)))
			continue
		}
		jobs[j.Name] = j
		lj, d := s.lowerJob(j)
		diags = append(diags, d...)
		if lj != nil {
			p.Jobs = append(p.Jobs, *lj)
		}
	}
	sort.Slice(p.Jobs, func(i, j int) bool { return p.Jobs[i].Name < p.Jobs[j].Name })

	switch {
	case len(node.Jobs) == 0:
		diags = append(diags, warningAt(node.DeclRange, "Node without jobs",
			"The node %q declares no job, so nothing of it is backed up. Add a job block, or remove the node.", node.Name))
	case len(node.Repositories) == 0:
		diags = append(diags, errorAt(node.DeclRange, "Node without repositories",
			"The node %q has jobs but no repository to write them to. Add a repository block.", node.Name))
	case !diags.HasErrors():
		// Only on an otherwise clean node: an unknown or empty
		// repository list would make this a consequence, not news.
		for _, r := range node.Repositories {
			if s.lowered[r.Name] != nil && !s.used[r.Name] && s.repos[r.Name] == r {
				diags = append(diags, warningAt(r.NameRange, "Unused repository",
					"No job writes to the repository %q, yet it is pruned and checked on schedule. Add it to a job's repositories, or remove it.", r.Name))
			}
		}
	}
	if diags.HasErrors() {
		return nil, diags
	}
	return p, diags
}

// lowerNodeDatasets checks the node's zfs.datasets map (mountpoint →
// dataset) and returns it sorted by mountpoint.
func lowerNodeDatasets(z *schema.ZFS) ([]plan.Dataset, hcl.Diagnostics) {
	if z == nil || z.Datasets == nil {
		return nil, nil
	}
	var diags hcl.Diagnostics
	var out []plan.Dataset
	byMount := map[string]schema.TextEntry{}
	byName := map[string]schema.TextEntry{}
	for _, e := range z.Datasets.Entries {
		d := checkAbsPath(&e.Key, "dataset mountpoint")
		d = append(d, checkDatasetName(&e.Value, "dataset")...)
		if d.HasErrors() {
			diags = append(diags, d...)
			continue
		}
		if prev, dup := byMount[e.Key.Value]; dup {
			diags = append(diags, errorAt(e.Key.Range, "Duplicate mountpoint",
				"The mountpoint %q is already given, at %s. One dataset is mounted at a folder: keep one entry.", e.Key.Value, at(prev.Key.Range)))
			continue
		}
		if prev, dup := byName[e.Value.Value]; dup {
			diags = append(diags, errorAt(e.Value.Range, "Duplicate dataset",
				"The dataset %q is already mounted at %q, at %s. A dataset has one mountpoint: keep one entry.", e.Value.Value, prev.Key.Value, at(prev.Value.Range)))
			continue
		}
		byMount[e.Key.Value], byName[e.Value.Value] = e, e
		out = append(out, plan.Dataset{Mountpoint: e.Key.Value, Name: e.Value.Value})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Mountpoint < out[j].Mountpoint })
	return out, diags
}
