package restic

import (
	"context"
	"strconv"
)

// Policy is a retention policy as restic's --keep-* flags. Zero values
// are not given.
type Policy struct {
	Last, Hourly, Daily, Weekly, Monthly, Yearly int
	// Within is a restic duration ("1y6m") for --keep-within.
	Within string
}

// Empty reports whether the policy keeps nothing in particular, in which
// case forget must not run: restic would refuse or remove nothing.
func (p Policy) Empty() bool {
	return p.Last == 0 && p.Hourly == 0 && p.Daily == 0 && p.Weekly == 0 &&
		p.Monthly == 0 && p.Yearly == 0 && p.Within == ""
}

// ForgetOptions scope a forget to one node's one job.
type ForgetOptions struct {
	Policy Policy
	// Host and Tag filter the snapshots considered (--host, --tag), so
	// that another node's or another job's snapshots in the same
	// repository are never touched.
	Host string
	Tag  string
	// GroupBy is --group-by; the runtime uses "host,paths,tags" so that a
	// job whose paths changed keeps the history of its old paths apart.
	GroupBy string
}

// ForgetArgs is the subcommand and its arguments for ForgetOptions.
func ForgetArgs(o ForgetOptions) []string {
	args := []string{"forget"}
	if o.Host != "" {
		args = append(args, "--host", o.Host)
	}
	if o.Tag != "" {
		args = append(args, "--tag", o.Tag)
	}
	if o.GroupBy != "" {
		args = append(args, "--group-by", o.GroupBy)
	}
	keep := func(flag string, n int) {
		if n > 0 {
			args = append(args, flag, strconv.Itoa(n))
		}
	}
	keep("--keep-last", o.Policy.Last)
	keep("--keep-hourly", o.Policy.Hourly)
	keep("--keep-daily", o.Policy.Daily)
	keep("--keep-weekly", o.Policy.Weekly)
	keep("--keep-monthly", o.Policy.Monthly)
	keep("--keep-yearly", o.Policy.Yearly)
	if o.Policy.Within != "" {
		args = append(args, "--keep-within", o.Policy.Within)
	}
	return args
}

// Forget runs `restic forget` (without --prune: pruning is the
// repository's own schedule).
func (r *Restic) Forget(ctx context.Context, o ForgetOptions) error {
	return r.Run(ctx, ForgetArgs(o), nil)
}
