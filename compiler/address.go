package compiler

import (
	"net/netip"
	"regexp"
	"strings"

	"github.com/hashicorp/hcl/v2"

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

// zfsComponentRE is one component of a ZFS dataset name.
var zfsComponentRE = regexp.MustCompile(`^[A-Za-z0-9_.:-]+$`)

// checkDatasetName reports a value that is not a ZFS dataset name
// (pool/child/…): components of letters, digits and "_.:-", the pool
// name starting with a letter, no snapshot or bookmark part.
func checkDatasetName(t *schema.Text, what string) hcl.Diagnostics {
	ok := t.Value != "" && len(t.Value) <= 255
	if ok {
		for i, c := range strings.Split(t.Value, "/") {
			if !zfsComponentRE.MatchString(c) || c == "." || c == ".." ||
				i == 0 && !(c[0] >= 'a' && c[0] <= 'z' || c[0] >= 'A' && c[0] <= 'Z') {
				ok = false
				break
			}
		}
	}
	if ok {
		return nil
	}
	return hcl.Diagnostics{errorAt(t.Range, "Invalid ZFS dataset name",
		"The %s %q is not a ZFS dataset name. Write pool/child/…, such as \"rpool/safe/home\": components of letters, digits and \"_.:-\" separated by \"/\", the pool name starting with a letter, without \"@\" or \"#\".", what, t.Value)}
}
