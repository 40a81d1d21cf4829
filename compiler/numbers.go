package compiler

import (
	"math/big"

	"github.com/hashicorp/hcl/v2"

	"github.com/holthome/bakc/schema"
)

// wholeNumber returns n as an int when it is a whole number within
// [lo, hi], and a diagnostic with summary otherwise.
func wholeNumber(n *schema.Number, lo, hi int64, summary, what string) (int, hcl.Diagnostics) {
	if !n.Value.IsInt() {
		return 0, hcl.Diagnostics{errorAt(n.Range, summary,
			"The %s must be a whole number, not %s. Write a whole number from %d to %d.", what, n.Value.Text('g', 10), lo, hi)}
	}
	v, acc := n.Value.Int64()
	if acc != big.Exact || v < lo || v > hi {
		return 0, hcl.Diagnostics{errorAt(n.Range, summary,
			"The %s is %s, but it must be from %d to %d. Write a number in that range.", what, n.Value.Text('g', 10), lo, hi)}
	}
	return int(v), nil
}
