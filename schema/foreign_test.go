package schema

import (
	"testing"

	"github.com/hashicorp/hcl/v2"
)

// A foreign name must not be one of bakc's own in that block, or its
// hint would never be given (and would be wrong).
func TestForeignNamesAreNotBakcNames(t *testing.T) {
	schemas := map[string]*hcl.BodySchema{
		"job": jobSchema, "repository": repositorySchema, "node": nodeSchema, "defaults": defaultsSchema,
	}
	for block, names := range foreignNames {
		s, ok := schemas[block]
		if !ok {
			t.Errorf("foreignNames has a block %q that bodyContent is not used for", block)
			continue
		}
		for name := range names {
			for _, a := range s.Attributes {
				if a.Name == name {
					t.Errorf("%q is an argument of bakc's %s block", name, block)
				}
			}
			for _, b := range s.Blocks {
				if b.Type == name {
					t.Errorf("%q is a block of bakc's %s block", name, block)
				}
			}
		}
	}
}
