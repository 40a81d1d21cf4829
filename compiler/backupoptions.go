package compiler

import (
	"github.com/hashicorp/hcl/v2"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/schema"
)

// lowerBackupOptions checks and lowers the job's restic backup options
// (exclude_caches, one_file_system, exclude_larger_than). restic 0.14
// to 0.18 all know them, so no restic version is checked. It runs after
// the job's datasets are known: one_file_system would leave out a
// dataset mounted below a path of a ZFS job.
func lowerBackupOptions(j *schema.Job, out *plan.Job) hcl.Diagnostics {
	var diags hcl.Diagnostics
	if j.ExcludeCaches != nil {
		out.ExcludeCaches = j.ExcludeCaches.Value
	}
	if j.OneFileSystem != nil {
		out.OneFileSystem = j.OneFileSystem.Value
		if d, ok := out.OneFileSystemLeavesOut(); ok {
			diags = append(diags, errorAt(j.OneFileSystem.Range, "one_file_system leaves out a dataset",
				"The job %q backs up from ZFS snapshots, and the dataset %s is mounted at %s below one of its paths: restic's --one-file-system would not enter it, and the backup would report success without it. Remove one_file_system, or back up that dataset's path in a job of its own.",
				j.Name, d.Name, d.Mountpoint))
			out.OneFileSystem = false
		}
	}
	if j.ExcludeLargerThan != nil {
		if err := plan.CheckResticSize(j.ExcludeLargerThan.Value); err != nil {
			diags = append(diags, errorAt(j.ExcludeLargerThan.Range, "Invalid exclude_larger_than",
				"%s. restic leaves out every file larger than this size.", capitalize(err.Error())))
		} else {
			out.ExcludeLargerThan = j.ExcludeLargerThan.Value
		}
	}
	return diags
}

func boolRange(b *schema.Bool) *hcl.Range {
	if b == nil {
		return nil
	}
	return &b.Range
}

func numberRange(n *schema.Number) *hcl.Range {
	if n == nil {
		return nil
	}
	return &n.Range
}

func textRange(t *schema.Text) *hcl.Range {
	if t == nil {
		return nil
	}
	return &t.Range
}
