package runbook

import (
	"fmt"
	"strings"

	"github.com/holthome/bakc/compiler/plan"
)

// retentionWords says a restic forget policy in plain English, in
// restic's own terms: --keep-daily 14 keeps the newest snapshot of each
// of the last 14 days that have one.
func retentionWords(r plan.Retention) string {
	var parts []string
	switch {
	case r.Last == 1:
		parts = append(parts, "the most recent snapshot")
	case r.Last > 1:
		parts = append(parts, fmt.Sprintf("the %d most recent snapshots", r.Last))
	}
	var periods []string
	for _, p := range []struct {
		n    int
		unit string
	}{{r.Hourly, "hour"}, {r.Daily, "day"}, {r.Weekly, "week"}, {r.Monthly, "month"}, {r.Yearly, "year"}} {
		switch {
		case p.n == 1:
			periods = append(periods, "1 "+p.unit)
		case p.n > 1:
			periods = append(periods, fmt.Sprintf("%d %ss", p.n, p.unit))
		}
	}
	if len(periods) > 0 {
		parts = append(parts, "the newest snapshot of each of the last "+joinWords(periods)+
			" (periods without a snapshot are not counted)")
	}
	if r.Within != "" {
		parts = append(parts, fmt.Sprintf("every snapshot made within %s of the newest one", r.Within))
	}
	if len(parts) == 0 {
		return "No retention policy: snapshots are never forgotten."
	}
	return "Keeps " + joinWords(parts) + "; restic forgets the others after each successful backup, and the repository's prune frees their data."
}

// retentionFlags are the restic forget flags of the policy, for readers
// who think in restic's terms.
func retentionFlags(r plan.Retention) string {
	var f []string
	for _, p := range []struct {
		flag string
		n    int
	}{{"--keep-last", r.Last}, {"--keep-hourly", r.Hourly}, {"--keep-daily", r.Daily}, {"--keep-weekly", r.Weekly}, {"--keep-monthly", r.Monthly}, {"--keep-yearly", r.Yearly}} {
		if p.n > 0 {
			f = append(f, fmt.Sprintf("%s %d", p.flag, p.n))
		}
	}
	if r.Within != "" {
		f = append(f, "--keep-within "+r.Within)
	}
	return strings.Join(f, " ")
}

// joinWords joins "a", "b" and "c" as "a, b and c".
func joinWords(w []string) string {
	switch len(w) {
	case 0:
		return ""
	case 1:
		return w[0]
	}
	return strings.Join(w[:len(w)-1], ", ") + " and " + w[len(w)-1]
}
