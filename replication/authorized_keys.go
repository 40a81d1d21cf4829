package replication

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/holthome/bakc/compiler/plan"
)

// GuardCommand is the name of bakc's command that is the NAS key's
// forced command on a node.
const GuardCommand = "send-guard"

// safeWordRE is what may stand in authorized_keys' command="…" and
// from="…" without quoting for sshd (no `"` or `\`) or for the shell
// sshd runs the command with: a program path, dataset names, addresses.
var safeWordRE = regexp.MustCompile(`^[A-Za-z0-9_./:,+@%=-]+$`)

// AllowUnit is the oneshot service, on NixOS and on a plain host, that
// gives the send user its one ZFS right on the replicated datasets at
// boot (OpenZFS lets an unprivileged user send only what zfs allow gave
// it).
const AllowUnit = "bakc-replication-allow"

// AllowArgs are zfs's arguments that give user its only right on
// dataset: send. The guard runs nothing but zfs get, which needs none,
// and zfs send.
func AllowArgs(user, dataset string) []string {
	return []string{"allow", "-u", user, "send", dataset}
}

// SendUserDescription is the send user's GECOS field (its description
// in NixOS, its comment in sysusers.d): no ':' or newline, which
// /etc/passwd cannot hold (NixOS's types.passwdEntry refuses them, and
// systemd-sysusers skips the line).
func SendUserDescription(nas string) string {
	return "bakc replication, pulled by the NAS " + nas
}

// AuthorizedKeyParts returns the node's authorized_keys line for its
// NAS's key in two parts, around the path of the bakc program (a plain
// path on a host without Nix, a store path NixOS knows only when it
// evaluates the module):
//
//	restrict,from="ADDRESSES",command="PROGRAM send-guard DATASET…" KEY
//
// restrict: no pty, no forwarding of ports, agent or X11, no ~/.ssh/rc.
// from=: only from the NAS's addresses (IP addresses or prefixes, which
// sshd compares with the client's address whatever UseDNS says).
// command=: sshd runs the guard instead of what the NAS asked for; the
// guard allows syncoid's reads and sends of DATASET… (Guard).
func AuthorizedKeyParts(r *plan.Replication) (before, after string, err error) {
	if len(r.From) == 0 {
		return "", "", fmt.Errorf("replication of %s: no address to take the NAS's key from", strings.Join(r.Datasets, ", "))
	}
	if len(r.Datasets) == 0 {
		return "", "", fmt.Errorf("replication: no dataset")
	}
	for _, w := range append(append([]string{}, r.From...), r.Datasets...) {
		if !safeWordRE.MatchString(w) {
			return "", "", fmt.Errorf("%q cannot stand in an authorized_keys option", w)
		}
	}
	key := strings.TrimSpace(r.PublicKey)
	if key == "" || strings.ContainsAny(key, "\r\n\x00") {
		return "", "", fmt.Errorf("replication: the NAS's public key is not one line")
	}
	before = `restrict,from="` + strings.Join(r.From, ",") + `",command="`
	after = " " + GuardCommand + " " + strings.Join(r.Datasets, " ") + `" ` + key + "\n"
	return before, after, nil
}

// AuthorizedKey is the whole line (with its newline) for a bakc
// installed at program, an absolute path.
func AuthorizedKey(r *plan.Replication, program string) (string, error) {
	if !strings.HasPrefix(program, "/") || !safeWordRE.MatchString(program) {
		return "", fmt.Errorf("bakc program path %q cannot stand in an authorized_keys command", program)
	}
	before, after, err := AuthorizedKeyParts(r)
	if err != nil {
		return "", err
	}
	return before + program + after, nil
}
