package compiler

import (
	"fmt"
	"net/netip"
	"net/url"
	"regexp"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/schema"
)

// hostLabelRE is one label of a DNS host name (RFC 1123).
var hostLabelRE = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$`)

// digitsRE is a label of digits only, or what inet_aton reads as a
// number (0x1f).
var digitsRE = regexp.MustCompile(`^(?:[0-9]+|0[xX][0-9A-Fa-f]*)$`)

// An address (a node's or a NAS's) reaches several readers, each on
// another host: the NAS's exports(5) client and the replication key's
// from="…" (sshd) hold the node's address; the node's NFS mount source
// (mount.nfs, fstab, the kernel's mountinfo) holds the NAS's. It is
// either a host name or an IP address that every one of them reads as
// the same host, or it is refused here with a location:
//
//   - An IPv6 zone (fe80::1%eth0) names an interface of the host that
//     reads the address, and the kernel's NFS server matches clients by
//     address alone (svcauth_unix's ip_map, no scope), while mountd's
//     exports match compares scopes of link-local addresses: an export
//     to a zoned address never matches.
//   - An IPv4-mapped IPv6 address (::ffff:192.0.2.1) is not what sshd
//     sees (it unmaps the peer to 192.0.2.1) nor what the kernel's NFS
//     server hands mountd (it prints v4-mapped peers as IPv4).
//   - The unspecified and multicast addresses name no one host.
//   - A name whose last label is all digits (192.0.2.010, 10.1) is not a
//     host name (RFC 1123) but what inet_aton reads as an IPv4 address,
//     octal and short forms included: another host than it appears.
//
// Where an IPv6 address is written next to a path or port, the writer
// brackets it (plan.NFSMount.Source; restic's sftp:// URLs); the address
// itself is stored without brackets.

// addressProblem says why s is not a node or NAS address, or "" when
// it is one.
func addressProblem(s string) string {
	if ip, err := netip.ParseAddr(s); err == nil {
		switch {
		case ip.Zone() != "":
			return fmt.Sprintf("is an IPv6 address with a zone (%%%s). A zone names a network interface of the host that reads the address, and NFS exports never match a zoned client. Write the host's global or unique-local address (such as \"fd00::10\"), or its host name", ip.Zone())
		case ip.Is4In6():
			return fmt.Sprintf("is an IPv4 address written as IPv6; sshd and the NFS server see the peer as %s. Write %q", ip.Unmap(), ip.Unmap().String())
		case ip.IsUnspecified(), ip.IsMulticast():
			return "is not the address of one host. Write the host's own address or name"
		}
		return ""
	}
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		if _, err := netip.ParseAddr(s[1 : len(s)-1]); err == nil {
			return fmt.Sprintf("has brackets; bakc adds them where an IPv6 address meets a path. Write %q", s[1:len(s)-1])
		}
	}
	name := strings.TrimSuffix(s, ".")
	if name == "" || len(name) > 253 {
		return "is not a host name or an IP address"
	}
	labels := strings.Split(name, ".")
	for _, l := range labels {
		if !hostLabelRE.MatchString(l) {
			return "is not a host name or an IP address"
		}
	}
	if digitsRE.MatchString(labels[len(labels)-1]) {
		return "is not a host name (its last part is a number) nor an IP address bakc reads, but mount, sshd and exportfs read it as an IPv4 address in an old form (octal, hexadecimal or with parts left out). Write the address in its plain dotted form, such as \"192.0.2.10\""
	}
	return ""
}

// checkAddress reports a value that is not a host name or an IP address
// every reader takes for the same host.
func checkAddress(t *schema.Text, what string) hcl.Diagnostics {
	problem := addressProblem(t.Value)
	if problem == "" {
		return nil
	}
	if problem == "is not a host name or an IP address" {
		return hcl.Diagnostics{errorAt(t.Range, "Invalid address",
			"The %s %q is not a host name or an IP address. Write a name such as \"nas-1.example.net\" or an address such as \"192.0.2.10\" or \"fd00::10\", without a scheme, port or path.", what, t.Value)}
	}
	return hcl.Diagnostics{errorAt(t.Range, "Invalid address", "The %s %q %s.", what, t.Value, problem)}
}

// addressKey is the form of an address two addresses are compared in:
// an IP address in its canonical text (RFC 5952 for IPv6: lower case,
// zeros compressed), a host name in lower case without its trailing
// dot. Two addresses with the same key name the same host for every
// reader, so two nodes (or two NAS blocks) must not share one.
func addressKey(s string) string {
	if ip, err := netip.ParseAddr(s); err == nil {
		return ip.String()
	}
	return strings.ToLower(strings.TrimSuffix(s, "."))
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

// checkNodeAddresses reports nodes that share an address (compared by
// addressKey: "forge.example.net." and "FORGE.example.net" are one,
// "fd00::a" and "FD00:0::A" too). A NAS writes a node's exports and its
// replication key's from="…" for the node's address, so with two nodes
// on one address each host could mount the other's exports and
// replicate into the other's dataset. The later of two (by file and
// position) is reported, with the first one's place.
func checkNodeAddresses(ids []*nodeIdentity) hcl.Diagnostics {
	byKey := map[string][]*nodeIdentity{}
	var keys []string
	for _, id := range ids {
		if id.address == "" {
			continue
		}
		k := addressKey(id.address)
		if byKey[k] == nil {
			keys = append(keys, k)
		}
		byKey[k] = append(byKey[k], id)
	}
	var diags hcl.Diagnostics
	for _, k := range keys {
		same := byKey[k]
		if len(same) < 2 {
			continue
		}
		sort.SliceStable(same, func(i, j int) bool {
			a, b := same[i].node.Address.Range, same[j].node.Address.Range
			if a.Filename != b.Filename {
				return a.Filename < b.Filename
			}
			return a.Start.Byte < b.Start.Byte
		})
		first := same[0]
		for _, id := range same[1:] {
			written := ""
			if id.address != first.address {
				written = fmt.Sprintf(" (written %q there)", first.address)
			}
			diags = append(diags, errorAt(id.node.Address.Range, "Duplicate node address",
				"The node %q has the address %q, which is also the address of the node %q at %s%s. A NAS exports a node's datasets and lets its replication key in by the node's address, so each of the two hosts could reach the other's backups. Give each node the address of its own host.",
				id.node.Name, id.address, first.node.Name, at(first.node.Address.Range), written))
		}
	}
	return diags
}

// sftpAddressProblem says how restic would misread the host of an sftp
// repository URL that holds an IPv6 address, or "" when it would not.
// restic (internal/backend/sftp ParseConfig, 0.14 to 0.18) reads
// "sftp:user@host:path" up to the first colon, so that form cannot hold
// an IPv6 address at all: "sftp:u@fd00::1:/srv" reaches host "fd00" and
// "sftp:u@[fd00::1]:/srv" host "[". "sftp://user@host:port/path" goes
// through Go's url.Parse, which takes an IPv6 address only in brackets
// (a zone written %25eth0) and reads "sftp://u@fd00::1//srv" as host
// "fd00:" and port "1". This is the form bakc asks for.
func sftpAddressProblem(v string) string {
	const want = "Write it as sftp://user@[fd00::1]//srv/restic: the address in brackets, a port after them if any (]:2222), and two slashes before an absolute path"
	if strings.HasPrefix(v, "sftp://") {
		u, err := url.Parse(v)
		if err != nil {
			return fmt.Sprintf("restic cannot read %q as a URL (%v). %s", v, err, want)
		}
		if !strings.HasPrefix(u.Host, "[") && strings.Count(u.Host, ":") > 1 {
			return fmt.Sprintf("restic reads the host of %q as %q and the port as %q: an IPv6 address in a URL must be in brackets. %s", v, u.Hostname(), u.Port(), want)
		}
		return ""
	}
	rest, ok := strings.CutPrefix(v, "sftp:")
	if !ok {
		return ""
	}
	hostPart, _, _ := strings.Cut(rest, ":")
	if strings.ContainsAny(hostPart, "[]") {
		return fmt.Sprintf("restic reads sftp:user@host:path up to the first colon, so in %q it takes the host for %q. %s", v, hostPart[strings.LastIndexByte(hostPart, '@')+1:], want)
	}
	// The host starts after the user's "@" (a user may hold "@"; restic
	// splits at the last one before the first colon, as here).
	host := rest[strings.LastIndexByte(hostPart, '@')+1:]
	for i := range len(host) {
		if host[i] != ':' {
			continue
		}
		if ip, err := netip.ParseAddr(host[:i]); err == nil && ip.Is6() {
			return fmt.Sprintf("restic reads sftp:user@host:path up to the first colon, so the IPv6 address %s in %q becomes the host %q. %s", host[:i], v, hostPart[strings.LastIndexByte(hostPart, '@')+1:], want)
		}
	}
	return ""
}
