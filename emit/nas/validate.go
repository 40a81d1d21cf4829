package nas

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"path"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/holthome/bakc/compiler/plan"
)

// validate checks every string of a NAS plan that reaches the script, the
// exports file, an authorized_keys line or Nix, before anything is
// rendered. The compiler checks the same things with a diagnostic that
// points at the configuration; this is the emitter's own line of defence,
// so that a plan built by hand, or by a compiler with a missing check,
// can never produce a script that runs something it should not or
// touches a dataset outside the NAS's parent. Shell quoting (ShellQuote)
// would make any value safe for the script itself, but exports(5),
// authorized_keys and comment lines have no quoting worth trusting, so
// those values are held to plain character sets here.
func validate(p *plan.NASPlan) error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	if p.Version != plan.Version {
		bad("NAS plan version %d, but this bakc writes version %d", p.Version, plan.Version)
	}
	for _, s := range p.Sources {
		if err := checkText(s); err != nil {
			bad("source file name %q: %v", s, err)
		}
	}
	if err := checkName(p.NAS.Name); err != nil {
		bad("NAS name %q: %v", p.NAS.Name, err)
	}
	if err := checkHost(p.NAS.Address); err != nil && p.NAS.Address != "" {
		bad("NAS %s: address %q: %v", p.NAS.Name, p.NAS.Address, err)
	}
	if err := checkDataset(p.NAS.Parent); err != nil {
		bad("NAS %s: parent dataset %q: %v", p.NAS.Name, p.NAS.Parent, err)
	}
	if err := checkPath(p.NAS.MountRoot); err != nil {
		bad("NAS %s: mount_root %q: %v", p.NAS.Name, p.NAS.MountRoot, err)
	}
	if err := checkUserName(p.User.Name); err != nil {
		bad("backup user %q: %v", p.User.Name, err)
	}
	if len(p.Nodes) == 0 {
		bad("NAS %s: the plan has no nodes", p.NAS.Name)
	}
	seen := map[string]bool{}
	for _, n := range p.Nodes {
		if err := checkName(n.Name); err != nil {
			bad("node name %q: %v", n.Name, err)
			continue
		}
		if seen[n.Name] {
			bad("node %s appears twice in the NAS plan", n.Name)
		}
		seen[n.Name] = true
		if n.Address != "" {
			if err := checkHost(n.Address); err != nil {
				bad("node %s: address %q: %v", n.Name, n.Address, err)
			}
		}
		if want := p.NAS.Parent + "/" + n.Name; n.Dataset != want {
			bad("node %s: dataset %q is not %q (the NAS's parent and the node's name)", n.Name, n.Dataset, want)
		}
		for _, d := range n.Datasets {
			validateDataset(p, n, d, bad)
		}
	}
	return errors.Join(errs...)
}

func validateDataset(p *plan.NASPlan, n plan.NASNode, d plan.NASDataset, bad func(string, ...any)) {
	where := fmt.Sprintf("node %s: dataset %q", n.Name, d.Name)
	if err := checkName(d.Name); err != nil {
		bad("%s: %v", where, err)
		return
	}
	if want := n.Dataset + "/" + d.Name; d.ZFSName != want {
		bad("%s: ZFS name %q is not %q", where, d.ZFSName, want)
	}
	if err := checkDataset(d.ZFSName); err != nil {
		bad("%s: ZFS name %q: %v", where, d.ZFSName, err)
	}
	if want := path.Join(p.NAS.MountRoot, n.Name, d.Name); d.Mountpoint != want {
		bad("%s: mountpoint %q is not %q (mount_root/node/dataset, where ZFS mounts it)", where, d.Mountpoint, want)
	}
	if err := checkPath(d.Mountpoint); err != nil {
		bad("%s: mountpoint %q: %v", where, d.Mountpoint, err)
	}
	for _, pr := range d.Properties {
		if err := checkProperty(pr); err != nil {
			bad("%s: property %s=%q: %v", where, pr.Name, pr.Value, err)
		}
	}
	if d.Owner != nil && (d.Owner.UID < 0 || d.Owner.GID < 0) {
		bad("%s: owner %d:%d is not a uid and gid", where, d.Owner.UID, d.Owner.GID)
	}
	if e := d.Export; e != nil {
		if err := checkHost(e.Client); err != nil {
			bad("%s: export client %q: %v", where, e.Client, err)
		}
		if len(e.Options) == 0 {
			bad("%s: export has no options", where)
		}
		for _, o := range e.Options {
			if err := checkExportOption(o); err != nil {
				bad("%s: export option %q: %v", where, o, err)
			}
		}
	}
	if r := d.Receive; r != nil {
		if err := checkUserName(r.User); err != nil {
			bad("%s: replication user %q: %v", where, r.User, err)
		}
		if err := checkFrom(r.From); err != nil {
			bad("%s: replication from %q: %v", where, r.From, err)
		}
		if err := checkPublicKey(r.PublicKey); err != nil {
			bad("%s: replication key: %v", where, err)
		}
		if len(r.Permissions) == 0 {
			bad("%s: replication grants no zfs allow permissions", where)
		}
		for _, perm := range r.Permissions {
			if !isWord(perm, "abcdefghijklmnopqrstuvwxyz_") {
				bad("%s: zfs allow permission %q is not a permission name", where, perm)
			}
		}
	}
}

const (
	lower  = "abcdefghijklmnopqrstuvwxyz"
	upper  = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	digits = "0123456789"
)

// isWord reports whether s is non-empty and made only of bytes in set.
func isWord(s, set string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(set, s[i]) < 0 {
			return false
		}
	}
	return true
}

