package compiler

import (
	"errors"

	"github.com/hashicorp/hcl/v2"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/schema"
)

// checkPlacement reports a path bakc writes that is not where it may be
// (plan.CheckPlacement: the plan under /etc/bakc, the runtime's folders
// named bakc, nothing in a system folder, no shared folder taken over).
// example is a path to write instead. The path is already absolute and
// clean.
func checkPlacement(t *schema.Text, pl plan.Placement, what, example string) hcl.Diagnostics {
	err := plan.CheckPlacement(pl, t.Value)
	if err == nil {
		return nil
	}
	summary := "Invalid " + what
	var pe *plan.PlacementError
	if errors.As(err, &pe) {
		summary = pe.Summary
	}
	return hcl.Diagnostics{errorAt(t.Range, summary,
		"The %s cannot be used: %s. Write a path such as %q.", what, err, example)}
}
