package compiler

import (
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/escape"
	"github.com/holthome/bakc/schema"
)

// lowerJob checks one job and lowers it.
func (s *nodeScope) lowerJob(j *schema.Job) (*plan.Job, hcl.Diagnostics) {
	def := s.def
	diags := checkName(j.Name, j.NameRange, plan.NameJob)
	out := &plan.Job{
		Name:      j.Name,
		JobTag:    plan.JobTag(j.Name),
		Snapshot:  plan.SnapshotNone,
		Resources: def.resources,
		// A disabled job is checked all the same: it stays in the plan
		// and the runbook, and must work the day it is enabled again.
		Disabled: j.Enabled != nil && !j.Enabled.Value,
	}
	if j.Description != nil {
		// The description goes into unit files' Description=.
		if err := escape.CheckSystemdLine(j.Description.Value); err != nil {
			diags = append(diags, errorAt(j.Description.Range, "Invalid description",
				"The description cannot be written into a systemd unit: it %s. Change it.", err))
		} else {
			out.Description = j.Description.Value
		}
	}

	paths, d := checkJobPaths(j)
	diags = append(diags, d...)
	// Never null in the plan: a job that only dumps has [].
	out.Paths = make([]string, len(paths))
	for i, p := range paths {
		out.Paths[i] = p.Value
	}

	// Excludes: the defaults' first, then the job's own.
	if j.ExcludeDefaults == nil || j.ExcludeDefaults.Value {
		out.Exclude = append(out.Exclude, def.exclude...)
	}
	if j.Exclude != nil {
		diags = append(diags, checkExcludes(j.Exclude)...)
		out.Exclude = append(out.Exclude, j.Exclude.Values()...)
	}
	out.Exclude = dedupe(out.Exclude)
	if len(out.Exclude) == 0 {
		out.Exclude = nil
	}
	excludes := parseExcludes(out.Exclude)
	if !diags.HasErrors() {
		diags = append(diags, checkExcludedPaths(j, paths, excludes)...)
	}

	out.Repositories, d = s.jobRepositories(j)
	diags = append(diags, d...)
	reposBad := d.HasErrors()
	diags = append(diags, s.checkOwnRepository(paths, excludes, out.Repositories)...)
	diags = append(diags, s.checkRuntimeFolders(paths)...)

	out.Schedule, d = lowerSchedule(j.Schedule, j.RandomizedDelay, def.schedule, def.randomizedDelay, "schedule")
	diags = append(diags, d...)

	switch {
	case j.Retention != nil:
		out.Retention, d = lowerRetention(j.Retention)
		diags = append(diags, d...)
	case def.retention != nil:
		out.Retention = *def.retention
	case !def.retentionBad:
		diags = append(diags, errorAt(j.DeclRange, "No retention policy",
			"The job %q has no retention block and bakc.hcl's defaults declare none, so restic's forget would have no policy and the repository would grow forever. Add a retention block to the job or to defaults, for example retention { daily = 7  weekly = 4 }.", j.Name))
	}

	if !diags.HasErrors() {
		diags = append(diags, checkCadence(j, out)...)
	}

	out.Tags, d = lowerTags(j)
	diags = append(diags, d...)
	out.Tags = append(out.Tags, out.JobTag)
	sort.Strings(out.Tags)

	if j.Snapshot != nil {
		switch j.Snapshot.Value {
		case plan.SnapshotNone:
		case plan.SnapshotZFS:
			out.Snapshot = plan.SnapshotZFS
			out.Datasets, d = s.snapshotDatasets(j, paths)
			diags = append(diags, d...)
		default:
			diags = append(diags, errorAt(j.Snapshot.Range, "Invalid snapshot mode",
				"%q is not a snapshot mode. Write \"zfs\" to back up from a ZFS snapshot of the job's datasets, or \"none\" to read the live files.%s",
				j.Snapshot.Value, didYouMean(j.Snapshot.Value, plan.SnapshotModes)))
		}
	}

	steps, d := lowerHooks(j, out)
	diags = append(diags, d...)
	dumps, d := lowerDumps(j, out)
	diags = append(diags, d...)
	steps = append(steps, dumps...)
	if j.Paths == nil && len(j.Dumps) == 0 {
		diags = append(diags, errorAt(j.DeclRange, "Job without paths",
			"The job %q has neither paths nor a dump block, so it would back up nothing. Add paths = [\"/folder\", …], or a dump block.", j.Name))
	}
	if len(paths) == 0 && len(j.Dumps) > 0 {
		// A job that only dumps reads no files: no excludes, no snapshot.
		out.Exclude = nil
		if j.Exclude != nil {
			diags = append(diags, warningAt(j.Exclude.Range, "Exclude without paths",
				"The job %q has no paths, only dumps, so its exclude patterns match nothing. Remove them.", j.Name))
		}
		if out.Snapshot == plan.SnapshotZFS {
			diags = append(diags, errorAt(j.Snapshot.Range, "Snapshot without paths",
				"The job %q has no paths, only dumps, which stream into restic and read no files, so there is nothing to snapshot. Remove snapshot = \"zfs\", or add the paths it should snapshot.", j.Name))
		}
	}
	if !reposBad {
		// What the hooks may write depends on the repositories.
		diags = append(diags, s.checkSteps(out, steps)...)
	}
	out.Resources, d = applyResources(def.resources, j.Resources)
	diags = append(diags, d...)
	if j.OnFailureUnit != nil {
		if d := checkUnitName(j.OnFailureUnit); d.HasErrors() {
			diags = append(diags, d...)
		} else {
			out.OnFailureUnit = j.OnFailureUnit.Value
		}
	}
	out.Notify, d = lowerNotify(j.Notify)
	diags = append(diags, d...)
	if diags.HasErrors() {
		return nil, diags
	}
	return out, diags
}

