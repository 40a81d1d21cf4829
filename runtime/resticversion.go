package runtime

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/runtime/restic"
)

// checkResticKnows refuses options the restic found on the machine is
// too old for (plan.ResticNeed). The compiler checked them against the
// restic_version the configuration declares; this is the restic that
// actually runs: an older one fails on an unknown flag after the
// snapshot is taken, or on an unknown value, and bakc says why first.
// When restic's version cannot be told, nothing is refused here (restic
// itself then fails or not, and says why).
func checkResticKnows(ctx context.Context, binary string, needs []plan.ResticNeed, log *slog.Logger) error {
	if len(needs) == 0 {
		return nil
	}
	v, err := restic.DetectVersion(ctx, binary)
	if err != nil {
		log.Warn("cannot tell restic's version; its options are not checked against it", "error", err)
		return nil
	}
	for _, n := range needs {
		if !v.AtLeast(n.Since.Major, n.Since.Minor) {
			return fmt.Errorf("%s needs restic %s or newer, and %s is restic %s: install a newer restic, or remove the option (and set restic_version to what the node runs)", n.Option, n.Since, binary, v)
		}
	}
	return nil
}
