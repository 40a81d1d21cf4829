package escape

import (
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestCommentText: ordinary names stay bare; every other value is one
// line of printable ASCII or UTF-8 that reads back as the value with
// strconv.Unquote.
func TestCommentText(t *testing.T) {
	for _, s := range []string{"hosts/forge.hcl", "hosts/a b.hcl", "hosts/ünï.hcl", "hosts/100%.hcl", "hosts/$x`y`.hcl"} {
		require.Equal(t, s, CommentText(s))
	}
	for _, s := range []string{"hosts/x\nservices.evil = 1; #.hcl", "a\rb", "a\x00b", "\xff\xfe.hcl", `a\`, `it's "x"`, "a\u2028b", ""} {
		got := CommentText(s)
		require.NotContains(t, got, "\n")
		require.NotContains(t, got, "\r")
		require.NotContains(t, got, "\x00")
		require.NotContains(t, got, "\u2028")
		back, err := strconv.Unquote(got)
		require.NoError(t, err, "%q -> %q", s, got)
		require.Equal(t, s, back)
	}
}
