package compiler

import (
	"fmt"
	"slices"

	"github.com/hashicorp/hcl/v2"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/schema"
)

// resticDecl is the restic release a node declares it runs (its own
// restic_version, else the defaults', else the oldest bakc supports):
// the options a job or repository of the node uses must be known to it.
type resticDecl struct {
	release plan.ResticRelease
	// at is where it was declared; nil for the built-in oldest.
	at *hcl.Range
}

func lowerResticVersion(t *schema.Text, inherited resticDecl) (resticDecl, hcl.Diagnostics) {
	if t == nil {
		return inherited, nil
	}
	r, err := plan.ParseResticRelease(t.Value)
	if err != nil {
		return inherited, hcl.Diagnostics{errorAt(t.Range, "Invalid restic_version",
			"%s. Write the oldest restic release the node runs (restic version prints it), as major.minor: \"0.14\", \"0.18\".", capitalize(err.Error()))}
	}
	return resticDecl{release: r, at: &t.Range}, nil
}

// checkResticNeeds refuses, at rng, an option the declared restic lacks:
// an older restic fails on the unknown flag or value, and the runtime
// would refuse the run (its preflight compares with the restic it finds).
func (d resticDecl) checkResticNeeds(needs []plan.ResticNeed, rng func(plan.ResticNeed) hcl.Range) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, n := range needs {
		if d.release.AtLeast(n.Since) {
			continue
		}
		where := fmt.Sprintf("restic %s, the oldest bakc supports, since the node and the defaults declare no restic_version", d.release)
		if d.at != nil {
			where = fmt.Sprintf("restic %s (restic_version at %s)", d.release, at(*d.at))
		}
		diags = append(diags, errorAt(rng(n), "restic option too new",
			"%s needs restic %s or newer, and the node runs %s. Remove it, or, once every node it applies to runs restic %s or newer, say so with restic_version = %q on the node or in defaults.",
			n.Option, n.Since, where, n.Since, n.Since.String()))
	}
	return diags
}

// lowerRepositoryOptions checks and lowers a repository's restic options
// (compression, limit_upload, limit_download).
func (s *nodeScope) lowerRepositoryOptions(r *schema.Repository, out *plan.Repository) hcl.Diagnostics {
	var diags hcl.Diagnostics
	if r.Compression != nil {
		if !slices.Contains(plan.CompressionModes, r.Compression.Value) {
			diags = append(diags, errorAt(r.Compression.Range, "Invalid compression",
				"%q is not a compression mode. restic compresses a repository of format version 2 with auto (its default), off or max (restic 0.14 or newer), fastest or better (0.19 or newer).%s",
				r.Compression.Value, didYouMean(r.Compression.Value, plan.CompressionModes)))
		} else {
			out.Compression = r.Compression.Value
		}
	}
	for _, l := range []struct {
		n    *schema.Number
		dst  *int
		what string
	}{{r.LimitUpload, &out.LimitUpload, "upload limit"}, {r.LimitDownload, &out.LimitDownload, "download limit"}} {
		if l.n == nil {
			continue
		}
		// restic reads 0 as no limit at all: refused, leave it out instead.
		v, d := wholeNumber(l.n, 1, plan.MaxRateKiB, "Invalid "+l.what, l.what+" in KiB/s")
		diags = append(diags, d...)
		*l.dst = v
	}
	diags = append(diags, s.restic.checkResticNeeds(out.ResticNeeds(), func(plan.ResticNeed) hcl.Range { return r.Compression.Range })...)
	return diags
}

// lowerReadConcurrency checks and lowers a job's read_concurrency.
func (s *nodeScope) lowerReadConcurrency(j *schema.Job, out *plan.Job) hcl.Diagnostics {
	if j.ReadConcurrency == nil {
		return nil
	}
	v, diags := wholeNumber(j.ReadConcurrency, 1, plan.MaxReadConcurrency, "Invalid read_concurrency", "number of files restic reads at once")
	out.ReadConcurrency = v
	diags = append(diags, s.restic.checkResticNeeds(out.ResticNeeds(), func(plan.ResticNeed) hcl.Range { return j.ReadConcurrency.Range })...)
	return diags
}
