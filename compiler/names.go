package compiler

import (
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/holthome/bakc/compiler/plan"
)

// checkName reports a name that breaks the name rule (plan.CheckName,
// which the runtime applies to the plan again). kind is "job", "node", …
// for the message.
func checkName(name string, rng hcl.Range, kind plan.NameKind) hcl.Diagnostics {
	err := plan.CheckName(kind, name)
	if err == nil {
		return nil
	}
	suggest := ""
	if s := suggestName(name); s != "" && s != name && plan.CheckName(kind, s) == nil {
		suggest = " For example \"" + s + "\"."
	}
	return hcl.Diagnostics{errorAt(rng, "Invalid "+string(kind)+" name",
		"The %s name %q cannot be used: %s. Choose another name.%s", kind, name, err, suggest)}
}

// suggestName turns a name into one that follows the rule, where that
// is obvious (case, underscores, spaces, dots).
func suggestName(name string) string {
	s := strings.ToLower(name)
	s = strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			return r
		case r == '-', r == '_', r == ' ', r == '.':
			return '-'
		}
		return -1
	}, s)
	for strings.Contains(s, "--") {
		s = strings.ReplaceAll(s, "--", "-")
	}
	return strings.Trim(s, "-")
}