// checkJobPaths checks a job's paths and returns them sorted: absolute,
// clean, none twice, none inside another (restic would read it twice,
// and a restore of one would be ambiguous).
func checkJobPaths(j *schema.Job) ([]schema.Text, hcl.Diagnostics) {
	if j.Paths == nil {
		return nil, nil // "Missing required argument", from decoding
	}
	var diags hcl.Diagnostics
	var ok []schema.Text
	if len(j.Paths.Items) == 0 {
		return nil, hcl.Diagnostics{errorAt(j.Paths.Range, "Job without paths",
			"The job %q has an empty list of paths, so it would back up nothing. Add the folders to back up.", j.Name)}
	}
	for _, it := range j.Paths.Items {
		if d := checkAbsPath(&it, "job path"); d.HasErrors() {
			diags = append(diags, d...)
			continue
		}
		ok = append(ok, it)
	}
	sort.SliceStable(ok, func(a, b int) bool { return ok[a].Value < ok[b].Value })
	var out []schema.Text
	for _, it := range ok {
		if len(out) > 0 {
			prev := out[len(out)-1]
			if prev.Value == it.Value {
				diags = append(diags, errorAt(it.Range, "Duplicate job path",
					"The path %q is already listed in this job. Remove one.", it.Value))
				continue
			}
			// Sorted, so an ancestor comes right before its descendants
			// (or before other descendants of it).
			if anc := ancestorIn(out, it.Value); anc != "" {
				diags = append(diags, errorAt(it.Range, "Overlapping job paths",
					"The path %q is inside %q, which this job already backs up, so restic would read it twice. Remove %q, or back it up in a job of its own.", it.Value, anc, it.Value))
				continue
			}
		}
		out = append(out, it)
	}
	return out, diags
}

// ancestorIn returns the path of list that contains p, or "".
func ancestorIn(list []schema.Text, p string) string {
	for _, a := range list {
		if a.Value != p && isUnder(p, a.Value) {
			return a.Value
		}
	}
	return ""
}