// checkName checks a node, NAS or dataset short name: it becomes part of
// dataset names, file names (bakc-<node>.exports) and comments.
func checkName(s string) error {
	if !isWord(s, lower+upper+digits+"_-.") || s[0] == '-' || s[0] == '.' {
		return errors.New("must be letters, digits, _, - and ., not starting with - or .")
	}
	return nil
}

// checkDataset checks a full ZFS dataset name (no snapshots, no
// bookmarks): components of ZFS's own character set.
func checkDataset(s string) error {
	if len(s) == 0 || len(s) > 255 {
		return errors.New("must be 1 to 255 characters")
	}
	for _, c := range strings.Split(s, "/") {
		if !isWord(c, lower+upper+digits+"_-.:") || c == "." || c == ".." || c[0] == '-' {
			return errors.New("must be components of letters, digits, _, -, . and : separated by /")
		}
	}
	return nil
}

// checkPath checks an absolute, clean path on the NAS that is written
// into exports(5), where white space, quotes and # have meanings.
func checkPath(s string) error {
	if !strings.HasPrefix(s, "/") || path.Clean(s) != s {
		return errors.New("must be an absolute, clean path")
	}
	if !isWord(s, lower+upper+digits+"_-.:/+@%,") {
		return errors.New("may hold only letters, digits and _ - . : / + @ % , (it is written into /etc/exports.d)")
	}
	return nil
}

// checkHost checks an NFS client or host address: a host name, an IPv4
// or IPv6 address or network, or an exports(5) wildcard.
func checkHost(s string) error {
	if !isWord(s, lower+upper+digits+"-._:/*?[]@") {
		return errors.New("must be a host name, an address or a network (letters, digits and - . _ : / * ? [ ] @)")
	}
	return nil
}

// checkFrom checks an authorized_keys from="…" pattern list.
func checkFrom(s string) error {
	if !isWord(s, lower+upper+digits+"-._:/*?,!") {
		return errors.New("must be host names or addresses, comma separated, as ssh's from=\"…\" takes them")
	}
	return nil
}

// checkExportOption checks one exports(5) option (rw, sec=sys, anonuid=2049).
func checkExportOption(s string) error {
	if !isWord(s, lower+upper+digits+"_=:/.@-") {
		return errors.New("must be letters, digits and _ = : / . @ -")
	}
	return nil
}

// checkUserName checks a local user name as useradd accepts it portably.
func checkUserName(s string) error {
	if len(s) > 32 || !isWord(s, lower+digits+"_-") || !strings.Contains(lower+"_", s[:1]) {
		return errors.New("must be at most 32 lower-case letters, digits, _ and -, starting with a letter or _")
	}
	return nil
}

// checkProperty checks a ZFS property name (native or user property,
// which has a colon) and a value that zfs itself would accept.
func checkProperty(p plan.Property) error {
	if !isWord(p.Name, lower+digits+"_:.-@") || p.Name == "mountpoint" {
		if p.Name == "mountpoint" {
			return errors.New("mountpoint is decided by the NAS's mount_root, not set per dataset")
		}
		return errors.New("is not a property name")
	}
	if p.Value == "" {
		return errors.New("has an empty value")
	}
	if err := checkText(p.Value); err != nil {
		return err
	}
	if _, err := parsableValue(p); err != nil {
		return err
	}
	return nil
}

// checkText checks free text that is written into comments and messages:
// printable UTF-8 with no control characters (a newline would end a
// comment line and start a command).
func checkText(s string) error {
	if !utf8.ValidString(s) {
		return errors.New("is not valid UTF-8")
	}
	for _, r := range s {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return fmt.Errorf("contains the control character %U", r)
		}
	}
	return nil
}

// sshKeyTypes are the public key algorithms OpenSSH accepts in
// authorized_keys. A key line that starts with anything else would be
// read as options ("command=…") by sshd.
var sshKeyTypes = map[string]bool{
	"ssh-ed25519":                        true,
	"ssh-rsa":                            true,
	"ecdsa-sha2-nistp256":                true,
	"ecdsa-sha2-nistp384":                true,
	"ecdsa-sha2-nistp521":                true,
	"sk-ssh-ed25519@openssh.com":         true,
	"sk-ecdsa-sha2-nistp256@openssh.com": true,
}

// checkPublicKey checks that s is one OpenSSH public key line: a key
// type, the base64 key and an optional comment, with no options of its
// own (bakc adds the options) and nothing that would end the line.
func checkPublicKey(s string) error {
	if err := checkText(s); err != nil {
		return err
	}
	f := strings.Fields(s)
	if len(f) < 2 {
		return errors.New("must be \"<type> <base64 key> [comment]\", as in a .pub file")
	}
	if !sshKeyTypes[f[0]] {
		return fmt.Errorf("key type %q is not an OpenSSH public key type (options such as command= are added by bakc, not taken from the key)", f[0])
	}
	blob, err := base64.StdEncoding.DecodeString(f[1])
	if err != nil {
		// OpenSSH writes padding; accept a key that lost it, as long as
		// what is there decodes.
		blob, err = base64.RawStdEncoding.DecodeString(f[1])
	}
	if err != nil {
		return errors.New("the key is not base64")
	}
	// The blob starts with its own type as an SSH string (a 4-byte
	// length, then the name); it must be the type the line names.
	if len(blob) < 4 || uint64(len(blob)-4) < uint64(binary.BigEndian.Uint32(blob)) ||
		string(blob[4:4+binary.BigEndian.Uint32(blob)]) != f[0] {
		return fmt.Errorf("the key is not an OpenSSH %s key (its data does not start with that type)", f[0])
	}
	return nil
}
