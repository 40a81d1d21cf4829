package compiler

import (
	"net/netip"
	"regexp"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/schema"
)

// hostLabelRE is one label of a DNS host name (RFC 1123).
var hostLabelRE = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$`)

// validAddress reports whether s is a host name or an IP address. An
// address reaches an exports line, an authorized_keys from= option and
// a mount source, none of which tolerate anything else.
func validAddress(s string) bool {
	if _, err := netip.ParseAddr(s); err == nil {
		return true
	}
	name := strings.TrimSuffix(s, ".")
	if name == "" || len(name) > 253 {
		return false
	}
	for _, l := range strings.Split(name, ".") {
		if !hostLabelRE.MatchString(l) {
			return false
		}
	}
	return true
}

// checkAddress reports a value that is not a host name or IP address.
func checkAddress(t *schema.Text, what string) hcl.Diagnostics {
	if validAddress(t.Value) {
		return nil
	}
	return hcl.Diagnostics{errorAt(t.Range, "Invalid address",
		"The %s %q is not a host name or an IP address. Write a name such as \"nas-1.example.net\" or an address such as \"192.0.2.10\", without a scheme, port or path.", what, t.Value)}
}

// checkDatasetName reports a value that is not a ZFS dataset name
// (plan.CheckDatasetName, which the runtime applies to the plan again).
func checkDatasetName(t *schema.Text, what string) hcl.Diagnostics {
	if plan.CheckDatasetName(t.Value) == nil {
		return nil
	}
	return hcl.Diagnostics{errorAt(t.Range, "Invalid ZFS dataset name",
		"The %s %q is not a ZFS dataset name. Write pool/child/…, such as \"rpool/safe/home\": components of letters, digits and \"_.:-\" separated by \"/\", the pool name starting with a letter, without \"@\" or \"#\".", what, t.Value)}
}