// checkExcludedPaths reports a job path that an exclude pattern removes
// whole (the path itself or a folder above it matches): the job would
// silently back up nothing there.
func checkExcludedPaths(j *schema.Job, paths []schema.Text, exclude excludeList) hcl.Diagnostics {
	var diags hcl.Diagnostics
	own := map[string]hcl.Range{}
	if j.Exclude != nil {
		for _, it := range j.Exclude.Items {
			if _, seen := own[it.Value]; !seen {
				own[it.Value] = it.Range
			}
		}
	}
	for _, p := range paths {
		by := exclude.excludedBy(p.Value)
		if by == "" {
			continue
		}
		if rng, ok := own[by]; ok {
			diags = append(diags, errorAt(rng, "Exclude removes a job path",
				"The exclude pattern %q matches the job path %q (or a folder above it), so the job would back up nothing there. Remove the pattern or the path, or narrow the pattern.", by, p.Value))
		} else {
			diags = append(diags, errorAt(p.Range, "Exclude removes a job path",
				"The exclude pattern %q from bakc.hcl's defaults matches the job path %q (or a folder above it), so the job would back up nothing there. Narrow the pattern, or set exclude_defaults = false in the job and list the excludes it needs.", by, p.Value))
		}
	}
	return diags
}

// jobRepositories resolves a job's repositories: the listed ones, or
// every repository of the node when the job lists none.
func (s *nodeScope) jobRepositories(j *schema.Job) ([]string, hcl.Diagnostics) {
	if j.Repositories == nil {
		names := sortedKeys(s.repos)
		for _, n := range names {
			s.used[n] = true
		}
		return names, nil
	}
	if len(j.Repositories.Items) == 0 {
		return nil, hcl.Diagnostics{errorAt(j.Repositories.Range, "Job without repositories",
			"The job %q lists no repository, so its backups would go nowhere. List at least one, or remove repositories to use all of the node's.", j.Name)}
	}
	var diags hcl.Diagnostics
	var names []string
	seen := map[string]bool{}
	for _, it := range j.Repositories.Items {
		if _, ok := s.repos[it.Value]; !ok {
			known := sortedKeys(s.repos)
			diags = append(diags, errorAt(it.Range, "Unknown repository",
				"The node has no repository named %q; it has %s. Declare it in the node, or fix the name.%s", it.Value, quotedList(known), didYouMean(it.Value, known)))
			continue
		}
		if seen[it.Value] {
			diags = append(diags, errorAt(it.Range, "Duplicate repository reference",
				"The repository %q is already listed in this job. Remove one.", it.Value))
			continue
		}
		seen[it.Value] = true
		s.used[it.Value] = true
		names = append(names, it.Value)
	}
	sort.Strings(names)
	return names, diags
}

// checkOwnRepository warns when a job backs up the folder one of its
// repositories lives in: each backup would store the previous one again.
func (s *nodeScope) checkOwnRepository(paths []schema.Text, exclude excludeList, repos []string) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, name := range repos {
		r := s.lowered[name]
		if r == nil || (r.Kind != plan.KindNFS && r.Kind != plan.KindLocal) {
			continue
		}
		for _, p := range paths {
			if isUnder(r.URL, p.Value) && exclude.excludedBy(r.URL) == "" {
				diags = append(diags, warningAt(p.Range, "Job backs up its repository",
					"The job path %q contains %q, where the repository %q is, so every backup would store the repository again. Add %q to the job's exclude.", p.Value, r.URL, name, r.URL))
			}
		}
	}
	return diags
}

// checkRuntimeFolders warns about a job path that is bakc's state folder
// or restic's cache, or inside one. A job that merely covers them (luna
// backs up /var/lib, and the state is /var/lib/bakc) is fine: the runtime
// leaves both folders out of its backups and shows them live inside a
// snapshot's views (docs/snapshots.md). Asked for by name, they are
// backed up, but hold nothing worth keeping.
func (s *nodeScope) checkRuntimeFolders(paths []schema.Text) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, p := range paths {
		for _, f := range []struct{ dir, what string }{
			{s.paths.State, "bakc's state folder (locks, run state)"},
			{s.paths.Cache, "restic's cache folder (a copy of the repositories' metadata)"},
		} {
			if f.dir != "" && isUnder(p.Value, f.dir) {
				diags = append(diags, warningAt(p.Range, "Job backs up bakc's own folder",
					"The job path %q is in %s %q, which the runtime rewrites on every run and leaves out of every other backup: restoring it would bring back stale state or nothing of use. Back up the data around it instead, or remove the path.", p.Value, f.what, f.dir))
				break
			}
		}
	}
	return diags
}

