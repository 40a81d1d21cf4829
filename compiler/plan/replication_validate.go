package plan

import (
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strings"
)

// publicKeyLineRE is one OpenSSH public key line without options: a key
// type, base64 data, an optional comment of printable characters. The
// compiler checks the key data too (golang.org/x/crypto/ssh); a plan
// holds what the compiler wrote, and this keeps anything that would
// change an authorized_keys or known_hosts line's meaning out.
var publicKeyLineRE = regexp.MustCompile(`^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp256|ecdsa-sha2-nistp384|ecdsa-sha2-nistp521|sk-ssh-ed25519@openssh\.com|sk-ecdsa-sha2-nistp256@openssh\.com) [A-Za-z0-9+/]+={0,2}( [ -~]+)?$`)

// CheckPublicKeyLine reports a value that is not one OpenSSH public key
// line without options.
func CheckPublicKeyLine(s string) error {
	if !publicKeyLineRE.MatchString(s) || strings.Contains(s, `"`) {
		return fmt.Errorf("%q is not one OpenSSH public key line (\"ssh-ed25519 AAAA… comment\")", s)
	}
	return nil
}

// CheckFromAddress reports a value sshd's from="…" would not match as
// an address: an IP address in its canonical form, or a CIDR prefix
// without host bits. A host name matches only with UseDNS yes.
func CheckFromAddress(s string) error {
	if strings.Contains(s, "/") {
		if p, err := netip.ParsePrefix(s); err == nil && p.Masked() == p && p.String() == s && !p.Addr().Is4In6() {
			return nil
		}
	} else if ip, err := netip.ParseAddr(s); err == nil && ip.String() == s && ip.Zone() == "" && !ip.Is4In6() {
		return nil
	}
	return fmt.Errorf("%q is not an IP address or prefix as sshd's from=\"…\" matches them", s)
}

// checkReplication: the replicated datasets are node datasets, sorted,
// each once, and sanoid takes some snapshot.
func checkReplication(v *validator, p *Plan) {
	r := p.Replication
	if r == nil {
		return
	}
	for i, ds := range r.Datasets {
		field := fmt.Sprintf("replication.datasets[%d]", i)
		if i > 0 && ds <= r.Datasets[i-1] {
			v.fail(field, fmt.Errorf("%q comes after %q: sorted, each once", ds, r.Datasets[i-1]))
		}
		if !slices.ContainsFunc(p.Node.Datasets, func(d Dataset) bool { return d.Name == ds }) {
			v.fail(field, fmt.Errorf("%q is not one of node.datasets", ds))
		}
	}
	if r.Snapshots == (SnapshotPolicy{}) {
		v.fail("replication.snapshots", errors.New("takes no snapshot"))
	}
	if r.User != SendUser {
		v.fail("replication.user", fmt.Errorf("%q is not %q", r.User, SendUser))
	}
	for i, c := range r.Copies {
		if i >= len(r.Datasets) || c.Source != r.Datasets[i] {
			v.fail(fmt.Sprintf("replication.copies[%d].source", i), fmt.Errorf("%q is not replication.datasets[%d]", c.Source, i))
		}
	}
	if len(r.Copies) != 0 && len(r.Copies) != len(r.Datasets) {
		v.fail("replication.copies", fmt.Errorf("%d copies for %d datasets", len(r.Copies), len(r.Datasets)))
	}
}

// ValidateReplication checks the replication part of a NAS plan before
// the NAS's configuration is generated from it (emit/nas): the NAS runs
// syncoid and sanoid with these values as root, so a plan the compiler
// would not have written is refused with every problem named.
func (p *NASPlan) ValidateReplication() error {
	v := &validator{}
	if p.Version != Version {
		return fmt.Errorf("NAS plan version %d, but this bakc reads version %d: write it again with this bakc (bakc nas-plan)", p.Version, Version)
	}
	if err := CheckName(NameNAS, p.NAS.Name); err != nil {
		v.fail("nas.name", err)
	}
	r := p.Replication
	if r == nil {
		v.fail("replication", errors.New("is missing: no node of the plan replicates"))
		return v.err()
	}
	if err := checkSecretFile(r.IdentityFile); err != nil {
		v.fail("replication.identity_file", err)
	}
	for _, f := range []struct{ name, value string }{{"state", r.State}, {"textfile_dir", r.TextfileDir}, {"error_log", r.ErrorLog}} {
		if err := checkRuntimePath(f.value); err != nil {
			v.fail("replication."+f.name, err)
		}
	}
	for i, n := range p.Nodes {
		field := fmt.Sprintf("nodes[%d]", i)
		if err := CheckName(NameNode, n.Name); err != nil {
			v.fail(field+".name", err)
		}
		nr := n.Replication
		if nr == nil {
			continue
		}
		field += ".replication"
		if err := checkAddressToken(nr.Address); err != nil {
			v.fail(field+".address", err)
		}
		if nr.Port < 0 || nr.Port > 65535 {
			v.fail(field+".port", fmt.Errorf("%d is not a port number", nr.Port))
		}
		if nr.User != SendUser {
			v.fail(field+".user", fmt.Errorf("%q is not %q", nr.User, SendUser))
		}
		if err := CheckPublicKeyLine(nr.HostKey); err != nil {
			v.fail(field+".host_key", err)
		}
		if err := checkCalendar(nr.Schedule.Calendar); err != nil {
			v.fail(field+".schedule.calendar", err)
		}
		if len(nr.Datasets) == 0 {
			v.fail(field+".datasets", errors.New("is empty"))
		}
		for k, d := range nr.Datasets {
			df := fmt.Sprintf("%s.datasets[%d]", field, k)
			if err := CheckDatasetName(d.Source); err != nil {
				v.fail(df+".source", err)
			}
			if err := CheckDatasetName(d.Target); err != nil {
				v.fail(df+".target", err)
			} else if !strings.HasPrefix(d.Target, n.Dataset+"/") {
				v.fail(df+".target", fmt.Errorf("%q is not below the node's dataset %q", d.Target, n.Dataset))
			}
		}
		if nr.Keep == (SnapshotPolicy{}) {
			v.fail(field+".keep", errors.New("keeps no snapshot: sanoid would remove every copy"))
		}
	}
	return v.err()
}
