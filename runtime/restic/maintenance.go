package restic

import "context"

// PruneArgs is `restic prune`.
func PruneArgs() []string { return []string{"prune"} }

// Prune removes data no snapshot references any more. It takes the
// repository's exclusive lock, so it runs on its own schedule, not after
// every backup.
func (r *Restic) Prune(ctx context.Context) error { return r.Run(ctx, PruneArgs(), nil) }

// CheckArgs is `restic check`, reading the given subset of the data
// ("5%", "1/10", "500M") when not empty.
func CheckArgs(readDataSubset string) []string {
	args := []string{"check"}
	if readDataSubset != "" {
		args = append(args, "--read-data-subset", readDataSubset)
	}
	return args
}

// Check verifies the repository's structure and, with a subset, that
// part of its data.
func (r *Restic) Check(ctx context.Context, readDataSubset string) error {
	return r.Run(ctx, CheckArgs(readDataSubset), nil)
}