// lowerTags checks a job's own tags: restic splits --tag on commas, and
// the job: prefix is bakc's.
func lowerTags(j *schema.Job) ([]string, hcl.Diagnostics) {
	if j.Tags == nil {
		return nil, nil
	}
	var diags hcl.Diagnostics
	var tags []string
	for _, it := range j.Tags.Items {
		switch {
		case plan.CheckTag(it.Value) != nil:
			diags = append(diags, errorAt(it.Range, "Invalid tag",
				"The tag %q cannot be used: restic splits tags at commas, and a tag must not be empty or start or end with a space. Write a tag such as \"media\".", it.Value))
		case strings.HasPrefix(it.Value, plan.DumpTagPrefix):
			diags = append(diags, errorAt(it.Range, "Reserved tag",
				"Tags starting with %q are bakc's: a dump's snapshots carry %q, and the runbook finds them by it. Choose a tag without that prefix.", plan.DumpTagPrefix, plan.DumpTagPrefix+"<dump>"))
		case strings.HasPrefix(it.Value, plan.JobTagPrefix):
			diags = append(diags, errorAt(it.Range, "Reserved tag",
				"Tags starting with %q are bakc's: the tag %q names the job, and forget is scoped by it. Choose a tag without that prefix.", plan.JobTagPrefix, plan.JobTag(j.Name)))
		default:
			tags = append(tags, it.Value)
		}
	}
	return dedupe(tags), diags
}

// snapshotDatasets finds, for a ZFS snapshot job, the datasets it reads:
// the dataset holding each path (the longest mountpoint that contains
// it) and every dataset mounted below a path. A path on no declared
// dataset is an error: the job would silently read it live.
func (s *nodeScope) snapshotDatasets(j *schema.Job, paths []schema.Text) ([]plan.Dataset, hcl.Diagnostics) {
	if !s.hasZFS {
		return nil, hcl.Diagnostics{errorAt(j.Snapshot.Range, "Snapshot without ZFS datasets",
			"The job %q asks for ZFS snapshots, but the node declares no ZFS datasets. Add zfs { datasets = { \"/mountpoint\" = \"pool/dataset\" } } to the node, or set snapshot = \"none\".", j.Name)}
	}
	var diags hcl.Diagnostics
	picked := map[string]plan.Dataset{}
	for _, p := range paths {
		var holder *plan.Dataset
		for i := range s.datasets {
			ds := &s.datasets[i]
			if isUnder(p.Value, ds.Mountpoint) && (holder == nil || len(ds.Mountpoint) > len(holder.Mountpoint)) {
				holder = ds
			}
			if isUnder(ds.Mountpoint, p.Value) {
				picked[ds.Mountpoint] = *ds
			}
		}
		if holder == nil && !s.datasetsBad {
			diags = append(diags, errorAt(p.Range, "Path not on a ZFS dataset",
				"The job %q snapshots ZFS datasets, but no declared dataset holds %q (the node's datasets are mounted at %s), so it would be read live, unlike the rest of the job. Declare the dataset that holds it in the node's zfs block, or back it up in a job with snapshot = \"none\".",
				j.Name, p.Value, quotedList(mountpoints(s.datasets))))
			continue
		}
		if holder != nil && holder.Mountpoint == "/" {
			diags = append(diags, errorAt(p.Range, "Snapshot of the root dataset",
				"The job path %q lies on %q, the dataset mounted at /. bakc shows a snapshot at the original paths by mounting it over the dataset's mountpoint, and a mount over / is not seen by the processes of the run (they keep the live root): restic would read the live files while the job says it reads a snapshot. Declare the folders to back up as datasets of their own (for example \"/home\" = \"rpool/home\"), or set snapshot = \"none\" for this job.",
				p.Value, holder.Name))
			continue
		}
		if holder != nil {
			picked[holder.Mountpoint] = *holder
		}
	}
	out := make([]plan.Dataset, 0, len(picked))
	for _, m := range sortedKeys(picked) {
		out = append(out, picked[m])
	}
	return out, diags
}

func mountpoints(ds []plan.Dataset) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.Mountpoint
	}
	return out
}
