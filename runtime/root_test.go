package runtime_test

import (
	"testing"

	"github.com/holthome/bakc/internal/testenv"
)

// testenvRoot: these tests start restic as the backup user, which needs
// root.
func testenvRoot(t *testing.T) { testenv.Root(t) }
